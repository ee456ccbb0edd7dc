import { decodeText, startsAscii } from '../dataset/charset.js';
import { StoreError, storeErrorCodes } from './errors.js';

/**
 * A push parser that watches a data set stream go by and keeps only the values of a few
 * top-level elements (the identifying attributes, PS3.3 C.7.1-C.12.1, all in groups 0008-0020).
 * It never buffers more than one wanted value: other values are skipped by count, nested
 * sequences and items are walked by their delimiters (PS3.5 7.5), so a 60 MB instance passes
 * through in flat memory. It keeps no values past the first top-level tag above `stopAfterTag`
 * (`done`), but walks the framing to the end: `finish()` says whether the data set is whole (no
 * value running past the end, no sequence, item or encapsulated pixel data left open), so a
 * truncated instance is refused rather than acknowledged. Items of a few sequences
 * (`identifyingSequences`) are kept one level deep, for sequence matching.
 */

/** Tags (group << 16 | element) → VR, used for implicit VR data sets (PS3.6). */
export const identifyingTags = {
  0x0008_0005: 'CS', // SpecificCharacterSet
  0x0008_0016: 'UI', // SOPClassUID
  0x0008_0018: 'UI', // SOPInstanceUID
  0x0008_0020: 'DA', // StudyDate
  0x0008_0030: 'TM', // StudyTime
  0x0008_0050: 'SH', // AccessionNumber
  0x0008_0060: 'CS', // Modality
  0x0008_0090: 'PN', // ReferringPhysicianName
  0x0008_1030: 'LO', // StudyDescription
  0x0008_103e: 'LO', // SeriesDescription
  0x0010_0010: 'PN', // PatientName
  0x0010_0020: 'LO', // PatientID
  0x0010_0030: 'DA', // PatientBirthDate
  0x0010_0040: 'CS', // PatientSex
  0x0020_000d: 'UI', // StudyInstanceUID
  0x0020_000e: 'UI', // SeriesInstanceUID
  0x0020_0010: 'SH', // StudyID
  0x0020_0011: 'IS', // SeriesNumber
  0x0020_0013: 'IS', // InstanceNumber
} as const satisfies Record<number, string>;

/**
 * Sequences whose items are kept (one level deep), for sequence matching (PS3.4 C.2.2.2.6):
 * sequence tag → nested tags → VR. Both are keys of the query/retrieve tables (PS3.4 C.6.2.1).
 */
export const identifyingSequences = {
  // ProcedureCodeSequence > CodeValue, CodingSchemeDesignator, CodeMeaning
  0x0008_1032: { 0x0008_0100: 'SH', 0x0008_0102: 'SH', 0x0008_0104: 'LO' },
  // RequestAttributesSequence > RequestedProcedureID, ScheduledProcedureStepID
  0x0040_0275: { 0x0040_1001: 'SH', 0x0040_0009: 'SH' },
} as const satisfies Record<number, Record<number, string>>;

const longVrs = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'];
/** The long VRs by their two bytes as one big-endian number ('OB' → 0x4f42): no string per element. */
const longVrCodes = new Set(longVrs.map((vr) => (vr.charCodeAt(0) << 8) | vr.charCodeAt(1)));
/** Two-letter VR strings by code, made once each (PS3.5 7.1.2: two upper-case letters). */
const vrStrings = new Map<number, string>();
function vrOfCode(code: number): string | undefined {
  const a = code >> 8;
  const b = code & 0xff;
  if (a < 0x41 || a > 0x5a || b < 0x41 || b > 0x5a) return undefined;
  let vr = vrStrings.get(code);
  if (vr === undefined) vrStrings.set(code, (vr = String.fromCharCode(a, b)));
  return vr;
}
const undefinedLength = 0xffffffff;
const itemTag = 0xfffe_e000;
const itemDelimitationTag = 0xfffe_e00d;
const sequenceDelimitationTag = 0xfffe_e0dd;

export interface HeadScannerOptions {
  readonly explicitVr: boolean;
  readonly bigEndian?: boolean;
  /** Which top-level tags to keep, with their VR for implicit VR; default `identifyingTags`. */
  readonly wanted?: Readonly<Record<number, string>>;
  /** Which top-level sequences to keep items of; default `identifyingSequences`. */
  readonly wantedSequences?: Readonly<Record<number, Readonly<Record<number, string>>>>;
  /** Stop at the first top-level tag above this one; default (0040,FFFF). */
  readonly stopAfterTag?: number;
  /** Longest value kept; a longer wanted value is skipped. Default 64 KiB. */
  readonly maxValueLength?: number;
  /** Most items kept per sequence; default 64. */
  readonly maxItems?: number;
}

