/**
 * FIFO of received chunks. Bytes are read across chunk boundaries without concatenating on every
 * push: a consumer peeks header bytes in place and takes a whole frame at once, which is a view
 * when the frame lies inside one chunk and a single copy when it spans several.
 */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  /** Read offset into #chunks[0]. */
  #head = 0;
  #length = 0;

  /** Bytes queued and not yet taken. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The byte at `index` from the read position; the caller ensures index < length. */
  peekByte(index: number): number {
    let i = index + this.#head;
    for (const c of this.#chunks) {
      if (i < c.length) return c[i] as number;
      i -= c.length;
    }
    throw new RangeError(`ChunkQueue.peekByte(${index}) beyond ${this.#length} queued bytes`);
  }

  /** Big-endian 32-bit value starting at `index`. */
  peekU32(index: number): number {
    return (
      this.peekByte(index) * 0x1000000 +
      ((this.peekByte(index + 1) << 16) | (this.peekByte(index + 2) << 8) | this.peekByte(index + 3))
    );
  }

  /** Remove and return the next `n` bytes (n <= length). */
  take(n: number): Uint8Array {
    if (n > this.#length) throw new RangeError(`ChunkQueue.take(${n}) beyond ${this.#length} queued bytes`);
    this.#length -= n;
    const first = this.#chunks[0];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#head += n;
      if (this.#head === first.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0] as Uint8Array;
      const avail = c.length - this.#head;
      const want = Math.min(avail, n - filled);
      out.set(c.subarray(this.#head, this.#head + want), filled);
      filled += want;
      if (want === avail) {
        this.#chunks.shift();
        this.#head = 0;
      } else {
        this.#head += want;
      }
    }
    return out;
  }
}
