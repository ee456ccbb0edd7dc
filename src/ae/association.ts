/**
 * An established association (PS3.7 Section 7, PS3.8 Section 7) on top of the upper layer: the
 * negotiated facts, DIMSE messages out (fragmenter → one PDV per P-DATA-TF within the peer's
 * Maximum Length, each write waiting for the transport to drain) and in (assembler: the command
 * is buffered, the dataset streamed to a sink the receiver chooses, reading paused until the sink
 * has taken each PDU), Message ID allocation, responses matched to requests, SCP handlers
 * (services/scp/registry.ts), DIMSE and idle timers, release and abort.
 *
 * Anything the peer does wrong at the DIMSE level (a broken fragment sequence, a response to no
 * request) aborts this association only (A-ABORT), and every outstanding request is rejected
 * with the reason.
 *
 * Extension points for services:
 *   requestor: `association.request(command, { dataset, responseDatasetSink })` → PendingRequest
 *   acceptor:  `registry.register('C-STORE-RQ', { datasetSink(rq, ctx) {…}, handle(rq, ctx) {…} })`
 */
import { channel, channelNames, publish } from '../diagnostics.js';
import { release as releaseBuffer } from '../internal/buffer-pool.js';
import type { PresentationDataValue } from '../ul/pdu/types.js';
import { DicomError, TimeoutError } from '../errors.js';
import type { AcceptedContext, AcceptedContexts } from '../acse/presentation-context.js';
import { DimseAssembler, collectSink, type DatasetSink } from '../dimse/assembler.js';
import type { AsyncDatasetSource } from '../dimse/fragmenter.js';
import { isRequest, type CCancelRq, type DimseCommand, type DimseRequest, type DimseResponse } from '../dimse/messages.js';
import { Status, isPending } from '../dictionary/status.js';
import type { TlsInfo } from '../transport/connection.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import { TypedEmitter } from '../ul/upper-layer-events.js';
import { AssociationClosedError, type AssociationAbortedError } from '../ul/upper-layer-errors.js';
import type { HandlerRegistry, ResponseFields } from '../services/scp/registry.js';
import { HandlerStalledError, MessageIdsExhaustedError, OperationsWindowExceededError, UnexpectedResponseError, type DatasetStalledError } from './errors.js';
import { HeldDatasets } from './buffer-budget.js';
import { PendingRequest } from './pending-request.js';
import { MessageSender } from './message-sender.js';
import type { AssociationEvents, AssociationInfo, AssociationOptions, RequestCommand, RequestOptions } from './association-types.js';
import { responseFor } from './response.js';
import { responseMismatch } from './response-match.js';
import { contextMismatch } from './context-match.js';
import { limitedSink, overLimitComment, type DatasetLimit, type DatasetOverLimit } from './dataset-limit.js';
import { notAuthorized, requestRefusal } from './request-guard.js';
import { IncomingRequest, type RespondVia } from './incoming-request.js';
import { failAssociation } from './guard.js';
import { safeErrorComment } from './error-comment.js';
import { monotonicMs } from '../internal/clock.js';
import { AfterPollTimer, setAfterPollTimeout } from '../internal/after-poll-timer.js';

export type { DimseResponseMessage } from './pending-request.js';
export { PendingRequest } from './pending-request.js';
export { responseFor } from './response.js';

export type { AssociationInfo, AssociationOptions, RequestCommand, RequestOptions, AssociationEvents } from './association-types.js';