/** One kept value: its VR (explicit, or from `wanted`) and raw bytes. */
export interface HeadValue {
  readonly vr: string;
  readonly bytes: Buffer;
}

interface Level {
  /** A sequence ends at its delimiter or at `end`; so does an item. */
  readonly kind: 'sequence' | 'item';
  readonly implicit: boolean;
  /** Absolute end offset for a defined length. */
  readonly end?: number;
  /** The sequence's (or pixel data's) tag, or the item tag: named when the data set ends inside. */
  readonly tag: number;
  /** For a kept sequence (top level): its tag; for an item of one: where its values go. */
  readonly keep?: number | Map<number, HeadValue>;
}

export class DatasetHeadScanner {
  readonly #bigEndian: boolean;
  readonly #explicit: boolean;
  readonly #wanted: Readonly<Record<number, string>>;
  readonly #wantedSequences: Readonly<Record<number, Readonly<Record<number, string>>>>;
  readonly #stopAfter: number;
  readonly #maxValue: number;
  readonly #maxItems: number;
  readonly #values = new Map<number, HeadValue>();
  readonly #sequences = new Map<number, Map<number, HeadValue>[]>();
  readonly #stack: Level[] = [];
  /** An element header split between chunks, gathered (made on the first split: most data sets have none). */
  #splitHeader: Buffer | undefined;
  #headerFill = 0;
  #skip = 0;
  #collect: { tag: number; vr: string; parts: Buffer[]; remaining: number; into: Map<number, HeadValue> } | undefined;
  #done = false;
  #consumed = 0;
  /** The element whose value is being skipped or collected (named when the data set ends inside it). */
  #valueTag = 0;

  constructor(options: HeadScannerOptions) {
    this.#explicit = options.explicitVr;
    this.#bigEndian = options.bigEndian ?? false;
    this.#wanted = options.wanted ?? identifyingTags;
    this.#wantedSequences = options.wantedSequences ?? identifyingSequences;
    this.#stopAfter = options.stopAfterTag ?? 0x0040_ffff;
    this.#maxValue = options.maxValueLength ?? 64 * 1024;
    this.#maxItems = options.maxItems ?? 64;
  }

  /** True once past `stopAfterTag` at top level: no more values will be kept (push the rest for `finish`). */
  get done(): boolean {
    return this.#done;
  }

  /** Bytes looked at so far. */
  get consumed(): number {
    return this.#consumed;
  }

  get values(): ReadonlyMap<number, HeadValue> {
    return this.#values;
  }

  /** Kept items of the wanted sequences: sequence tag → items → nested tag → value. */
  get sequences(): ReadonlyMap<number, readonly ReadonlyMap<number, HeadValue>[]> {
    return this.#sequences;
  }

