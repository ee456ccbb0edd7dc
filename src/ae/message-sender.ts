/**
 * The sending half of an association: DIMSE messages out, one at a time, whole, in the order
 * asked (PS3.8 Annex E: no interleaving), each PDV in its own P-DATA-TF within the peer's Maximum
 * Length. With nothing queued ahead, a message in memory (every response, a small request) goes
 * out at once without a promise; a promise only when it must wait (a stream to read, a transport
 * asking for 'drain', a message ahead of it). A failure found at once is thrown.
 */
import type { DimseCommand } from '../dimse/messages.js';
import { fragmentCommandBatches, inMemoryMessageFragments, MAX_FRAGMENTS_AT_ONCE, maxFragmentLength, singleCommandFragment, type AsyncDatasetSource } from '../dimse/fragmenter.js';
import type { DicomError } from '../errors.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import type { PresentationDataValue } from '../ul/pdu/types.js';

/** What the sender needs from its association. */
export interface SenderHost {
  readonly ul: UpperLayer;
  /** The peer's Maximum Length (0 = none). */
  readonly peerMaxPduLength: number;
  /** Set once the association is over: sending then throws `closeError()`. */
  isClosed(): boolean;
  closeError(): DicomError;
  /** A message is about to go out (diagnostics, the `message` event). */
  sent(command: DimseCommand, presentationContextId: number): void;
  /** Traffic: restart the idle timer. */
  touch(): void;
  /** The peer has taken none of our data for the DIMSE timeout while we wait for 'drain'. */
  drain(): Promise<void>;
}

/**
 * Largest in-memory data set sent without waiting for 'drain' between its PDVs (see #sendBurst).
 * Over TLS a peer that reads slowly leaves up to this much ciphertext queued in the socket beside
 * the plaintext the sender holds anyway: bounded small, since a server sends (C-GET, C-MOVE) on
 * many associations at once. Small instances (CT, MR: 0.1-0.5 MB) are below it.
 */
const BURST_MAX = 1 << 20;

export class MessageSender {
  readonly #host: SenderHost;
  #tail: Promise<void> = Promise.resolve();
  /** Messages queued or being sent. */
  #sending = 0;
  /** A message that was not queued is in its synchronous part (see send). */
  #inline = false;
  /** Opened when that message is out; made only when something is asked meanwhile. */
  #gate: { readonly promise: Promise<void>; readonly open: () => void } | undefined;

  constructor(host: SenderHost) {
    this.#host = host;
  }

  /** Whether a message is queued or being sent now (when not, `idle` has settled). */
  get busy(): boolean {
    return this.#sending > 0;
  }

  /** Settles when every message queued so far has been sent (or failed); never rejects. */
  get idle(): Promise<void> {
    return this.#tail;
  }

  /** Send now or after those queued ahead; `undefined` when it went out at once. */
  send(command: DimseCommand, dataset: AsyncDatasetSource | undefined, pcId: number): Promise<void> | undefined {
    if (this.#sending > 0) {
      this.#sending++;
      // Asked from inside the sending of a message that was not queued (a listener of its 'sent'
      // notification requesting something): #tail does not include that message yet, so wait
      // behind a gate it opens when it is out. Chained on #tail alone, this one went out in a
      // microtask, between that message's command and its data set (PS3.8 Annex E).
      if (this.#inline) this.#tail = (this.#gate ??= gate()).promise;
      return this.#queued(this.#tail.then(() => this.#sendNow(command, dataset, pcId)));
    }
    this.#sending = 1;
    this.#inline = true;
    let r: Promise<void> | undefined;
    try {
      r = this.#sendNow(command, dataset, pcId);
    } catch (error) {
      this.#inlineDone(undefined);
      throw error;
    }
    this.#inlineDone(r);
    return r;
  }

  /** The message sent without queueing has gone out (`r` undefined), failed, or goes on in `r`. */
  #inlineDone(r: Promise<void> | undefined): void {
    this.#inline = false;
    const g = this.#gate;
    this.#gate = undefined;
    if (r === undefined) {
      this.#sending--;
      g?.open();
      return;
    }
    if (g === undefined) {
      void this.#queued(r);
      return;
    }
    // Those asked meanwhile are already #tail (behind the gate): this one only opens it.
    const settled = (): void => {
      this.#sending--;
      g.open();
    };
    r.then(settled, settled);
  }

