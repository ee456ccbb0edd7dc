import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/index.js';

test('the DIMSE, dictionary and dataset pieces are exported from the package root', () => {
  for (const name of [
    'VerificationSopClass', 'StorageSopClass', 'QueryRetrieveSopClass', 'NormalizedSopClass', 'TransferSyntax',
    'transferSyntaxProperties', 'CommandField', 'Status', 'StorageStatus', 'QueryRetrieveStatus', 'statusClass',
    'encodeCommandSet', 'decodeCommandSet', 'encodeCommand', 'decodeCommand', 'commandToElements', 'elementsToCommand',
    'fragmentMessage', 'fragmentMessageAsync', 'maxFragmentLength', 'DimseAssembler', 'writableSink', 'collectSink',
    'encodeDataset', 'decodeDataset', 'transcodeDataset', 'DimseProtocolError', 'InvalidCommandError',
    'CommandSetDecodeError', 'DatasetDecodeError',
  ]) {
    assert.ok(name in api, name);
  }
  const bytes = api.encodeCommand({ type: 'C-ECHO-RQ', messageId: 9, affectedSopClassUid: api.VerificationSopClass });
  assert.deepEqual(api.decodeCommand(bytes), { type: 'C-ECHO-RQ', messageId: 9, affectedSopClassUid: '1.2.840.10008.1.1', hasDataset: false });
});