  /** Feed the next chunk; throws StoreError (cannotUnderstand) on bytes that are not a data set. */
  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const length = buf.length;
    let pos = 0;
    while (pos < length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, length - pos);
        this.#skip -= n;
        pos += n;
        this.#consumed += n;
        continue;
      }
      const c = this.#collect;
      if (c !== undefined) {
        const n = Math.min(c.remaining, length - pos);
        // A copy: the chunk may be a pooled receive buffer, reused once the store gives it back.
        const part = Buffer.allocUnsafe(n);
        buf.copy(part, 0, pos, pos + n);
        c.remaining -= n;
        pos += n;
        this.#consumed += n;
        if (c.remaining === 0 && c.parts.length === 0) c.into.set(c.tag, { vr: c.vr, bytes: part });
        else c.parts.push(part);
        if (c.remaining === 0) {
          if (c.parts.length > 0) c.into.set(c.tag, { vr: c.vr, bytes: Buffer.concat(c.parts) });
          this.#collect = undefined;
        }
        continue;
      }
      if (this.#headerFill === 0) {
        this.#closeDefinedLevels();
        const implicit = this.#stack.length > 0 ? this.#stack[this.#stack.length - 1]!.implicit : !this.#explicit;
        // The whole element header in this chunk (nearly always): read it where it is.
        if (length - pos >= 8) {
          const size = this.#headerSize(buf, pos, implicit);
          if (length - pos >= size) {
            this.#consumed += size;
            this.#element(implicit, buf, pos);
            pos += size;
            continue;
          }
        }
      }
      const implicit = this.#stack.length > 0 ? this.#stack[this.#stack.length - 1]!.implicit : !this.#explicit;
      // A header split between chunks: gather its 8 bytes, then 4 more for explicit long VRs.
      const header = (this.#splitHeader ??= Buffer.alloc(12));
      const need = this.#headerFill < 8 ? 8 : this.#headerSize(header, 0, implicit);
      const n = Math.min(need - this.#headerFill, length - pos);
      buf.copy(header, this.#headerFill, pos, pos + n);
      this.#headerFill += n;
      pos += n;
      this.#consumed += n;
      if (this.#headerFill < need || this.#headerSize(header, 0, implicit) > this.#headerFill) continue;
      this.#element(implicit, header, 0);
      this.#headerFill = 0;
    }
  }

  /**
   * The data set has ended: throws StoreError (cannotUnderstand) when it ended inside an element
   * header, a value, or a sequence, item or encapsulated pixel data not closed (PS3.5 7.1, 7.5, A.4).
   */
  finish(): void {
    if (this.#skip > 0 || this.#collect !== undefined) {
      const missing = this.#skip + (this.#collect?.remaining ?? 0);
      throw this.#truncated(`the value of ${tagText(this.#valueTag)} lacks ${missing} bytes`);
    }
    if (this.#headerFill > 0) throw this.#truncated(`it ends inside an element header (${this.#headerFill} of 8 or 12 bytes)`);
    this.#closeDefinedLevels();
    const open = this.#stack[this.#stack.length - 1];
    if (open !== undefined) {
      throw this.#truncated(`${open.kind === 'item' ? 'an item' : open.tag === 0x7fe0_0010 ? 'the encapsulated pixel data' : 'a sequence'} ${tagText(open.tag)} is not closed`);
    }
  }

  #truncated(what: string): StoreError {
    return new StoreError(storeErrorCodes.cannotUnderstand, `the data set is truncated after ${this.#consumed} bytes: ${what}`, {
      comment: `truncated data set: ${what}`,
    });
  }

  /** Leave the defined-length sequences and items that end here. */
  #closeDefinedLevels(): void {
    for (;;) {
      const top = this.#stack[this.#stack.length - 1];
      if (top?.end === undefined || this.#consumed < top.end) return;
      if (this.#consumed > top.end) throw this.#error('an element runs past the end of its sequence or item');
      this.#stack.pop();
    }
  }

  #u16(src: Buffer, offset: number): number {
    return this.#bigEndian ? (src[offset]! << 8) | src[offset + 1]! : src[offset]! | (src[offset + 1]! << 8);
  }
  #u32(src: Buffer, offset: number): number {
    return this.#bigEndian
      ? src[offset]! * 0x1000000 + ((src[offset + 1]! << 16) | (src[offset + 2]! << 8) | src[offset + 3]!)
      : src[offset + 3]! * 0x1000000 + ((src[offset + 2]! << 16) | (src[offset + 1]! << 8) | src[offset]!);
  }

  /** The size of the element header whose first 8 bytes are at `offset`: 8, or 12 for an explicit long VR. */
  #headerSize(src: Buffer, offset: number, implicit: boolean): number {
    if (implicit || this.#u16(src, offset) === 0xfffe) return 8;
    return longVrCodes.has((src[offset + 4]! << 8) | src[offset + 5]!) ? 12 : 8;
  }

  /** The element whose header is at `offset` of `src` (the chunk, or the gathered header). */
  #element(implicit: boolean, src: Buffer, offset: number): void {
    const tag = ((this.#u16(src, offset) << 16) | this.#u16(src, offset + 2)) >>> 0;
    const parent = this.#stack[this.#stack.length - 1];
    if (tag >>> 16 === 0xfffe) {
      const length = this.#u32(src, offset + 4);
      if (tag === itemTag) {
        if (parent?.kind !== 'sequence') throw this.#error('an item tag outside a sequence');
        const end = length === undefinedLength ? undefined : this.#consumed + length;
        let keep: Map<number, HeadValue> | undefined;
        if (typeof parent.keep === 'number') {
          const items = this.#sequences.get(parent.keep)!;
          if (items.length < this.#maxItems) items.push((keep = new Map()));
        }
        if (keep === undefined && end !== undefined) {
          this.#skip = length;
          this.#valueTag = tag;
        } else this.#stack.push({ kind: 'item', implicit: parent.implicit, end, keep, tag });
      } else if (tag === itemDelimitationTag) {
        if (this.#stack.pop()?.kind !== 'item') throw this.#error('an item delimiter outside an item');
      } else if (tag === sequenceDelimitationTag) {
        if (this.#stack.pop()?.kind !== 'sequence') throw this.#error('a sequence delimiter outside a sequence');
      } else {
        throw this.#error(`unknown delimiter tag (${tag.toString(16)})`);
      }
      return;
    }
    // File Meta Information (PS3.10 7.1) is the file's, never the data set's: written after our
    // own meta group, such elements are read back as part of it (a Transfer Syntax UID of the
    // sender's choosing, the data set starting past its first element), a file every retrieve
    // would hand out broken.
    if (parent === undefined && tag >>> 16 === 0x0002) {
      throw new StoreError(storeErrorCodes.cannotUnderstand, `the data set holds File Meta Information element ${tagText(tag)}, which belongs to a file's meta group only (PS3.10 7.1)`, {
        comment: `File Meta Information ${tagText(tag)} in the data set`,
        offendingElement: [tag],
      });
    }
    // Past the head: nothing more is kept, but the framing is walked to the end.
    if (parent === undefined && tag > this.#stopAfter) this.#done = true;
    if (parent?.kind === 'sequence') throw this.#error(`element (${tag.toString(16).padStart(8, '0')}) directly inside a sequence`);
    let vr: string;
    let length: number;
    const wantedHere = parent === undefined ? this.#wanted : parent.keep instanceof Map ? this.#wantedSequences[this.#keptSequenceTag()] : undefined;
    if (implicit) {
      vr = wantedHere?.[tag] ?? (parent === undefined && this.#wantedSequences[tag] !== undefined ? 'SQ' : 'UN');
      length = this.#u32(src, offset + 4);
    } else {
      const code = (src[offset + 4]! << 8) | src[offset + 5]!;
      const known = vrOfCode(code);
      if (known === undefined) throw this.#error(`no valid explicit VR for tag (${tag.toString(16).padStart(8, '0')})`);
      vr = known;
      length = longVrCodes.has(code) ? this.#u32(src, offset + 8) : this.#u16(src, offset + 6);
    }
    const keepSequence = !this.#done && parent === undefined && this.#wantedSequences[tag] !== undefined && (vr === 'SQ' || (implicit && vr !== 'UN'));
    if (length === undefinedLength || keepSequence) {
      // An undefined length is a sequence (or encapsulated pixel data, or explicit UN whose
      // content is implicit VR LE, PS3.5 6.2.2): walk its items to find the end.
      if (keepSequence) this.#sequences.set(tag, []);
      const end = length === undefinedLength ? undefined : this.#consumed + length;
      this.#stack.push({ kind: 'sequence', implicit: implicit || vr === 'UN', end, keep: keepSequence ? tag : undefined, tag });
      return;
    }
    this.#valueTag = tag;
    const into = parent === undefined ? (this.#done ? undefined : this.#values) : parent.keep instanceof Map ? parent.keep : undefined;
    if (into !== undefined && wantedHere?.[tag] !== undefined && length <= this.#maxValue && vr !== 'SQ') {
      if (length === 0) into.set(tag, { vr, bytes: Buffer.alloc(0) });
      else this.#collect = { tag, vr, parts: [], remaining: length, into };
      return;
    }
    this.#skip = length;
  }

  /** The tag of the kept sequence the current item belongs to. */
  #keptSequenceTag(): number {
    const sequence = this.#stack[this.#stack.length - 2];
    return typeof sequence?.keep === 'number' ? sequence.keep : -1;
  }

  #error(what: string): StoreError {
    return new StoreError(storeErrorCodes.cannotUnderstand, `data set parse failed near byte ${this.#consumed}: ${what}`);
  }
}

/** (GGGG,EEEE), as PS3.5 writes tags. */
function tagText(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/**
 * Decode a kept text value with the data set's Specific Character Set (0008,0005) (PS3.5 6.1;
 * see dataset/charset.ts), then remove the padding (PS3.5 6.2): trailing NUL/space, leading
 * space. `true`/`false` are kept for ISO_IR 192 and the default repertoire.
 */
export function headText(value: HeadValue | undefined, charset: string | boolean): string {
  if (value === undefined) return '';
  const cs = charset === true ? 'ISO_IR 192' : charset === false ? 'ISO_IR 100' : charset;
  // The usual value: 7-bit bytes, no escape, in a set whose G0 starts as ASCII (all but a first
  // term of ISO 2022 IR 87 or 159, which start in a 94×94 set): every byte is its own character,
  // so the padding comes off the bytes and they are read as Latin-1 at once, not a character at a
  // time (a stored instance decodes ~20 values; this was its largest garbage).
  const bytes = value.bytes;
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0)) end--;
  let start = 0;
  while (start < end && bytes[start] === 0x20) start++;
  let plain = startsAscii(cs);
  for (let i = start; plain && i < end; i++) plain = bytes[i]! < 0x80 && bytes[i] !== 0x1b;
  if (plain) return bytes.toString('latin1', start, end);
  // The padding is removed after decoding: in a multi-byte set a 0x20 or 0x00 byte need not be a character of its own.
  return decodeText(bytes, cs, { vr: value.vr }).replace(/[\0 ]+$/, '').replace(/^ +/, '');
}

