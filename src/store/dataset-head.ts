import { StoreError, storeErrorCodes } from './errors.js';

/**
 * A push parser that watches a data set stream go by and keeps only the values of a few
 * top-level elements (the identifying attributes, PS3.3 C.7.1-C.12.1, all in groups 0008-0020).
 * It never buffers more than one wanted value: other values are skipped by count, nested
 * sequences and items are walked by their delimiters (PS3.5 7.5), so a 60 MB instance passes
 * through in flat memory. It stops looking at the first top-level tag past `stopAfterTag`.
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

const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const undefinedLength = 0xffffffff;
const itemTag = 0xfffe_e000;
const itemDelimitationTag = 0xfffe_e00d;
const sequenceDelimitationTag = 0xfffe_e0dd;

export interface HeadScannerOptions {
  readonly explicitVr: boolean;
  readonly bigEndian?: boolean;
  /** Which top-level tags to keep, with their VR for implicit VR; default `identifyingTags`. */
  readonly wanted?: Readonly<Record<number, string>>;
  /** Stop at the first top-level tag above this one; default (0020,FFFF). */
  readonly stopAfterTag?: number;
  /** Longest value kept; a longer wanted value is skipped. Default 64 KiB. */
  readonly maxValueLength?: number;
}

/** One kept value: its VR (explicit, or from `wanted`) and raw bytes. */
export interface HeadValue {
  readonly vr: string;
  readonly bytes: Buffer;
}

interface Level {
  /** 'sequence' of undefined length: ends at a sequence delimiter; 'item' of undefined length: at an item delimiter. */
  readonly kind: 'sequence' | 'item';
  readonly implicit: boolean;
}

export class DatasetHeadScanner {
  readonly #bigEndian: boolean;
  readonly #explicit: boolean;
  readonly #wanted: Readonly<Record<number, string>>;
  readonly #stopAfter: number;
  readonly #maxValue: number;
  readonly #values = new Map<number, HeadValue>();
  readonly #stack: Level[] = [];
  readonly #header = Buffer.alloc(12);
  #headerFill = 0;
  #skip = 0;
  #collect: { tag: number; vr: string; parts: Buffer[]; remaining: number } | undefined;
  #done = false;
  #consumed = 0;

  constructor(options: HeadScannerOptions) {
    this.#explicit = options.explicitVr;
    this.#bigEndian = options.bigEndian ?? false;
    this.#wanted = options.wanted ?? identifyingTags;
    this.#stopAfter = options.stopAfterTag ?? 0x0020_ffff;
    this.#maxValue = options.maxValueLength ?? 64 * 1024;
  }

  /** True once past `stopAfterTag` at top level: later chunks need not be pushed. */
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

  /** Feed the next chunk; throws StoreError (cannotUnderstand) on bytes that are not a data set. */
  push(chunk: Uint8Array): void {
    if (this.#done) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < buf.length && !this.#done) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, buf.length - pos);
        this.#skip -= n;
        pos += n;
        continue;
      }
      const c = this.#collect;
      if (c !== undefined) {
        const n = Math.min(c.remaining, buf.length - pos);
        c.parts.push(Buffer.from(buf.subarray(pos, pos + n)));
        c.remaining -= n;
        pos += n;
        if (c.remaining === 0) {
          this.#values.set(c.tag, { vr: c.vr, bytes: Buffer.concat(c.parts) });
          this.#collect = undefined;
        }
        continue;
      }
      const implicit = this.#stack.length > 0 ? this.#stack[this.#stack.length - 1]!.implicit : !this.#explicit;
      // Fill the 8-byte header, then 4 more for explicit long VRs.
      const need = this.#headerNeed(implicit);
      const n = Math.min(need - this.#headerFill, buf.length - pos);
      buf.copy(this.#header, this.#headerFill, pos, pos + n);
      this.#headerFill += n;
      pos += n;
      if (this.#headerFill < need || this.#headerNeed(implicit) > this.#headerFill) continue;
      this.#element(implicit);
      this.#headerFill = 0;
    }
    this.#consumed += pos;
  }

  #u16(offset: number): number {
    return this.#bigEndian ? this.#header.readUInt16BE(offset) : this.#header.readUInt16LE(offset);
  }
  #u32(offset: number): number {
    return this.#bigEndian ? this.#header.readUInt32BE(offset) : this.#header.readUInt32LE(offset);
  }

  #headerNeed(implicit: boolean): number {
    if (this.#headerFill < 8) return 8;
    const group = this.#u16(0);
    if (group === 0xfffe || implicit) return 8;
    const vr = this.#header.toString('latin1', 4, 6);
    return longVrs.has(vr) ? 12 : 8;
  }

  #element(implicit: boolean): void {
    const tag = ((this.#u16(0) << 16) | this.#u16(2)) >>> 0;
    const top = this.#stack.length === 0;
    if (tag >>> 16 === 0xfffe) {
      const length = this.#u32(4);
      if (tag === itemTag) {
        if (top) throw this.#error('an item tag at top level');
        if (length === undefinedLength) this.#stack.push({ kind: 'item', implicit: this.#stack[this.#stack.length - 1]!.implicit });
        else this.#skip = length;
      } else if (tag === itemDelimitationTag) {
        if (this.#stack.pop()?.kind !== 'item') throw this.#error('an item delimiter outside an item');
      } else if (tag === sequenceDelimitationTag) {
        if (this.#stack.pop()?.kind !== 'sequence') throw this.#error('a sequence delimiter outside a sequence');
      } else {
        throw this.#error(`unknown delimiter tag (${tag.toString(16)})`);
      }
      return;
    }
    if (top && tag > this.#stopAfter) {
      this.#done = true;
      return;
    }
    let vr: string;
    let length: number;
    if (implicit) {
      vr = this.#wanted[tag] ?? 'UN';
      length = this.#u32(4);
    } else {
      vr = this.#header.toString('latin1', 4, 6);
      if (!/^[A-Z]{2}$/.test(vr)) throw this.#error(`no valid explicit VR for tag (${tag.toString(16).padStart(8, '0')})`);
      length = longVrs.has(vr) ? this.#u32(8) : this.#u16(6);
    }
    if (length === undefinedLength) {
      // An undefined length is a sequence (or encapsulated pixel data, or explicit UN whose
      // content is implicit VR LE, PS3.5 6.2.2): walk its items to find the end.
      this.#stack.push({ kind: 'sequence', implicit: implicit || vr === 'UN' });
      return;
    }
    if (top && this.#wanted[tag] !== undefined && length <= this.#maxValue && vr !== 'SQ') {
      if (length === 0) this.#values.set(tag, { vr, bytes: Buffer.alloc(0) });
      else this.#collect = { tag, vr, parts: [], remaining: length };
      return;
    }
    this.#skip = length;
  }

  #error(what: string): StoreError {
    return new StoreError(storeErrorCodes.cannotUnderstand, `data set parse failed near byte ${this.#consumed}: ${what}`);
  }
}

/** Decode a kept text value: trailing NUL/space padding removed (PS3.5 6.2), ISO_IR 192 as UTF-8. */
export function headText(value: HeadValue | undefined, utf8: boolean): string {
  if (value === undefined) return '';
  let end = value.bytes.length;
  while (end > 0 && (value.bytes[end - 1] === 0 || value.bytes[end - 1] === 0x20)) end--;
  let start = 0;
  while (start < end && value.bytes[start] === 0x20) start++;
  return value.bytes.toString(utf8 ? 'utf8' : 'latin1', start, end);
}
