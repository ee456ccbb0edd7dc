/**
 * FIFO of received chunks. Bytes are read across chunk boundaries without concatenating on every
 * push: a consumer peeks header bytes in place and takes a whole frame at once, which is a view
 * when the frame lies inside one chunk, or in chunks that are side by side in one ArrayBuffer
 * (the TLS layer hands out consecutive pieces of one receive slab), and a single copy otherwise;
 * or, where the consumer can use it so, as a view per chunk (`takeViews`).
 *
 * Pooled receive buffers (buffer-pool.ts): the queue holds a reference on each chunk while it is
 * queued, and every view it returns carries one of its own, which the taker releases (or pins).
 */
import { release, retain } from './buffer-pool.js';

const EMPTY = new Uint8Array(0);

export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  /** Index of the first unconsumed chunk (consumed ones are dropped in batches, not shifted one by one). */
  #first = 0;
  /** Read offset into #chunks[#first]. */
  #head = 0;
  #length = 0;

  /** Drop everything queued. */
  clear(): void {
    while (this.#first < this.#chunks.length) this.#dropFirst();
    this.#length = 0;
    this.#head = 0;
  }

  /** Bytes queued and not yet taken. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    retain(chunk);
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The byte at `index` from the read position; the caller ensures index < length. */
  peekByte(index: number): number {
    let i = index + this.#head;
    for (let k = this.#first; k < this.#chunks.length; k++) {
      const c = this.#chunks[k] as Uint8Array;
      if (i < c.length) return c[i] as number;
      i -= c.length;
    }
    throw new RangeError(`ChunkQueue.peekByte(${index}) beyond ${this.#length} queued bytes`);
  }

  /** Big-endian 32-bit value starting at `index`. */
  peekU32(index: number): number {
    // Nearly always inside the first chunk: read there, not through four peekByte calls.
    const c = this.#chunks[this.#first];
    const i = index + this.#head;
    if (c !== undefined && i + 4 <= c.length) return c[i]! * 0x1000000 + ((c[i + 1]! << 16) | (c[i + 2]! << 8) | c[i + 3]!);
    return (
      this.peekByte(index) * 0x1000000 +
      ((this.peekByte(index + 1) << 16) | (this.peekByte(index + 2) << 8) | this.peekByte(index + 3))
    );
  }

  /** Remove and return the next `n` bytes (n <= length). */
  take(n: number): Uint8Array {
    if (n > this.#length) throw new RangeError(`ChunkQueue.take(${n}) beyond ${this.#length} queued bytes`);
    this.#length -= n;
    const first = this.#chunks[this.#first];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      retain(out);
      this.#head += n;
      if (this.#head === first.length) this.#dropFirst();
      return out;
    }
    if (this.#adjacent(n)) {
      const out = new Uint8Array(first.buffer, first.byteOffset + this.#head, n);
      retain(out);
      this.#consume(n, undefined);
      return out;
    }
    const out = new Uint8Array(n);
    this.#consume(n, out);
    return out;
  }

  /**
   * How many pieces `takeViews(n)` would return (n <= length): 1 when the next n bytes are one
   * view (inside one chunk, or chunks side by side in one ArrayBuffer), else the chunks they span.
   * Counting stops at `max`.
   */
  piecesOf(n: number, max = Infinity): number {
    const first = this.#chunks[this.#first];
    if (first === undefined || first.length - this.#head >= n || this.#adjacent(n)) return 1;
    let have = first.length - this.#head;
    let pieces = 1;
    for (let k = this.#first + 1; have < n && pieces < max; k++) {
      have += (this.#chunks[k] as Uint8Array).length;
      pieces++;
    }
    return pieces;
  }

  /** Drop the next `n` bytes (n <= length). */
  skip(n: number): void {
    if (n > this.#length) throw new RangeError(`ChunkQueue.skip(${n}) beyond ${this.#length} queued bytes`);
    this.#length -= n;
    this.#consume(n, undefined);
  }

  /**
   * Remove the next `n` bytes (0 < n <= length) as views of the chunks they lie in, in order, with
   * no copy: one view when `take` would give one, else a view per chunk spanned.
   */
  takeViews(n: number): Uint8Array[] {
    if (n > this.#length) throw new RangeError(`ChunkQueue.takeViews(${n}) beyond ${this.#length} queued bytes`);
    if (n === 0) return [];
    if (this.piecesOf(n) === 1) return [this.take(n)];
    this.#length -= n;
    const views: Uint8Array[] = [];
    this.#consume(n, undefined, views);
    return views;
  }

  /** The next n bytes lie in chunks that follow each other in one ArrayBuffer. */
  #adjacent(n: number): boolean {
    let prev = this.#chunks[this.#first] as Uint8Array;
    let have = prev.length - this.#head;
    for (let k = this.#first + 1; have < n; k++) {
      const c = this.#chunks[k] as Uint8Array;
      if (c.buffer !== prev.buffer || c.byteOffset !== prev.byteOffset + prev.length) return false;
      have += c.length;
      prev = c;
    }
    return true;
  }

  /**
   * Drop the next n bytes (n <= bytes queued before the caller lowered #length), copying them
   * into `out`, or collecting their views in `views`, if given.
   */
  #consume(n: number, out: Uint8Array | undefined, views?: Uint8Array[]): void {
    let done = 0;
    while (done < n) {
      const c = this.#chunks[this.#first] as Uint8Array;
      const avail = c.length - this.#head;
      const want = Math.min(avail, n - done);
      out?.set(c.subarray(this.#head, this.#head + want), done);
      if (views !== undefined) {
        const v = c.subarray(this.#head, this.#head + want);
        retain(v);
        views.push(v);
      }
      done += want;
      if (want === avail) this.#dropFirst();
      else this.#head += want;
    }
  }

  #dropFirst(): void {
    release(this.#chunks[this.#first] as Uint8Array);
    this.#chunks[this.#first] = EMPTY; // release the chunk now
    this.#first++;
    this.#head = 0;
    if (this.#first === this.#chunks.length) {
      this.#chunks = [];
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }
}