  /** `send` for callers that want a promise whatever happens (a handler's `respond`, a cancel). */
  sendAsPromise(command: DimseCommand, dataset: AsyncDatasetSource | undefined, pcId: number): Promise<void> {
    try {
      return this.send(command, dataset, pcId) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #queued(run: Promise<void>): Promise<void> {
    this.#tail = run.then(
      () => void this.#sending--,
      () => void this.#sending--,
    );
    return run;
  }

  #sendNow(command: DimseCommand, dataset: AsyncDatasetSource | undefined, pcId: number): Promise<void> | undefined {
    const host = this.#host;
    if (host.isClosed()) throw host.closeError();
    // A message without a data set whose command fits one fragment (every C-STORE-RSP, C-ECHO,
    // most responses): one PDV, no generator. What is not so simple (or invalid) takes the
    // general path below, which also names the error.
    if (dataset === undefined) {
      const pdv = singleCommandFragment(command, { presentationContextId: pcId, maxPduLength: host.peerMaxPduLength });
      if (pdv !== undefined) {
        host.sent(command, pcId);
        return this.#sendPdv(pdv);
      }
    }
    // A data set in one buffer (a small file read whole): its PDVs as a list, no generators.
    if (dataset instanceof Uint8Array && dataset.byteLength <= BURST_MAX) {
      const list = inMemoryMessageFragments(command, dataset, { presentationContextId: pcId, maxPduLength: host.peerMaxPduLength });
      if (list !== undefined) {
        host.sent(command, pcId);
        return this.#sendBurst(list.values());
      }
    }
    const pdvs = fragmentCommandBatches(command, dataset, { presentationContextId: pcId, maxPduLength: host.peerMaxPduLength });
    host.sent(command, pcId);
    // A dataset in memory (every response, most requests) comes as a synchronous generator, a
    // stream as batches, one per chunk read: no promise per fragment, a wait only when the
    // transport asks for 'drain'.
    if (Symbol.asyncIterator in pdvs) return this.#sendBatches(pdvs);
    // A burst only of few PDUs: a peer's tiny Maximum Length makes a small data set many, each
    // waiting in the transport unless the sender heeds 'drain' between them.
    if (dataset instanceof Uint8Array && dataset.byteLength <= BURST_MAX && dataset.byteLength <= maxFragmentLength(host.peerMaxPduLength) * MAX_FRAGMENTS_AT_ONCE) return this.#sendBurst(pdvs);
    return this.#sendPdvs(pdvs);
  }

  /**
   * A message whose data set is in memory and at most BURST_MAX (1 MiB): every PDV handed to the
   * transport in one go, the wait for 'drain' (if the transport asks for one) after the last.
   * Waiting in the middle made two transport writes (two TLS flushes, two syscalls) of a 100 KB
   * instance in 16 KiB PDUs, and a promise, for bytes already in memory; the transport holds
   * views of them, not copies, so memory stays bounded by the one message.
   */
  #sendBurst(pdvs: Iterator<PresentationDataValue>): Promise<void> | undefined {
    const host = this.#host;
    for (let n = pdvs.next(); n.done !== true; n = pdvs.next()) {
      if (host.isClosed()) throw host.closeError();
      host.ul.sendPData({ type: 'P-DATA-TF', pdvs: [n.value] });
    }
    host.touch();
    if (!host.ul.needsDrain) return undefined;
    return host.drain().then(() => host.touch());
  }

  async #sendBatches(batches: AsyncIterable<PresentationDataValue[]>): Promise<void> {
    for await (const batch of batches) {
      const wait = this.#sendPdvs(batch[Symbol.iterator]());
      if (wait !== undefined) await wait;
    }
  }

  /** Each PDV in its own P-DATA-TF; a promise only when the transport asks to wait for 'drain'. */
  #sendPdvs(pdvs: Iterator<PresentationDataValue>): Promise<void> | undefined {
    for (let n = pdvs.next(); n.done !== true; n = pdvs.next()) {
      const wait = this.#sendPdv(n.value);
      if (wait !== undefined) return wait.then(() => this.#sendPdvs(pdvs));
    }
    return undefined;
  }

  #sendPdv(pdv: PresentationDataValue): Promise<void> | undefined {
    const host = this.#host;
    if (host.isClosed()) throw host.closeError();
    if (host.ul.sendPData({ type: 'P-DATA-TF', pdvs: [pdv] })) {
      host.touch();
      return undefined;
    }
    return host.drain().then(() => host.touch());
  }
}

function gate(): { readonly promise: Promise<void>; readonly open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