const DEFAULT_DIMSE_MS = 30_000;
const dimseChannel = channel(channelNames.dimse);
/** Default of `maxBufferedBytes`: request data sets held per association before reading pauses. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
const DEFAULT_RELEASE_MS = 30_000;

export class Association extends TypedEmitter<AssociationEvents> {
  readonly #ul: UpperLayer;
  readonly #info: AssociationInfo;
  readonly #handlers: HandlerRegistry | undefined;
  readonly #dimseMs: number;
  readonly #idleMs: number;
  readonly #releaseMs: number;
  readonly #maxCollected: number;
  readonly #datasets: HeldDatasets;
  /** The peer's requests received whose final response is not yet on its way (PS3.7 D.3.3.3). */
  #performing = 0;
  readonly #assembler: DimseAssembler;
  readonly #pending = new Map<number, PendingEntry>();
  /**
   * The one DIMSE timer of the association, due at the earliest deadline it was armed for (see
   * #armTimer); undefined when none runs.
   */
  #dimseTimer: NodeJS.Timeout | undefined;
  #dimseDue = Infinity;
  /** The peer's requests being handled, by Message ID (a C-CANCEL-RQ aborts one). */
  readonly #running = new Map<number, IncomingRequest>();
  #nextId = 1;
  readonly #sender: MessageSender;
  /** Requests whose handler is queued or running (see #onMessage). */
  #handling = 0;
  #handlerTail: Promise<void> = Promise.resolve();
  #incoming: IncomingRequest | undefined;
  /** How a handler's `respond` sends (one function per association, not one per request). */
  readonly #respondVia: RespondVia = (request, pcId, fields) => this.#respondAsPromise(request, pcId, fields);
  #incomingResponse: { collected: (DatasetSink & { bytes(): Uint8Array }) | undefined } | undefined;
  #inflight = 0;
  /** Woken when the assembler has taken every PDU handed to it (see #respondReleaseAfterOutstanding). */
  #whenTaken: (() => void) | undefined;
  /** Sends waiting for 'drain', the one timer bounding them, and the error it ended them with (#drainWithin). */
  #drainWaits = 0;
  #drainTimer: AfterPollTimer | undefined;
  #drainTimeout: TimeoutError | undefined;
  #idle: AfterPollTimer | undefined;
  /** Bounds a wait for the application to take a PDU (#sinkWaitStarted). */
  #sinkTimer: AfterPollTimer | undefined;
  #localError: DicomError | undefined;
  #closed = false;
  #closeInfo: { readonly error: DicomError | undefined } | undefined;
  #released = false;
  #aborting = false;

  constructor(ul: UpperLayer, info: AssociationInfo, options: AssociationOptions = {}) {
    super((event, error) => publish(channelNames.association, { association: this, kind: 'listener-error', detail: { event, error } }));
    this.#ul = ul;
    this.#info = info;
    this.#handlers = options.handlers;
    this.#dimseMs = options.dimseTimeout ?? DEFAULT_DIMSE_MS;
    this.#idleMs = options.idleTimeout ?? 0;
    this.#releaseMs = options.releaseTimeout ?? DEFAULT_RELEASE_MS;
    this.#maxCollected = options.maxCollectedDataset ?? 64 * 1024 * 1024;
    this.#sender = new MessageSender({
      ul,
      get peerMaxPduLength() { return info.peerMaxPduLength; },
      isClosed: () => this.#closed,
      closeError: () => this.#closeError(),
      sent: (command, pcId) => this.#notify('sent', command, pcId),
      touch: () => this.#touch(),
      drain: () => this.#drainWithin(),
    });
    this.#datasets = new HeldDatasets(options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, options.bufferBudget, {
      when: () => this.whenClosed(),
      // Aborting: nothing more is read or held (the bytes were given back at the abort).
      is: () => this.#closed || this.#aborting,
    }, (budget, held, limit) => publish(channelNames.association, { association: this, kind: 'reading-paused', detail: { budget, held, limit } }), {
      // A request of ours the peer has yet to answer (a C-GET's C-STORE-RQ): its answer is behind
      // the data set arriving, which must not wait behind the others' (BufferBudget#first).
      urgent: () => this.#pending.size > 0,
      stalled: (error) => this.#stalled(error),
    });
    this.#assembler = new DimseAssembler(
      {
        onCommand: (c, id, has) => this.#onCommand(c, id, has),
        onMessage: (c, id) => this.#onMessage(c, id),
        onWarning: (warning, command, presentationContextId) =>
          publish(channelNames.dimseWarning, () => ({ association: this, command, presentationContextId, warning })),
      },
      { isAcceptedContext: (id) => info.contexts.get(id) !== undefined },
    );
    ul.on('pData', (pdu) => this.#onPData(pdu.pdvs));
    ul.on('releaseIndication', (i) => {
      // The peer asked; answer (a collision we started is answered by UpperLayer.release()).
      this.#released = true;
      if (i.collision) return;
      // The peer sends no P-DATA after its A-RELEASE-RQ (PS3.8 Table 9-10: no Evt9 in Sta7): a
      // request of ours it has not answered never will be. Failed now, not at the DIMSE timeout.
      if (this.#pending.size > 0) {
        const unanswered = this.#pending.size;
        this.#stopDimseTimer();
        for (const [, entry] of this.#pending) entry.request.fail(new AssociationClosedError(`the peer asked to release the association with ${unanswered} of our requests unanswered`));
        this.#pending.clear();
      }
      // Nothing outstanding (the usual case: every request answered before the peer asked):
      // answered now, without the wait below, its timer and its promises.
      if (this.#inflight === 0 && this.#handling === 0 && !this.#sender.busy) {
        if (!this.#closed && !this.#aborting && ul.state === 'Sta8') ul.respondRelease();
        return;
      }
      void this.#respondReleaseAfterOutstanding();
    });
    ul.on('released', () => {
      this.#released = true;
    });
    ul.on('aborted', (e) => this.#onAborted(e));
    ul.on('providerAborted', (e) => this.#onAborted(e));
    ul.on('closed', (i) => this.#onClosed(i.error));
    if (ul.isClosed) queueMicrotask(() => this.#onClosed(undefined));
    this.#touch();
  }

  // ---- facts -----------------------------------------------------------------------------------

  get role(): 'requestor' | 'acceptor' {
    return this.#info.role;
  }
  get callingAeTitle(): string {
    return this.#info.callingAeTitle;
  }
  get calledAeTitle(): string {
    return this.#info.calledAeTitle;
  }
  /** The accepted presentation contexts (`select(sopClass)` picks one to send on). */
  get contexts(): AcceptedContexts {
    return this.#info.contexts;
  }
  get info(): AssociationInfo {
    return this.#info;
  }
  get maxPduLength(): number {
    return this.#info.maxPduLength;
  }
  get peerMaxPduLength(): number {
    return this.#info.peerMaxPduLength;
  }
  /** The peer's TLS facts (protocol, cipher, certificate chain, verify result); undefined over plain TCP. */
  get tls(): TlsInfo | undefined {
    return this.#ul.transport?.tls;
  }
  get remoteAddress(): string | undefined {
    return this.#ul.transport?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#ul.transport?.remotePort;
  }
  /** The PS3.8 upper layer underneath (its state, and the object on the ul/association diagnostics channels). */
  get upperLayer(): UpperLayer {
    return this.#ul;
  }
  get isClosed(): boolean {
    return this.#closed;
  }
  /** Requests sent and not yet answered with a final response. */
  get outstandingRequests(): number {
    return this.#pending.size;
  }

  /** Resolves when the association is over (released, aborted or lost). */
  whenClosed(): Promise<{ readonly error: DicomError | undefined }> {
    if (this.#closeInfo !== undefined) return Promise.resolve(this.#closeInfo);
    return new Promise((resolve) => this.once('closed', resolve));
  }

  // ---- requestor side of a message exchange ----------------------------------------------------

  /** The next free Message ID (PS3.7 9.3.1.1: unique among this association's outstanding requests), 1–65535. */
  nextMessageId(): number {
    for (let i = 0; i < 0xffff; i++) {
      const id = this.#nextId;
      this.#nextId = id === 0xffff ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
    throw new MessageIdsExhaustedError();
  }

  /**
   * Send a request with its dataset (if the command has one) and return the handle that yields
   * its responses. The send itself is awaited inside: a write that fills the socket waits for
   * drain. A send failure rejects the handle's `response` (and its iterator).
   */
  request(command: RequestCommand, options: RequestOptions = {}): PendingRequest {
    const messageId = command.messageId ?? this.nextMessageId();
    const full = { ...command, messageId } as Exclude<DimseRequest, CCancelRq>;
    const sop = 'affectedSopClassUid' in full ? full.affectedSopClassUid : full.requestedSopClassUid;
    const pcId = options.presentationContextId ?? this.#info.contexts.select(sop).id;
    const handle = new PendingRequest(full, pcId, () => {
      // After our C-CANCEL-RQ the final response is due within the DIMSE timeout: a peer that
      // goes on sending Pending responses must not hold the request (and its caller) forever.
      if (this.#pending.get(messageId) === entry && !entry.cancelled) {
        entry.cancelled = true;
        this.#armTimer(messageId);
      }
      return this.#sender.sendAsPromise({ type: 'C-CANCEL-RQ', messageIdBeingRespondedTo: messageId }, undefined, pcId);
    });
    if (this.#closed || this.#ending()) {
      handle.fail(this.#endingError());
      return handle;
    }
    const entry: PendingEntry = { request: handle, deadline: Infinity, timeout: options.timeout ?? this.#dimseMs, sink: options.responseDatasetSink, cancelled: false };
    this.#pending.set(messageId, entry);
    if (this.#pending.size === 1) this.#datasets.urgencyChanged();
    const sent = (): void => {
      handle.markSent();
      this.#armTimer(messageId);
    };
    const failed = (e: unknown): void => {
      this.#pending.delete(messageId);
      handle.fail(e);
    };
    let sending: Promise<void> | undefined;
    try {
      sending = this.#sender.send(full, options.dataset, pcId);
    } catch (e) {
      failed(e);
      return handle;
    }
    if (sending === undefined) sent();
    else sending.then(sent, failed);
    return handle;
  }

  // ---- end of the association ------------------------------------------------------------------

  /** A-RELEASE: waits for queued sends, then for the A-RELEASE-RP (at most the release timeout, then aborts). */
  async release(): Promise<void> {
    if (this.#closed) throw this.#closeError();
    await this.#sender.idle;
    // Already ending (we aborted at a peer's protocol error, the peer asked first, a release is
    // under way): no A-RELEASE-RQ is valid now (PS3.8 Table 9-10); the outcome is how it ends.
    if (this.#ending() || this.#ul.state !== 'Sta6') {
      const { error } = await this.whenClosed();
      if (error !== undefined) throw error;
      return;
    }
    let timer: AfterPollTimer | undefined;
    let closing = false;
    // Decided after the loop's next read: the A-RELEASE-RP may be in the socket already.
    const timeout = new Promise<never>((_, reject) => {
      timer = new AfterPollTimer(this.#releaseMs, () => {
        // The A-RELEASE-RP was read (AR-3: Sta1, transport closing): the close, a later turn of
        // the loop, settles the release. One more wait bounds that close.
        if (this.#ul.state === 'Sta1' && !closing) {
          closing = true;
          timer?.start();
          return;
        }
        const e = new TimeoutError('association', `no A-RELEASE-RP within ${this.#releaseMs} ms; association aborted`);
        this.#localError ??= e;
        this.#safeAbort();
        reject(e);
      });
      timer.start();
    });
    try {
      await Promise.race([this.#ul.release(), timeout]);
    } finally {
      timer?.dispose();
    }
  }

  /**
   * A-RELEASE-RQ from the peer: the requests it sent before are answered first, then the
   * A-RELEASE-RP (PS3.8 7.2: the release is answered by the user when it is ready; P-DATA may
   * still be sent in Sta8). Answering at once lost those responses: an instance stored but never
   * acknowledged, whose retry then met the duplicate policy.
   */
  async #respondReleaseAfterOutstanding(): Promise<void> {
    // Bounded by the release timeout: a handler that never ends (an endless worklist the peer
    // did not cancel) must not hold the association open.
    const timer = setTimeout(() => {
      this.#localError ??= new TimeoutError('association', `requests outstanding at the peer's A-RELEASE-RQ not answered within ${this.#releaseMs} ms; association aborted`);
      this.#safeAbort();
    }, this.#releaseMs);
    try {
      // The PDUs taken before the A-RELEASE-RQ reach their handlers, the handlers answer in
      // order, and the answers are sent.
      if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#whenTaken = resolve));
      this.#whenTaken = undefined;
      for (let tail = this.#handlerTail; ; tail = this.#handlerTail) {
        await tail;
        if (tail === this.#handlerTail) break;
      }
      await this.#sender.idle;
      // Only Sta8 still awaits our answer: an abort meanwhile (ours, or the provider's at a PDU
      // the peer sent after its A-RELEASE-RQ) left nothing to answer, and answering would
      // replace the abort's reason with an Evt14-in-Sta13 error.
      if (!this.#closed && !this.#aborting && this.#ul.state === 'Sta8') this.#ul.respondRelease();
    } catch (error) {
      this.#protocolFailure(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A-ABORT (service-user source); resolves once the transport is closed. */
  async abort(): Promise<void> {
    this.#safeAbort();
    await this.whenClosed();
  }

  // ---- sending -----------------------------------------------------------------------------------

  /**
   * Wait for 'drain', at most the DIMSE timeout: a peer that stops reading (a zero TCP window)
   * would otherwise hold this send, and every request or response queued behind it, forever; a
   * DIMSE timer armed only after the send completes never starts. The A-ABORT cannot reach a
   * peer that reads nothing, so the transport is torn down at once rather than after ARTIM.
   */
  #drainWithin(): Promise<void> {
    const drain = this.#ul.drain();
    // Everything gathered went to the transport and it asks for no wait: no timer for a settled promise.
    if (this.#dimseMs <= 0 || !this.#ul.needsDrain) return drain;
    // One timer for the association's waits, started by the first of overlapping ones (a timer,
    // a promise and a race per wait were a good part of sending a small instance): re-armed,
    // not made again; left to run out unref'd when no wait is left.
    // Decided after the loop's next poll (AfterPollTimer): a 'drain' may be waiting there.
    if (this.#drainWaits++ === 0) (this.#drainTimer ??= new AfterPollTimer(this.#dimseMs, () => this.#drainStalled())).start();
    return drain.then(
      () => this.#drainDone(),
      (error: unknown) => {
        this.#drainDone();
        throw this.#drainTimeout ?? error;
      },
    );
  }

  #drainDone(): void {
    if (--this.#drainWaits === 0) this.#drainTimer?.stop();
  }

  #drainStalled(): void {
    if (this.#drainWaits === 0 || this.#closed) return;
    const e = new TimeoutError('dimse', `the peer took none of our data for ${this.#dimseMs} ms (it stopped reading); association aborted`);
    this.#drainTimeout = e;
    this.#localError ??= e;
    this.#safeAbort();
    this.#ul.destroy(e);
  }

  /** Every message each way: its notification object is built only for a subscriber or a listener. */
  #notify(direction: 'sent' | 'received', command: DimseCommand, presentationContextId: number): void {
    if (dimseChannel.hasSubscribers) dimseChannel.publish({ association: this, direction, command, presentationContextId });
    if (this.listenerCount('message') > 0) this.emit('message', { direction, command, presentationContextId });
  }

  // ---- receiving ---------------------------------------------------------------------------------

  #onPData(pdvs: PDataPdvs): void {
    this.#touch();
    // After we aborted, PDUs still in flight (PS3.8 Sta13) are dropped unread by DIMSE.
    if (this.#aborting) {
      for (const pdv of Array.isArray(pdvs) ? (pdvs as readonly PresentationDataValue[]) : [pdvs as PresentationDataValue]) releaseBuffer(pdv.data);
      return;
    }
    this.#inflight++;
    let wait: Promise<void> | undefined;
    try {
      wait = this.#assembler.feed(pdvs);
    } catch (error) {
      if (--this.#inflight === 0) this.#whenTaken?.();
      this.#protocolFailure(error);
      return;
    }
    // Taken at once (a command, a fragment into a synchronous sink): reading goes on untouched.
    if (wait === undefined) {
      if (--this.#inflight === 0) this.#whenTaken?.();
      return;
    }
    // Hold reading until the assembler (and the dataset sink behind it) has taken this PDU.
    this.#ul.pause();
    this.#sinkWaitStarted();
    wait.then(
      () => {
        if (--this.#inflight === 0) {
          this.#sinkTimer?.stop();
          if (!this.#closed) this.#ul.resume();
          this.#whenTaken?.();
        }
      },
      (error: unknown) => {
        if (--this.#inflight === 0) {
          this.#sinkTimer?.stop();
          this.#whenTaken?.();
        }
        this.#protocolFailure(error);
      },
    );
  }

  /**
   * Reading is paused until the application takes a PDU (a `datasetSink` that resolves, a sink's
   * `write` or `end`): while it is, neither the peer's A-ABORT nor its close can be read. A sink
   * that never settles would hold the association, and its slot, after its peer has gone; the
   * wait is bounded by the DIMSE timeout, restarted by each PDU taken. An idle timeout, where one
   * is set (StorageServer), bounds it already: no PDU is read meanwhile. Waits for room in a
   * buffer budget are not the application's: they have bounds of their own (limits.md).
   */
  #sinkWaitStarted(): void {
    if (this.#dimseMs <= 0 || this.#idleMs > 0) return;
    (this.#sinkTimer ??= new AfterPollTimer(this.#dimseMs, () => this.#sinkStalled())).start();
  }

  #sinkStalled(): void {
    if (this.#aborting || this.#inflight === 0) return;
    this.#waitExpired(this.#sinkTimer, this.#dimseMs, () => new TimeoutError('sink', `the application took none of the peer's data for ${this.#dimseMs} ms (a dataset sink that does not settle); association aborted`));
  }

  /**
   * A wait bounded by `timer` (`ms`) ran out. Reading paused for room in the association's own
   * budget: the data sets in it wait for this association's handlers, and only a handler that
   * finishes gives room back, so the wait is the application's, as for a sink: aborted with a
   * HandlerStalledError. Reading paused for room in the server's budget: the peer may be
   * sending, we are not reading; that wait has its own bounds (the stall limit of the data set in
   * front), and this clock starts again. Otherwise the association is aborted with `error`.
   */
  #waitExpired(timer: AfterPollTimer | undefined, ms: number, error: () => TimeoutError): void {
    if (this.#closed) return;
    if (this.#datasets.waitingForHandlers) {
      const { held, limit } = this.#datasets.own;
      const stalled = new HandlerStalledError(ms, held, limit);
      publish(channelNames.association, { association: this, kind: 'handler-stalled', detail: { error: stalled } });
      this.#localError ??= stalled;
      this.#safeAbort();
      return;
    }
    if (this.#datasets.waiting) {
      timer?.start();
      return;
    }
    this.#localError ??= error();
    this.#safeAbort();
  }

  /** The command of a message has arrived: the sink for its data set, at once unless the handler's datasetSink or a full budget makes it wait. */
  #onCommand(command: DimseCommand, pcId: number, hasDataset: boolean): DatasetSink | undefined | Promise<DatasetSink | undefined> {
    this.#notify('received', command, pcId);
    if (isRequest(command)) {
      if (command.type === 'C-CANCEL-RQ') {
        this.#running.get(command.messageIdBeingRespondedTo)?.abort(new Error('C-CANCEL-RQ received'));
        return undefined;
      }
      // PS3.7 D.3.3.3: the peer agreed to keep at most this many requests outstanding with us.
      // DIMSE has no status for "beyond the window", and answering would mean reading and
      // holding the request anyway: a peer that breaks the agreement is aborted.
      const window = this.#info.asynchronousOperations.performed;
      if (window > 0 && this.#performing >= window) throw new OperationsWindowExceededError(window, command.type, command.messageId);
      this.#performing++;
      const incoming = new IncomingRequest(this, command, this.#info.contexts.get(pcId) as AcceptedContext, this.#respondVia);
      this.#running.set(command.messageId, incoming);
      const refusal = contextMismatch(command, incoming.presentationContext.abstractSyntax);
      if (refusal !== undefined) {
        // Before any handler sees it: its data set is read and dropped (a sink that would open a
        // file is never asked for), the request answered with the refusal.
        incoming.refusal = refusal;
        publish(channelNames.association, () => ({ association: this, kind: 'request-refused', detail: { command: command.type, messageId: command.messageId, presentationContextId: pcId, ...refusal } }));
        this.#incoming = incoming;
        return undefined;
      }
      // Looked up once: the handler that chooses where the data set goes also answers it.
      const handler = this.#handlers?.get(command.type);
      incoming.handler = handler;
      if (handler !== undefined) {
        // Access control (request-guard.ts), asked once per request: a refused one is answered
        // without its handler, its data set read and dropped.
        const why = requestRefusal(command, incoming);
        if (why !== undefined) {
          incoming.refusal = notAuthorized(why);
          this.#incoming = incoming;
          return undefined;
        }
      }
      if (handler?.datasetSink === undefined) return this.#requestSink(incoming, hasDataset, handler !== undefined, undefined, handler?.datasetLimit);
      let sink: DatasetSink | undefined | Promise<DatasetSink | undefined>;
      try {
        sink = handler.datasetSink(command as never, incoming);
      } catch (sinkError) {
        return this.#refused(incoming, sinkError);
      }
      const limit = handler.datasetLimit;
      if (isThenable(sink)) return sink.then((s) => this.#requestSink(incoming, hasDataset, true, s, limit), (sinkError: unknown) => this.#refused(incoming, sinkError));
      return this.#requestSink(incoming, hasDataset, true, sink, limit);
    }
    const id = command.messageIdBeingRespondedTo;
    const entry = this.#pending.get(id);
    if (entry === undefined) throw new UnexpectedResponseError(id, `${command.type} answers message ID ${id}, which has no outstanding request`);
    const expected = entry.request.command.type.replace(/-RQ$/, '-RSP');
    if (command.type !== expected) {
      throw new UnexpectedResponseError(id, `${command.type} answers message ID ${id}, a ${entry.request.command.type}`);
    }
    // Only C-FIND, C-GET and C-MOVE answer with Pending (PS3.4 C.4): taken as "more to come"
    // elsewhere, the request waited for the DIMSE timeout for a final response never due.
    if (isPending(command.status) && !HAS_PENDING.has(command.type)) {
      throw new UnexpectedResponseError(id, `${command.type} answers message ID ${id} with the Pending status 0x${command.status.toString(16).toUpperCase()}, which only C-FIND, C-GET and C-MOVE responses carry`);
    }
    if (!entry.cancelled) this.#armTimer(id);
    const sink = hasDataset ? entry.sink?.(command) : undefined;
    const collected = hasDataset && sink === undefined ? collectSink(this.#maxCollected) : undefined;
    this.#incomingResponse = { collected };
    return sink ?? collected;
  }

  /** The handler could not take the dataset (e.g. cannot open a file): read and drop it, answer a failure. */
  #refused(incoming: IncomingRequest, sinkError: unknown): undefined {
    incoming.sinkError = sinkError;
    this.#incoming = incoming;
    return undefined;
  }

  #requestSink(incoming: IncomingRequest, hasDataset: boolean, handled: boolean, sink: DatasetSink | undefined, limit?: DatasetLimit): DatasetSink | undefined | Promise<DatasetSink | undefined> {
    // No handler: the dataset is read and dropped, the request answered "unrecognized operation".
    const collecting = hasDataset && sink === undefined && handled ? collectSink(this.#maxCollected) : undefined;
    if (collecting === undefined) {
      this.#incoming = incoming;
      return sink;
    }
    const collect = (): DatasetSink => {
      // Ended while it waited for room: nothing more is read or held here, and a collection
      // started now would stay on the server's budget as the oldest, never progressing.
      if (this.#closed || this.#aborting) return collecting;
      const { sink: collected, held } = this.#datasets.collect(collecting);
      incoming.collected = collected;
      incoming.held = held;
      this.#incoming = incoming;
      if (limit === undefined || !(limit.maxLength > 0)) return collected;
      // Past the handler's limit: what was collected is dropped and given back to the budgets
      // at once (the rest is only counted), the request answered with the limit's status.
      return limitedSink(collected, limit, (over) => {
        incoming.overLimit = over;
        incoming.collected = undefined;
        incoming.held = undefined;
        this.#datasets.giveBack(held);
      });
    };
    // A new data set to hold in memory: not while a budget is full (reading stays paused).
    return this.#datasets.mustWait(true) ? this.#datasets.admit(true).then(collect) : collect();
  }

  #onMessage(command: DimseCommand, pcId: number): void {
    if (isRequest(command)) {
      if (command.type === 'C-CANCEL-RQ') return;
      const incoming = this.#incoming;
      this.#incoming = undefined;
      this.#datasets.arrived();
      if (incoming === undefined) return;
      // Not awaited: a C-CANCEL-RQ must get through while a C-FIND handler runs, and within an
      // Asynchronous Operations Window (PS3.7 D.3.3.3) the next requests arrive (their data sets
      // streaming into their own sinks) while this one is handled. Handlers run one at a time, in
      // the order the requests came, so responses go out in that order too: we perform one
      // operation at a time, whatever window was agreed for invoking.
      // With none ahead of it, a handler that answers at once (a discarding or in-memory SCP)
      // is run and answered here, without a promise.
      this.#handling++;
      const run = this.#handling === 1 ? this.#runHandler(incoming) : this.#handlerTail.then(() => this.#runHandler(incoming));
      if (run === undefined) {
        this.#handling--;
        return;
      }
      const done = (): void => void this.#handling--;
      this.#handlerTail = run.then(done, done);
      return;
    }
    const id = command.messageIdBeingRespondedTo;
    const entry = this.#pending.get(id);
    const collected = this.#incomingResponse?.collected;
    this.#incomingResponse = undefined;
    if (entry === undefined) return;
    const final = !isPending(command.status);
    const mismatch = responseMismatch(entry.request.command, command);
    if (mismatch !== undefined) {
      if (!final) return this.#protocolFailure(mismatch);
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#dimseTimer?.unref();
      entry.request.fail(mismatch);
      return;
    }
    if (final) {
      this.#pending.delete(id);
      // Nothing left to wait for: the timer may run out unanswered, but holds no process open.
      if (this.#pending.size === 0) this.#dimseTimer?.unref();
    }
    entry.request.deliver({ command, presentationContextId: pcId, dataset: collected?.bytes() }, final);
  }

  /** Runs the handler and sends its final response: a promise only if something had to wait. Never rejects. */
  #runHandler(incoming: IncomingRequest): Promise<void> | undefined {
    // The handler takes the data set: it no longer waits in the association's queue (the
    // server's budget counts it until the handler is done, see #handled).
    if (incoming.held !== undefined) this.#datasets.handling(incoming.held);
    let r: Promise<void> | undefined;
    try {
      r = this.#handleAndAnswer(incoming);
    } catch (error) {
      this.#handlerFailed(incoming, error);
      return undefined;
    }
    if (r === undefined) {
      this.#handled(incoming);
      return undefined;
    }
    return r.then(
      () => this.#handled(incoming),
      (error: unknown) => this.#handlerFailed(incoming, error),
    );
  }

  /** The final response is on its way: the peer may invoke the next operation. */
  #finalResponse(incoming: IncomingRequest): void {
    if (incoming.performing) this.#performing--;
    incoming.performing = false;
  }

  #handled(incoming: IncomingRequest): void {
    this.#finalResponse(incoming);
    this.#running.delete(incoming.command.messageId);
    // The handler is done with its data set: only now is its memory no longer ours to hold, so
    // only now does it stop counting (it counted from its first fragment, through the handler).
    if (incoming.held !== undefined) this.#datasets.giveBack(incoming.held);
    incoming.collected = undefined;
    incoming.dataset = undefined;
  }

  /**
   * Not even the failure response could be sent (e.g. the peer's Maximum Length fits no data):
   * every request gets a response or the association ends now, never a silent wait. An
   * association already ending (aborted, released: no longer Sta6) just has no one to tell.
   */
  #handlerFailed(incoming: IncomingRequest, error: unknown): void {
    if (!this.#closed && !this.#aborting && this.#ul.state === 'Sta6') {
      this.#localError ??= failAssociation(this.#ul, 'response', error);
    }
    this.#handled(incoming);
  }

  #handleAndAnswer(incoming: IncomingRequest): Promise<void> | undefined {
    const { command, presentationContext: context } = incoming;
    if (incoming.refusal !== undefined) return this.#answer(incoming, { status: incoming.refusal.status, errorComment: incoming.refusal.errorComment });
    const handler = incoming.handler;
    if (handler === undefined) return this.#answer(incoming, { status: Status.UnrecognizedOperation, errorComment: `no ${command.type} handler` });
    if (incoming.sinkError !== undefined) return this.#answer(incoming, failureFields(incoming.sinkError));
    if (incoming.overLimit !== undefined) return this.#answer(incoming, this.#overLimit(incoming, incoming.overLimit));
    const dataset = incoming.collected?.bytes();
    incoming.dataset = dataset;
    if (dataset !== undefined) publish(channelNames.requestDataset, () => ({ association: this, command, presentationContextId: context.id, transferSyntaxUid: context.transferSyntax, dataset }));
    let fields: ResponseFields | Promise<ResponseFields>;
    try {
      fields = handler.handle(command as never, incoming);
    } catch (error) {
      return this.#closed ? undefined : this.#answer(incoming, failureFields(error));
    }
    if (!isThenable(fields)) return this.#answer(incoming, fields);
    return fields.then(
      (f) => this.#answer(incoming, f),
      (error: unknown) => (this.#closed ? undefined : this.#answer(incoming, failureFields(error))),
    );
  }

  /** The refusal of a request whose data set went past its handler's limit, published on the `association` channel. */
  #overLimit(incoming: IncomingRequest, over: DatasetOverLimit): ResponseFields {
    const { command, presentationContext } = incoming;
    const fields = { status: over.limit.status, errorComment: overLimitComment(over.limit) };
    publish(channelNames.association, () => ({
      association: this,
      kind: 'request-too-large',
      detail: { command: command.type, messageId: command.messageId, presentationContextId: presentationContext.id, ...fields, length: over.length, limit: over.limit.maxLength },
    }));
    return fields;
  }

  /** The final response; one the handler built badly still gets an answer; a closed association gets none. */
  #answer(incoming: IncomingRequest, fields: ResponseFields): Promise<void> | undefined {
    if (this.#closed) return undefined;
    this.#finalResponse(incoming);
    let r: Promise<void> | undefined;
    try {
      r = this.#respond(incoming.command, incoming.presentationContext.id, fields);
    } catch {
      return this.#answerFailed(incoming);
    }
    return r?.then(undefined, () => this.#answerFailed(incoming));
  }

  #answerFailed(incoming: IncomingRequest): Promise<void> | undefined {
    if (this.#closed) return undefined;
    return this.#respond(incoming.command, incoming.presentationContext.id, { status: Status.ProcessingFailure, errorComment: 'the response could not be built' });
  }

  #respondAsPromise(request: Exclude<DimseRequest, CCancelRq>, pcId: number, fields: ResponseFields): Promise<void> {
    try {
      return this.#respond(request, pcId, fields) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #respond(request: Exclude<DimseRequest, CCancelRq>, pcId: number, fields: ResponseFields): Promise<void> | undefined {
    const dataset = fields.dataset;
    // A new object, the handler's fields copied in (never changed: a handler may reuse them).
    const response = responseFor(request, fields, dataset !== undefined) as { errorComment?: string };
    // The one place Error Comments leave the server: never a path, always a valid LO.
    if (response.errorComment !== undefined) response.errorComment = safeErrorComment(response.errorComment);
    return this.#sender.send(response as DimseResponse, dataset, pcId);
  }

  // ---- timers and failures -----------------------------------------------------------------------

  /**
   * (Re)start the DIMSE timeout of request `id`: a deadline on its entry. One timer serves all of
   * them (a timer made and cleared per request, and again per response, was a good part of the
   * per-request work of a requestor): it runs until the earliest deadline it was armed for, and
   * on expiry either finds a request past its deadline or waits again for the earliest one.
   */
  #armTimer(id: number): void {
    const entry = this.#pending.get(id);
    if (entry === undefined) return;
    if (entry.timeout <= 0) {
      entry.deadline = Infinity;
      return;
    }
    entry.deadline = monotonicMs() + entry.timeout;
    if (this.#dimseTimer === undefined || entry.deadline < this.#dimseDue) this.#startDimseTimer(entry.timeout, entry.deadline);
    else this.#dimseTimer.ref();
  }

  #startDimseTimer(ms: number, due: number): void {
    if (this.#dimseTimer !== undefined) clearTimeout(this.#dimseTimer);
    this.#dimseDue = due;
    // Checked after the event loop's next poll for I/O (as the idle timer, #touch): a loop held
    // up past the deadline first reads the answers the peer sent meanwhile.
    this.#dimseTimer = setAfterPollTimeout(ms, (t) => {
      if (this.#dimseTimer === t) this.#dimseExpired();
    });
  }

  #stopDimseTimer(): void {
    if (this.#dimseTimer !== undefined) clearTimeout(this.#dimseTimer);
    this.#dimseTimer = undefined;
    this.#dimseDue = Infinity;
  }

  #dimseExpired(): void {
    this.#dimseTimer = undefined;
    this.#dimseDue = Infinity;
    if (this.#closed) return;
    const now = monotonicMs();
    let earliest = Infinity;
    for (const [id, entry] of this.#pending) {
      if (entry.deadline <= now) {
        const e = new TimeoutError('dimse', entry.cancelled
          ? `no final response to ${entry.request.command.type} (message ID ${id}) within ${entry.timeout} ms of our C-CANCEL-RQ; association aborted`
          : `no response to ${entry.request.command.type} (message ID ${id}) within ${entry.timeout} ms; association aborted`);
        this.#localError ??= e;
        this.#pending.delete(id);
        entry.request.fail(e);
        this.#safeAbort();
        return;
      }
      if (entry.deadline < earliest) earliest = entry.deadline;
    }
    // Answers restarted the deadlines meanwhile: wait for the earliest (at least 1 ms: the
    // timer's clock is coarser than monotonicMs()).
    if (earliest !== Infinity) this.#startDimseTimer(Math.max(1, Math.ceil(earliest - now)), earliest);
  }

  #touch(): void {
    if (this.#idleMs <= 0 || this.#closed) return;
    // Called for every PDU each way: the one timer restarted, not made again. Decided after the
    // event loop has read its sockets (AfterPollTimer): after a stretch in which the loop was
    // busy (or the process got no CPU) the peer's PDUs may be waiting unread although the peer
    // was never idle, and reading them restarts the timer instead.
    (this.#idle ??= new AfterPollTimer(this.#idleMs, () => this.#idleExpired())).start();
  }

  #idleExpired(): void {
    this.#waitExpired(this.#idle, this.#idleMs, () => new TimeoutError('idle', `association idle for ${this.#idleMs} ms; aborted`));
  }

  #protocolFailure(error: unknown): void {
    if (this.#closed) return;
    this.#localError ??= error instanceof DicomError ? error : new AssociationClosedError('DIMSE failure', { cause: error });
    this.#safeAbort();
  }

  /** The data set arriving stalled while others waited for room in the server's budget. */
  #stalled(error: DatasetStalledError): void {
    if (this.#closed || this.#aborting) return;
    publish(channelNames.association, { association: this, kind: 'dataset-stalled', detail: { error } });
    this.#localError ??= error;
    this.#safeAbort();
  }

  #safeAbort(): void {
    if (this.#closed || this.#aborting) return;
    this.#aborting = true;
    // Nothing more is read or handled: the budgets get their bytes back now, not when a peer
    // that keeps its socket open is finally cut off by ARTIM.
    this.#datasets.giveBackAll();
    try {
      this.#ul.abort();
    } catch {
      // Not abortable in this state (e.g. already closing): tear the transport down instead.
      this.#ul.destroy(this.#localError);
    }
    // Reading may be paused behind a sink: resume, or the peer's close would never be seen
    // and the association would sit in Sta13 until ARTIM.
    if (!this.#closed) this.#ul.resume();
    // Nothing can be answered any more: what is outstanding fails now, not when a peer that
    // keeps the connection open is finally cut off by ARTIM.
    if (!this.#closed) this.#failOutstanding(() => this.#localError ?? new AssociationClosedError('the association was aborted'));
  }

  /** Reject every pending request and stop every running handler, with `reason()`. */
  #failOutstanding(reason: () => DicomError): void {
    this.#stopDimseTimer();
    for (const [, entry] of this.#pending) entry.request.fail(reason());
    this.#pending.clear();
    for (const c of this.#running.values()) c.abort(reason());
  }

  /** Aborting, or released past the point where P-DATA may still be sent (Sta6, Sta8). */
  #ending(): boolean {
    const state = this.#ul.state;
    return this.#aborting || (state !== 'Sta6' && state !== 'Sta8');
  }

  #endingError(): DicomError {
    return this.#localError ?? this.#closeInfo?.error ?? new AssociationClosedError(this.#aborting || this.#closed ? undefined : 'the association is being released');
  }

  #closeError(): DicomError {
    return this.#localError ?? this.#closeInfo?.error ?? new AssociationClosedError();
  }

  #onAborted(error: AssociationAbortedError): void {
    this.emit('aborted', this.#localError ?? error);
  }

  #onClosed(ulError: DicomError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle?.dispose();
    this.#drainTimer?.dispose();
    this.#sinkTimer?.dispose();
    const error = this.#localError ?? ulError;
    this.#closeInfo = { error };
    // The reason is built only when something is left to fail: an Error's stack trace cost
    // ~20 us on every released association.
    let built: DicomError | undefined;
    const reason = (): DicomError =>
      (built ??= error ?? new AssociationClosedError(this.#released ? 'the association was released before the response arrived' : 'the association was aborted'));
    this.#failOutstanding(reason);
    // Nothing more will be handled here: the server's budget gets back what this association held.
    this.#datasets.giveBackAll();
    this.#assembler.close(reason);
    if (this.#released && error === undefined) this.emit('released');
    this.emit('closed', this.#closeInfo);
  }
}

type PDataPdvs = Parameters<DimseAssembler['push']>[0];

/** The responses that may be Pending (PS3.4 C.4.1.1.4, C.4.2.1.4, C.4.3.1.4). */
const HAS_PENDING: ReadonlySet<string> = new Set(['C-FIND-RSP', 'C-GET-RSP', 'C-MOVE-RSP']);

/** A request sent and not yet answered with its final response. */
interface PendingEntry {
  readonly request: PendingRequest;
  /** When its DIMSE timeout expires (monotonicMs() time); Infinity when not armed. */
  deadline: number;
  readonly timeout: number;
  readonly sink: RequestOptions['responseDatasetSink'];
  /** Our C-CANCEL-RQ went out: Pending responses no longer restart the deadline. */
  cancelled: boolean;
}

/** Processing failure (0110) with the error's message as the comment. */
function failureFields(error: unknown): ResponseFields {
  const m = error instanceof Error ? error.message : String(error);
  return { status: Status.ProcessingFailure, errorComment: m };
}

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined | null)?.then === 'function';
}