/** The services are on the public surface, and usable from it alone (echo + store + find through `dicom-tls`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as api from '../../src/index.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';

test('services exports', () => {
  for (const name of [
    'storeInstances', 'storageContextsFor', 'planStorageAssociations', 'part10StreamSource', 'contextFor', 'listFiles', 'cFind', 'cMove', 'cGet', 'getContexts', 'sopClassFor',
    'nEventReport', 'nGet', 'nSet', 'nAction', 'nCreate', 'nDelete', 'CommitmentReceiver', 'requestStorageCommitment', 'parseCommitmentReport',
    'newTransactionUid', 'storageHandler', 'findHandler', 'moveHandler', 'getHandler', 'commitmentHandler', 'lookupAe', 'StorageServer', 'SqliteIndex', 'PostgresIndex', 'IndexDb',
  ]) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
  }
  assert.ok(api.STORAGE_TRANSFER_SYNTAXES.includes(api.TransferSyntax.JpegBaseline8Bit));
  assert.equal(api.STORAGE_MAX_PDU_LENGTH, 262144);
  assert.equal(api.queryModels.STUDY_ROOT.get, api.QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet);
  assert.match(api.newTransactionUid(), /^2\.25\.\d+$/);
});

test('a storing node and a client from the public surface only', async () => {
  const { dir, remove } = await tempDir('services-api');
  try {
    const server = await api.StorageServer.create({ aeTitle: 'API', storeRoot: join(dir, 'store'), fsync: 'none' });
    const stored: string[] = [];
    server.on('stored', (i) => stored.push(i.sopInstanceUid));
    const { port } = await server.listen(0);
    try {
      const f = await writeInstance(dir, spec(1));
      const client = await api.DicomClient.associate({
        host: '127.0.0.1',
        port,
        callingAeTitle: 'APP',
        calledAeTitle: 'API',
        presentationContexts: [...(await api.storageContextsFor([f.path])), { abstractSyntax: api.QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, transferSyntaxes: [api.TransferSyntax.ExplicitVrLittleEndian] }],
      });
      const [r] = await client.store([f.path]);
      assert.equal(r?.status, api.Status.Success);
      assert.deepEqual(stored, [spec(1).SOPInstanceUID]);
      const matches = [];
      for await (const m of api.cFind(client.association, 'STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' })) matches.push(m);
      assert.equal(matches.length, 1);
      await client.release();
    } finally {
      await server.close({ timeout: 1000 });
    }
  } finally {
    await remove();
  }
});
