/**
 * The command set of a message written straight from its fields into one buffer: every message
 * sent passes here (a C-STORE-RSP per instance received, a C-STORE-RQ per instance sent). The
 * generic path (commandToElements, then encodeCommandSet) builds an object of keywords, sorts its
 * entries and allocates a buffer per element: a good part of the CPU spent answering a small
 * instance. Per command type the elements it may carry are laid out once, in ascending tag order
 * (PS3.7 E.1), with CommandField and CommandDataSetType among them.
 *
 * This path only encodes what it can prove valid; anything else (a missing or foreign field, a
 * value out of range or with a character the VR does not allow) returns undefined and the caller
 * takes the generic path, which throws the error naming the field. The bytes are the generic
 * encoder's, byte for byte (test/dimse/command-encoder.test.ts compares them).
 */
import { CommandDataSetTypeNull, CommandDataSetTypePresent, CommandField } from '../dictionary/command-field.js';
import type { CommandName } from '../dictionary/command-field.js';
import { CommandElement } from './command-set.js';

/** How one element is written: from a field of the message, or a constant of its type. */
interface Slot {
  readonly element: number;
  readonly vr: 'UL' | 'US' | 'UI' | 'AE' | 'LO' | 'AT';
  /** The message's field; undefined for CommandField and CommandDataSetType. */
  readonly field: string | undefined;
  readonly required: boolean;
}

interface Plan {
  readonly slots: readonly Slot[];
  /** Fields the message may have (besides type, hasDataset, statusDetail). */
  readonly allowed: ReadonlySet<string>;
  readonly commandField: number;
  readonly dataset: 'required' | 'none' | 'optional';
}

/** What the plans are built from (messages.ts passes its tables in, so neither module imports the other's values at load). */
export interface CommandTables {
  readonly specs: { readonly [N in CommandName]: { readonly required: readonly string[]; readonly optional: readonly string[]; readonly dataset: 'required' | 'none' | 'optional' } };
  readonly fieldToKeyword: { readonly [field: string]: string };
}

const CF_ELEMENT = CommandElement.CommandField.element;
const DST_ELEMENT = CommandElement.CommandDataSetType.element;

function buildPlans(tables: CommandTables): Map<string, Plan> {
  const plans = new Map<string, Plan>();
  for (const name of Object.keys(tables.specs) as CommandName[]) {
    const spec = tables.specs[name];
    const slots: Slot[] = [
      { element: CF_ELEMENT, vr: 'US', field: undefined, required: true },
      { element: DST_ELEMENT, vr: 'US', field: undefined, required: true },
    ];
    for (const [list, required] of [[spec.required, true], [spec.optional, false]] as const) {
      for (const field of list) {
        const def = (CommandElement as Record<string, { element: number; vr: Slot['vr'] }>)[tables.fieldToKeyword[field]!]!;
        slots.push({ element: def.element, vr: def.vr, field, required });
      }
    }
    slots.sort((a, b) => a.element - b.element);
    plans.set(name, { slots, allowed: new Set([...spec.required, ...spec.optional]), commandField: CommandField[name], dataset: spec.dataset });
  }
  return plans;
}

let plans: Map<string, Plan> | undefined;

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** Bytes of a string value (padded to even), or -1 when a character or the length is not allowed. */
function stringLength(vr: Slot['vr'], value: unknown): number {
  if (typeof value !== 'string') return -1;
  const n = value.length;
  if (n > (vr === 'AE' ? 16 : 64)) return -1;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (vr === 'UI') {
      if (c !== 0x2e && (c < 0x30 || c > 0x39)) return -1;
    } else if (c > 0x7e || c === 0x5c || (c < 0x20 && !(vr === 'LO' && c === 0x1b))) {
      return -1;
    }
  }
  return n + (n & 1);
}

const isUint = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/** Length of a value as encoded, or -1 when the generic path must judge it. */
function valueLength(vr: Slot['vr'], value: unknown): number {
  switch (vr) {
    case 'US':
      return isUint(value, 0xffff) ? 2 : -1;
    case 'UL':
      return isUint(value, 0xffffffff) ? 4 : -1;
    case 'AT': {
      if (!Array.isArray(value)) return -1;
      for (let i = 0; i < value.length; i++) if (!isUint((value as unknown[])[i], 0xffffffff)) return -1;
      return 4 * value.length;
    }
    default:
      return stringLength(vr, value);
  }
}

/**
 * The command set of `command` (CommandGroupLength first), or undefined when the generic encoder
 * must be asked (it then throws the precise error, or encodes what this path does not prove).
 */
export function encodeCommandDirect(command: object, tables: CommandTables): Uint8Array | undefined {
  const src = command as Record<string, unknown>;
  const plan = (plans ??= buildPlans(tables)).get(src['type'] as string);
  if (plan === undefined) return undefined;
  for (const key in src) {
    if (key === 'type' || key === 'hasDataset' || key === 'statusDetail') continue;
    if (src[key] !== undefined && !plan.allowed.has(key)) return undefined;
  }
  const has = src['hasDataset'];
  let present: boolean;
  if (plan.dataset === 'none') {
    if (has === true) return undefined;
    present = false;
  } else if (plan.dataset === 'required') {
    if (has === false) return undefined;
    present = true;
  } else {
    present = has === true;
  }
  const dataSetType = present ? CommandDataSetTypePresent : CommandDataSetTypeNull;
  const slots = plan.slots;
  let groupLength = 0;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.field === undefined) {
      groupLength += 10;
      continue;
    }
    const v = src[s.field];
    if (v === undefined) {
      if (s.required) return undefined;
      continue;
    }
    const n = valueLength(s.vr, v);
    if (n < 0) return undefined;
    groupLength += 8 + n;
  }
  // Written byte by byte: Buffer's writeUInt*LE and write() check their arguments at a cost that
  // was most of this function's (and its only garbage, with the values as heap numbers).
  const out = Buffer.allocUnsafe(12 + groupLength);
  put32(out, 0, 0); // (0000,0000)
  put32(out, 4, 4);
  put32(out, 8, groupLength);
  let o = 12;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    const v = s.field === undefined ? (s.element === CF_ELEMENT ? plan.commandField : dataSetType) : src[s.field];
    if (v === undefined) continue;
    put16(out, o, 0);
    put16(out, o + 2, s.element);
    o += 8;
    switch (s.vr) {
      case 'US':
        put32(out, o - 4, 2);
        put16(out, o, v as number);
        o += 2;
        break;
      case 'UL':
        put32(out, o - 4, 4);
        put32(out, o, v as number);
        o += 4;
        break;
      case 'AT': {
        const tags = v as readonly number[];
        put32(out, o - 4, 4 * tags.length);
        for (let t = 0; t < tags.length; t++) {
          // AT is a pair of US: group then element, each little endian (PS3.5 6.2).
          put16(out, o, tags[t]! >>> 16);
          put16(out, o + 2, tags[t]! & 0xffff);
          o += 4;
        }
        break;
      }
      default: {
        const str = v as string;
        const n = str.length;
        const padded = n + (n & 1);
        put32(out, o - 4, padded);
        // Checked above: every character is ASCII.
        for (let c = 0; c < n; c++) out[o + c] = str.charCodeAt(c);
        // UI pads with NUL, the other string VRs with a space (PS3.5 6.2).
        if (n & 1) out[o + n] = s.vr === 'UI' ? 0 : 0x20;
        o += padded;
      }
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
