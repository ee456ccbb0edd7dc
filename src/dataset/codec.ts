import { TransferSyntax, isKnownTransferSyntax, transferSyntaxProperties } from '../dictionary/uids.js';
import { decodeText, encodeText, characterSetTerms, canEncodeWith } from './charset.js';
import { dcmjs, quietly } from './dcmjs.js';
import { transcodeVr } from './vr-transcode.js';
import type { DcmjsDict } from './dcmjs.js';
import { DatasetDecodeError, DatasetEncodeError, UnsupportedTransferSyntaxError } from './errors.js';
import { checkDatasetFraming, defineSequenceLengths } from './framing.js';
import type { SequenceLevel } from './framing.js';

// node:zlib when a deflated data set is met, not with the module: loading it costs ~2 ms of every
// CLI start, and most data sets are not deflated.
const zlib = (): typeof import('node:zlib') => process.getBuiltinModule('node:zlib');

/**
 * Dataset ⇄ bytes for the uncompressed transfer syntaxes, without a Part 10 header — what travels
 * in P-DATA (PS3.7 6.3.1): C-FIND identifiers, N-service attribute lists, small datasets.
 * Encoding and the dictionary are dcmjs's (DicomMessage._read / DicomMessage.write on raw buffer
 * streams). Deflate (PS3.5 A.5: raw RFC 1951 deflate of the explicit VR little endian encoding) is
 * done here with node:zlib, so the inflated size can be bounded.
 *
 * Character sets: text is decoded with the dataset's Specific Character Set by charset.ts (every
 * defined term, ISO 2022 code extensions included; dcmjs's own mapping refuses multi-valued
 * terms) and presented as Unicode, with (0008,0005) rewritten to ISO_IR 192 (`specificCharacterSetOf`
 * reads the original). Encoding writes UTF-8 and declares ISO_IR 192 whenever a value is not
 * ASCII, unless `characterSet` asks for a set that holds every character.
 * Semantics are kept, bytes of non-UTF-8 text are not: bit-preserving storage must not go through here.
 */

/** A naturalized dataset (dcmjs): keyword → value, sequences as arrays of datasets. */
export type NaturalDataset = Record<string, unknown>;

/** Inflated datasets larger than this are refused unless the caller raises the bound. */
export const DEFAULT_MAX_INFLATED_LENGTH = 64 * 1024 * 1024;

interface Syntax {
  /** The syntax dcmjs is asked to read/write the (inflated) bytes in. */
  readonly inner: string;
  readonly littleEndian: boolean;
  readonly deflated: boolean;
}

function syntaxOf(uid: string): Syntax {
  const p = transferSyntaxProperties(uid);
  switch (uid) {
    case TransferSyntax.ImplicitVrLittleEndian:
    case TransferSyntax.ExplicitVrLittleEndian:
    case TransferSyntax.ExplicitVrBigEndian:
      return { inner: uid, littleEndian: p.littleEndian, deflated: false };
    case TransferSyntax.DeflatedExplicitVrLittleEndian:
      return { inner: TransferSyntax.ExplicitVrLittleEndian, littleEndian: true, deflated: true };
    default:
      if (!isKnownTransferSyntax(uid)) {
        throw new UnsupportedTransferSyntaxError(uid, `${uid} is not a transfer syntax this implementation knows`);
      }
      // Encapsulated syntaxes only differ in Pixel Data, which these helpers never carry; the rest
      // of such a dataset is explicit VR little endian (PS3.5 A.4) and can be read as that.
      if (!p.deflated && p.littleEndian && !p.implicitVr) {
        return { inner: TransferSyntax.ExplicitVrLittleEndian, littleEndian: true, deflated: false };
      }
      throw new UnsupportedTransferSyntaxError(uid, `transfer syntax ${uid} is not supported for dataset encoding`);
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  // dcmjs reads from an ArrayBuffer from offset 0; give it exactly these bytes.
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  // Uint8Array.prototype.slice copies; Buffer#slice would return a view of the shared pool.
  return Uint8Array.prototype.slice.call(bytes).buffer as ArrayBuffer;
}

/** Word size of the binary VRs whose values change byte order with the transfer syntax (PS3.5 7.3). */
const WORD_SIZE: Readonly<Record<string, number>> = { OW: 2, OL: 4, OF: 4, OD: 8, OV: 8 };

function swapBuffer(value: unknown, size: number): unknown {
  if (!(value instanceof ArrayBuffer)) return value;
  const out = new Uint8Array(value.slice(0));
  for (let i = 0; i + size <= out.length; i += size) out.subarray(i, i + size).reverse();
  return out.buffer;
}

/**
 * dcmjs reads and writes OW/OL/OF/OD/OV values as raw bytes whatever the byte order, so in
 * Explicit VR Big Endian their words would come out unswapped (checked against dcmconv +tb).
 * This returns a copy of `dict` with those values byte-swapped, recursing into sequences.
 */
function swapBinaryWords(dict: DcmjsDict): DcmjsDict {
  const out: DcmjsDict = {};
  for (const [tag, el] of Object.entries(dict)) {
    const size = WORD_SIZE[el.vr];
    if (size !== undefined && Array.isArray(el.Value)) {
      // A fresh element, without dcmjs's `_rawValue`: dcmjs writes that instead of Value when it
      // thinks they are equal, and two ArrayBuffers always compare equal in its deepEqual.
      out[tag] = { vr: el.vr, Value: el.Value.map((v) => swapBuffer(v, size)) };
    } else if (el.vr === 'SQ' && Array.isArray(el.Value)) {
      out[tag] = { vr: el.vr, Value: el.Value.map((item) => swapBinaryWords(item as DcmjsDict)) };
    } else {
      out[tag] = el;
    }
  }
  return out;
}

/** String VRs whose trailing spaces (or NUL, for UI) are padding, not content (PS3.5 Table 6.2-1). */
const PADDED_TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'SH', 'ST', 'TM', 'UC', 'UI', 'UT']);

