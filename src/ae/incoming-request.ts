/**
 * One request received from the peer, from its command to its final response: what the
 * association keeps about it (its data set, whether it still counts against the operations
 * window) and, the same object, the context its handler is given (`datasetSink` and `handle`).
 * One object per request: the context objects, getters and closures made per request before
 * were a good part of what a small C-STORE allocated.
 */
import type { AcceptedContext } from '../acse/presentation-context.js';
import type { DatasetSink } from '../dimse/assembler.js';
import type { CCancelRq, DimseRequest } from '../dimse/messages.js';
import type { DimseHandler, HandleContext, ResponseFields } from '../services/scp/registry.js';
import type { Association } from './association.js';
import type { HeldDataset } from './buffer-budget.js';
import { LazyAbort } from './lazy-abort.js';
import type { DatasetOverLimit } from './dataset-limit.js';

export type ReceivedRequest = Exclude<DimseRequest, CCancelRq>;

/** How the association sends a response for a request (one function per association). */
export type RespondVia = (request: ReceivedRequest, presentationContextId: number, fields: ResponseFields) => Promise<void>;

export class IncomingRequest extends LazyAbort implements HandleContext {
  readonly association: Association;
  readonly command: ReceivedRequest;
  readonly presentationContext: AcceptedContext;
  /** The data set collected in memory for the handler (no datasetSink took it). */
  collected: (DatasetSink & { bytes(): Uint8Array }) | undefined = undefined;
  /** Bytes of `collected` counted against the buffer budgets until the handler is done with them. */
  held: HeldDataset | undefined = undefined;
  /** The handler's datasetSink threw: the data set is dropped and the request answered Processing failure. */
  sinkError: unknown = undefined;
  /** The handler registered for the request when its command arrived: it takes the data set and answers. */
  handler: DimseHandler | undefined = undefined;
  /**
   * Answered with this, no handler run: the request names a SOP class its context was not
   * negotiated for (context-match.ts), or the association's access does not allow it
   * (request-guard.ts).
   */
  refusal: { readonly status: number; readonly errorComment: string } | undefined = undefined;
  /** The data set went past its handler's `datasetLimit`: dropped, answered with the limit's status, no handler run. */
  overLimit: DatasetOverLimit | undefined = undefined;
  /** Given to `handle`: the collected data set's bytes. */
  dataset: Uint8Array | undefined = undefined;
  /** Counted in the association's operations performed until its final response is on its way. */
  performing = true;
  readonly #respondVia: RespondVia;
  #respond: ((fields: ResponseFields) => Promise<void>) | undefined;

  constructor(association: Association, command: ReceivedRequest, presentationContext: AcceptedContext, respondVia: RespondVia) {
    super();
    this.association = association;
    this.command = command;
    this.presentationContext = presentationContext;
    this.#respondVia = respondVia;
  }

  /** A pending response for this request; made on first use, and works detached (`const { respond } = context`). */
  get respond(): (fields: ResponseFields) => Promise<void> {
    return (this.#respond ??= (fields) => this.#respondVia(this.command, this.presentationContext.id, fields));
  }
}
