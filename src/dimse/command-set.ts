import { CommandSetDecodeError, CommandSetEncodeError } from './errors.js';

/**
 * The DIMSE command set codec: group 0000, always Implicit VR Little Endian (PS3.7 Section 6.3.1,
 * Annex E). Hand-written because it is tiny, fixed-VR and on every message's path.
 *
 * Element layout (PS3.5 7.1.3, implicit VR):
 *   offset 0  group   uint16 LE (always 0x0000 here)
 *   offset 2  element uint16 LE
 *   offset 4  length  uint32 LE (even)
 *   offset 8  value
 */

type Vr = 'UL' | 'US' | 'UI' | 'AE' | 'LO' | 'AT';

/** PS3.7 Table E.1-1: every command element, keyword → tag element number and VR. */
export const CommandElement = {
  CommandGroupLength: { element: 0x0000, vr: 'UL' },
  AffectedSOPClassUID: { element: 0x0002, vr: 'UI' },
  RequestedSOPClassUID: { element: 0x0003, vr: 'UI' },
  CommandField: { element: 0x0100, vr: 'US' },
  MessageID: { element: 0x0110, vr: 'US' },
  MessageIDBeingRespondedTo: { element: 0x0120, vr: 'US' },
  MoveDestination: { element: 0x0600, vr: 'AE' },
  Priority: { element: 0x0700, vr: 'US' },
  CommandDataSetType: { element: 0x0800, vr: 'US' },
  Status: { element: 0x0900, vr: 'US' },
  OffendingElement: { element: 0x0901, vr: 'AT' },
  ErrorComment: { element: 0x0902, vr: 'LO' },
  ErrorID: { element: 0x0903, vr: 'US' },
  AffectedSOPInstanceUID: { element: 0x1000, vr: 'UI' },
  RequestedSOPInstanceUID: { element: 0x1001, vr: 'UI' },
  EventTypeID: { element: 0x1002, vr: 'US' },
  AttributeIdentifierList: { element: 0x1005, vr: 'AT' },
  ActionTypeID: { element: 0x1008, vr: 'US' },
  NumberOfRemainingSuboperations: { element: 0x1020, vr: 'US' },
  NumberOfCompletedSuboperations: { element: 0x1021, vr: 'US' },
  NumberOfFailedSuboperations: { element: 0x1022, vr: 'US' },
  NumberOfWarningSuboperations: { element: 0x1023, vr: 'US' },
  MoveOriginatorApplicationEntityTitle: { element: 0x1030, vr: 'AE' },
  MoveOriginatorMessageID: { element: 0x1031, vr: 'US' },
} as const satisfies Record<string, { element: number; vr: Vr }>;
export type CommandElementKeyword = Exclude<keyof typeof CommandElement, 'CommandGroupLength'>;

type ValueOf<V extends Vr> = V extends 'US' | 'UL' ? number : V extends 'AT' ? readonly number[] : string;

/**
 * A decoded command set keyed by the standard's keywords. AT values are tags as uint32
 * (group << 16 | element). CommandGroupLength is not kept: it is computed on encode and checked on decode.
 */
export type CommandSetElements = {
  readonly [K in CommandElementKeyword]?: ValueOf<(typeof CommandElement)[K]['vr']>;
} & {
  /** Group-0000 elements this implementation does not know (e.g. retired ones, PS3.7 Annex E.2), verbatim. */
  readonly unknownElements?: readonly { readonly element: number; readonly value: Uint8Array }[];
  /**
   * Elements of other groups after the command group (implicit VR little endian, verbatim): DCMTK
   * moves a response's "status detail" there, e.g. Orthanc's Failed SOP Instance UID List (0008,0058)
   * of a failed C-GET, which PS3.7 puts in the response's data set. Decode only; never encoded.
   */
  readonly statusDetail?: Uint8Array;
};

const byElement: ReadonlyMap<number, { keyword: CommandElementKeyword; vr: Vr }> = new Map(
  (Object.entries(CommandElement) as [keyof typeof CommandElement, { element: number; vr: Vr }][])
    .filter(([k]) => k !== 'CommandGroupLength')
    .map(([k, d]) => [d.element, { keyword: k as CommandElementKeyword, vr: d.vr }]),
);

/** A command set larger than this is refused (it is a handful of elements; 64 KiB is generous). */
export const MAX_COMMAND_SET_LENGTH = 0x10000;

const latin1 = new TextDecoder('latin1');

/**
 * A value's text without its trailing NUL padding (and trailing spaces too when `spaces`). Short
 * ASCII values (every UID, AE title and most comments) are read byte by byte: TextDecoder's
 * per-call cost and a regular expression per value were a tenth of decoding a command. Other
 * bytes keep the decoder's mapping ('latin1' is windows-1252 there).
 */