/**
 * dcmjs leaves the pad byte on some values (a 17-character DA range such as "20240101-20241231"
 * comes back with its trailing space), which would break C-FIND range matching; strip it here.
 */
function trimPadding(dict: DcmjsDict): DcmjsDict {
  for (const el of Object.values(dict)) {
    if (!Array.isArray(el.Value)) continue;
    if (PADDED_TEXT_VRS.has(el.vr)) {
      el.Value = el.Value.map((v) => (typeof v === 'string' ? v.replace(/[ \0]+$/, '') : v));
    } else if (el.vr === 'SQ') {
      for (const item of el.Value) trimPadding(item as DcmjsDict);
    }
  }
  return dict;
}

/**
 * dcmjs drops sequence items that hold no element, but an empty item means something (PS3.4
 * C.2.2.2.6: in a C-FIND identifier it asks for the sequence back). Put them back where the
 * framing walk saw them.
 */
function restoreEmptyItems(dict: DcmjsDict, level: SequenceLevel): void {
  for (const [tag, items] of level) {
    const el = dict[tag.toString(16).padStart(8, '0').toUpperCase()];
    if (el === undefined || el.vr !== 'SQ') continue;
    const present = (el.Value ?? []) as DcmjsDict[];
    const nonEmpty = items.filter((i) => !i.empty);
    if (present.length !== nonEmpty.length) {
      throw new Error(`sequence ${tag.toString(16)} has ${items.length} items, ${present.length} were decoded`);
    }
    let k = 0;
    el.Value = items.map((item) => {
      if (item.empty) return {};
      const d = present[k++]!;
      restoreEmptyItems(d, item.children);
      return d;
    });
  }
}

/** Where (0008,0005) is among the first top-level elements, and its value. */
interface CharsetElement {
  readonly offset: number;
  readonly length: number;
  readonly value: string;
}

/**
 * The top-level Specific Character Set element: the elements before it (groups 0000-0008) are
 * never sequences, so they are skipped by their lengths alone (the framing was checked already).
 */
function findSpecificCharacterSet(raw: Uint8Array, implicit: boolean, littleEndian: boolean): CharsetElement | undefined {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let at = 0;
  while (at + 8 <= raw.length) {
    const tag = ((view.getUint16(at, littleEndian) << 16) | view.getUint16(at + 2, littleEndian)) >>> 0;
    if (tag > 0x0008_0005) return undefined;
    let header = 8;
    let length: number;
    if (implicit) length = view.getUint32(at + 4, littleEndian);
    else {
      const vr = String.fromCharCode(raw[at + 4]!, raw[at + 5]!);
      if (['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV', 'SV', 'UV'].includes(vr)) {
        header = 12;
        length = view.getUint32(at + 8, littleEndian);
      } else length = view.getUint16(at + 6, littleEndian);
    }
    if (length === 0xffffffff || at + header + length > raw.length) return undefined;
    if (tag === 0x0008_0005) {
      const value = String.fromCharCode(...raw.subarray(at + header, at + header + length)).replace(/[\0 ]+$/, '');
      return { offset: at + header, length, value };
    }
    at += header + length;
  }
  return undefined;
}

