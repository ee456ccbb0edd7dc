/**
 * One outstanding DIMSE request on the requestor's side of a message exchange: the responses
 * matched to it by Message ID Being Responded To (PS3.7 9.3.x.2, 10.3.x.2). C-FIND, C-GET and
 * C-MOVE answer with any number of Pending responses (0xFF00/0xFF01) before the final one; all
 * of them are yielded by the async iterator, the final one also resolves `response`.
 */
import type { DimseRequest, DimseResponse } from '../dimse/messages.js';

/** A response as received: the command, its context and (unless a sink took it) its dataset. */
export interface DimseResponseMessage {
  readonly command: DimseResponse;
  readonly presentationContextId: number;
  /** The response's dataset collected in memory, or undefined (none, or streamed to the request's sink). */
  readonly dataset: Uint8Array | undefined;
}

type Waiter = { resolve: (r: IteratorResult<DimseResponseMessage>) => void; reject: (e: unknown) => void };

const noop = (): void => undefined;

export class PendingRequest implements AsyncIterable<DimseResponseMessage> {
  readonly messageId: number;
  readonly command: DimseRequest;
  readonly presentationContextId: number;
  /** Settles with the final (non-Pending) response; rejects when the association ends first or times out. */
  readonly response: Promise<DimseResponseMessage>;
  /**
   * Resolves once the request (command and data set) is written out, which may be long before its
   * response; rejects when the send fails. Lets a sender keep several requests outstanding
   * within an Asynchronous Operations Window (PS3.7 D.3.3.3) without queueing their data ahead.
   */
  readonly sent: Promise<void>;
  #sentResolve!: () => void;
  #sentReject!: (e: unknown) => void;
  #sentSettled = false;
  #sentOk = false;
  /** Responses not yet taken by the iterator, and the iterator's waiting calls: made when first needed. */
  #queue: DimseResponseMessage[] | undefined;
  #waiters: Waiter[] | undefined;
  readonly #cancel: () => Promise<void>;
  #resolve!: (m: DimseResponseMessage) => void;
  #reject!: (e: unknown) => void;
  #done = false;
  #error: unknown;
  #iterated = false;

  constructor(command: DimseRequest & { readonly messageId: number }, presentationContextId: number, cancel: () => Promise<void>) {
    this.messageId = command.messageId;
    this.command = command;
    this.presentationContextId = presentationContextId;
    this.#cancel = cancel;
    this.response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.sent = new Promise((resolve, reject) => {
      this.#sentResolve = resolve;
      this.#sentReject = reject;
    });
    // Callers that only iterate must not get an unhandled rejection from `response` or `sent`.
    this.response.catch(noop);
    this.sent.catch(noop);
  }

  get settled(): boolean {
    return this.#done;
  }

  /** True once the request (command and data set) was written out whole. */
  get isSent(): boolean {
    return this.#sentSettled && this.#sentOk;
  }

  /** Send C-CANCEL-RQ for this request (C-FIND, C-GET, C-MOVE; PS3.7 9.3.2.3). The final response still follows. */
  cancel(): Promise<void> {
    if (this.#done) return Promise.resolve();
    return this.#cancel();
  }

  /** @internal the association delivers a response. */
  deliver(message: DimseResponseMessage, final: boolean): void {
    if (this.#done) return;
    // Pending responses are kept only for an iterator; `response` alone needs only the final one.
    if (this.#iterated || final) this.#push(message);
    if (final) {
      this.#done = true;
      this.#resolve(message);
      this.#flushDone();
    }
  }

  /** @internal the request is written out. */
  markSent(): void {
    if (this.#sentSettled) return;
    this.#sentSettled = true;
    this.#sentOk = true;
    this.#sentResolve();
  }

  /** @internal the request cannot complete. */
  fail(error: unknown): void {
    if (!this.#sentSettled) {
      this.#sentSettled = true;
      this.#sentReject(error);
    }
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#reject(error);
    this.#flushDone();
  }

  #push(m: DimseResponseMessage): void {
    const w = this.#waiters?.shift();
    if (w !== undefined) w.resolve({ value: m, done: false });
    else (this.#queue ??= []).push(m);
  }

  #flushDone(): void {
    if (this.#waiters === undefined || (this.#queue !== undefined && this.#queue.length > 0)) return;
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) {
      if (this.#error !== undefined) w.reject(this.#error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<DimseResponseMessage> {
    this.#iterated = true;
    return {
      next: () => {
        const m = this.#queue?.shift();
        if (m !== undefined) return Promise.resolve({ value: m, done: false });
        if (this.#done) return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.#waiters ??= []).push({ resolve, reject }));
      },
      return: () => {
        // The consumer left: Pending responses arriving from now on (a peer answering a
        // C-CANCEL-RQ late, or never) are not kept for it; only the final one settles `response`.
        this.#iterated = false;
        this.#queue = undefined;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
