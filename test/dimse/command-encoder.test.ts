import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCommandSet } from '../../src/dimse/command-set.js';
import { encodeCommandDirect } from '../../src/dimse/command-encoder.js';
import { commandSpecs, commandToElements, decodeCommand, encodeCommand } from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import type { CommandName } from '../../src/dictionary/command-field.js';
import { rng } from '../helpers/random.js';
import { tables } from './command-tables.js';

function generic(command: DimseCommand): Uint8Array {
  return encodeCommandSet(commandToElements(command));
}

function valueFor(field: string, r: () => number): unknown {
  const int = (max: number): number => [0, 1, max, Math.floor(r() * (max + 1))][Math.floor(r() * 4)]!;
  const str = (alphabet: string, min: number, max: number): string => {
    const n = min + Math.floor(r() * (max - min + 1));
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
    return s;
  };
  if (field.endsWith('Uid')) return str('0123456789.', 1, 64);
  if (field === 'moveDestination' || field === 'moveOriginatorApplicationEntityTitle') return str('ABCXYZ_ 09-', 1, 16);
  if (field === 'errorComment') return str('abc XYZ 09:,.\x1b', 0, 64);
  if (field === 'offendingElement' || field === 'attributeIdentifierList') return Array.from({ length: Math.floor(r() * 4) }, () => int(0xffffffff));
  return int(0xffff);
}

function randomCommand(name: CommandName, r: () => number): DimseCommand {
  const spec = commandSpecs[name];
  const out: Record<string, unknown> = { type: name };
  for (const f of spec.required) out[f] = valueFor(f, r);
  for (const f of spec.optional) if (r() < 0.5) out[f] = valueFor(f, r);
  if (spec.dataset === 'optional') {
    const x = r();
    if (x < 0.33) out['hasDataset'] = true;
    else if (x < 0.66) out['hasDataset'] = false;
  } else if (r() < 0.5) {
    out['hasDataset'] = spec.dataset === 'required';
  }
  return out as unknown as DimseCommand;
}

test('the direct encoder writes the generic encoder\'s bytes, for every command type and many field sets', () => {
  const r = rng(21);
  let direct = 0;
  for (const name of Object.keys(commandSpecs) as CommandName[]) {
    for (let i = 0; i < 300; i++) {
      const command = randomCommand(name, r);
      const expected = Buffer.from(generic(command));
      const written = encodeCommandDirect(command, tables);
      // Every field here is valid: the direct path must take it (else the comparison proves nothing).
      assert.notEqual(written, undefined, `${JSON.stringify(command)} left to the generic path`);
      assert.deepEqual(Buffer.from(written!), expected, JSON.stringify(command));
      assert.deepEqual(Buffer.from(encodeCommand(command)), expected);
      assert.deepEqual(decodeCommand(written!), decodeCommand(expected));
      direct++;
    }
  }
  assert.equal(direct, Object.keys(commandSpecs).length * 300);
});

