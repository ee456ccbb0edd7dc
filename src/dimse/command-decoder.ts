/**
 * A received command set read straight into the fields of its typed message: every message
 * received passes here (a C-STORE-RQ per instance stored, a C-STORE-RSP per instance sent). The
 * generic path (decodeCommandSet, then elementsToCommand) builds an object of keywords first, a
 * DataView and a buffer view per element and a view per text value, then copies the object into
 * the message.
 *
 * This path reads only what it can prove well formed: a CommandGroupLength that matches, every
 * element a known one of group 0000 in ascending order with its VR's length, short ASCII text, a
 * known Command Field with its required elements and a CommandDataSetType its rule allows.
 * Anything else (a malformed command, a peer's tolerated oddity, retired or foreign elements)
 * returns undefined and the caller takes the generic path, which throws the error or reports the
 * warning. The message is the generic path's, field for field (test/dimse/command-decoder.test.ts
 * compares them on random and mutated command sets).
 */
import { CommandDataSetTypeNull, CommandField } from '../dictionary/command-field.js';
import type { CommandName } from '../dictionary/command-field.js';
import { CommandElement, MAX_COMMAND_SET_LENGTH } from './command-set.js';
import type { CommandTables } from './command-encoder.js';

type Vr = 'UL' | 'US' | 'UI' | 'AE' | 'LO' | 'AT';

/** Per element: its slot in the scratch array and its VR. */
interface ElementDef {
  readonly slot: number;
  readonly vr: Vr;
}

/** Per command: where each of its fields is read from (required, then optional: the generic order). */
interface Plan {
  readonly type: CommandName;
  readonly required: readonly { readonly field: string; readonly slot: number }[];
  readonly optional: readonly { readonly field: string; readonly slot: number }[];
  readonly dataset: 'required' | 'none' | 'optional';
}

interface Decoder {
  /** Element number → definition; undefined for an element this path leaves to the generic one. */
  readonly byElement: (ElementDef | undefined)[];
  readonly plans: Map<number, Plan>;
  readonly commandFieldSlot: number;
  readonly dataSetTypeSlot: number;
  /** One value per element slot, reset after each decode (decoding is synchronous, never re-entered). */
  readonly values: unknown[];
}

let decoder: Decoder | undefined;

function build(tables: CommandTables): Decoder {
  const byElement: (ElementDef | undefined)[] = [];
  const slotOf = new Map<string, number>();
  let slots = 0;
  for (const [keyword, def] of Object.entries(CommandElement) as [string, { element: number; vr: Vr }][]) {
    if (keyword === 'CommandGroupLength') continue;
    slotOf.set(keyword, slots);
    byElement[def.element] = { slot: slots++, vr: def.vr };
  }
  const plans = new Map<number, Plan>();
  for (const type of Object.keys(tables.specs) as CommandName[]) {
    const spec = tables.specs[type];
    const fields = (list: readonly string[]): { field: string; slot: number }[] => list.map((field) => ({ field, slot: slotOf.get(tables.fieldToKeyword[field]!)! }));
    plans.set(CommandField[type], { type, required: fields(spec.required), optional: fields(spec.optional), dataset: spec.dataset });
  }
  return {
    byElement,
    plans,
    commandFieldSlot: slotOf.get('CommandField')!,
    dataSetTypeSlot: slotOf.get('CommandDataSetType')!,
    values: new Array<unknown>(slots).fill(undefined),
  };
}

/**
 * Buffer's own latin1 reader (what `toString('latin1', …)` calls), which takes any Uint8Array:
 * no view per value. Where a runtime lacks it, a view and String.fromCharCode.
 */
const latin1Slice: (this: Uint8Array, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice ??
  function (this: Uint8Array, start: number, end: number): string {
    return String.fromCharCode.apply(null, this.subarray(start, end) as unknown as number[]);
  };

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * Text of a value of at most 64 bytes, all ASCII (the bytes the generic path reads byte by byte
 * too), without trailing NULs (and spaces when `spaces`); undefined when the generic path must
 * read it (longer, other bytes).
 */
function text(b: Uint8Array, from: number, to: number, spaces: boolean): string | undefined {
  while (to > from && (b[to - 1] === 0 || (spaces && b[to - 1] === 0x20))) to--;
  if (to - from > 64) return undefined;
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c >= 0x80) return undefined;
  }
  return latin1Slice.call(b, from, to);
}

function clear(values: unknown[]): undefined {
  values.fill(undefined);
  return undefined;
}

/**
 * The message of command-set `bytes`, or undefined when the generic decoder must judge them.
 * The message keeps no view of `bytes`: the caller may reuse them at once.
 */
export function decodeCommandDirect(bytes: Uint8Array, tables: CommandTables): object | undefined {
  const n = bytes.length;
  if (n < 12 || n > MAX_COMMAND_SET_LENGTH + 12) return undefined;
  const b = bytes;
  // (0000,0000) UL of length 4 whose value is what follows it.
  if (u32(b, 0) !== 0 || u32(b, 4) !== 4 || u32(b, 8) !== n - 12) return undefined;
  const d = (decoder ??= build(tables));
  const values = d.values;
  let o = 12;
  let previous = 0;
  while (o < n) {
    if (n - o < 8) return clear(values);
    const element = u16(b, o + 2);
    const length = u32(b, o + 4);
    if (u16(b, o) !== 0 || element <= previous || length > n - o - 8) return clear(values);
    previous = element;
    const def = d.byElement[element];
    if (def === undefined) return clear(values);
    const at = o + 8;
    o = at + length;
    let v: unknown;
    switch (def.vr) {
      case 'US':
        if (length !== 2) return clear(values);
        v = u16(b, at);
        break;
      case 'UL':
        if (length !== 4) return clear(values);
        v = u32(b, at);
        break;
      case 'AT': {
        if (length % 4 !== 0) return clear(values);
        const tags: number[] = [];
        for (let i = at; i < o; i += 4) tags.push(((u16(b, i) << 16) | u16(b, i + 2)) >>> 0);
        v = tags;
        break;
      }
      case 'UI':
        // NUL padding, and a trailing space some peers send (PS3.5 9.1), as the generic path.
        v = text(b, at, o, true);
        if (v === undefined) return clear(values);
        break;
      default: {
        // AE and LO: leading and trailing spaces are not significant (PS3.5 Table 6.2-1).
        const s = text(b, at, o, false);
        if (s === undefined) return clear(values);
        v = s.trim();
      }
    }
    values[def.slot] = v;
  }
  const cf = values[d.commandFieldSlot] as number | undefined;
  const plan = cf === undefined ? undefined : d.plans.get(cf);
  const dataSetType = values[d.dataSetTypeSlot] as number | undefined;
  if (plan === undefined || dataSetType === undefined) return clear(values);
  const has = dataSetType !== CommandDataSetTypeNull;
  // A dataset where the command never has one, or none where it always has: the generic path names it.
  if ((plan.dataset === 'none' && has) || (plan.dataset === 'required' && !has)) return clear(values);
  const out: Record<string, unknown> = { type: plan.type };
  for (let i = 0; i < plan.required.length; i++) {
    const f = plan.required[i]!;
    const v = values[f.slot];
    if (v === undefined) return clear(values);
    out[f.field] = v;
  }
  for (let i = 0; i < plan.optional.length; i++) {
    const f = plan.optional[i]!;
    const v = values[f.slot];
    if (v !== undefined) out[f.field] = v;
  }
  out['hasDataset'] = has;
  clear(values);
  return out;
}
