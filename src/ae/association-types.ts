/** The shapes around an Association: negotiated facts, options, request commands and events. */
import type { DicomError } from '../errors.js';
import type { AsynchronousOperations } from '../acse/asynchronous-operations.js';
import type { AccessDecision } from '../acse/access-control.js';
import type { AcceptedContexts } from '../acse/presentation-context.js';
import type { RoleOutcomes } from '../acse/role-selection.js';
import type { ReceivedUserIdentity, UserIdentityResult } from '../acse/user-identity.js';
import type { DatasetSink } from '../dimse/assembler.js';
import type { BufferBudget } from './buffer-budget.js';
import type { AsyncDatasetSource } from '../dimse/fragmenter.js';
import type { CCancelRq, DimseCommand, DimseRequest, DimseResponse } from '../dimse/messages.js';
import type { HandlerRegistry } from '../services/scp/registry.js';

/** The negotiated facts of an association (both sides). */
export interface AssociationInfo {
  readonly role: 'requestor' | 'acceptor';
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly contexts: AcceptedContexts;
  readonly roles: RoleOutcomes;
  /** Our Maximum Length (0x51 we sent). */
  readonly maxPduLength: number;
  /** The peer's Maximum Length: the largest P-DATA-TF variable field we send; 0 = no limit. */
  readonly peerMaxPduLength: number;
  readonly peerImplementationClassUid: string | undefined;
  readonly peerImplementationVersionName: string | undefined;
  /** Acceptor: the identity the requestor gave and the handler accepted. */
  readonly userIdentity?: ReceivedUserIdentity | undefined;
  /** Requestor: what the acceptor said about our identity. */
  readonly userIdentityResult?: UserIdentityResult | undefined;
  /** Acceptor: what the access check granted (every request is checked against it); undefined without one. */
  readonly access?: AccessDecision | undefined;
  /**
   * The negotiated Asynchronous Operations Window (PS3.7 D.3.3.3) from this side's point of view:
   * `invoked` = requests we may have outstanding, `performed` = the peer's requests we may be
   * asked to perform at once; 0 = unlimited; 1/1 (synchronous) when it was not negotiated.
   */
  readonly asynchronousOperations: AsynchronousOperations;
}

export interface AssociationOptions {
  /** Handlers for requests the peer sends us (an SCP; or an SCU receiving C-STORE sub-operations of C-GET). */
  readonly handlers?: HandlerRegistry | undefined;
  /** Milliseconds to wait for each response of a request (restarted by every Pending one). 0 = forever. Default 30 000. */
  readonly dimseTimeout?: number | undefined;
  /** Abort after this many milliseconds without a message either way. Undefined/0 = never. */
  readonly idleTimeout?: number | undefined;
  /** Milliseconds to wait for the A-RELEASE-RP before aborting. Default 30 000. */
  readonly releaseTimeout?: number | undefined;
  /** Largest request dataset collected in memory for a handler without a sink. Default 64 MiB. */
  readonly maxCollectedDataset?: number | undefined;
  /**
   * Request data sets held in memory (collected for handlers without a sink, waiting for their
   * turn) before this association stops reading from its socket until handlers take them.
   * Default 64 MiB; 0 = no limit. One data set being received always completes.
   */
  readonly maxBufferedBytes?: number | undefined;
  /** A budget shared with other associations (a server's `maxBufferedBytes`): reading pauses while it is full. */
  readonly bufferBudget?: BufferBudget | undefined;
}

/** A request to send: any request but C-CANCEL-RQ, its Message ID filled in when absent. */
export type RequestCommand = Exclude<DimseRequest, CCancelRq> extends infer R
  ? R extends { readonly messageId: number }
    ? Omit<R, 'messageId'> & { readonly messageId?: number }
    : never
  : never;

export interface RequestOptions {
  /** The request's dataset: bytes already encoded in the context's transfer syntax, chunks, or an async iterable (a file stream). */
  readonly dataset?: AsyncDatasetSource | undefined;
  /** Accepted context to send on; default: the first accepted context of the request's SOP class. */
  readonly presentationContextId?: number | undefined;
  /** Where each response's dataset goes (e.g. a C-FIND match parser); default: collected in memory. */
  readonly responseDatasetSink?: ((response: DimseResponse) => DatasetSink | undefined) | undefined;
  /** Overrides the association's DIMSE timeout for this request. */
  readonly timeout?: number | undefined;
}

export interface AssociationEvents {
  /** A DIMSE message was sent or received (also published on the `dimse` diagnostics channel). */
  message: (m: { readonly direction: 'sent' | 'received'; readonly command: DimseCommand; readonly presentationContextId: number }) => void;
  /** Released normally (A-RELEASE). */
  released: () => void;
  /** Aborted, by either side or the provider. */
  aborted: (error: DicomError) => void;
  /** The association is over; `error` says why when it did not end by release. */
  closed: (info: { readonly error: DicomError | undefined }) => void;
}
