/**
 * The PS3.8 upper layer of one association: a TransportConnection, a PduReader, the Section 9.2
 * state machine and the one ARTIM timer. The service user talks to it in the primitives of
 * PS3.8 Section 7 (A-ASSOCIATE, P-DATA, A-RELEASE, A-ABORT requests/responses as methods;
 * indications/confirmations as typed events). Negotiation and DIMSE are the user's business:
 * this layer only carries PDUs.
 *
 *   requestor: ul = new UpperLayer(opts); ul.requestAssociation(connectFn, rq);
 *              ac = await ul.associated(); ul.sendPData(pdu); ul.on('pData', …); await ul.release();
 *   acceptor:  ul = new UpperLayer(opts); ul.on('associateIndication', rq => ul.acceptAssociation(ac));
 *              ul.acceptConnection(transport); … ul.on('releaseIndication', () => ul.respondRelease());
 *
 * Empty cells of Table 9-10 make a primitive throw InvalidStateEventError (nothing changes).
 * ARTIM runs only where PS3.8 runs it (Sta2, Sta13); waiting for an A-ASSOCIATE-AC (Sta5) or an
 * A-RELEASE-RP (Sta7) is bounded by the caller, who calls abort() when its own timeout fires.
 */
import type { Duplex } from 'node:stream';
import { channel, channelNames, publish } from '../diagnostics.js';
import { pin as pinBuffer, release as releaseBuffer } from '../internal/buffer-pool.js';
import { DicomError, InvalidOptionError, TimeoutError } from '../errors.js';
import type { TransportConnection } from '../transport/connection.js';
import type { AssociationActions, FsmInput, UserPrimitive } from './fsm/actions.js';
import { defaultCheckAssociateRq, receivedPduEvent } from './fsm/actions.js';
import type { State } from './fsm/ids.js';
import { StateMachine, type Transition } from './fsm/state-machine.js';
import { encodePduParts } from './pdu/encode.js';
import { InboundFramer, type InboundItem } from './inbound-framer.js';
import { Fifo } from '../internal/fifo.js';
import { AfterPollTimer } from '../internal/after-poll-timer.js';
import { TypedEmitter, type UpperLayerEvents } from './upper-layer-events.js';

export type { UpperLayerEvents } from './upper-layer-events.js';
import type { AAssociateAcPdu, AAssociateRjPdu, AAssociateRqPdu, PDataTfPdu, Pdu } from './pdu/types.js';
import { AbortSource } from './pdu/types.js';
import {
  AssociationAbortedError,
  AssociationClosedError,
  AssociationRejectedError,
  PduExceedsPeerMaximumError,
} from './upper-layer-errors.js';

export interface UpperLayerOptions {
  /**
   * Largest PDU-length accepted on receive for P-DATA-TF (and the fixed-size PDUs): give the
   * Maximum-length-received you advertise. A larger PDU aborts the association (A-ABORT, reason
   * 6) before its body is buffered. Default 1 MiB.
   */
  readonly maxPduLength?: number;
  /** Largest A-ASSOCIATE-RQ/-AC accepted (user identity assertions can be big). Default max(maxPduLength, 1 MiB). */
  readonly maxAssociatePduLength?: number;
  /** ARTIM timer (PS3.8 9.1.5) in milliseconds. Default 30 000. */
  readonly artimTimeout?: number;
  /**
   * Provider-level check of an A-ASSOCIATE-RQ in AE-6 (e.g. temporary congestion), run after the
   * protocol-version check: return the A-ASSOCIATE-RJ to send, or undefined to pass the request
   * on to the service user as an A-ASSOCIATE indication.
   */
  readonly checkAssociateRq?: (rq: AAssociateRqPdu) => AAssociateRjPdu | undefined;
}

/** How the requestor gets its transport: an open connection, or a function that opens one (AE-1). */
export type TransportSource = TransportConnection | (() => Promise<TransportConnection>);

type InboxItem = InboundItem | { readonly kind: 'close'; readonly cause: unknown };

