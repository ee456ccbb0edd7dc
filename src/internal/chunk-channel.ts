/**
 * A one-reader queue of chunks, read by `for await`, with backpressure in bytes: how a C-STORE
 * data set goes from the DIMSE assembler into the FileStore. The Writable it replaces on that
 * path (WritableChannel) did the same through Node's stream machinery: a stream state per
 * instance, and per fragment a write, a callback and an event; about 7 µs per 16 KiB fragment on
 * the storing SCP. Chunks the reader never takes (it failed or stopped, the writer aborted) go to
 * `drop`, so that pooled receive buffers are given back.
 */
import { Fifo } from './fifo.js';

export class ChunkChannel implements AsyncIterable<Uint8Array> {
  readonly #highWaterMark: number;
  readonly #drop: (chunk: Uint8Array) => void;
  readonly #queue = new Fifo<Uint8Array>();
  #bytes = 0;
  #ended = false;
  #failure: Error | undefined;
  /** The reader is gone (it returned or threw, or `close` was called): chunks are dropped at once. */
  #closed = false;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;
  #drain: Promise<void> | undefined;
  /** Set by takeEach: chunks go to it as they are written, none queued. */
  #taker: ((chunk: Uint8Array) => boolean) | undefined;
  #taken: { resolve(ended: boolean): void; reject(error: Error): void } | undefined;

  constructor(highWaterMark: number, drop: (chunk: Uint8Array) => void = () => undefined) {
    this.#highWaterMark = highWaterMark;
    this.#drop = drop;
  }

  /** The reader will take no more chunks (it stopped, failed, or the writer destroyed the channel). */
  get closed(): boolean {
    return this.#closed || this.#failure !== undefined;
  }

  /**
   * Queue a chunk for the reader. False once the queue holds `highWaterMark` bytes or more: wait
   * for `drained()` before the next. After `end`, or once closed, the chunk is dropped.
   */
  write(chunk: Uint8Array): boolean {
    if (this.#ended || this.closed) {
      this.#drop(chunk);
      return true;
    }
    const take = this.#taker;
    if (take !== undefined) {
      if (!take(chunk)) this.#stopTaking(false);
      return true;
    }
    this.#queue.push(chunk);
    this.#bytes += chunk.byteLength;
    this.#wake('reader');
    return this.#bytes < this.#highWaterMark;
  }

  /** Settles once the queue is below `highWaterMark`, or the channel is closed. */
  drained(): Promise<void> {
    if (this.#bytes < this.#highWaterMark || this.closed) return Promise.resolve();
    return (this.#drain ??= new Promise<void>((resolve) => (this.#wakeWriter = resolve)));
  }

  /** The last chunk was written: the reader ends once it has taken the queued ones. */
  end(): void {
    this.#ended = true;
    if (this.#taker !== undefined) this.#stopTaking(true);
    this.#wake('reader');
  }

  /** The data will not complete: queued chunks are dropped and the reader throws `error`. */
  destroy(error: Error): void {
    if (this.closed) return;
    this.#failure = error;
    this.#dropQueued();
    const taken = this.#taken;
    this.#taker = undefined;
    this.#taken = undefined;
    taken?.reject(error);
    this.#wake('reader');
    this.#wake('writer');
  }

  /** The reader is gone (or never started): drop what is queued and what comes. */
  close(): void {
    this.#closed = true;
    this.#dropQueued();
    if (this.#taker !== undefined) this.#stopTaking(true);
    this.#wake('writer');
  }

  /**
   * The reader's other way in: `take` gets each chunk, those queued and then each as it is
   * written, synchronously inside `write` (no queue, no promise or generator step per chunk),
   * until it returns false (it took that chunk, and wants the rest by iterating) or the writer
   * ends. Resolves true once ended with every chunk taken, false when `take` declined more;
   * rejects with `destroy`'s error. `take` must not throw.
   */
  takeEach(take: (chunk: Uint8Array) => boolean): Promise<boolean> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    for (let chunk = this.#queue.shift(); chunk !== undefined; chunk = this.#queue.shift()) {
      this.#bytes -= chunk.byteLength;
      if (!take(chunk)) {
        if (this.#bytes < this.#highWaterMark) this.#wake('writer');
        return Promise.resolve(false);
      }
    }
    this.#wake('writer');
    if (this.#ended || this.#closed) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      this.#taker = take;
      this.#taken = { resolve, reject };
    });
  }

  #stopTaking(ended: boolean): void {
    const taken = this.#taken;
    this.#taker = undefined;
    this.#taken = undefined;
    taken?.resolve(ended);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.#failure !== undefined) throw this.#failure;
        const chunk = this.#queue.shift();
        if (chunk !== undefined) {
          this.#bytes -= chunk.byteLength;
          if (this.#bytes < this.#highWaterMark) this.#wake('writer');
          yield chunk;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wakeReader = resolve));
      }
    } finally {
      this.close();
    }
  }

  #dropQueued(): void {
    this.#bytes = 0;
    for (let chunk = this.#queue.shift(); chunk !== undefined; chunk = this.#queue.shift()) this.#drop(chunk);
  }

  #wake(who: 'reader' | 'writer'): void {
    if (who === 'reader') {
      const wake = this.#wakeReader;
      this.#wakeReader = undefined;
      wake?.();
      return;
    }
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    this.#drain = undefined;
    wake?.();
  }
}
