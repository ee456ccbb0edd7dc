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

interface Ctx {
  readonly view: DataView;
  readonly le: boolean;
}

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
function walkElements(c: Ctx, o: number, end: number, implicit: boolean, depth: number, inUndefinedItem: boolean): number {
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
      if (!ALL_VRS.has(vr)) throw new FramingError(`${tagName(tag)} at offset ${o} has invalid VR "${vr}"`);
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
        o = walkSequence(c, o, end, implicit || vr === 'UN', depth + 1);
      } else {
        throw new FramingError(`${tagName(tag)} ${vr} cannot have an undefined length`);
      }
      continue;
    }
    if (length > end - o) {
      throw new FramingError(`${tagName(tag)} value length ${length} at offset ${o - header} runs past the end (${end - o} bytes left)`);
    }
    if (vr === 'SQ') walkDefinedSequence(c, o, o + length, implicit, depth + 1);
    o += length;
  }
  if (inUndefinedItem) throw new FramingError('undefined-length item has no item delimiter');
  return o;
}

function walkItemAt(c: Ctx, o: number, end: number, implicit: boolean, depth: number): number {
  if (end - o < 8) throw new FramingError(`item header truncated at offset ${o}`);
  const tag = readTag(c, o);
  if (tag !== ITEM) throw new FramingError(`expected an item (FFFE,E000) at offset ${o}, found ${tagName(tag)}`);
  const length = c.view.getUint32(o + 4, c.le);
  o += 8;
  if (length === UNDEFINED) return walkElements(c, o, end, implicit, depth, true);
  if (length > end - o) throw new FramingError(`item length ${length} at offset ${o - 8} runs past its container`);
  walkElements(c, o, o + length, implicit, depth, false);
  return o + length;
}

function walkDefinedSequence(c: Ctx, o: number, end: number, implicit: boolean, depth: number): void {
  while (o < end) o = walkItemAt(c, o, end, implicit, depth);
}

function walkSequence(c: Ctx, o: number, end: number, implicit: boolean, depth: number): number {
  for (;;) {
    if (end - o < 8) throw new FramingError('undefined-length sequence has no sequence delimiter');
    if (readTag(c, o) === SEQUENCE_DELIMITER) return o + 8;
    o = walkItemAt(c, o, end, implicit, depth);
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

/** Throws {@link FramingError} unless `bytes` is a well-framed dataset in the given encoding. */
export function checkDatasetFraming(bytes: Uint8Array, implicitVr: boolean, littleEndian: boolean): void {
  const c: Ctx = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), le: littleEndian };
  walkElements(c, 0, bytes.length, implicitVr, 0, false);
}
