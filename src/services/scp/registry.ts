/**
 * The SCP handler registry (architecture rule 8): exactly one handler per DIMSE request type; the
 * handler's return value is the protocol answer. A handler sees the request when its command has
 * arrived (to choose where the dataset streams: `datasetSink`), then again when the whole message
 * is in (`handle`), and answers with the final response's status and fields. Services with
 * pending responses (C-FIND, C-GET, C-MOVE) send them with `context.respond` before returning.
 *
 * C-ECHO is answered with Success by default (services/scp/verification.ts); registering a
 * C-ECHO handler replaces that default; registering anything twice is an error.
 */
import type { AcceptedContext } from '../../acse/presentation-context.js';
import type { AsyncDatasetSource } from '../../dimse/fragmenter.js';
import type { DatasetSink } from '../../dimse/assembler.js';
import type { CommandOf, DimseRequest } from '../../dimse/messages.js';
import type { CommandName } from '../../dictionary/command-field.js';
import { HandlerAlreadyRegisteredError } from '../../ae/errors.js';
import type { DatasetLimit } from '../../ae/dataset-limit.js';
import type { Association } from '../../ae/association.js';
import { verificationHandler } from './verification.js';

/** Request command types a handler can be registered for (C-CANCEL-RQ is handled by the association). */
export type RequestName = Exclude<Extract<CommandName, `${string}-RQ`>, 'C-CANCEL-RQ'>;

/** Fields a handler may put in a response besides what the association fills in (type, message ID, SOP class/instance). */
export interface ResponseFields {
  readonly status: number;
  readonly errorComment?: string;
  readonly errorId?: number;
  readonly offendingElement?: readonly number[];
  readonly numberOfRemainingSuboperations?: number;
  readonly numberOfCompletedSuboperations?: number;
  readonly numberOfFailedSuboperations?: number;
  readonly numberOfWarningSuboperations?: number;
  readonly affectedSopInstanceUid?: string;
  readonly eventTypeId?: number;
  readonly actionTypeId?: number;
  readonly attributeIdentifierList?: readonly number[];
  /** A dataset to send with this response (a C-FIND match, an N-GET attribute list). */
  readonly dataset?: AsyncDatasetSource;
}

/** What a handler knows while it answers one request. */
export interface RequestContext {
  readonly association: Association;
  readonly presentationContext: AcceptedContext;
  /** Aborted when the requestor sends C-CANCEL-RQ for this request or the association ends. */
  readonly signal: AbortSignal;
}

/** Context of `handle`: the dataset (when collected in memory) and a way to send pending responses. */
export interface HandleContext extends RequestContext {
  /** The request's dataset when no `datasetSink` took it (collected in memory, at most `maxCollectedDataset`). */
  readonly dataset: Uint8Array | undefined;
  /** Send a non-final response (status Pending, 0xFF00/0xFF01), e.g. one C-FIND match. Awaits backpressure. */
  respond(fields: ResponseFields): Promise<void>;
}

export interface DimseHandler<N extends RequestName = RequestName> {
  /**
   * Where the request's dataset goes (a file, a parser). Undefined (or no function): collected in
   * memory and given to `handle` as `context.dataset`. Called once the command has arrived.
   */
  datasetSink?(request: CommandOf<N>, context: RequestContext): DatasetSink | undefined | Promise<DatasetSink | undefined>;
  /**
   * The largest request data set collected in memory for this handler (no `datasetSink`): past
   * `maxLength` bytes nothing more is kept (what was is given back to the buffer budgets), the
   * rest is read and dropped, and the request is answered `status` with the Error Comment
   * `<name> larger than <maxLength> bytes`, `handle` never called; the association goes on.
   * Absent: only the association's `maxCollectedDataset` (an A-ABORT) bounds it.
   */
  readonly datasetLimit?: DatasetLimit | undefined;
  /** The whole request has arrived: answer with the final response. A throw answers 0x0110 Processing failure. */
  handle(request: CommandOf<N>, context: HandleContext): ResponseFields | Promise<ResponseFields>;
}

export class HandlerRegistry {
  readonly #handlers = new Map<RequestName, DimseHandler<never>>();
  readonly #defaults = new Set<RequestName>();

  /** A registry with the default C-ECHO handler (Verification Success). */
  constructor(options: { readonly defaults?: boolean } = {}) {
    if (options.defaults !== false) {
      this.#handlers.set('C-ECHO-RQ', verificationHandler as unknown as DimseHandler<never>);
      this.#defaults.add('C-ECHO-RQ');
    }
  }

  /** Register the one handler for `command`; a default (C-ECHO) may be replaced once. */
  register<N extends RequestName>(command: N, handler: DimseHandler<N>): this {
    if (this.#handlers.has(command) && !this.#defaults.has(command)) throw new HandlerAlreadyRegisteredError(command);
    this.#defaults.delete(command);
    this.#handlers.set(command, handler as unknown as DimseHandler<never>);
    return this;
  }

  /** Remove the handler for `command` (a default too: C-ECHO then answers Unrecognized operation). */
  unregister(command: RequestName): this {
    this.#handlers.delete(command);
    this.#defaults.delete(command);
    return this;
  }

  get<N extends RequestName>(command: N): DimseHandler<N> | undefined {
    return this.#handlers.get(command) as DimseHandler<N> | undefined;
  }

  has(command: RequestName): boolean {
    return this.#handlers.has(command);
  }
}

/** Narrowing for a request that can have a handler. */
export function isHandledRequest(request: DimseRequest): request is Exclude<DimseRequest, { type: 'C-CANCEL-RQ' }> {
  return request.type !== 'C-CANCEL-RQ';
}
