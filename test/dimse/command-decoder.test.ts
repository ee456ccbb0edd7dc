import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandElement, decodeCommandSet } from '../../src/dimse/command-set.js';
import { decodeCommandDirect } from '../../src/dimse/command-decoder.js';
import { commandSpecs, decodeCommand, elementsToCommand, encodeCommand } from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import { CommandField } from '../../src/dictionary/command-field.js';
import type { CommandName } from '../../src/dictionary/command-field.js';
import { rng } from '../helpers/random.js';
import { fieldToKeyword, tables } from './command-tables.js';

type Vr = 'UL' | 'US' | 'UI' | 'AE' | 'LO' | 'AT';
const defs = Object.entries(CommandElement).filter(([k]) => k !== 'CommandGroupLength') as [string, { element: number; vr: Vr }][];

/** Raw bytes of a value of `vr`: mostly well formed, sometimes what a careless or hostile peer sends. */
function valueBytes(vr: Vr, r: () => number): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const odd = r() < 0.05;
  switch (vr) {
    case 'US': {
      const b = Buffer.alloc(odd ? pick([0, 1, 4]) : 2);
      if (b.length >= 2) b.writeUInt16LE(pick([0, 1, 0xffff, Math.floor(r() * 0x10000)]));
      return b;
    }
    case 'UL': {
      const b = Buffer.alloc(odd ? pick([0, 2, 8]) : 4);
      if (b.length >= 4) b.writeUInt32LE(pick([0, 4, 0xffffffff, Math.floor(r() * 0x100000000)]));
      return b;
    }
    case 'AT': {
      const n = Math.floor(r() * 4);
      const b = Buffer.alloc(4 * n + (odd ? 2 : 0));
      for (let i = 0; i + 4 <= b.length; i += 4) b.writeUInt32LE(Math.floor(r() * 0x100000000), i);
      return b;
    }
    default: {
      const alphabet = vr === 'UI' ? '0123456789.' : 'ABC xyz_09-.:,';
      const max = vr === 'AE' ? 16 : 64;
      const n = Math.floor(r() * (max + 1)) + (r() < 0.05 ? 40 : 0);
      const bytes: number[] = [];
      for (let i = 0; i < n; i++) bytes.push(alphabet.charCodeAt(Math.floor(r() * alphabet.length)));
      // What peers put around text: spaces either end, NULs after, a stray control or high byte.
      if (r() < 0.15) bytes.unshift(0x20);
      if (r() < 0.15) bytes.push(0x20);
      if (r() < 0.1) bytes.push(0);
      if (r() < 0.05) bytes.splice(Math.floor(r() * (bytes.length + 1)), 0, pick([0x09, 0x1b, 0x00, 0x7f, 0x80, 0xa0, 0xe9, 0xff, 0x5c]));
      if (bytes.length % 2 === 1 && r() < 0.9) bytes.push(vr === 'UI' ? 0 : 0x20);
      return Uint8Array.from(bytes);
    }
  }
}

/** A command set written by hand (so anything can be in it): elements, then what may go wrong around them. */
function randomCommandSet(r: () => number): Uint8Array {
  const names = Object.keys(commandSpecs) as CommandName[];
  const name = names[Math.floor(r() * names.length)]!;
  const spec = commandSpecs[name];
  const mine = new Set<string>([...spec.required, ...spec.optional].map((f) => fieldToKeyword[f]!));
  const required = new Set<string>(spec.required.map((f) => fieldToKeyword[f]!));
  const parts: { element: number; value: Uint8Array }[] = [];
  for (const [keyword, def] of defs) {
    let value: Uint8Array | undefined;
    if (keyword === 'CommandField') {
      if (r() < 0.98) {
        value = Buffer.alloc(2);
        (value as Buffer).writeUInt16LE(r() < 0.95 ? CommandField[name] : Math.floor(r() * 0x10000));
      }
    } else if (keyword === 'CommandDataSetType') {
      if (r() < 0.98) {
        value = Buffer.alloc(2);
        const rule = spec.dataset;
        const right = rule === 'none' ? 0x0101 : rule === 'required' ? 0x0000 : r() < 0.5 ? 0x0101 : 0x0000;
        (value as Buffer).writeUInt16LE(r() < 0.9 ? right : [0x0101, 0x0000, 0xfefe, 0x0102][Math.floor(r() * 4)]!);
      }
    } else if (required.has(keyword) ? r() < 0.97 : mine.has(keyword) ? r() < 0.5 : r() < 0.04) {
      value = valueBytes(def.vr, r);
    }
    if (value !== undefined) parts.push({ element: def.element, value });
  }
  // A retired or unknown group-0000 element now and then (PS3.7 Annex E.2).
  if (r() < 0.05) parts.push({ element: [0x0001, 0x0200, 0x0300, 0x4000, 0x5010, 0xffff][Math.floor(r() * 6)]!, value: valueBytes('UI', r) });
  parts.sort((a, b) => a.element - b.element);
  if (r() < 0.03 && parts.length > 2) {
    const i = Math.floor(r() * (parts.length - 1));
    [parts[i], parts[i + 1]] = [parts[i + 1]!, parts[i]!];
  }
  if (r() < 0.02 && parts.length > 0) parts.push(parts[parts.length - 1]!);
  let length = 0;
  for (const p of parts) length += 8 + p.value.length;
  // A status detail of another group after the command group, as DCMTK and Orthanc send it.
  const trailer = r() < 0.03 ? Buffer.from([0x08, 0x00, 0x58, 0x00, 0x04, 0x00, 0x00, 0x00, 0x31, 0x2e, 0x32, 0x00]) : Buffer.alloc(0);
  const out = Buffer.alloc(12 + length + trailer.length);
  out.writeUInt32LE(0, 0);
  out.writeUInt32LE(4, 4);
  out.writeUInt32LE(r() < 0.97 ? length : Math.floor(r() * (length + 20)), 8);
  let o = 12;
  for (const p of parts) {
    out.writeUInt16LE(0, o);
    out.writeUInt16LE(p.element, o + 2);
    out.writeUInt32LE(p.value.length, o + 4);
    out.set(p.value, o + 8);
    o += 8 + p.value.length;
  }
  out.set(trailer, o);
  // Damage: a byte changed, or the end cut off.
  if (r() < 0.03) out[Math.floor(r() * out.length)] = Math.floor(r() * 256);
  if (r() < 0.03) return out.subarray(0, Math.floor(r() * out.length));
  return out;
}

