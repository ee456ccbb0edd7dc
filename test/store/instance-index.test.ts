/**
 * The InstanceIndex contract, the same on every database: add (insert, replace, returned key),
 * pending entries, remove with its emptied parents, statistics, commitment state, versions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceIndex, InstanceRecord } from '../../src/store/instance-index.js';
import { INDEX_CONTENT_VERSION } from '../../src/store/reindex.js';
import { tempDir } from '../helpers/dicom-data.js';
import { indexBackends } from '../helpers/index-backends.js';
import { instanceRecord } from '../helpers/instance-record.js';

const record = (over: Partial<InstanceRecord> = {}): InstanceRecord =>
  instanceRecord({ SpecificCharacterSet: 'ISO_IR 192', PatientName: 'Müller^Eva', key: '1.1/1.1.1/1.1.1.1.dcm', ...over });

for (const backend of indexBackends()) {
  describe(`the InstanceIndex contract on ${backend.name}`, { skip: backend.skip }, () => {
    let dir: string;
    let remove: () => Promise<void>;
    let n = 0;
    const fresh = (): Promise<InstanceIndex> => backend.open(dir, `i${++n}.sqlite`);
    before(async () => {
      await backend.start();
      ({ dir, remove } = await tempDir('instance-index'));
    });
    after(async () => {
      await remove();
      await backend.stop();
    });

    test('add, replace (the old key returned), moved parents pruned, remove, statistics', async () => {
      const index = await fresh();
      try {
        assert.equal(await index.addInstance(record()), undefined);
        assert.equal(await index.addInstance(record({ SOPInstanceUID: '1.1.1.2', key: '1.1/1.1.1/1.1.1.2.dcm', size: 20 })), undefined);
        assert.deepEqual({ ...(await index.statistics()) }, { patients: 1, studies: 1, series: 1, instances: 2, bytes: 30, pending: 0 });
        // Re-sent into another study of another patient: the emptied parents go, the row moves.
        const old = await index.addInstance(record({ SOPInstanceUID: '1.1.1.2', PatientID: 'P2', StudyInstanceUID: '2.1', SeriesInstanceUID: '2.1.1', key: '2.1/2.1.1/1.1.1.2.dcm', size: 25 }));
        assert.equal(old, '1.1/1.1.1/1.1.1.2.dcm');
        assert.deepEqual({ ...(await index.statistics()) }, { patients: 2, studies: 2, series: 2, instances: 2, bytes: 35, pending: 0 });
        assert.equal((await index.findInstance('1.1.1.2'))?.key, '2.1/2.1.1/1.1.1.2.dcm');
        assert.equal((await index.findInstance('1.1.1.2'))?.size, 25);
        assert.equal(await index.removeInstance('1.1.1.2'), true);
        assert.equal(await index.removeInstance('1.1.1.2'), false);
        assert.deepEqual({ ...(await index.statistics()) }, { patients: 1, studies: 1, series: 1, instances: 1, bytes: 10, pending: 0 });
        assert.deepEqual((await index.allInstances()).map((f) => [f.SOPInstanceUID, f.key, f.size]), [['1.1.1.1', '1.1/1.1.1/1.1.1.1.dcm', 10]]);
        // Text kept as Unicode, matched per character.
        const names: unknown[] = [];
        for await (const m of index.find('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '', PatientName: 'MÜLLER^?VA' }, { caseInsensitivePersonName: true })) names.push(m['PatientName']);
        assert.deepEqual(names, [[{ Alphabetic: 'Müller^Eva' }]]);
      } finally {
        await index.close();
      }
    });

    test('pending entries: noted, listed oldest first and by instance, settled by the commit that indexes them', async () => {
      const index = await fresh();
      try {
        const r = record();
        await index.beginPending([{ key: r.key, sopInstanceUid: r.SOPInstanceUID, record: r }, { key: 'old/copy.dcm', sopInstanceUid: r.SOPInstanceUID, record: undefined }]);
        await index.beginPending([{ key: 'x/y/9.dcm', sopInstanceUid: '9', record: undefined }]);
        assert.deepEqual((await index.pendingEntries()).map((e) => [e.key, e.record?.key]), [[r.key, r.key], ['old/copy.dcm', undefined], ['x/y/9.dcm', undefined]]);
        assert.deepEqual((await index.pendingEntries('9')).map((e) => e.key), ['x/y/9.dcm']);
        await index.addInstance(r, [r.key]);
        await index.endPending(['old/copy.dcm']);
        assert.deepEqual((await index.pendingEntries()).map((e) => e.key), ['x/y/9.dcm']);
        assert.equal((await index.statistics()).pending, 1);
      } finally {
        await index.close();
      }
    });

    test('commitment state: requested, checked with outcomes, reported; readable from another connection', async () => {
      const index = await fresh();
      const other = await backend.reopen(index);
      try {
        assert.equal(await index.commitment('2.25.1'), undefined);
        await index.recordCommitment('2.25.1', 'MODALITY', [{ sopClassUid: '1.2', sopInstanceUid: '1.1.1.1' }, { sopClassUid: '1.2', sopInstanceUid: '9.9' }]);
        assert.equal((await other.commitment('2.25.1'))?.state, 'requested');
        await index.commitmentChecked('2.25.1', [{ sopClassUid: '1.2', sopInstanceUid: '1.1.1.1' }, { sopClassUid: '1.2', sopInstanceUid: '9.9', failureReason: 0x0112 }]);
        await index.commitmentReported('2.25.1');
        const state = await other.commitment('2.25.1');
        assert.equal(state?.state, 'reported');
        assert.equal(state?.requestor, 'MODALITY');
        assert.deepEqual(state?.references, [{ sopClassUid: '1.2', sopInstanceUid: '1.1.1.1' }, { sopClassUid: '1.2', sopInstanceUid: '9.9', failureReason: 0x0112 }]);
        assert.ok(Date.parse(state!.updatedAt) >= Date.parse(state!.requestedAt));
        // Unreported and idle: claimed once (the claim touches it), oldest first; reported ones never.
        await index.recordCommitment('2.25.2', 'OTHER', [{ sopClassUid: '1.2', sopInstanceUid: '1.1.1.1' }]);
        const idleBefore = new Date(Date.now() + 60_000).toISOString();
        const claimed = await other.claimUnreportedCommitments(idleBefore, 10);
        assert.deepEqual(claimed.map((c) => [c.transactionUid, c.state]), [['2.25.2', 'requested']]);
        const claimTime = Date.parse(claimed[0]!.updatedAt);
        assert.deepEqual(await index.claimUnreportedCommitments(new Date(claimTime - 1).toISOString(), 10), []);
      } finally {
        await other.close();
        await index.close();
      }
    });

    test('versions: the current schema (SQLite 3, PostgreSQL 2), content current when new, content version kept', async () => {
      const index = await fresh();
      try {
        assert.equal(await index.schemaVersion(), backend.name === 'sqlite' ? 3 : 2);
        assert.equal(await index.contentVersion(), INDEX_CONTENT_VERSION);
        await index.setContentVersion(0);
        assert.equal(await index.contentVersion(), 0);
      } finally {
        await index.close();
      }
    });
  });
}