/** What the machine hands the user, in order: a primitive, or the end (no wrapper object per P-DATA indication). */
type Outbox = UserPrimitive | typeof CLOSED | typeof AWAITING_CLOSE;
const CLOSED = Symbol('closed');
const AWAITING_CLOSE = Symbol('awaiting close');

const DEFAULT_MAX_PDU = 1024 * 1024;
/** Looked up once: publish() built its message object on every PDU sent, subscribed or not. */
const pduSentChannel = channel(channelNames.pduSent);
const pduReceivedChannel = channel(channelNames.pduReceived);
const DEFAULT_ARTIM_MS = 30_000;

/** Gathered bytes above which a tick's PDUs are written at once (a sender ignoring needsDrain). */
const GATHER_MAX = 2 * 1024 * 1024;

export class UpperLayer extends TypedEmitter<UpperLayerEvents> {
  readonly #sm: StateMachine;
  readonly #framer: InboundFramer;
  readonly #artimMs: number;
  readonly #check: (rq: AAssociateRqPdu) => AAssociateRjPdu | undefined;
  #transport: TransportConnection | undefined;
  /** `#transport.stream`, kept: read on every chunk and every send (a getter on a SecureSocket). */
  #stream: Duplex | undefined;
  /**
   * What the framer needs to word another protocol on the wire (no TLS underneath, our role),
   * read at the first chunk: by then the role is set and any TLS handshake is done, and the
   * framer looks at them only until it has sniffed the first bytes.
   */
  #plain = false;
  #role: 'requestor' | 'acceptor' | undefined;
  #firstChunk = true;
  #source: TransportSource | undefined;
  /** Decided after the loop's next read: the PDU or close it waits for may be in the socket already. */
  readonly #artim: AfterPollTimer;
  /** The peer's FIN was read (see #artim). */
  #peerEnded = false;
  #paused = false;
  /** Whether pause() has actually paused the transport stream (see pause()). */
  #streamPaused = false;
  /**
   * PDU bytes sent and not yet handed to the transport: everything sent while a received chunk
   * is processed (the answers to the PDUs it completed) goes out in one write at its end, and
   * what is sent at other times at the end of that tick. See #send.
   */
  readonly #out: Uint8Array[] = [];
  #outBytes = 0;
  #flushQueued = false;
  /** Inside #onData: its end writes what was sent meanwhile. */
  #receiving = false;
  #draining = false;
  #flushing = false;
  readonly #inbox = new Fifo<InboxItem>();
  readonly #outbox = new Fifo<Outbox>();
  #transportClosed = false;
  /** The peer ended its side in Sta8 (see #attach): ours ends with the A-RELEASE-RP. */
  #peerEndedInRelease = false;
  #transportError: unknown;
  #finished = false;
  #error: DicomError | undefined;
  #ac: AAssociateAcPdu | undefined;
  #peerMaxPduLength = 0;
  /**
   * PDUs encoded before their event is dispatched (#preEncode), until #send writes them: the
   * last one in a slot (it is sent within the same dispatch: no WeakMap entry per PDU sent),
   * any other in the map.
   */
  #encodedPdu: Pdu | undefined;
  #encodedParts: Uint8Array[] | undefined;
  readonly #encoded = new WeakMap<Pdu, Uint8Array[]>();

