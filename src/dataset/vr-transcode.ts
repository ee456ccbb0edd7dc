/**
 * Explicit ↔ implicit VR little endian (PS3.5 7.1.2, 7.1.3) by rewriting element headers only:
 * every value keeps its bytes, so text keeps its Specific Character Set (0008,0005) and its
 * encoding. (Decoding to JavaScript strings and encoding again, as dcmjs does, would write every
 * text as UTF-8 and the character set as ISO_IR 192.) Sequences and items of defined length get
 * their new lengths (a long-VR header is 4 bytes longer in explicit VR); undefined lengths stay.
 */
import { dcmjs } from './dcmjs.js';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const SHORT_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US']);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;
const MAX_DEPTH = 64;

export class VrTranscodeError extends Error {}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0').toUpperCase();
}

/**
 * The VR of a tag for explicit VR, from the data dictionary (PS3.6): group lengths UL, private
 * creators LO, other private or unknown tags UN; "US or SS" as US and "OB or OW" as OW, as an
 * implicit VR reader must (PS3.5 A.1 c).
 */
export function dictionaryVr(tag: number): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0) return 'UL';
  if (group % 2 === 1) return element >= 0x0010 && element <= 0x00ff ? 'LO' : 'UN';
  const dict = dcmjs.data.DicomMetaDictionary.dictionary;
  let entry = dict[`(${hex4(group)},${hex4(element)})`];
  // Repeating groups (50xx curves, 60xx overlays) are listed under their first group.
  if (entry === undefined && (group & 0xff00) === 0x6000) entry = dict[`(6000,${hex4(element)})`];
  if (entry === undefined && (group & 0xff00) === 0x5000) entry = dict[`(5000,${hex4(element)})`];
  const vr = entry?.vr;
  if (vr === undefined) return 'UN';
  if (LONG_VRS.has(vr) || SHORT_VRS.has(vr)) return vr;
  if (vr === 'xs') return 'US';
  if (vr === 'ox' || vr === 'lt') return 'OW';
  return 'UN';
}

interface Out {
  parts: Uint8Array[];
  length: number;
}

function push(out: Out, b: Uint8Array): void {
  out.parts.push(b);
  out.length += b.length;
}

class Converter {
  readonly #b: Uint8Array;
  readonly #v: DataView;
  readonly #toImplicit: boolean;