/** Let a dcmjs read stream decode text with `charset` (charset.ts) instead of a TextDecoder of its choice. */
function useCharset(stream: unknown, charset: string): void {
  const s = stream as { decoder: unknown; setDecoder: (d: unknown) => void };
  const terms = characterSetTerms(charset);
  s.decoder = { decode: (v: DataView) => decodeText(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), terms) };
  s.setDecoder = () => {};
}

/**
 * The Specific Character Set (0008,0005) a dataset was written in, as its raw value
 * (`'ISO 2022 IR 6\\ISO 2022 IR 87'`), or undefined when it has none. decodeDataset reports every
 * dataset as ISO_IR 192 (its text is Unicode by then); a C-FIND SCP answers in the original.
 */
export function specificCharacterSetOf(bytes: Uint8Array, transferSyntaxUid: string): string | undefined {
  const s = syntaxOf(transferSyntaxUid);
  if (s.deflated) {
    try {
      bytes = zlib().inflateRawSync(bytes, { maxOutputLength: DEFAULT_MAX_INFLATED_LENGTH });
    } catch {
      return undefined;
    }
  }
  return findSpecificCharacterSet(bytes, s.inner === TransferSyntax.ImplicitVrLittleEndian, s.littleEndian)?.value;
}

/** Implicit VR: the dictionary says which tags are sequences. */
function isSequenceTag(tag: number): boolean {
  const h = tag.toString(16).padStart(8, '0').toUpperCase();
  const entry = dcmjs.data.DicomMetaDictionary.dictionary[`(${h.slice(0, 4)},${h.slice(4)})`];
  return entry?.vr === 'SQ';
}

