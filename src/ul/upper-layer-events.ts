/**
 * The upper layer's notifications (UpperLayerEvents) and a minimal typed emitter for them
 * (style rule 8): many listeners, and a listener that throws never breaks the emitter's owner;
 * the error goes to `onListenerError` instead.
 */
import type { DicomError } from '../errors.js';
import type { AAssociateAcPdu, AAssociateRjPdu, AAssociateRqPdu, PDataTfPdu } from './pdu/types.js';
import type { AssociationAbortedError } from './upper-layer-errors.js';

type Listener = (...args: unknown[]) => void;


export class TypedEmitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  /**
   * Each event's listeners as an array that is never changed, only replaced (on, off, once): an
   * emit iterates the array it found, whatever its listeners add or remove meanwhile, without
   * copying it. (A copy per emit was an array per PDU and per message received.)
   */
  readonly #listeners = new Map<keyof Events, readonly Listener[]>();
  readonly #onListenerError: (event: keyof Events, error: unknown) => void;

  constructor(onListenerError: (event: keyof Events, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  #add(event: keyof Events, listener: Listener): void {
    const list = this.#listeners.get(event);
    if (list === undefined) this.#listeners.set(event, [listener]);
    else if (!list.includes(listener)) this.#listeners.set(event, [...list, listener]);
  }

  /**
   * Drop `listener` from `event`: the function itself, and a `once` wrapper of it (both, if both
   * are there). By index, without a predicate or a filtered copy made for lists it is not in.
   */
  #remove(event: keyof Events, listener: unknown): void {
    const list = this.#listeners.get(event);
    if (list === undefined) return;
    let kept: Listener[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const l = list[i]!;
      if (l === listener || (l as { original?: unknown }).original === listener) kept ??= list.slice(0, i);
      else if (kept !== undefined) kept.push(l);
    }
    if (kept === undefined) return;
    if (kept.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, kept);
  }

  on<K extends keyof Events>(event: K, listener: Events[K]): this {
    this.#add(event, listener as unknown as Listener);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): this {
    this.#remove(event, listener);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Events[K]): this {
    const wrapper = ((...args: unknown[]) => {
      this.#remove(event, wrapper);
      (listener as unknown as Listener)(...args);
    }) as Listener & { original?: unknown };
    wrapper.original = listener;
    this.#add(event, wrapper);
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /**
   * `emit` for an event of one argument whose listener count the caller already looked up (a
   * P-DATA indication, twice per small message): no second lookup, no rest array and spread call.
   */
  protected emitOne<K extends keyof Events>(event: K, arg: Parameters<Events[K]>[0], list: readonly unknown[]): void {
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as (a: unknown) => void)(arg);
      } catch (error) {
        this.#onListenerError(event, error);
      }
    }
  }

  /** The listeners of `event` as they are now (the array is never changed, only replaced); undefined for none. */
  protected listenersOf(event: keyof Events): readonly unknown[] | undefined {
    return this.#listeners.get(event);
  }

  /** Call every listener; a throwing one is reported and the others still run. */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const list = this.#listeners.get(event);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(...(args as unknown[]));
      } catch (error) {
        this.#onListenerError(event, error);
      }
    }
  }
}

/** Indications and confirmations (PS3.8 7), plus the transport's end. Listeners may not break the layer. */
export interface UpperLayerEvents {
  /** A-ASSOCIATE indication (acceptor, Sta3): answer with acceptAssociation or rejectAssociation. */
  associateIndication: (rq: AAssociateRqPdu) => void;
  /** A-ASSOCIATE confirmation, accepted (requestor, Sta6). */
  accepted: (ac: AAssociateAcPdu) => void;
  /** A-ASSOCIATE confirmation, rejected (requestor); the transport is then closed. */
  rejected: (rj: AAssociateRjPdu) => void;
  /**
   * P-DATA indication: the PDVs of one P-DATA-TF; `data` views the received bytes. A large PDV
   * item that arrived in several reads comes as consecutive pieces, all but the last `continued`.
   */
  pData: (pdu: PDataTfPdu) => void;
  /** A-RELEASE indication: answer with respondRelease (`collision`: both sides asked, AR-8). */
  releaseIndication: (info: { readonly collision: boolean }) => void;
  /** A-RELEASE confirmation. */
  released: (info: { readonly collision: boolean }) => void;
  /** A-ABORT indication: the peer's service user aborted (origin 'peer-user'). */
  aborted: (error: AssociationAbortedError) => void;
  /** A-P-ABORT indication: a provider aborted (origin 'peer', 'local' or 'transport'). */
  providerAborted: (error: AssociationAbortedError) => void;
  /** A malformed/oversized PDU, or another protocol on the wire (TransportMismatchError). */
  protocolError: (error: DicomError) => void;
  /** Entered Sta13: nothing more is exchanged; the transport waits for the peer's close, at most ARTIM. */
  awaitingClose: () => void;
  /** Last event: state Sta1, transport closed, timer stopped. `error` says why, if not a clean end. */
  closed: (info: { readonly error: DicomError | undefined }) => void;
}