function valueText(value: Uint8Array, spaces: boolean): string {
  let end = value.length;
  while (end > 0 && (value[end - 1] === 0 || (spaces && value[end - 1] === 0x20))) end--;
  if (end <= 64) {
    let ascii = true;
    for (let i = 0; i < end; i++) if (value[i]! >= 0x80) { ascii = false; break; }
    if (ascii) return String.fromCharCode.apply(null, value.subarray(0, end) as unknown as number[]);
  }
  return spaces ? latin1.decode(value).replace(/[\0 ]+$/, '') : latin1.decode(value).replace(/\0+$/, '');
}

function encodeString(keyword: string, vr: Vr, value: unknown): Uint8Array {
  if (typeof value !== 'string') throw new CommandSetEncodeError(keyword, `must be a string, got ${typeof value}`);
  // UI: only digits and dots (PS3.5 9.1); AE/LO: default character repertoire, no backslash.
  if (vr === 'UI' && !/^[0-9.]*$/.test(value)) throw new CommandSetEncodeError(keyword, `invalid UID "${value}"`);
  if (vr === 'UI' && value.length > 64) throw new CommandSetEncodeError(keyword, 'UID longer than 64 characters');
  if (vr === 'AE' && value.length > 16) throw new CommandSetEncodeError(keyword, 'AE title longer than 16 characters');
  if (vr === 'LO' && value.length > 64) throw new CommandSetEncodeError(keyword, 'longer than 64 characters');
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Default repertoire only; LO may carry ESC (for ISO 2022 escapes), never other controls.
    if (c > 0x7e || c === 0x5c || (c < 0x20 && !(vr === 'LO' && c === 0x1b))) {
      throw new CommandSetEncodeError(keyword, `character 0x${c.toString(16)} not allowed in ${vr}`);
    }
  }
  const padded = value.length % 2 === 1 ? value + (vr === 'UI' ? '\0' : ' ') : value;
  return Buffer.from(padded, 'latin1');
}

function checkUint(keyword: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new CommandSetEncodeError(keyword, `must be an integer 0–${max}, got ${String(value)}`);
  }
  return value;
}

function encodeValue(keyword: string, vr: Vr, value: unknown): Uint8Array {
  switch (vr) {
    case 'US': {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(checkUint(keyword, value, 0xffff));
      return b;
    }
    case 'UL': {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(checkUint(keyword, value, 0xffffffff));
      return b;
    }
    case 'AT': {
      if (!Array.isArray(value)) throw new CommandSetEncodeError(keyword, 'must be an array of tags');
      const b = Buffer.alloc(4 * value.length);
      value.forEach((t: unknown, i) => {
        const tag = checkUint(keyword, t, 0xffffffff);
        // AT is a pair of US: group then element, each little endian (PS3.5 6.2).
        b.writeUInt16LE(tag >>> 16, 4 * i);
        b.writeUInt16LE(tag & 0xffff, 4 * i + 2);
      });
      return b;
    }
    default:
      return encodeString(keyword, vr, value);
  }
}