/** Decode dataset bytes (no Part 10 header) in `transferSyntaxUid` to dcmjs's denaturalized form. */
export function decodeDatasetDict(
  bytes: Uint8Array,
  transferSyntaxUid: string,
  options: { readonly maxInflatedLength?: number } = {},
): DcmjsDict {
  const s = syntaxOf(transferSyntaxUid);
  let raw = bytes;
  if (s.deflated) {
    const max = options.maxInflatedLength ?? DEFAULT_MAX_INFLATED_LENGTH;
    try {
      raw = zlib().inflateRawSync(bytes, { maxOutputLength: max });
    } catch (cause) {
      throw new DatasetDecodeError(transferSyntaxUid, `deflated dataset could not be inflated (limit ${max} bytes): ${(cause as Error).message}`, { cause });
    }
  }
  if (raw.length === 0) return {};
  try {
    const implicit = s.inner === TransferSyntax.ImplicitVrLittleEndian;
    const structure = checkDatasetFraming(raw, implicit, s.littleEndian, isSequenceTag);
    raw = defineSequenceLengths(raw, implicit, s.littleEndian, isSequenceTag);
    const charset = findSpecificCharacterSet(raw, implicit, s.littleEndian);
    if (charset !== undefined) {
      // dcmjs would pick its own decoder from this value (and refuse ISO 2022 lists): blank it, so it
      // picks its default, which the stream then ignores for ours.
      raw = Uint8Array.prototype.slice.call(raw);
      raw.fill(0x20, charset.offset, charset.offset + charset.length);
    }
    const stream = new dcmjs.data.ReadBufferStream(toArrayBuffer(raw), s.littleEndian, { noCopy: false });
    useCharset(stream, charset?.value ?? '');
    const dict = quietly(() => dcmjs.data.DicomMessage._read(stream, s.inner, { ignoreErrors: false, untilTag: null, includeUntilTagValue: false }));
    // The framing was checked, so dcmjs must consume exactly the whole buffer.
    if (stream.offset !== raw.length) {
      throw new Error(`stopped at offset ${stream.offset} of ${raw.length}`);
    }
    restoreEmptyItems(dict, structure);
    trimPadding(dict);
    return s.littleEndian ? dict : swapBinaryWords(dict);
  } catch (cause) {
    if (cause instanceof DatasetDecodeError) throw cause;
    throw new DatasetDecodeError(transferSyntaxUid, `dataset could not be decoded: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Thrown inside dcmjs's write when a character has no code in the asked character set. */
class NotRepresentable extends Error {}

/**
 * Encode a dcmjs denaturalized dataset in `transferSyntaxUid` (no Part 10 header). Text is UTF-8
 * unless `encodeText` (a set without code extensions, see charset.ts) is given.
 */
export function encodeDatasetDict(dict: DcmjsDict, transferSyntaxUid: string, characterSet?: string): Uint8Array {
  const s = syntaxOf(transferSyntaxUid);
  let out: Uint8Array;
  try {
    const stream = new dcmjs.data.WriteBufferStream(4096, s.littleEndian);
    if (characterSet === undefined) {
      quietly(() => dcmjs.data.DicomMessage.write(s.littleEndian ? dict : swapBinaryWords(dict), stream, s.inner, { allowInvalidVRLength: false }));
    } else {
      // dcmjs writes each value through a WriteBufferStream of its own, with a TextEncoder made
      // in its constructor: the text writer is replaced on the prototype for this one synchronous
      // call (nothing else runs meanwhile), then restored.
      type Writer = { encoder: { encode(t: string): Uint8Array } };
      const proto = dcmjs.data.WriteBufferStream.prototype as unknown as { writeUTF8String: (this: Writer, text: string) => number };
      const own = Object.prototype.hasOwnProperty.call(proto, 'writeUTF8String');
      const original = proto.writeUTF8String;
      proto.writeUTF8String = function (this: Writer, text: string): number {
        const encoder = this.encoder;
        this.encoder = {
          encode: (t: string): Uint8Array => {
            const bytes = encodeText(t, characterSet);
            if (bytes === undefined) throw new NotRepresentable(t);
            return bytes;
          },
        };
        try {
          return original.call(this, text);
        } finally {
          this.encoder = encoder;
        }
      };
      try {
        quietly(() => dcmjs.data.DicomMessage.write(s.littleEndian ? dict : swapBinaryWords(dict), stream, s.inner, { allowInvalidVRLength: false }));
      } finally {
        if (own) proto.writeUTF8String = original;
        else delete (proto as Partial<typeof proto>).writeUTF8String;
      }
    }
    out = new Uint8Array(stream.getBuffer());
  } catch (cause) {
    if (cause instanceof NotRepresentable) throw cause;
    throw new DatasetEncodeError(transferSyntaxUid, `dataset could not be encoded: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
  if (s.deflated) {
    const d = zlib().deflateRawSync(out);
    out = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  return out;
}

/** Decode dataset bytes to a naturalized dataset (`{ PatientName: …, StudyInstanceUID: … }`). */
export function decodeDataset(
  bytes: Uint8Array,
  transferSyntaxUid: string,
  options: { readonly maxInflatedLength?: number } = {},
): NaturalDataset {
  const dict = decodeDatasetDict(bytes, transferSyntaxUid, options);
  try {
    return quietly(() => dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict));
  } catch (cause) {
    throw new DatasetDecodeError(transferSyntaxUid, `dataset could not be naturalized: ${(cause as Error).message}`, { cause });
  }
}

export interface EncodeDatasetOptions {
  /**
   * Write text in this Specific Character Set (any term or ISO 2022 list charset.ts can encode)
   * when it holds every character of the dataset; otherwise text that is not ASCII goes out as
   * ISO_IR 192. (0008,0005) says which, whatever the dataset held.
   */
  readonly characterSet?: string;
}

/** Encode a naturalized dataset. Unknown keywords are an error (dcmjs would log and drop them). */
export function encodeDataset(dataset: NaturalDataset, transferSyntaxUid: string, options: EncodeDatasetOptions = {}): Uint8Array {
  syntaxOf(transferSyntaxUid);
  checkKeywords(dataset, transferSyntaxUid, '');
  const cs = options.characterSet;
  // ASCII text is the same bytes in every set: such a dataset takes the plain path (no per-value
  // encoder, no extra garbage per C-FIND match).
  if (cs !== undefined && cs !== 'ISO_IR 192' && canEncodeWith(cs) && hasNonAscii(dataset)) {
    const withSet: NaturalDataset = { ...dataset, SpecificCharacterSet: cs.includes('\\') ? cs.split('\\') : cs };
    if (cs === '' ) delete (withSet as Record<string, unknown>)['SpecificCharacterSet'];
    let dict: DcmjsDict;
    try {
      dict = quietly(() => dcmjs.data.DicomMetaDictionary.denaturalizeDataset(withSet));
    } catch (cause) {
      throw new DatasetEncodeError(transferSyntaxUid, `dataset could not be denaturalized: ${(cause as Error).message}`, { cause });
    }
    try {
      return encodeDatasetDict(dict, transferSyntaxUid, cs);
    } catch (error) {
      if (!(error instanceof NotRepresentable)) throw error;
      // A character the asked set lacks: the whole dataset goes out in UTF-8 instead.
    }
  }
  let dict: DcmjsDict;
  try {
    dict = quietly(() => dcmjs.data.DicomMetaDictionary.denaturalizeDataset(declareUtf8IfNeeded(dataset)));
  } catch (cause) {
    throw new DatasetEncodeError(transferSyntaxUid, `dataset could not be denaturalized: ${(cause as Error).message}`, { cause });
  }
  return encodeDatasetDict(dict, transferSyntaxUid);
}

function hasNonAscii(value: unknown): boolean {
  if (typeof value === 'string') return /[^\x00-\x7f]/.test(value);
  if (Array.isArray(value)) return value.some(hasNonAscii);
  if (value !== null && typeof value === 'object' && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
    return Object.entries(value).some(([k, v]) => k !== '_vrMap' && hasNonAscii(v));
  }
  return false;
}

/**
 * dcmjs writes every text value as UTF-8 whatever Specific Character Set (0008,0005) says. So
 * when any text is outside ASCII the dataset must say ISO_IR 192 (PS3.5 6.1.2.3, Table 6.1-2),
 * otherwise a peer would read UTF-8 bytes as Latin-1 or ASCII. Pure-ASCII datasets are unchanged.
 */
function declareUtf8IfNeeded(dataset: NaturalDataset): NaturalDataset {
  if (dataset['SpecificCharacterSet'] === 'ISO_IR 192' || !hasNonAscii(dataset)) return dataset;
  return { ...dataset, SpecificCharacterSet: 'ISO_IR 192' };
}

/** Every keyword must be in the dictionary (or be a tag in hex), in sequence items too. */
function checkKeywords(dataset: NaturalDataset, ts: string, path: string): void {
  for (const [key, value] of Object.entries(dataset)) {
    if (key === '_vrMap' || key === '_meta' || /^[0-9A-Fa-f]{8}$/.test(key)) continue;
    const entry = dcmjs.data.DicomMetaDictionary.nameMap[key] as { vr?: string } | undefined;
    if (entry === undefined) throw new DatasetEncodeError(ts, `unknown attribute keyword ${path}${key}`);
    if (entry.vr === 'SQ' && Array.isArray(value)) {
      value.forEach((item, i) => {
        if (item !== null && typeof item === 'object') checkKeywords(item as NaturalDataset, ts, `${path}${key}[${i}].`);
      });
    }
  }
}

/**
 * Re-encode a dataset from one uncompressed transfer syntax to another (e.g. an instance sent as
 * a C-STORE sub-operation to a peer that accepts only implicit VR). Between the little endian
 * syntaxes (deflated or not) only the element headers change, so text keeps its bytes and its
 * Specific Character Set; from or to big endian, values (not bytes) are kept: see the
 * character-set note above.
 */
export function transcodeDataset(bytes: Uint8Array, fromTransferSyntaxUid: string, toTransferSyntaxUid: string): Uint8Array {
  if (fromTransferSyntaxUid === toTransferSyntaxUid) return bytes;
  for (const uid of [fromTransferSyntaxUid, toTransferSyntaxUid]) {
    if (transferSyntaxProperties(uid).encapsulated) {
      throw new UnsupportedTransferSyntaxError(uid, `cannot transcode to or from the encapsulated transfer syntax ${uid}`);
    }
  }
  const from = syntaxOf(fromTransferSyntaxUid);
  const to = syntaxOf(toTransferSyntaxUid);
  if (from.littleEndian && to.littleEndian) {
    // Little endian both ways: element headers rewritten, values (text in its character set)
    // kept byte for byte; deflate undone and redone around it.
    let raw = bytes;
    if (from.deflated) {
      try {
        raw = zlib().inflateRawSync(bytes, { maxOutputLength: DEFAULT_MAX_INFLATED_LENGTH });
      } catch (cause) {
        throw new DatasetDecodeError(fromTransferSyntaxUid, `deflated dataset could not be inflated: ${(cause as Error).message}`, { cause });
      }
    }
    let out: Uint8Array;
    try {
      out = transcodeVr(raw, from.inner === TransferSyntax.ImplicitVrLittleEndian, to.inner === TransferSyntax.ImplicitVrLittleEndian);
    } catch (cause) {
      throw new DatasetDecodeError(fromTransferSyntaxUid, `dataset could not be transcoded: ${(cause as Error).message}`, { cause });
    }
    if (!to.deflated) return out;
    const d = zlib().deflateRawSync(out);
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  // Big endian (retired) swaps values by VR: through dcmjs, whose text comes out as UTF-8.
  return encodeDatasetDict(decodeDatasetDict(bytes, fromTransferSyntaxUid), toTransferSyntaxUid);
}
