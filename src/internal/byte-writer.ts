/**
 * Growable big-endian byte writer for the small PDUs (association negotiation). Lengths that
 * precede their content are written as placeholders and patched once the content is known.
 */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initialCapacity = 256) {
    this.#buf = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      let cap = Math.max(this.#buf.length * 2, 64); // a 0-byte buffer doubles to 0 forever
      while (cap < at + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(0, at));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    this.#len = at + n;
    return at;
  }

  // The fixed-size writes check the room themselves and call #reserve only to grow (one call
  // each instead of two: an A-ASSOCIATE-RQ or -AC is ~40 of them, written in the interpreter's
  // tiers for a fresh process's first few hundred associations).
  u8(v: number): this {
    const at = this.#len;
    if (at + 1 > this.#buf.length) this.#reserve(1); else this.#len = at + 1;
    this.#view.setUint8(at, v); // after reserving: growing replaces #view
    return this;
  }

  u16(v: number): this {
    const at = this.#len;
    if (at + 2 > this.#buf.length) this.#reserve(2); else this.#len = at + 2;
    this.#view.setUint16(at, v);
    return this;
  }

  u32(v: number): this {
    const at = this.#len;
    if (at + 4 > this.#buf.length) this.#reserve(4); else this.#len = at + 4;
    this.#view.setUint32(at, v);
    return this;
  }

  zeros(n: number): this {
    const at = this.#reserve(n);
    this.#buf.fill(0, at, this.#len);
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.#reserve(b.length);
    this.#buf.set(b, at);
    return this;
  }

  /** One byte per character; callers validate that characters are < 0x100. */
  latin1(s: string): this {
    const at = this.#reserve(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[at + i] = s.charCodeAt(i);
    return this;
  }

  /** Reserve a 16-bit length; returns the mark for `patchU16`. */
  markU16(): number {
    const at = this.#reserve(2);
    this.#view.setUint16(at, 0);
    return at;
  }

  /** Reserve a 32-bit length; returns the mark for `patchU32`. */
  markU32(): number {
    const at = this.#reserve(4);
    this.#view.setUint32(at, 0);
    return at;
  }

  /** Write at `mark` the number of bytes written after the mark's own field. */
  patchU16(mark: number): number {
    const n = this.#len - mark - 2;
    this.#view.setUint16(mark, n);
    return n;
  }

  patchU32(mark: number): number {
    const n = this.#len - mark - 4;
    this.#view.setUint32(mark, n);
    return n;
  }

  /** The written bytes (a view of the internal buffer; the writer must not be reused). */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}