  constructor(bytes: Uint8Array, toImplicit: boolean) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#toImplicit = toImplicit;
  }

  #need(o: number, n: number, what: string): void {
    if (o + n > this.#b.length) throw new VrTranscodeError(`${what} at offset ${o} runs past the end of the data set`);
  }

  #tag(o: number): number {
    this.#need(o, 4, 'tag');
    return ((this.#v.getUint16(o, true) << 16) | this.#v.getUint16(o + 2, true)) >>> 0;
  }

  #header(tag: number, vr: string, length: number): Uint8Array {
    const long = LONG_VRS.has(vr);
    const h = new Uint8Array(this.#toImplicit ? 8 : long ? 12 : 8);
    const v = new DataView(h.buffer);
    v.setUint16(0, tag >>> 16, true);
    v.setUint16(2, tag & 0xffff, true);
    if (this.#toImplicit) v.setUint32(4, length, true);
    else {
      h[4] = vr.charCodeAt(0);
      h[5] = vr.charCodeAt(1);
      if (long) v.setUint32(8, length, true);
      else v.setUint16(6, length, true);
    }
    return h;
  }

  #itemHeader(tag: number, length: number): Uint8Array {
    const h = new Uint8Array(8);
    const v = new DataView(h.buffer);
    v.setUint16(0, tag >>> 16, true);
    v.setUint16(2, tag & 0xffff, true);
    v.setUint32(4, length, true);
    return h;
  }

  /** Elements from `o` to `end` (or to an item delimiter when `inUndefinedItem`). */
  level(o: number, end: number, implicit: boolean, inUndefinedItem: boolean, depth: number, out: Out): number {
    if (depth > MAX_DEPTH) throw new VrTranscodeError(`sequences nested deeper than ${MAX_DEPTH}`);
    while (o < end) {
      const tag = this.#tag(o);
      if (tag === ITEM_DELIMITER) {
        if (!inUndefinedItem) throw new VrTranscodeError(`item delimiter outside an item at offset ${o}`);
        this.#need(o, 8, 'item delimiter');
        push(out, this.#b.subarray(o, o + 8));
        return o + 8;
      }
      let vr: string;
      let length: number;
      let start: number;
      if (implicit) {
        this.#need(o, 8, 'element header');
        vr = dictionaryVr(tag);
        length = this.#v.getUint32(o + 4, true);
        start = o + 8;
        if (length === UNDEFINED) vr = 'SQ'; // only a sequence has an undefined length in implicit VR
      } else {
        this.#need(o, 8, 'element header');
        vr = String.fromCharCode(this.#b[o + 4]!, this.#b[o + 5]!);
        if (LONG_VRS.has(vr)) {
          this.#need(o, 12, 'element header');
          length = this.#v.getUint32(o + 8, true);
          start = o + 12;
        } else if (SHORT_VRS.has(vr)) {
          length = this.#v.getUint16(o + 6, true);
          start = o + 8;
        } else {
          throw new VrTranscodeError(`unknown VR "${vr}" at offset ${o}`);
        }
      }
      if (vr === 'SQ' || (vr === 'UN' && length === UNDEFINED)) {
        // An undefined-length UN is a sequence whose content is implicit VR (PS3.5 6.2.2).
        const contentImplicit = implicit || vr === 'UN';
        const seq: Out = { parts: [], length: 0 };
        const next = this.#sequence(start, length, contentImplicit, depth + 1, seq);
        push(out, this.#header(tag, 'SQ', length === UNDEFINED ? UNDEFINED : seq.length));
        for (const p of seq.parts) push(out, p);
        o = next;
        continue;
      }
      if (length === UNDEFINED) throw new VrTranscodeError(`undefined length of ${vr} element at offset ${o} (encapsulated data is never transcoded)`);
      this.#need(start, length, 'value');
      // A value too long for a short VR's 2-byte length can only be written as UN (PS3.5 6.2.2).
      const outVr = !this.#toImplicit && !LONG_VRS.has(vr) && length > 0xffff ? 'UN' : vr;
      push(out, this.#header(tag, outVr, length));
      push(out, this.#b.subarray(start, start + length));
      o = start + length;
    }
    if (inUndefinedItem) throw new VrTranscodeError('an item of undefined length has no item delimiter');
    return o;
  }

  #sequence(o: number, length: number, implicit: boolean, depth: number, out: Out): number {
    const end = length === UNDEFINED ? this.#b.length : o + length;
    if (end > this.#b.length) throw new VrTranscodeError(`sequence at offset ${o} runs past the end of the data set`);
    while (o < end) {
      const tag = this.#tag(o);
      this.#need(o, 8, 'item header');
      const itemLength = this.#v.getUint32(o + 4, true);
      if (tag === SEQUENCE_DELIMITER) {
        if (length !== UNDEFINED) throw new VrTranscodeError(`sequence delimiter in a sequence of defined length at offset ${o}`);
        push(out, this.#b.subarray(o, o + 8));
        return o + 8;
      }
      if (tag !== ITEM) throw new VrTranscodeError(`expected an item at offset ${o}`);
      const item: Out = { parts: [], length: 0 };
      let next: number;
      if (itemLength === UNDEFINED) next = this.level(o + 8, end, implicit, true, depth, item);
      else {
        if (o + 8 + itemLength > end) throw new VrTranscodeError(`item at offset ${o} runs past its sequence`);
        next = this.level(o + 8, o + 8 + itemLength, implicit, false, depth, item);
      }
      push(out, this.#itemHeader(ITEM, itemLength === UNDEFINED ? UNDEFINED : item.length));
      for (const p of item.parts) push(out, p);
      o = next;
    }
    if (length === UNDEFINED) throw new VrTranscodeError('a sequence of undefined length has no sequence delimiter');
    return o;
  }
}

/**
 * Re-encode a little endian data set between explicit and implicit VR, values untouched.
 * Throws VrTranscodeError for framing it cannot follow.
 */
export function transcodeVr(bytes: Uint8Array, fromImplicit: boolean, toImplicit: boolean): Uint8Array {
  if (fromImplicit === toImplicit) return bytes;
  const out: Out = { parts: [], length: 0 };
  new Converter(bytes, toImplicit).level(0, bytes.length, fromImplicit, false, 0, out);
  return Buffer.concat(out.parts, out.length);
}
