import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandField } from '../../src/dictionary/command-field.js';
import { VerificationSopClass, StorageSopClass, QueryRetrieveSopClass, NormalizedSopClass } from '../../src/dictionary/uids.js';
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

const CT = StorageSopClass.CtImageStorage;
const err = { offendingElement: [0x00100010], errorComment: 'bad', errorId: 3 };
const subops = {
  numberOfRemainingSuboperations: 3,
  numberOfCompletedSuboperations: 2,
  numberOfFailedSuboperations: 1,
  numberOfWarningSuboperations: 0,
};

/** One fully populated example of every command, with the dataset flag as it decodes. */
export const examples: readonly DimseCommand[] = [
  { type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3.4', priority: 0, moveOriginatorApplicationEntityTitle: 'MOVER', moveOriginatorMessageId: 9, hasDataset: true },
  { type: 'C-STORE-RSP', messageIdBeingRespondedTo: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3.4', status: 0xb000, ...err, hasDataset: false },
  { type: 'C-FIND-RQ', messageId: 2, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, priority: 2, hasDataset: true },
  { type: 'C-FIND-RSP', messageIdBeingRespondedTo: 2, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, status: 0xff00, hasDataset: true },
  { type: 'C-GET-RQ', messageId: 3, affectedSopClassUid: QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelGet, priority: 1, hasDataset: true },
  { type: 'C-GET-RSP', messageIdBeingRespondedTo: 3, status: 0xff00, ...subops, hasDataset: false },
  { type: 'C-MOVE-RQ', messageId: 4, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, priority: 0, moveDestination: 'STORESCP', hasDataset: true },
  { type: 'C-MOVE-RSP', messageIdBeingRespondedTo: 4, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, status: 0xb000, ...subops, hasDataset: true },
  { type: 'C-ECHO-RQ', messageId: 5, affectedSopClassUid: VerificationSopClass, hasDataset: false },
  { type: 'C-ECHO-RSP', messageIdBeingRespondedTo: 5, affectedSopClassUid: VerificationSopClass, status: 0, hasDataset: false },
  { type: 'C-CANCEL-RQ', messageIdBeingRespondedTo: 2, hasDataset: false },
  { type: 'N-EVENT-REPORT-RQ', messageId: 6, affectedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, affectedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, eventTypeId: 1, hasDataset: true },
  { type: 'N-EVENT-REPORT-RSP', messageIdBeingRespondedTo: 6, affectedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, affectedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, eventTypeId: 1, status: 0, hasDataset: false },
  { type: 'N-GET-RQ', messageId: 7, requestedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, requestedSopInstanceUid: '1.2.5', attributeIdentifierList: [0x00400252, 0x00400253], hasDataset: false },
  { type: 'N-GET-RSP', messageIdBeingRespondedTo: 7, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.5', status: 0x0107, ...err, hasDataset: true },
  { type: 'N-SET-RQ', messageId: 8, requestedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, requestedSopInstanceUid: '1.2.5', hasDataset: true },
  { type: 'N-SET-RSP', messageIdBeingRespondedTo: 8, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.5', attributeIdentifierList: [0x00400252], status: 0x0116, hasDataset: false },
  { type: 'N-ACTION-RQ', messageId: 9, requestedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, requestedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, actionTypeId: 1, hasDataset: true },
  { type: 'N-ACTION-RSP', messageIdBeingRespondedTo: 9, affectedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, affectedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, actionTypeId: 1, status: 0, hasDataset: false },
  { type: 'N-CREATE-RQ', messageId: 10, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.6', hasDataset: true },
  { type: 'N-CREATE-RSP', messageIdBeingRespondedTo: 10, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.6', status: 0, hasDataset: true },
  { type: 'N-DELETE-RQ', messageId: 11, requestedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, requestedSopInstanceUid: '1.2.6', hasDataset: false },
  { type: 'N-DELETE-RSP', messageIdBeingRespondedTo: 11, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.6', status: 0x0112, ...err, hasDataset: false },
];

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