/** Encode a command set; elements in ascending tag order, CommandGroupLength first (PS3.7 E.1). */
export function encodeCommandSet(elements: CommandSetElements): Uint8Array {
  const parts: { element: number; value: Uint8Array }[] = [];
  for (const [keyword, value] of Object.entries(elements)) {
    if (keyword === 'unknownElements' || keyword === 'statusDetail' || value === undefined) continue;
    const def = (CommandElement as Record<string, { element: number; vr: Vr }>)[keyword];
    if (def === undefined || keyword === 'CommandGroupLength') {
      throw new CommandSetEncodeError(keyword, 'not a command element this codec encodes');
    }
    parts.push({ element: def.element, value: encodeValue(keyword, def.vr, value) });
  }
  for (const u of elements.unknownElements ?? []) {
    if (byElement.has(u.element) || u.element === 0) {
      throw new CommandSetEncodeError(`(0000,${u.element.toString(16)})`, 'known element given as unknown');
    }
    // Every value has an even length (PS3.5 7.1.1); an odd one would make the command set odd.
    if (u.value.length % 2 === 1) throw new CommandSetEncodeError(`(0000,${u.element.toString(16)})`, `value of odd length ${u.value.length}`);
    parts.push(u);
  }
  parts.sort((a, b) => a.element - b.element);
  let groupLength = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (i > 0 && parts[i - 1]!.element === p.element) {
      throw new CommandSetEncodeError(`(0000,${p.element.toString(16)})`, 'element given twice');
    }
    if (p.value.length % 2 !== 0) throw new CommandSetEncodeError(`(0000,${p.element.toString(16)})`, 'odd length');
    groupLength += 8 + p.value.length;
  }
  const out = Buffer.alloc(12 + groupLength);
  out.writeUInt16LE(0x0000, 0);
  out.writeUInt16LE(0x0000, 2);
  out.writeUInt32LE(4, 4);
  out.writeUInt32LE(groupLength, 8);
  let o = 12;
  for (const p of parts) {
    out.writeUInt16LE(0x0000, o);
    out.writeUInt16LE(p.element, o + 2);
    out.writeUInt32LE(p.value.length, o + 4);
    out.set(p.value, o + 8);
    o += 8 + p.value.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

function elementName(element: number): string {
  return `(0000,${element.toString(16).padStart(4, '0').toUpperCase()})`;
}

export interface DecodeCommandSetOptions {
  /** Called for what is wrong but tolerated (a CommandGroupLength that does not match). */
  readonly onWarning?: (message: string) => void;
}

/**
 * Decode a command set. Checks: CommandGroupLength first, every element in group 0000, ascending
 * order, values within the buffer, fixed VR lengths.
 *
 * A CommandGroupLength that differs from the bytes that follow is tolerated when the elements
 * themselves fill the buffer exactly, and reported to `onWarning`: Orthanc 1.10.1 adds the
 * error comment of a failed C-GET to the final C-GET-RSP after the length was computed, and
 * DCMTK reads a command set without using its group length (dimse.cc: EGL_withoutGL).
 */
export function decodeCommandSet(bytes: Uint8Array, options: DecodeCommandSetOptions = {}): CommandSetElements {
  if (bytes.length > MAX_COMMAND_SET_LENGTH + 12) {
    throw new CommandSetDecodeError(`command set of ${bytes.length} bytes exceeds the limit`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12) throw new CommandSetDecodeError(`command set truncated: ${bytes.length} bytes, CommandGroupLength needs 12`);
  if (view.getUint16(0, true) !== 0 || view.getUint16(2, true) !== 0 || view.getUint32(4, true) !== 4) {
    throw new CommandSetDecodeError('command set does not start with CommandGroupLength (0000,0000) of length 4');
  }
  const groupLength = view.getUint32(8, true);
  // Checked once the elements are known to be intact (below): a mismatch alone is tolerated.
  const lengthMismatch = groupLength !== bytes.length - 12 ? `CommandGroupLength is ${groupLength} but ${bytes.length - 12} bytes follow it` : undefined;
  const out: Record<string, unknown> = {};
  const unknown: { element: number; value: Uint8Array }[] = [];
  let o = 12;
  let previous = 0;
  while (o < bytes.length) {
    if (bytes.length - o < 8) throw new CommandSetDecodeError(`element header truncated at offset ${o}${lengthMismatch === undefined ? '' : ` (${lengthMismatch})`}`);
    const group = view.getUint16(o, true);
    const element = view.getUint16(o + 2, true);
    const length = view.getUint32(o + 4, true);
    if (group !== 0 && o === 12 + groupLength) {
      // The command group ended where its length says; what follows is another group.
      out['statusDetail'] = bytes.subarray(o);
      options.onWarning?.(`${bytes.length - o} bytes of group ${group.toString(16).padStart(4, '0')} follow the command group (status detail); kept apart from the command, as DCMTK keeps them`);
      break;
    }
    if (group !== 0) {
      throw new CommandSetDecodeError(`element (${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')}) at offset ${o} is not in group 0000`);
    }
    if (element <= previous) throw new CommandSetDecodeError(`${elementName(element)} out of ascending order at offset ${o}`);
    previous = element;
    if (length > bytes.length - o - 8) {
      throw new CommandSetDecodeError(`${elementName(element)} value length ${length} exceeds the command set${lengthMismatch === undefined ? '' : ` (${lengthMismatch})`}`);
    }
    const value = bytes.subarray(o + 8, o + 8 + length);
    o += 8 + length;
    const def = byElement.get(element);
    if (def === undefined) {
      unknown.push({ element, value });
      continue;
    }
    const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
    switch (def.vr) {
      case 'US':
        if (length !== 2) throw new CommandSetDecodeError(`${def.keyword} ${elementName(element)} has length ${length}, US needs 2`);
        out[def.keyword] = dv.getUint16(0, true);
        break;
      case 'UL':
        if (length !== 4) throw new CommandSetDecodeError(`${def.keyword} ${elementName(element)} has length ${length}, UL needs 4`);
        out[def.keyword] = dv.getUint32(0, true);
        break;
      case 'AT': {
        if (length % 4 !== 0) throw new CommandSetDecodeError(`${def.keyword} ${elementName(element)} has length ${length}, AT needs a multiple of 4`);
        const tags: number[] = [];
        for (let i = 0; i < length; i += 4) {
          tags.push(((dv.getUint16(i, true) << 16) | dv.getUint16(i + 2, true)) >>> 0);
        }
        out[def.keyword] = tags;
        break;
      }
      case 'UI':
        // UI is padded with NUL, tolerate a trailing space as some peers send (PS3.5 9.1).
        out[def.keyword] = valueText(value, true);
        break;
      default:
        // AE and LO: leading and trailing spaces are not significant (PS3.5 Table 6.2-1).
        out[def.keyword] = valueText(value, false).trim();
    }
  }
  if (unknown.length > 0) out['unknownElements'] = unknown;
  if (lengthMismatch !== undefined && out['statusDetail'] === undefined) options.onWarning?.(`${lengthMismatch}; the elements are intact, so the command is accepted as DCMTK accepts it`);
  return out as CommandSetElements;
}