  constructor(options: UpperLayerOptions = {}) {
    super((event, error) => publish(channelNames.association, { association: this, kind: 'listener-error', detail: { event, error } }));
    const artim = options.artimTimeout ?? DEFAULT_ARTIM_MS;
    if (!Number.isFinite(artim) || artim <= 0) throw new InvalidOptionError('artimTimeout', `must be a positive number of milliseconds, got ${String(artim)}`);
    this.#artimMs = artim;
    this.#artim = new AfterPollTimer(artim, () => {
      // The peer's FIN was read: it did close (our side's close, which ends the wait, comes in
      // a later turn of the loop). Not a silent peer: nothing to report as a timeout.
      if (!this.#peerEnded) this.#error ??= new TimeoutError('ARTIM', `ARTIM timer expired after ${this.#artimMs} ms in ${this.#sm.state} (PS3.8 9.1.5)`);
      this.#safeDispatch({ event: 'Evt18' });
    });
    const maxPduLength = options.maxPduLength ?? DEFAULT_MAX_PDU;
    // A large P-DATA-TF spread over socket reads (every one over plain TCP, whose reads are 64 KiB)
    // reaches DIMSE as views of them, not as a copy: a fifth of a receiving SCP's CPU.
    this.#framer = new InboundFramer({
      maxPduLength,
      splitDataValues: true,
      ...(options.maxAssociatePduLength === undefined ? {} : { maxAssociatePduLength: options.maxAssociatePduLength }),
    });
    const extra = options.checkAssociateRq;
    this.#check = (rq) => defaultCheckAssociateRq(rq) ?? extra?.(rq);
    this.#sm = new StateMachine(this.#actions(), { association: this, onTransition: (t) => this.#onTransition(t) });
  }

  // ---- state -------------------------------------------------------------------------------

  /** Current state of the PS3.8 9.2 state machine. */
  get state(): State {
    return this.#sm.state;
  }
  get role(): 'requestor' | 'acceptor' | undefined {
    return this.#sm.role;
  }
  get transport(): TransportConnection | undefined {
    return this.#transport;
  }
  /** The peer's Maximum-length-received (0 = no limit) from its A-ASSOCIATE-RQ or -AC. */
  get peerMaxPduLength(): number {
    return this.#peerMaxPduLength;
  }
  /** True once `closed` was emitted. */
  get isClosed(): boolean {
    return this.#finished;
  }
  /**
   * Bytes of PDUs sent and not yet copied out by the transport: those gathered here for the end
   * of the chunk or tick (see #send) and those queued in the transport's stream. A sender that
   * reuses the buffers its PDUs are views of may do so only at 0.
   */
  get queuedBytes(): number {
    return this.#outBytes + (this.#stream?.writableLength ?? 0);
  }

  /** True when the last write filled the transport's buffer: wait for `drain()` before more. */
  get needsDrain(): boolean {
    const s = this.#stream;
    if (s === undefined) return false;
    // Gathered bytes count as written: a sender that fills the tick past the high-water mark
    // waits in `drain()`, which hands them to the transport first. Bytes the transport took
    // directly and still holds (`needsDrain`) count as the stream's own.
    return s.writableNeedDrain || this.#outBytes >= s.writableHighWaterMark || this.#transport?.needsDrain === true;
  }

  // ---- service-user primitives (PS3.8 7) -------------------------------------------------------

  /** A-ASSOCIATE request (Evt1): open the transport (AE-1), then send `rq` (AE-2). */
  requestAssociation(source: TransportSource, rq: AAssociateRqPdu): void {
    if (this.#sm.accepts('Evt1')) {
      this.#preEncode(rq);
      this.#source = source;
    }
    this.#dispatch({ event: 'Evt1', pdu: rq });
  }

  /** Transport connection indication (Evt5) on an accepted connection: ARTIM runs until the A-ASSOCIATE-RQ. */
  acceptConnection(transport: TransportConnection): void {
    if (this.#sm.accepts('Evt5')) this.#attach(transport);
    this.#dispatch({ event: 'Evt5' });
  }

  /** A-ASSOCIATE response, accept (Evt7). */
  acceptAssociation(ac: AAssociateAcPdu): void {
    if (this.#sm.accepts('Evt7')) this.#preEncode(ac);
    this.#dispatch({ event: 'Evt7', pdu: ac });
  }

  /** A-ASSOCIATE response, reject (Evt8); the peer is expected to close, ARTIM guards it. */
  rejectAssociation(rj: AAssociateRjPdu): void {
    if (this.#sm.accepts('Evt8')) this.#preEncode(rj);
    this.#dispatch({ event: 'Evt8', pdu: rj });
  }

  /**
   * P-DATA request (Evt9). Returns false when the transport's buffer is full: await `drain()`
   * before sending more. Throws PduExceedsPeerMaximumError above the peer's maximum length.
   */
  sendPData(pdu: PDataTfPdu): boolean {
    // Sta6, nothing running (the common case, twice per message): DT-1 is sending the PDU, done
    // here without the state machine's dispatch (StateMachine.inDataTransfer).
    const direct = this.#sm.inDataTransfer;
    if (!direct) this.#throwIfAborted('Evt9');
    if (direct || this.#sm.accepts('Evt9')) {
      let length = 0;
      for (const pdv of pdu.pdvs) length += 6 + pdv.data.length;
      if (this.#peerMaxPduLength > 0 && length > this.#peerMaxPduLength) throw new PduExceedsPeerMaximumError(length, this.#peerMaxPduLength);
      if (direct) {
        this.#send(pdu, encodePduParts(pdu));
        return !this.needsDrain;
      }
      this.#preEncode(pdu);
    }
    this.#dispatch({ event: 'Evt9', pdu });
    return !this.needsDrain;
  }

  /** A-RELEASE request (Evt11). */
  requestRelease(): void {
    this.#throwIfAborted('Evt11');
    this.#dispatch({ event: 'Evt11' });
  }

  /**
   * A primitive of ours meeting an association already aborted (the peer's A-ABORT, or ours at a
   * PDU it sent, AA-8, while we await its close in Sta13) fails with that abort as its reason:
   * the state machine's "EvtN is not valid in Sta13" would read as our own bug.
   */
  #throwIfAborted(event: 'Evt9' | 'Evt11'): void {
    if (this.#error !== undefined && !this.#sm.accepts(event) && (this.#sm.state === 'Sta13' || this.#finished)) throw this.#error;
  }

  /** A-RELEASE response (Evt14), after a `releaseIndication` or a collision `released`. */
  respondRelease(): void {
    this.#dispatch({ event: 'Evt14' });
    if (this.#peerEndedInRelease) this.#close();
  }

  /** A-ABORT request (Evt15): sends A-ABORT (service-user source); in Sta4 just drops the connection attempt. */
  abort(): void {
    this.#dispatch({ event: 'Evt15' });
  }

  /** Tear down now whatever the state: the transport is destroyed and its close drives the machine. */
  destroy(cause?: unknown): void {
    if (this.#finished) return;
    if (cause instanceof DicomError) this.#error ??= cause;
    const t = this.#transport;
    if (t === undefined) {
      if (this.#sm.accepts('Evt15')) this.#dispatch({ event: 'Evt15' });
      else if (this.#sm.state === 'Sta1') {
        this.#finish();
        this.#flushOutbox();
      }
      return;
    }
    t.stream.destroy();
  }

  // ---- conveniences over the primitives --------------------------------------------------------

  /**
   * Resolves with the A-ASSOCIATE-AC; rejects with AssociationRejectedError on A-ASSOCIATE-RJ, or
   * with the first error (protocol error, abort, ARTIM) as soon as the association aborts or closes.
   */
  associated(): Promise<AAssociateAcPdu> {
    if (this.#ac !== undefined && !this.#finished) return Promise.resolve(this.#ac);
    if (this.#finished) return Promise.reject(this.#error ?? new AssociationClosedError());
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.off('accepted', onAc).off('rejected', onRj).off('aborted', onAbort).off('providerAborted', onAbort).off('closed', onClosed);
      };
      const onAc = (ac: AAssociateAcPdu): void => (done(), resolve(ac));
      const onRj = (rj: AAssociateRjPdu): void => (done(), reject(new AssociationRejectedError(rj)));
      const onAbort = (e: AssociationAbortedError): void => (done(), reject(this.#error ?? e));
      const onClosed = (i: { readonly error: DicomError | undefined }): void => (done(), reject(i.error ?? new AssociationClosedError()));
      this.on('accepted', onAc).on('rejected', onRj).on('aborted', onAbort).on('providerAborted', onAbort).on('closed', onClosed);
    });
  }

  /**
   * A-RELEASE request, answering a release collision itself (AR-8 → respond in Sta9; AR-10 →
   * respond in Sta12); resolves once the transport is closed, rejects if the association aborts.
   */
  release(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onIndication = (): void => {
        if (this.#sm.state === 'Sta9') this.respondRelease();
      };
      const onReleased = (): void => {
        if (this.#sm.state === 'Sta12') this.respondRelease();
      };
      const onClosed = (i: { readonly error: DicomError | undefined }): void => {
        this.off('releaseIndication', onIndication).off('released', onReleased).off('closed', onClosed);
        if (i.error === undefined) resolve();
        else reject(i.error);
      };
      this.on('releaseIndication', onIndication).on('released', onReleased).on('closed', onClosed);
      try {
        this.requestRelease();
      } catch (e) {
        this.off('releaseIndication', onIndication).off('released', onReleased).off('closed', onClosed);
        reject(e);
      }
    });
  }

  /** Resolves when `closed` has been emitted (at once if it has). */
  whenClosed(): Promise<{ readonly error: DicomError | undefined }> {
    if (this.#finished) return Promise.resolve({ error: this.#error });
    return new Promise((resolve) => this.once('closed', resolve));
  }

  /** Resolves when the transport can take more writes; rejects with AssociationClosedError once it is gone. */
  drain(): Promise<void> {
    const s = this.#stream;
    if (s === undefined || s.destroyed || this.#transportClosed) return Promise.reject(new AssociationClosedError());
    if (this.#outBytes >= s.writableHighWaterMark) this.#flushOut();
    if (!s.writableNeedDrain && this.#transport?.needsDrain !== true) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => (s.off('close', onClose), resolve());
      const onClose = (): void => (s.off('drain', onDrain), reject(new AssociationClosedError()));
      s.once('drain', onDrain).once('close', onClose);
    });
  }

  /**
   * Stop reading from the transport (the consumer is slow). PDUs already framed wait. The
   * transport itself is paused only when more data arrives meanwhile (in #onData): a consumer
   * that resumes within the same tick, as DIMSE does after every PDU with a synchronous sink,
   * then costs no stream pause/resume round trip (a nextTick and a read attempt per PDU).
   */
  pause(): void {
    this.#paused = true;
  }

  /** Resume reading after `pause()`. */
  resume(): void {
    this.#paused = false;
    this.#drainInbox();
    if (!this.#paused && this.#streamPaused) {
      this.#streamPaused = false;
      this.#stream?.resume();
    }
  }
  get isPaused(): boolean {
    return this.#paused;
  }

  // ---- state machine plumbing ------------------------------------------------------------------

  #preEncode(pdu: Pdu): void {
    // Encoding first makes a bad PDU from the user throw here, before any state change.
    const parts = encodePduParts(pdu);
    if (this.#encodedPdu === undefined) {
      this.#encodedPdu = pdu;
      this.#encodedParts = parts;
    } else {
      this.#encoded.set(pdu, parts);
    }
  }

  /** Dispatch, then hand out the primitives the transition produced (never from inside an action). */
  #dispatch(input: FsmInput): void {
    try {
      this.#sm.dispatch(input);
    } finally {
      // Not sent within its dispatch (queued behind a running action): it waits in the map.
      if (this.#encodedPdu !== undefined) {
        this.#encoded.set(this.#encodedPdu, this.#encodedParts!);
        this.#encodedPdu = undefined;
        this.#encodedParts = undefined;
      }
    }
    this.#flushOutbox();
  }

  #flushOutbox(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (let o = this.#outbox.shift(); o !== undefined; o = this.#outbox.shift()) {
        if (o === CLOSED) this.emit('closed', { error: this.#error });
        else if (o === AWAITING_CLOSE) this.emit('awaitingClose');
        else this.#deliver(o);
      }
    } finally {
      this.#flushing = false;
    }
  }

  #deliver(p: UserPrimitive): void {
    switch (p.type) {
      case 'A-ASSOCIATE indication':
        this.#peerMaxPduLength = p.rq.userInformation.maximumLength ?? 0;
        return this.emit('associateIndication', p.rq);
      case 'A-ASSOCIATE confirmation (accept)':
        this.#ac = p.ac;
        this.#peerMaxPduLength = p.ac.userInformation.maximumLength ?? 0;
        return this.emit('accepted', p.ac);
      case 'A-ASSOCIATE confirmation (reject)':
        return this.emit('rejected', p.rj);
      case 'P-DATA indication':
        return this.#pDataIndication(p.pdu);
      case 'A-RELEASE indication':
        return this.emit('releaseIndication', { collision: p.collision });
      case 'A-RELEASE confirmation':
        return this.emit('released', { collision: p.collision });
      case 'A-ABORT indication': {
        const e = new AssociationAbortedError('peer-user', p.source, p.reason);
        this.#error ??= e;
        return this.emit('aborted', e);
      }
      case 'A-P-ABORT indication': {
        const cause = p.cause ?? (p.origin === 'transport' ? this.#transportError : undefined);
        const e = new AssociationAbortedError(p.origin, AbortSource.ServiceProvider, p.reason, cause === undefined ? undefined : { cause });
        this.#error ??= e;
        return this.emit('providerAborted', e);
      }
    }
  }

  #pDataIndication(pdu: PDataTfPdu): void {
    // The PDV values may be views of pooled receive buffers, each with a reference that the one
    // listener (DIMSE) releases when done; with none nobody holds them, and with several nobody
    // can tell when all are done: their buffers are then never reused.
    const list = this.listenersOf('pData');
    const listeners = list?.length ?? 0;
    if (listeners === 0) for (const pdv of pdu.pdvs) releaseBuffer(pdv.data);
    else if (listeners > 1) for (const pdv of pdu.pdvs) pinBuffer(pdv.data);
    if (list !== undefined) this.emitOne('pData', pdu, list);
  }

  #onTransition(t: Transition): void {
    // AE-6 is a request passed on to the user (Sta3) or the provider's own rejection (Sta13).
    const kind = t.action === 'AE-6' ? (t.to === 'Sta3' ? 'requested' : 'rejected') : LIFECYCLE[t.action];
    if (kind !== undefined) publish(channelNames.association, { association: this, kind, detail: t });
    if (t.to === 'Sta1' && (this.#transport === undefined || this.#transportClosed)) this.#finish();
    // The requestor that sent an A-ABORT lets go at once: the A-ABORT, then the end of its
    // transport. PS3.8 9.2 has it wait in Sta13 for the peer to close, bounded by ARTIM, whose
    // value is local: the requestor's is zero, for it owns the connection (it also closes it
    // after A-RELEASE, AR-3), and a peer that keeps it open would otherwise hold the requestor,
    // and a CLI reporting a timeout, for a second timeout. The acceptor still waits (ARTIM).
    if (t.to === 'Sta13' && t.from !== 'Sta13' && (t.action === 'AA-1' || t.action === 'AA-8') && this.#sm.role === 'requestor') this.#close();
    else if (t.to === 'Sta13' && t.from !== 'Sta13') this.#outbox.push(AWAITING_CLOSE);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#stopArtim();
    this.#outbox.push(CLOSED);
  }

  #actions(): AssociationActions {
    return {
      connectTransport: () => this.#connect(),
      sendPdu: (pdu) => this.#send(pdu),
      closeTransport: () => this.#close(),
      startArtim: () => this.#artim.start(),
      stopArtim: () => this.#stopArtim(),
      deliver: (primitive) => void this.#outbox.push(primitive),
      checkAssociateRq: (rq) => this.#check(rq),
    };
  }

  #stopArtim(): void {
    // Cleared, not left to run out: a closed association is not kept alive by its timer.
    this.#artim.dispose();
  }

  /** Transport and timer events come from callbacks: an unexpected failure tears down, never throws. */
  #safeDispatch(input: FsmInput): void {
    try {
      this.#dispatch(input);
    } catch (error) {
      this.#error ??= error instanceof DicomError ? error : new DicomError('DICOM_ERR_UL_INTERNAL', 'upper layer failure', { cause: error });
      this.#stream?.destroy();
    }
  }

  // ---- transport -------------------------------------------------------------------------------

  #connect(): void {
    const source = this.#source;
    this.#source = undefined;
    if (source === undefined) throw new Error('internal: AE-1 without a transport source');
    if (typeof source !== 'function') {
      this.#attach(source);
      this.#sm.dispatch({ event: 'Evt2' }); // queued: runs right after AE-1
      return;
    }
    source().then(
      (t) => {
        if (this.#sm.state !== 'Sta4') {
          t.stream.destroy(); // aborted while connecting (AA-2)
          return;
        }
        this.#attach(t);
        this.#safeDispatch({ event: 'Evt2' });
      },
      (error: unknown) => {
        this.#transportError = error;
        if (this.#sm.state === 'Sta4') this.#safeDispatch({ event: 'Evt17', cause: error });
      },
    );
  }

  #attach(t: TransportConnection): void {
    this.#transport = t;
    const s: Duplex = t.stream;
    this.#stream = s;
    const onData = (chunk: Uint8Array): void => this.#onData(chunk);
    s.on('data', onData);
    t.receiveDirect?.(onData);
    s.on('error', (error: unknown) => {
      this.#transportError ??= error;
    });
    // A peer FIN on a half-open-capable Duplex: end our side too, so the stream closes. After
    // its A-RELEASE-RQ (Sta8) a peer that ends its sending side may still read: the answers
    // still owed and the A-RELEASE-RP go out first, then respondRelease ends our side.
    s.on('end', () => {
      this.#peerEnded = true;
      if (this.#sm.state === 'Sta8') this.#peerEndedInRelease = true;
      else if (!s.writableEnded) s.end();
    });
    s.on('close', () => this.#onClose());
    if (s.destroyed) queueMicrotask(() => this.#onClose());
  }

  #send(pdu: Pdu, encoded?: Uint8Array[]): void {
    const s = this.#stream;
    let parts = encoded;
    if (parts !== undefined) {
      // encoded by the caller (sendPData's direct DT-1)
    } else if (this.#encodedPdu === pdu) {
      parts = this.#encodedParts;
      this.#encodedPdu = undefined;
      this.#encodedParts = undefined;
    } else {
      parts = this.#encoded.get(pdu);
      if (parts !== undefined) this.#encoded.delete(pdu);
    }
    parts ??= encodePduParts(pdu);
    if (s === undefined || s.destroyed || s.writableEnded) return;
    // Everything sent in one tick (PDU header + PDV header + fragment, the PDUs of a message,
    // the answers to every request one read brought) leaves in one write: one TLS flush and one
    // syscall instead of one per part (with TCP_NODELAY each part was its own segment and TLS
    // record). Gathered here rather than corked in the stream: no cork, no nextTick and no
    // stream buffer per message when an answer is sent while its request is being received.
    for (const p of parts) {
      this.#out.push(p);
      this.#outBytes += p.length;
    }
    // A message sent whole in one tick (the sender waits for `drain()` after its last PDU, see
    // needsDrain) stays one write; only past GATHER_MAX, which no sender that heeds needsDrain
    // reaches, do the bytes go on at once.
    if (this.#outBytes >= GATHER_MAX) this.#flushOut();
    else if (!this.#receiving && !this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(() => this.#flushOut());
    }
    if (pduSentChannel.hasSubscribers) pduSentChannel.publish({ association: this, pdu });
  }

  /** Hand the gathered PDU bytes to the transport: one write, or one writev of several. */
  #flushOut(): void {
    this.#flushQueued = false;
    const out = this.#out;
    if (out.length === 0) return;
    const s = this.#stream;
    if (s === undefined || s.destroyed || s.writableEnded) {
      out.length = 0;
      this.#outBytes = 0;
      return;
    }
    if (this.#transport!.writeDirect?.(out) === true) {
      // taken whole by the transport (TLS: encrypted into one socket write)
    } else if (out.length === 1) {
      s.write(out[0]!);
    } else {
      s.cork();
      for (const p of out) s.write(p);
      s.uncork();
    }
    out.length = 0;
    this.#outBytes = 0;
  }

  #close(): void {
    this.#flushOut(); // the last PDU (an A-RELEASE-RP, an A-ABORT) goes before the end
    const s = this.#stream;
    if (s === undefined || s.destroyed) return; // Sta4: the pending connect is dropped when it lands
    // Flush what is queued (the last PDU), then let go: no waiting on a peer that may never close.
    s.end(() => s.destroy());
  }

  #onClose(): void {
    if (this.#transportClosed) return;
    this.#transportClosed = true;
    this.#framer.clear();
    this.#stopArtim();
    this.#inbox.push({ kind: 'close', cause: this.#transportError });
    this.#drainInbox();
  }

  #onData(chunk: Uint8Array): void {
    const dropped = this.#framer.failed || this.#transportClosed || this.#sm.state === 'Sta1';
    if (!dropped) {
      if (this.#firstChunk) {
        this.#firstChunk = false;
        this.#plain = this.#transport?.tls === undefined;
        this.#role = this.#sm.role;
      }
      this.#framer.push(chunk, this.#plain, this.#role, this.#inbox);
    }
    // The chunk's own reference (a pooled TLS receive buffer, buffer-pool.ts): what the framer
    // kept, and the PDUs it made, hold references of their own. Another 'data' listener on the
    // transport may keep the chunk: then its buffer is never reused.
    if (this.#stream?.listenerCount('data') === 1) releaseBuffer(chunk);
    else pinBuffer(chunk);
    if (dropped) return;
    const receiving = this.#receiving;
    this.#receiving = true;
    try {
      this.#drainInbox();
    } finally {
      this.#receiving = receiving;
      if (!receiving) this.#flushOut();
    }
    // Data arrived while paused: now hold the transport (at most this one chunk waits framed).
    if (this.#paused && !this.#streamPaused) {
      this.#streamPaused = true;
      this.#stream?.pause();
    }
  }

  #drainInbox(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      // Once the transport is closed, flow control is moot: everything framed is delivered.
      while (!this.#paused || this.#transportClosed) {
        const item = this.#inbox.shift();
        if (item === undefined) break;
        this.#process(item);
      }
    } finally {
      this.#draining = false;
    }
  }

  #process(item: InboxItem): void {
    if (item.kind === 'close') {
      if (this.#sm.state === 'Sta1') {
        this.#finish();
        this.#flushOutbox();
      } else {
        this.#safeDispatch({ event: 'Evt17', cause: item.cause });
      }
      return;
    }
    if (item.kind === 'pdu') {
      const pdu = item.pdu;
      // A subscriber may keep the PDU: its bytes must never be reused under it.
      if (pduReceivedChannel.hasSubscribers) {
        if (this.#sm.state === 'Sta1') return;
        if (pdu.type === 'P-DATA-TF') for (const pdv of pdu.pdvs) pinBuffer(pdv.data);
        pduReceivedChannel.publish({ association: this, pdu });
      }
      // Sta6, no action running and no primitive being handed out (the common case, twice per
      // message): Evt10's DT-2 is handing the P-DATA indication to the user, done here without
      // the state machine's dispatch and the outbox (StateMachine.inDataTransfer).
      if (pdu.type === 'P-DATA-TF' && !this.#flushing && this.#sm.inDataTransfer) {
        try {
          this.#pDataIndication(pdu);
        } catch (error) {
          this.#error ??= error instanceof DicomError ? error : new DicomError('DICOM_ERR_UL_INTERNAL', 'upper layer failure', { cause: error });
          this.#stream?.destroy();
        }
        return;
      }
      if (this.#sm.state === 'Sta1') return;
      this.#safeDispatch(receivedPduEvent(pdu));
      return;
    }
    if (this.#sm.state === 'Sta1') return;
    this.#error ??= item.error;
    this.emit('protocolError', item.error);
    this.#safeDispatch({ event: 'Evt19', reason: item.reason, cause: item.error });
  }
}

/** Association life-cycle notifications (diagnostics `association` channel), by action. */
const LIFECYCLE: { readonly [action: string]: 'requested' | 'accepted' | 'rejected' | 'released' | 'aborted' } = {
  'AE-1': 'requested',
  'AE-3': 'accepted',
  'AE-7': 'accepted',
  'AE-4': 'rejected',
  'AE-8': 'rejected',
  'AR-3': 'released',
  'AR-4': 'released',
  'AA-1': 'aborted',
  'AA-3': 'aborted',
  'AA-4': 'aborted',
  'AA-8': 'aborted',
};
