/**
 * Big-endian cursor over a Uint8Array with bounds checks. Every read names the field it reads,
 * so a truncated input is reported as "<field>: needs N bytes, M left" rather than as a
 * RangeError from deep inside a DataView. The caller chooses the error type through `fail`.
 */
export type TruncationHandler = (field: string, needed: number, available: number) => never;

/** Characters made per fromCharCode call: well under any engine's limit on arguments. */
const LATIN1_CHUNK = 4096;
/**
 * Node's own latin1 decoder (one code point per byte, ISO 8859-1; not TextDecoder's 'latin1',
 * which is windows-1252), native and taking any Uint8Array; the fromCharCode path otherwise.
 */
const latin1Slice = (Buffer.prototype as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #end: number;
  readonly #fail: TruncationHandler;
  #offset: number;

  constructor(bytes: Uint8Array, fail: TruncationHandler, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = start;
    this.#end = end;
    this.#fail = fail;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  #need(n: number, field: string): number {
    const at = this.#offset;
    if (n > this.#end - at) this.#fail(field, n, this.#end - at);
    this.#offset = at + n;
    return at;
  }

  // The fixed-size reads check the bounds themselves (one call each instead of two: an
  // A-ASSOCIATE-RQ is ~60 such reads, decoded in the interpreter's tiers on a fresh server).
  u8(field: string): number {
    const at = this.#offset;
    if (at >= this.#end) this.#fail(field, 1, this.#end - at);
    this.#offset = at + 1;
    return this.#bytes[at]!;
  }

  u16(field: string): number {
    const at = this.#offset;
    if (2 > this.#end - at) this.#fail(field, 2, this.#end - at);
    this.#offset = at + 2;
    return this.#view.getUint16(at);
  }

  u32(field: string): number {
    const at = this.#offset;
    if (4 > this.#end - at) this.#fail(field, 4, this.#end - at);
    this.#offset = at + 4;
    return this.#view.getUint32(at);
  }

  skip(n: number, field: string): void {
    const at = this.#offset;
    if (n > this.#end - at) this.#fail(field, n, this.#end - at);
    this.#offset = at + n;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number, field: string): Uint8Array {
    const at = this.#need(n, field);
    return this.#bytes.subarray(at, at + n);
  }

  /** One byte per character (ISO 646 / latin1): PS3.8 fields are ASCII. */
  latin1(n: number, field: string): string {
    const at = this.#need(n, field);
    // Each byte its own code point, as a loop of fromCharCode would give, in one string rather
    // than one per character appended (a UID of 64 bytes made 64 intermediate strings).
    const bytes = this.#bytes;
    if (latin1Slice !== undefined) return latin1Slice.call(bytes, at, at + n);
    let s = '';
    for (let i = at; i < at + n; i += LATIN1_CHUNK) {
      s += String.fromCharCode.apply(null, Uint8Array.prototype.subarray.call(bytes, i, Math.min(i + LATIN1_CHUNK, at + n)) as unknown as number[]);
    }
    return s;
  }

  /** A reader over the next `n` bytes, sharing the same buffer; this reader moves past them. */
  sub(n: number, field: string): ByteReader {
    const at = this.#need(n, field);
    return new ByteReader(this.#bytes, this.#fail, at, at + n);
  }
}
