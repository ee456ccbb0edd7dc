/**
 * A strict walk over the element framing of a dataset (PS3.5 Section 7): tags, VRs, lengths,
 * sequences, items and delimiters, without decoding values. dcmjs is lenient by design (a value
 * running past the end is "read as available" with a console warning), which is wrong for bytes
 * from the network; this check runs first so malformed input is a typed error, never a partial
 * dataset. It is the smallest code that gives that guarantee.
 */

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const ALL_VRS = new Set([
  ...LONG_VRS,
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US',
]);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
/** Nesting deeper than this is refused (no real dataset comes close; protects the stack). */
export const MAX_SEQUENCE_DEPTH = 64;

export class FramingError extends Error {}

/** The item structure of one dataset level: for each sequence tag, its items in order. */
export type SequenceLevel = Map<number, SequenceItem[]>;
export interface SequenceItem {
  /** The item holds no element (PS3.4 uses such items, e.g. universal sequence matching in C-FIND). */
  readonly empty: boolean;
  readonly children: SequenceLevel;
}

interface Ctx {
  readonly view: DataView;
  readonly le: boolean;
  /** In implicit VR only the dictionary tells that a defined-length element is a sequence. */
  readonly isSequenceTag: (tag: number) => boolean;
}

/** Dictionary lookup for implicit VR: is `tag` a sequence (VR SQ)? */
export type SequenceTagTest = (tag: number) => boolean;

function tagName(tag: number): string {
  const h = tag.toString(16).padStart(8, '0').toUpperCase();
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

function readTag(c: Ctx, o: number): number {
  return ((c.view.getUint16(o, c.le) << 16) | c.view.getUint16(o + 2, c.le)) >>> 0;
}

/**
 * Walk elements from `o` to `end`. With `inItem` an undefined-length item ends at an item
 * delimiter, whose end offset is returned. Returns the offset after the last element.
 */
function walkElements(
  c: Ctx,
  o: number,
  end: number,
  implicit: boolean,
  depth: number,
  inUndefinedItem: boolean,
  level: SequenceLevel,
): number {
  if (depth > MAX_SEQUENCE_DEPTH) throw new FramingError(`sequences nested deeper than ${MAX_SEQUENCE_DEPTH}`);
  while (o < end) {
    if (end - o < 8) throw new FramingError(`element header truncated at offset ${o}`);
    const tag = readTag(c, o);
    if (tag === ITEM_DELIMITER) {
      if (!inUndefinedItem) throw new FramingError(`item delimiter outside an undefined-length item at offset ${o}`);
      return o + 8;
    }
    if (tag === ITEM || tag === SEQUENCE_DELIMITER) throw new FramingError(`${tagName(tag)} outside a sequence at offset ${o}`);
    let vr: string | undefined;
    let length: number;
    let header: number;
    if (implicit) {
      length = c.view.getUint32(o + 4, c.le);
      header = 8;
    } else {
      vr = String.fromCharCode(c.view.getUint8(o + 4), c.view.getUint8(o + 5));
      if (!ALL_VRS.has(vr)) throw new FramingError(`${tagName(tag)} at offset ${o} has invalid VR ${shownVr(vr)}`);
      if (LONG_VRS.has(vr)) {
        if (end - o < 12) throw new FramingError(`${tagName(tag)} header truncated at offset ${o}`);
        length = c.view.getUint32(o + 8, c.le);
        header = 12;
      } else {
        length = c.view.getUint16(o + 6, c.le);
        header = 8;
      }
    }
    o += header;
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA && (vr === 'OB' || vr === 'OW' || vr === undefined)) {
        o = walkFragments(c, o, end);
      } else if (vr === undefined || vr === 'SQ' || vr === 'UN') {
        // Implicit VR or UN with undefined length: a sequence, its items in implicit VR (PS3.5 6.2.2).
        o = walkSequence(c, o, end, implicit || vr === 'UN', depth + 1, itemsOf(level, tag));
      } else {
        throw new FramingError(`${tagName(tag)} ${vr} cannot have an undefined length`);
      }
      continue;
    }
    if (length > end - o) {
      throw new FramingError(`${tagName(tag)} value length ${length} at offset ${o - header} runs past the end (${end - o} bytes left)`);
    }
    if (vr === 'SQ' || (vr === undefined && c.isSequenceTag(tag))) walkDefinedSequence(c, o, o + length, implicit, depth + 1, itemsOf(level, tag));
    o += length;
  }
  if (inUndefinedItem) throw new FramingError('undefined-length item has no item delimiter');
  return o;
}

