import { closeSync, createReadStream, fstatSync, openSync, readSync, type ReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { DicomError } from '../errors.js';

/**
 * PS3.10 Section 7.1: the DICOM File Meta Information. A 128-byte preamble, the prefix 'DICM',
 * then the group 0002 elements, always Explicit VR Little Endian, led by their group length.
 * The data set that follows is encoded in TransferSyntaxUID.
 */

/** Explicit VR Little Endian (PS3.5 A.2): the encoding of the meta group itself. */
export const explicitVrLittleEndian = '1.2.840.10008.1.2.1';
/** Deflated Explicit VR Little Endian (PS3.5 A.5): the data set after the meta group is raw deflate. */
export const deflatedExplicitVrLittleEndian = '1.2.840.10008.1.2.1.99';

/** The File Meta Information names the same implementation as our associations do. */
export { IMPLEMENTATION_CLASS_UID as implementationClassUid, IMPLEMENTATION_VERSION_NAME as implementationVersionName } from '../implementation.js';
import { IMPLEMENTATION_CLASS_UID as implementationClassUid, IMPLEMENTATION_VERSION_NAME as implementationVersionName } from '../implementation.js';

/** Values of the File Meta Information, named by their PS3.6 keywords. */
export interface FileMetaInformation {
  /** (0002,0001) OB, two bytes; 00 01 for this version of PS3.10. */
  readonly FileMetaInformationVersion?: Uint8Array;
  /** (0002,0002) */
  readonly MediaStorageSOPClassUID: string;
  /** (0002,0003) */
  readonly MediaStorageSOPInstanceUID: string;
  /** (0002,0010) */
  readonly TransferSyntaxUID: string;
  /** (0002,0012) */
  readonly ImplementationClassUID: string;
  /** (0002,0013) */
  readonly ImplementationVersionName?: string;
  /** (0002,0016): the AE title of the sender, for a received instance the calling AE. */
  readonly SourceApplicationEntityTitle?: string;
  /** (0002,0017) */
  readonly SendingApplicationEntityTitle?: string;
  /** (0002,0018) */
  readonly ReceivingApplicationEntityTitle?: string;
  /** (0002,0100) */
  readonly PrivateInformationCreatorUID?: string;
}

/** What is known of a Part 10 file after reading its head. */
export interface Part10Header {
  readonly meta: FileMetaInformation;
  /** Byte offset of the first byte after the meta group: where the data set starts. */
  readonly datasetOffset: number;
  /** True when the data set is raw-deflated (Deflated Explicit VR Little Endian). */
  readonly deflated: boolean;
  /** Departures from PS3.10 that were tolerated (odd lengths, wrong group length, …). */
  readonly warnings: readonly string[];
}

export const part10ErrorCodes = {
  /** No 'DICM' prefix at offset 128: not a Part 10 file (maybe a raw data set). */
  notPart10: 'DICOM_ERR_PART10_NOT_PART10',
  /** The bytes end inside the preamble, prefix or meta group; `field` names where. */
  truncated: 'DICOM_ERR_PART10_TRUNCATED',
  /** The meta group is malformed or misses a required element; `field` names it. */
  invalidMeta: 'DICOM_ERR_PART10_INVALID_META',
  /** The meta group is larger than the caller's limit. */
  metaTooLarge: 'DICOM_ERR_PART10_META_TOO_LARGE',
} as const;

/** A Part 10 file (or its head) cannot be read as one; `field` names what is wrong. */
export class Part10Error extends DicomError {
  readonly field: string;
  /** For `notPart10`: the bytes look like a data set without File Meta Information. */
  readonly looksLikeRawDataset: boolean;
  constructor(
    code: (typeof part10ErrorCodes)[keyof typeof part10ErrorCodes],
    field: string,
    message: string,
    options?: { cause?: unknown; looksLikeRawDataset?: boolean },
  ) {
    super(code, message, options);
    this.field = field;
    this.looksLikeRawDataset = options?.looksLikeRawDataset ?? false;
  }
}

const preambleLength = 128;
const prefixEnd = 132;
const textEncoder = new TextEncoder();
const dicmPrefix = textEncoder.encode('DICM');

// PS3.5 7.1.2: these explicit VRs have 2 reserved bytes and a 4-byte length.
const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

const metaKeywords: Readonly<Record<number, keyof FileMetaInformation>> = {
  0x0002_0001: 'FileMetaInformationVersion',
  0x0002_0002: 'MediaStorageSOPClassUID',
  0x0002_0003: 'MediaStorageSOPInstanceUID',
  0x0002_0010: 'TransferSyntaxUID',
  0x0002_0012: 'ImplementationClassUID',
  0x0002_0013: 'ImplementationVersionName',
  0x0002_0016: 'SourceApplicationEntityTitle',
  0x0002_0017: 'SendingApplicationEntityTitle',
  0x0002_0018: 'ReceivingApplicationEntityTitle',
  0x0002_0100: 'PrivateInformationCreatorUID',
};

/** The meta elements that say what a file is: given twice, the second is not the meta's. */
const identifyingMeta = new Set([0x0002_0002, 0x0002_0003, 0x0002_0010]);

function hex(tag: number): string {
  const s = tag.toString(16).toUpperCase().padStart(8, '0');
  return `${s.slice(0, 4)},${s.slice(4)}`;
}

function checkUid(name: string, uid: string): void {
  // PS3.5 9.1: digits and dots, at most 64 characters.
  if (uid.length === 0 || uid.length > 64 || !/^\d+(\.\d+)*$/.test(uid)) {
    throw new Part10Error(part10ErrorCodes.invalidMeta, name, `${name} is not a valid UID: ${JSON.stringify(uid)}`);
  }
}

/**
 * Encode preamble, 'DICM' and the meta group (PS3.10 7.1), group length first.
 * ImplementationClassUID defaults to this library's.
 */
export function encodeFileMetaInformation(
  meta: Omit<FileMetaInformation, 'ImplementationClassUID'> & { readonly ImplementationClassUID?: string },
): Uint8Array {
  const full: FileMetaInformation = {
    ImplementationVersionName: meta.ImplementationClassUID === undefined ? implementationVersionName : undefined,
    ...meta,
    ImplementationClassUID: meta.ImplementationClassUID ?? implementationClassUid,
  };
  checkUid('MediaStorageSOPClassUID', full.MediaStorageSOPClassUID);
  checkUid('MediaStorageSOPInstanceUID', full.MediaStorageSOPInstanceUID);
  checkUid('TransferSyntaxUID', full.TransferSyntaxUID);
  checkUid('ImplementationClassUID', full.ImplementationClassUID);
  const text = (name: string, value: string, max: number): string => {
    if (value.length > max || !/^[\x20-\x7e]*$/.test(value)) {
      throw new Part10Error(part10ErrorCodes.invalidMeta, name, `${name} must be at most ${max} printable ASCII characters`);
    }
    return value;
  };
  // Every value is ASCII (UIDs, checked text) or bytes: the group is written into one buffer,
  // no array per element (a C-STORE SCP writes one header per instance).
  const elements: [number, string, string | Uint8Array][] = [
    [0x0002_0001, 'OB', full.FileMetaInformationVersion ?? Uint8Array.of(0, 1)],
    [0x0002_0002, 'UI', full.MediaStorageSOPClassUID],
    [0x0002_0003, 'UI', full.MediaStorageSOPInstanceUID],
    [0x0002_0010, 'UI', full.TransferSyntaxUID],
    [0x0002_0012, 'UI', full.ImplementationClassUID],
  ];
  if (full.ImplementationVersionName) elements.push([0x0002_0013, 'SH', text('ImplementationVersionName', full.ImplementationVersionName, 16)]);
  if (full.SourceApplicationEntityTitle) elements.push([0x0002_0016, 'AE', text('SourceApplicationEntityTitle', full.SourceApplicationEntityTitle, 16)]);
  if (full.SendingApplicationEntityTitle) elements.push([0x0002_0017, 'AE', text('SendingApplicationEntityTitle', full.SendingApplicationEntityTitle, 16)]);
  if (full.ReceivingApplicationEntityTitle) elements.push([0x0002_0018, 'AE', text('ReceivingApplicationEntityTitle', full.ReceivingApplicationEntityTitle, 16)]);
  if (full.PrivateInformationCreatorUID) {
    checkUid('PrivateInformationCreatorUID', full.PrivateInformationCreatorUID);
    elements.push([0x0002_0100, 'UI', full.PrivateInformationCreatorUID]);
  }
  // PS3.5 7.1.2: long VRs have 2 reserved bytes and a 4-byte length; values padded to even length.
  const headerOf = (vr: string): number => (longVrs.has(vr) ? 12 : 8);
  let bodyLength = 0;
  for (const [, vr, value] of elements) bodyLength += headerOf(vr) + value.length + (value.length % 2);
  const out = new Uint8Array(prefixEnd + 12 + bodyLength);
  const view = new DataView(out.buffer);
  out.set(dicmPrefix, preambleLength);
  let o = prefixEnd;
  const put = (tag: number, vr: string, value: string | Uint8Array): void => {
    const padded = value.length + (value.length % 2);
    const long = longVrs.has(vr);
    if (!long && padded > 0xffff) throw new Part10Error(part10ErrorCodes.invalidMeta, vr, `value of (${hex(tag)}) too long for ${vr}`);
    view.setUint16(o, tag >>> 16, true);
    view.setUint16(o + 2, tag & 0xffff, true);
    out[o + 4] = vr.charCodeAt(0);
    out[o + 5] = vr.charCodeAt(1);
    if (long) view.setUint32(o + 8, padded, true);
    else view.setUint16(o + 6, padded, true);
    o += long ? 12 : 8;
    if (typeof value === 'string') for (let i = 0; i < value.length; i++) out[o + i] = value.charCodeAt(i);
    else out.set(value, o);
    // UI and OB pad with NUL (the buffer's zero), the text VRs with a space (PS3.5 6.2).
    if (padded > value.length) out[o + value.length] = vr === 'UI' || vr === 'OB' ? 0 : 0x20;
    o += padded;
  };
  put(0x0002_0000, 'UL', Uint8Array.of(bodyLength & 0xff, (bodyLength >>> 8) & 0xff, (bodyLength >>> 16) & 0xff, bodyLength >>> 24));
  for (const [tag, vr, value] of elements) put(tag, vr, value);
  return out;
}

/**
 * encodeFileMetaInformation for instances that differ only in their SOP Instance UID (a C-STORE
 * SCP's instances of one transfer syntax, SOP class and pair of AE titles): everything else is
 * checked and encoded once; each header is that template with the instance's UID, its length
 * and the group length filled in. Same bytes, same errors as encodeFileMetaInformation.
 */
export function fileMetaEncoder(
  meta: Omit<FileMetaInformation, 'ImplementationClassUID' | 'MediaStorageSOPInstanceUID'> & { readonly ImplementationClassUID?: string },
): (sopInstanceUid: string) => Uint8Array {
  // A one-character UID stands in for the instance's: its element is 8 + 2 bytes.
  const template = encodeFileMetaInformation({ ...meta, MediaStorageSOPInstanceUID: '1' });
  // The group length's value, then (0002,0001) OB (12 + 2 bytes) and (0002,0002) UI (8 + its padded value).
  const groupLength = new DataView(template.buffer, template.byteOffset).getUint32(prefixEnd + 8, true);
  const classLength = meta.MediaStorageSOPClassUID.length;
  const element = prefixEnd + 12 + 14 + 8 + classLength + (classLength % 2);
  const head = template.subarray(0, element + 8);
  const tail = template.subarray(element + 10);
  return (uid) => {
    checkUid('MediaStorageSOPInstanceUID', uid);
    const padded = uid.length + (uid.length % 2);
    const out = new Uint8Array(head.length + padded + tail.length);
    out.set(head);
    const body = groupLength - 2 + padded;
    out[prefixEnd + 8] = body & 0xff;
    out[prefixEnd + 9] = (body >>> 8) & 0xff;
    out[prefixEnd + 10] = (body >>> 16) & 0xff;
    out[prefixEnd + 11] = body >>> 24;
    out[element + 6] = padded;
    for (let i = 0; i < uid.length; i++) out[element + 8 + i] = uid.charCodeAt(i);
    out.set(tail, element + 8 + padded);
    return out;
  };
}

/** Heuristic for a data set without meta: a plausible even-group tag at offset 0 (PS3.5 7.1). */
function looksLikeRawDataset(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const group = view.getUint16(0, true);
  if (group < 0x0002 || group > 0x0028 || group % 2 !== 0) return false;
  const vr = String.fromCharCode(bytes[4] ?? 0, bytes[5] ?? 0);
  return /^[A-Z]{2}$/.test(vr) || view.getUint32(4, true) < 0x10000;
}

/**
 * The text of `bytes[from, to)` without padding. Read in place: a view per element and a Buffer
 * per value were most of the cost of a file's head (read twice per instance sent).
 */
function decodeText(bytes: Uint8Array, from: number, to: number): string {
  let end = to;
  while (end > from && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
  let start = from;
  while (start < end && bytes[start] === 0x20) start++;
  if (Buffer.isBuffer(bytes)) return bytes.toString('latin1', start, end);
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/**
 * Decode the head of a Part 10 file: preamble, prefix and meta group. Pure and synchronous;
 * throws Part10Error with code `truncated` when `bytes` ends before the data set starts (read
 * more and call again). With `final: true`, `bytes` is the whole file, so ending right after a
 * meta element means an empty data set. Tolerates a wrong group length and odd value lengths, with a warning.
 */
export function decodePart10Header(bytes: Uint8Array, options: { readonly final?: boolean } = {}): Part10Header {
  if (bytes.length < prefixEnd) {
    if (bytes.length >= 8 && looksLikeRawDataset(bytes)) {
      throw new Part10Error(part10ErrorCodes.notPart10, 'preamble', 'no DICM prefix: this looks like a raw data set without File Meta Information (PS3.10 7.1)', { looksLikeRawDataset: true });
    }
    throw new Part10Error(part10ErrorCodes.truncated, 'preamble', `only ${bytes.length} bytes: the preamble and DICM prefix need 132`);
  }
  if (bytes[128] !== 0x44 || bytes[129] !== 0x49 || bytes[130] !== 0x43 || bytes[131] !== 0x4d) {
    if (bytes[0] === 0x44 && bytes[1] === 0x49 && bytes[2] === 0x43 && bytes[3] === 0x4d) {
      throw new Part10Error(part10ErrorCodes.notPart10, 'preamble', "'DICM' at offset 0: the 128-byte preamble is missing (PS3.10 7.1)");
    }
    const raw = looksLikeRawDataset(bytes);
    throw new Part10Error(
      part10ErrorCodes.notPart10,
      'prefix',
      raw
        ? 'no DICM prefix at offset 128: this looks like a raw data set without File Meta Information (PS3.10 7.1)'
        : 'no DICM prefix at offset 128: not a DICOM Part 10 file',
      { looksLikeRawDataset: raw },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const warnings: string[] = [];
  const values: Record<string, unknown> = {};
  let pos = prefixEnd;
  let groupEnd: number | undefined;
  for (;;) {
    if (pos === bytes.length && options.final === true && pos > prefixEnd) break;
    if (pos + 2 > bytes.length) throw new Part10Error(part10ErrorCodes.truncated, 'meta element tag', 'the bytes end inside the meta group');
    const group = view.getUint16(pos, true);
    if (group !== 0x0002) break;
    if (pos + 8 > bytes.length) throw new Part10Error(part10ErrorCodes.truncated, 'meta element header', 'the bytes end inside a meta element header');
    const tag = (group << 16) | view.getUint16(pos + 2, true);
    // Past the end the group length gives, a second group length, SOP class, instance or
    // transfer syntax is the data set's (a writer that kept File Meta Information in it): the meta
    // ends there, as DCMTK reads it, instead of redefining what the file is (a Transfer Syntax UID
    // of the data set's choosing, the data set read from past its first element). Other elements
    // there are still taken as the meta's, a group length that miscounts them tolerated.
    if (groupEnd !== undefined && pos >= groupEnd && (tag === 0x0002_0000 || (identifyingMeta.has(tag) && values[metaKeywords[tag]!] !== undefined))) break;
    const vr = String.fromCharCode(bytes[pos + 4] ?? 0, bytes[pos + 5] ?? 0);
    if (!/^[A-Z]{2}$/.test(vr)) {
      throw new Part10Error(part10ErrorCodes.invalidMeta, `(${hex(tag)}) VR`, `meta element (${hex(tag)}) has no explicit VR: the meta group must be Explicit VR Little Endian (PS3.10 7.1)`);
    }
    let length: number;
    let headerLength: number;
    if (longVrs.has(vr)) {
      if (pos + 12 > bytes.length) throw new Part10Error(part10ErrorCodes.truncated, `(${hex(tag)}) length`, 'the bytes end inside a meta element header');
      length = view.getUint32(pos + 8, true);
      headerLength = 12;
    } else {
      length = view.getUint16(pos + 6, true);
      headerLength = 8;
    }
    if (length === 0xffffffff) {
      throw new Part10Error(part10ErrorCodes.invalidMeta, `(${hex(tag)}) length`, `meta element (${hex(tag)}) has undefined length`);
    }
    const valueStart = pos + headerLength;
    if (valueStart + length > bytes.length) {
      throw new Part10Error(part10ErrorCodes.truncated, `(${hex(tag)}) value`, `the bytes end inside the value of meta element (${hex(tag)})`);
    }
    if (length % 2 === 1) warnings.push(`meta element (${hex(tag)}) has odd length ${length}`);
    if (tag === 0x0002_0000) {
      if (vr !== 'UL' || length !== 4) throw new Part10Error(part10ErrorCodes.invalidMeta, 'FileMetaInformationGroupLength', 'group length must be UL of 4 bytes');
      groupEnd = valueStart + length + view.getUint32(valueStart, true);
    } else {
      const keyword = metaKeywords[tag];
      if (keyword === 'FileMetaInformationVersion') values[keyword] = Uint8Array.from(bytes.subarray(valueStart, valueStart + length));
      else if (keyword !== undefined) values[keyword] = decodeText(bytes, valueStart, valueStart + length);
    }
    pos = valueStart + length;
  }
  if (groupEnd === undefined) warnings.push('no FileMetaInformationGroupLength (0002,0000)');
  else if (groupEnd !== pos) warnings.push(`FileMetaInformationGroupLength says the meta group ends at ${groupEnd}, its elements end at ${pos}`);
  for (const required of ['MediaStorageSOPClassUID', 'MediaStorageSOPInstanceUID', 'TransferSyntaxUID'] as const) {
    if (typeof values[required] !== 'string' || values[required] === '') {
      throw new Part10Error(part10ErrorCodes.invalidMeta, required, `the meta group has no ${required} (PS3.10 7.1)`);
    }
    // They name the file's presentation context and its C-STORE: a file whose UID is not one
    // (a path, a letter) is refused here, alone, not by the association it would have broken.
    checkUid(required, values[required] as string);
  }
  if (values['ImplementationClassUID'] === undefined) {
    warnings.push('no ImplementationClassUID (0002,0012)');
    values['ImplementationClassUID'] = '';
  }
  const meta = values as unknown as FileMetaInformation;
  return { meta, datasetOffset: pos, deflated: meta.TransferSyntaxUID === deflatedExplicitVrLittleEndian, warnings };
}

export interface ReadPart10HeaderOptions {
  /** Largest head read while looking for the end of the meta group; default 1 MiB. */
  readonly maxMetaBytes?: number;
}

/** Decode the head read so far: the header, or the larger size to read next (the meta group goes on). */
function tryHead(buffer: Buffer, bytesRead: number, max: number): Part10Header | number {
  const size = buffer.length;
  try {
    return decodePart10Header(buffer.subarray(0, bytesRead), { final: bytesRead < size });
  } catch (error) {
    // The data set may start right at the end of what was read: only re-read when more exists.
    if (!(error instanceof Part10Error) || error.code !== part10ErrorCodes.truncated || bytesRead < size) throw error;
    if (size >= max) throw new Part10Error(part10ErrorCodes.metaTooLarge, 'meta group', `the meta group is larger than ${max} bytes`, { cause: error });
    return Math.min(size * 4, max);
  }
}

/**
 * Read only the head of a Part 10 file and decode its meta group. The data set is not read:
 * stream it with `openPart10DatasetStream` or `fs.createReadStream(path, { start: datasetOffset })`.
 */
export async function readPart10Header(path: string, options: ReadPart10HeaderOptions = {}): Promise<Part10Header> {
  const max = options.maxMetaBytes ?? 1 << 20;
  // node:fs/promises and node:zlib when used, not with the module: ~3 ms of every CLI start.
  const handle = await process.getBuiltinModule('node:fs/promises').open(path, 'r');
  try {
    for (let size = 4096; ; ) {
      const buffer = Buffer.alloc(size);
      const { bytesRead } = await handle.read(buffer, 0, size, 0);
      const r = tryHead(buffer, bytesRead, max);
      if (typeof r !== 'number') return r;
      size = r;
    }
  } finally {
    await handle.close();
  }
}

/**
 * `readPart10Header` with synchronous calls, and the file's size: for resolving many files at
 * once, where a thread-pool round trip per call (open, read, close, stat) costs several times the
 * calls themselves (200 small page-cached files: ~3 ms this way, 11-28 ms the other).
 */
export function readPart10HeaderSync(path: string, options: ReadPart10HeaderOptions = {}): { readonly header: Part10Header; readonly fileSize: number } {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    return { header: readPart10HeaderFromFd(fd, options), fileSize };
  } finally {
    closeSync(fd);
  }
}

let headScratch: Buffer | undefined;

/**
 * `readPart10HeaderSync` on a file already open (read from offset 0; the descriptor stays open
 * and its position is not used): a sender that streams the data set next reads it from the same
 * descriptor instead of opening the file twice.
 */
export function readPart10HeaderFromFd(fd: number, options: ReadPart10HeaderOptions = {}): Part10Header {
  const max = options.maxMetaBytes ?? 1 << 20;
  for (let size = 4096; ; ) {
    // The first read goes into one buffer kept for it: the header copies out what it keeps
    // (strings, the version bytes), and this runs synchronously, so nothing else reads it meanwhile.
    const buffer = size === 4096 ? (headScratch ??= Buffer.allocUnsafe(4096)) : Buffer.alloc(size);
    const r = tryHead(buffer, readSync(fd, buffer, 0, size, 0), max);
    if (typeof r !== 'number') return r;
    size = r;
  }
}

/**
 * The header of a Part 10 file read whole into `bytes`, with the limit `readPart10Header` puts on
 * the meta group (a file read whole to be sent is parsed from those bytes, not read again).
 */
export function decodeWholePart10Header(bytes: Uint8Array, options: ReadPart10HeaderOptions = {}): Part10Header {
  const max = options.maxMetaBytes ?? 1 << 20;
  const header = decodePart10Header(bytes, { final: true });
  if (header.datasetOffset > max) throw new Part10Error(part10ErrorCodes.metaTooLarge, 'meta group', `the meta group is larger than ${max} bytes`);
  return header;
}

export interface Part10DatasetStream {
  readonly header: Part10Header;
  /** The data set bytes from disk, never the whole file in memory. */
  readonly stream: Readable;
}

/**
 * Open the data set of a Part 10 file as a stream. With `inflate: true`, a deflated data set
 * (PS3.5 A.5) is inflated on the fly to Explicit VR Little Endian; otherwise bytes are as stored.
 */
export async function openPart10DatasetStream(
  path: string,
  options: ReadPart10HeaderOptions & { readonly inflate?: boolean; readonly highWaterMark?: number } = {},
): Promise<Part10DatasetStream> {
  const header = await readPart10Header(path, options);
  const file: ReadStream = createReadStream(path, { start: header.datasetOffset, highWaterMark: options.highWaterMark ?? 64 * 1024 });
  if (options.inflate === true && header.deflated) {
    const inflater = process.getBuiltinModule('node:zlib').createInflateRaw();
    file.on('error', (error) => inflater.destroy(error));
    return { header, stream: file.pipe(inflater) };
  }
  return { header, stream: file };
}