type Outcome = { readonly command: unknown; readonly warnings: string[] } | { readonly error: string; readonly warnings: string[] };

function outcome(decode: (bytes: Uint8Array, onWarning: (m: string) => void) => DimseCommand, bytes: Uint8Array): Outcome {
  const warnings: string[] = [];
  try {
    return { command: decode(bytes, (m) => warnings.push(m)), warnings };
  } catch (error) {
    return { error: `${(error as Error).constructor.name}: ${(error as Error).message}`, warnings };
  }
}

const generic = (bytes: Uint8Array, onWarning: (m: string) => void): DimseCommand => elementsToCommand(decodeCommandSet(bytes, { onWarning }));
const current = (bytes: Uint8Array, onWarning: (m: string) => void): DimseCommand => decodeCommand(bytes, { onWarning });

test('decodeCommand gives the generic decoder\'s message, error or warnings for random and damaged command sets', () => {
  const r = rng(21);
  let direct = 0;
  let failures = 0;
  const cases = 20_000;
  for (let i = 0; i < cases; i++) {
    const bytes = randomCommandSet(r);
    const expected = outcome(generic, bytes);
    assert.deepEqual(outcome(current, bytes), expected, `case ${i}: ${Buffer.from(bytes).toString('hex')}`);
    const fast = decodeCommandDirect(bytes, tables);
    if (fast !== undefined) {
      // What the direct path reads must be exactly what the generic path makes of the same bytes.
      assert.deepEqual({ command: fast, warnings: [] }, expected, `case ${i} (direct): ${Buffer.from(bytes).toString('hex')}`);
      direct++;
    }
    if ('error' in expected) failures++;
  }
  // Both paths were exercised (else the comparison proves little).
  assert.ok(direct > cases * 0.3, `only ${direct} of ${cases} read directly`);
  assert.ok(failures > cases * 0.05, `only ${failures} of ${cases} refused`);
});

test('the command sets we send are read directly, and the message keeps no view of the bytes', () => {
  const uid = '1.2.826.0.1.3680043.8.498.12345678901234567890123456789012345678';
  const commands: DimseCommand[] = [
    { type: 'C-STORE-RQ', messageId: 7, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7', affectedSopInstanceUid: uid, priority: 0, moveOriginatorApplicationEntityTitle: 'MOVER', moveOriginatorMessageId: 3 },
    { type: 'C-STORE-RSP', messageIdBeingRespondedTo: 7, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7', affectedSopInstanceUid: uid, status: 0xb000, offendingElement: [0x00100010], errorComment: 'coerced' },
    { type: 'C-FIND-RSP', messageIdBeingRespondedTo: 2, status: 0xff00, hasDataset: true },
    { type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: '1.2.840.10008.1.1' },
    { type: 'C-CANCEL-RQ', messageIdBeingRespondedTo: 9 },
  ];
  for (const command of commands) {
    const bytes = Buffer.from(encodeCommand(command));
    const fast = decodeCommandDirect(bytes, tables);
    assert.notEqual(fast, undefined, command.type);
    assert.deepEqual(fast, generic(bytes, () => undefined));
    bytes.fill(0x39);
    assert.deepEqual(fast, generic(Buffer.from(encodeCommand(command)), () => undefined), `${command.type} changed with its bytes`);
  }
});