test('golden: a C-STORE-RSP as written directly', () => {
  const bytes = encodeCommand({ type: 'C-STORE-RSP', messageIdBeingRespondedTo: 7, status: 0, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7', affectedSopInstanceUid: '1.2.3' });
  assert.equal(
    Buffer.from(bytes).toString('hex'),
    '0000000004000000' + '58000000' +
      '00000200' + '1a000000' + Buffer.from('1.2.840.10008.5.1.4.1.1.7\0').toString('hex') +
      '00000001' + '02000000' + '0180' +
      '00002001' + '02000000' + '0700' +
      '00000008' + '02000000' + '0101' +
      '00000009' + '02000000' + '0000' +
      '00000010' + '06000000' + Buffer.from('1.2.3\0').toString('hex'),
  );
});

test('what the direct encoder cannot prove valid goes to the generic path, which throws the same error as before', () => {
  const ok = { type: 'C-STORE-RSP', messageIdBeingRespondedTo: 1, status: 0, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3' } as const;
  const bad: Record<string, unknown>[] = [
    { ...ok, status: 0x10000 },
    { ...ok, status: -1 },
    { ...ok, status: 1.5 },
    { ...ok, status: '0' },
    { ...ok, messageIdBeingRespondedTo: undefined },
    { ...ok, affectedSopInstanceUid: '1.2.a' },
    { ...ok, affectedSopInstanceUid: '1'.repeat(65) },
    { ...ok, errorComment: 'é' },
    { ...ok, errorComment: 'back\\slash' },
    { ...ok, errorComment: 'x'.repeat(65) },
    { ...ok, offendingElement: [0x100000000] },
    { ...ok, offendingElement: 'x' },
    { ...ok, priority: 0 },
    { ...ok, hasDataset: true },
    { type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3', priority: 0, hasDataset: false },
    { type: 'C-MOVE-RQ', messageId: 1, affectedSopClassUid: '1.2', priority: 0, moveDestination: 'A'.repeat(17) },
    { type: 'C-MOVE-RQ', messageId: 1, affectedSopClassUid: '1.2', priority: 0, moveDestination: 'A\x1bB' },
    { type: 'NO-SUCH-RQ', messageId: 1 },
  ];
  for (const command of bad) {
    assert.equal(encodeCommandDirect(command, tables), undefined, JSON.stringify(command));
    let expected: unknown;
    try {
      generic(command as unknown as DimseCommand);
    } catch (e) {
      expected = e;
    }
    assert.ok(expected instanceof Error, `the generic path refuses ${JSON.stringify(command)}`);
    assert.throws(() => encodeCommand(command as unknown as DimseCommand), (e: unknown) => e instanceof (expected as Error).constructor && (e as Error).message === (expected as Error).message);
  }
  // An undefined optional field is no field at all, for both.
  const withUndefined = { ...ok, errorComment: undefined } as unknown as DimseCommand;
  assert.deepEqual(Buffer.from(encodeCommandDirect(withUndefined, tables)!), Buffer.from(generic(withUndefined)));
});

test('decoded text values equal the TextDecoder reading they replace, padding and bytes above 0x7f included', async () => {
  const { decodeCommandSet } = await import('../../src/dimse/command-set.js');
  const reference = new TextDecoder('latin1');
  const r = rng(7);
  const one = (element: number, value: Uint8Array): Uint8Array => {
    const b = Buffer.alloc(12 + 8 + value.length);
    b.writeUInt32LE(4, 4);
    b.writeUInt32LE(8 + value.length, 8);
    b.writeUInt16LE(element, 14);
    b.writeUInt32LE(value.length, 16);
    b.set(value, 20);
    return b;
  };
  const alphabet = [0x00, 0x20, 0x31, 0x2e, 0x41, 0x7a, 0x7e, 0x80, 0x9f, 0xa9, 0xe9, 0xff];
  for (let i = 0; i < 2000; i++) {
    const length = 2 * Math.floor(r() * 40);
    const value = Uint8Array.from({ length }, () => (r() < 0.7 ? 0x30 + Math.floor(r() * 10) : alphabet[Math.floor(r() * alphabet.length)]!));
    const ui = decodeCommandSet(one(0x1000, value)).AffectedSOPInstanceUID;
    assert.equal(ui, reference.decode(value).replace(/[\0 ]+$/, ''), `UI ${Buffer.from(value).toString('hex')}`);
    const lo = decodeCommandSet(one(0x0902, value)).ErrorComment;
    assert.equal(lo, reference.decode(value).replace(/\0+$/, '').trim(), `LO ${Buffer.from(value).toString('hex')}`);
    const ae = decodeCommandSet(one(0x0600, value)).MoveDestination;
    assert.equal(ae, reference.decode(value).replace(/\0+$/, '').trim(), `AE ${Buffer.from(value).toString('hex')}`);
  }
});
