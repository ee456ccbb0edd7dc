import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandField } from '../../src/dictionary/command-field.js';
import { VerificationSopClass, StorageSopClass } from '../../src/dictionary/uids.js';
import { decodeCommandSet, encodeCommandSet } from '../../src/dimse/command-set.js';
import { InvalidCommandError } from '../../src/dimse/errors.js';
import {
  commandHasDataset,
  commandSpecs,
  commandToElements,
  decodeCommand,
  elementsToCommand,
  encodeCommand,
  isRequest,
} from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import { dimseExamples } from '../helpers/dimse-examples.js';

const examples = dimseExamples;
const CT = StorageSopClass.CtImageStorage;

test('every command has an example and round-trips through bytes', () => {
  assert.deepEqual(new Set(examples.map((e) => e.type)), new Set(Object.keys(CommandField)));
  for (const m of examples) {
    const bytes = encodeCommand(m);
    const elements = decodeCommandSet(bytes);
    assert.equal(elements.CommandField, CommandField[m.type], m.type);
    assert.deepEqual(decodeCommand(bytes), m, m.type);
    assert.equal(commandHasDataset(m), m.hasDataset, m.type);
    assert.equal(isRequest(m), m.type.endsWith('-RQ'));
  }
});

test('golden: C-ECHO-RQ from a message equals what echoscu sends', () => {
  const hex = Buffer.from(encodeCommand({ type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: VerificationSopClass })).toString('hex');
  assert.equal(hex, '00000000040000003800000000000200120000003' + '12e322e3834302e31303030382e312e3100' + '00000001020000003000000010010200000001000000000802000000' + '0101');
});

test('the dataset flag follows the command: defaults, 0x0101, and refusals', () => {
  const store = commandToElements({ type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2', priority: 0 });
  assert.equal(store.CommandDataSetType, 0x0000);
  const echo = commandToElements({ type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: VerificationSopClass });
  assert.equal(echo.CommandDataSetType, 0x0101);
  const nEvent = commandToElements({ type: 'N-EVENT-REPORT-RQ', messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3', eventTypeId: 1 });
  assert.equal(nEvent.CommandDataSetType, 0x0101);
  // Any value other than 0x0101 means a dataset follows (PS3.7 E.1-1); DCMTK sends 0x0102 sometimes.
  const findBytes = encodeCommandSet({ ...commandToElements(examples[2]!), CommandDataSetType: 0x0102 });
  assert.equal(decodeCommand(findBytes).hasDataset, true);
  assert.throws(
    () => elementsToCommand({ ...commandToElements(examples[0]!), CommandDataSetType: 0x0101 }),
    (e: unknown) => e instanceof InvalidCommandError && e.command === 'C-STORE-RQ' && e.field === 'CommandDataSetType',
  );
  assert.throws(
    () => elementsToCommand({ ...echo, CommandDataSetType: 0 }),
    (e: unknown) => e instanceof InvalidCommandError && e.field === 'CommandDataSetType',
  );
  assert.throws(() => commandToElements({ type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: '1.2', hasDataset: true as never }), InvalidCommandError);
});

test('every required field of every command is checked, on encode and on decode', () => {
  for (const m of examples) {
    for (const field of commandSpecs[m.type].required) {
      const without = { ...m, [field]: undefined } as unknown as DimseCommand;
      assert.throws(
        () => commandToElements(without),
        (e: unknown) => e instanceof InvalidCommandError && e.code === 'DICOM_ERR_INVALID_COMMAND' && e.command === m.type && /missing/.test(e.message),
        `${m.type} without ${field}`,
      );
      const elements: Record<string, unknown> = { ...commandToElements(m) };
      const keyword = Object.keys(elements).find((k) => k.toLowerCase().replace(/sop/g, 'sop') === field.toLowerCase()) ?? '';
      if (keyword !== '') {
        delete elements[keyword];
        assert.throws(() => elementsToCommand(elements), (e: unknown) => e instanceof InvalidCommandError && e.field === keyword);
      }
    }
  }
  assert.throws(() => elementsToCommand({ MessageID: 1 }), (e: unknown) => e instanceof InvalidCommandError && e.field === 'CommandField');
  assert.throws(() => elementsToCommand({ CommandField: 0x0042, CommandDataSetType: 0x0101 }), /unknown value 0x0042/);
  assert.throws(() => commandToElements({ ...examples[8]!, status: 0 } as never), (e: unknown) => e instanceof InvalidCommandError && e.field === 'status');
});

test('elements a command does not define are ignored on decode', () => {
  const elements = { ...commandToElements(examples[8]!), Priority: 1, unknownElements: [{ element: 0x4000, value: new Uint8Array(2) }] };
  assert.deepEqual(decodeCommand(encodeCommandSet(elements)), examples[8]);
});
