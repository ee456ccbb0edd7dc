/**
 * A query key sent with a VR other than the dictionary's (explicit VR: Patient's Name as LO or
 * DA, Patient ID as PN) is matched as the key it is, by its value: never dropped to universal
 * matching, which answered every patient with FF00 to a query for one name. dcmjs hands such a
 * value over as a String object, which the index took for an empty Person Name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { decodeDataset } from '../../src/dataset/codec.js';
import { encodeDataset, tempDir, type Element } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';

const FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const EXPLICIT = TransferSyntax.ExplicitVrLittleEndian;

test('C-FIND: a key in a VR other than the dictionary\'s is matched by its value, not ignored', { timeout: 120_000 }, async () => {
  const { dir, remove } = await tempDir('query-key-vr');
  const server = await StorageServer.create({ aeTitle: 'SCP', storeRoot: join(dir, 'store'), fsync: 'none' });
  try {
    await mkdir(join(dir, 'in'));
    // Three patients: TEST^P0 (PID0), TEST^P1 (PID1), TEST^P2 (PID2).
    for (const n of [3, 4, 5]) await writeInstance(join(dir, 'in'), spec(n));
    const { port } = await server.listen(0);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP',
      presentationContexts: [...(await storageContextsFor([join(dir, 'in')])), { abstractSyntax: FIND, transferSyntaxes: [EXPLICIT] }],
    });
    for (const r of await client.store([join(dir, 'in')])) assert.equal(r.status, 0);
    const find = async (key: Element): Promise<string[]> => {
      const elements: Element[] = [[0x0008_0052, 'CS', 'STUDY'], key];
      if (key[0] !== 0x0010_0020) elements.push([0x0010_0020, 'LO', '']);
      const identifier = encodeDataset(elements.sort((a, b) => a[0] - b[0]));
      const ids: string[] = [];
      for await (const r of client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 }, { dataset: identifier })) {
        if (r.dataset !== undefined) ids.push(String(decodeDataset(r.dataset, EXPLICIT)['PatientID']));
        else assert.equal(r.command.status, 0, 'the final response is Success');
      }
      return ids.sort();
    };
    assert.deepEqual(await find([0x0010_0010, 'PN', 'TEST^P1']), ['PID1'], 'the key in its own VR');
    assert.deepEqual(await find([0x0010_0010, 'LO', 'TEST^P1']), ['PID1']);
    assert.deepEqual(await find([0x0010_0010, 'LO', 'TEST^P*']), ['PID0', 'PID1', 'PID2']);
    assert.deepEqual(await find([0x0010_0010, 'DA', '2020']), []);
    assert.deepEqual(await find([0x0010_0020, 'PN', 'PID2']), ['PID2']);
    assert.deepEqual(await find([0x0020_000d, 'LO', '1.2.826.0.1.3680043.9.7777.1']), ['PID1'], 'a UID key as LO');
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
    await remove();
  }
});