function itemsOf(level: SequenceLevel, tag: number): SequenceItem[] {
  const items: SequenceItem[] = [];
  level.set(tag, items);
  return items;
}

function walkItemAt(c: Ctx, o: number, end: number, implicit: boolean, depth: number, items: SequenceItem[]): number {
  if (end - o < 8) throw new FramingError(`item header truncated at offset ${o}`);
  const tag = readTag(c, o);
  if (tag !== ITEM) throw new FramingError(`expected an item (FFFE,E000) at offset ${o}, found ${tagName(tag)}`);
  const length = c.view.getUint32(o + 4, c.le);
  o += 8;
  const children: SequenceLevel = new Map();
  if (length === UNDEFINED) {
    const after = walkElements(c, o, end, implicit, depth, true, children);
    items.push({ empty: after === o + 8, children });
    return after;
  }
  if (length > end - o) throw new FramingError(`item length ${length} at offset ${o - 8} runs past its container`);
  walkElements(c, o, o + length, implicit, depth, false, children);
  items.push({ empty: length === 0, children });
  return o + length;
}

function walkDefinedSequence(c: Ctx, o: number, end: number, implicit: boolean, depth: number, items: SequenceItem[]): void {
  while (o < end) o = walkItemAt(c, o, end, implicit, depth, items);
}

function walkSequence(c: Ctx, o: number, end: number, implicit: boolean, depth: number, items: SequenceItem[]): number {
  for (;;) {
    if (end - o < 8) throw new FramingError('undefined-length sequence has no sequence delimiter');
    if (readTag(c, o) === SEQUENCE_DELIMITER) return o + 8;
    o = walkItemAt(c, o, end, implicit, depth, items);
  }
}

function walkFragments(c: Ctx, o: number, end: number): number {
  for (;;) {
    if (end - o < 8) throw new FramingError('encapsulated pixel data has no sequence delimiter');
    const tag = readTag(c, o);
    const length = c.view.getUint32(o + 4, c.le);
    if (tag === SEQUENCE_DELIMITER) return o + 8;
    if (tag !== ITEM) throw new FramingError(`expected a fragment item at offset ${o}, found ${tagName(tag)}`);
    if (length === UNDEFINED || length > end - o - 8) throw new FramingError(`fragment length ${length} at offset ${o} runs past the end`);
    o += 8 + length;
  }
}

/**
 * Throws {@link FramingError} unless `bytes` is a well-framed dataset in the given encoding;
 * returns the item structure of its sequences.
 */
/** A VR that is no VR, as the message may show it: quoted if printable, else its bytes in hex (no control characters from the peer). */
function shownVr(vr: string): string {
  return /^[\x20-\x7e]{2}$/.test(vr) ? `"${vr}"` : [...vr].map((ch) => `0x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`).join(' ');
}

export function checkDatasetFraming(
  bytes: Uint8Array,
  implicitVr: boolean,
  littleEndian: boolean,
  isSequenceTag: SequenceTagTest = () => false,
): SequenceLevel {
  const c: Ctx = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), le: littleEndian, isSequenceTag };
  const level: SequenceLevel = new Map();
  walkElements(c, 0, bytes.length, implicitVr, 0, false, level);
  return level;
}

/**
 * Rewrite undefined-length sequences and items with defined lengths (PS3.5 7.5.1 allows both).
 * dcmjs finds the end of an undefined-length item by scanning its bytes for a delimiter pattern,
 * so a binary value holding those 8 bytes would end the item early and be read wrong, silently.
 * With defined lengths it reads exactly. Input must have passed {@link checkDatasetFraming}.
 * Values are copied unchanged; UN values of undefined length and encapsulated Pixel Data are kept
 * as they are (dcmjs reads those item by item).
 */
export function defineSequenceLengths(
  bytes: Uint8Array,
  implicitVr: boolean,
  littleEndian: boolean,
  isSequenceTag: SequenceTagTest = () => false,
): Uint8Array {
  const c: Ctx = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), le: littleEndian, isSequenceTag };
  const parts: Uint8Array[] = [];
  const { changed } = rewriteElements(c, bytes, 0, bytes.length, implicitVr, parts);
  return changed ? Buffer.concat(parts) : bytes;
}

function u32(value: number, le: boolean): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value, le);
  return b;
}

/** Appends the rewritten elements from `o` to `end` (or to an item delimiter) to `out`. */
function rewriteElements(
  c: Ctx,
  bytes: Uint8Array,
  o: number,
  end: number,
  implicit: boolean,
  out: Uint8Array[],
): { next: number; length: number; changed: boolean } {
  let length = 0;
  let changed = false;
  while (o < end) {
    const tag = readTag(c, o);
    if (tag === ITEM_DELIMITER) return { next: o + 8, length, changed: true };
    const vr = implicit ? undefined : String.fromCharCode(bytes[o + 4]!, bytes[o + 5]!);
    const header = implicit || LONG_VRS.has(vr!) ? (implicit ? 8 : 12) : 8;
    const valueLength = header === 8 && !implicit ? c.view.getUint16(o + 6, c.le) : c.view.getUint32(o + header - 4, c.le);
    const isSequence =
      vr === 'SQ' || (implicit && (valueLength === UNDEFINED ? tag !== PIXEL_DATA : c.isSequenceTag(tag)));
    if (!isSequence) {
      // Verbatim, including undefined-length UN and encapsulated pixel data (their end is found by the walk).
      const stop = valueLength === UNDEFINED ? skipUndefined(c, o + header, vr === 'UN') : o + header + valueLength;
      out.push(bytes.subarray(o, stop));
      length += stop - o;
      o = stop;
      continue;
    }
    const items: Uint8Array[] = [];
    let itemsLength = 0;
    let p = o + header;
    const seqEnd = valueLength === UNDEFINED ? bytes.length : p + valueLength;
    let inner = valueLength === UNDEFINED;
    for (;;) {
      if (valueLength !== UNDEFINED && p >= seqEnd) break;
      const t = readTag(c, p);
      if (t === SEQUENCE_DELIMITER) {
        p += 8;
        break;
      }
      const itemLength = c.view.getUint32(p + 4, c.le);
      const children: Uint8Array[] = [];
      const r =
        itemLength === UNDEFINED
          ? rewriteElements(c, bytes, p + 8, seqEnd, implicit, children)
          : { ...rewriteElements(c, bytes, p + 8, p + 8 + itemLength, implicit, children), next: p + 8 + itemLength };
      inner ||= r.changed || itemLength === UNDEFINED;
      items.push(bytes.subarray(p, p + 4), u32(r.length, c.le), ...children);
      itemsLength += 8 + r.length;
      p = r.next;
    }
    out.push(bytes.subarray(o, o + header - 4), u32(itemsLength, c.le), ...items);
    length += header + itemsLength;
    changed ||= inner;
    o = p;
  }
  return { next: o, length, changed };
}

/** End offset of an undefined-length value that is not rewritten: fragments or a UN sequence. */
function skipUndefined(c: Ctx, o: number, isUn: boolean): number {
  if (!isUn) return walkFragments(c, o, c.view.byteLength);
  return walkSequence(c, o, c.view.byteLength, true, 1, []);
}
