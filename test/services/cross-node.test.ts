/**
 * Two storing nodes on one PostgreSQL index and one store directory (two StorageServers, two
 * ports, each with its own PostgresIndex: its own pool, its own in-process locks, as two processes
 * would have): what one stores the other finds, moves, gets and commits; the same instance sent
 * to both at once is stored once under the duplicate policy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { CommitmentReceiver } from '../../src/services/scu/commitment.js';
import { NormalizedSopClass, QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { FileStore, type DuplicatePolicy } from '../../src/store/file-store.js';
import { PostgresIndex } from '../../src/store/postgres-index.js';
import { tempDir } from '../helpers/dicom-data.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 10_000, association: 10_000, dimse: 30_000 };
const qrContexts = [
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind,
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove,
  QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind,
].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }));

interface Node {
  readonly server: StorageServer;
  readonly index: PostgresIndex;
  readonly port: number;
}

describe('two nodes on one PostgreSQL index and one store', { skip: postgresSkip() }, () => {
  let pg: PostgresServer;
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => {
    pg = await startPostgres();
    ({ dir, remove } = await tempDir('cross-node'));
  });
  after(async () => {
    await remove();
    await pg.stop();
  });

  async function nodes(url: string, storeRoot: string, duplicates: DuplicatePolicy, extra: { destinations?: Record<string, { host: string; port: number }> } = {}): Promise<[Node, Node]> {
    const out: Node[] = [];
    for (const ae of ['NODE-A', 'NODE-B']) {
      const index = await PostgresIndex.open({ url, maxConnections: 4 });
      const server = await StorageServer.create({ aeTitle: ae, storeRoot, index, fsync: 'none', duplicates, ...extra });
      const { port } = await server.listen(0);
      out.push({ server, index, port });
    }
    return out as [Node, Node];
  }
  async function stop(...list: Node[]): Promise<void> {
    for (const n of list) {
      await n.server.close({ timeout: 1000 });
      await n.index.close();
    }
  }
  const connect = (node: Node, ae: string, presentationContexts: Parameters<typeof DicomClient.associate>[0]['presentationContexts'], extra: Partial<Parameters<typeof DicomClient.associate>[0]> = {}) =>
    DicomClient.associate({ host: '127.0.0.1', port: node.port, callingAeTitle: 'SCU', calledAeTitle: ae, presentationContexts, timeouts: quick, ...extra });

  test('stored on node A; C-FIND, C-MOVE, C-GET and Storage Commitment answered by node B; its commitment state read on node A', async () => {
    const url = await pg.createDatabase();
    const storeRoot = join(dir, 'shared-1');
    const inDir = join(dir, 'in-1');
    await mkdir(inDir, { recursive: true });
    const files = await Promise.all([1, 2, 4, 5].map(async (n) => ({ ...(await writeInstance(inDir, spec(n))), uid: spec(n).SOPInstanceUID })));
    // The move destination: a third, ordinary node.
    const dest = await StorageServer.create({ aeTitle: 'DEST', storeRoot: join(dir, 'dest-1'), fsync: 'none' });
    const { port: destPort } = await dest.listen(0);
    const [a, b] = await nodes(url, storeRoot, 'keep-first', { destinations: { DEST: { host: '127.0.0.1', port: destPort }, SCU: { host: '127.0.0.1', port: destPort } } });
    try {
      const toA = await connect(a, 'NODE-A', await storageContextsFor([inDir]));
      const results = await toA.store([inDir]);
      assert.deepEqual(results.map((r) => r.status), [0, 0, 0, 0]);
      await toA.release();

      // C-FIND on B.
      const onB = await connect(b, 'NODE-B', [...qrContexts, { abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }]);
      const found: unknown[] = [];
      for await (const m of onB.find('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: spec(1).StudyInstanceUID, SeriesInstanceUID: spec(1).SeriesInstanceUID, SOPInstanceUID: '' })) found.push(m['SOPInstanceUID']);
      assert.deepEqual(found.sort(), [spec(1).SOPInstanceUID, spec(4).SOPInstanceUID].sort());
      const patients: unknown[] = [];
      for await (const m of onB.find('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '', PatientName: 'test*' })) patients.push(m['PatientID']);
      assert.deepEqual(patients.sort(), ['PID1', 'PID2']);

      // C-MOVE from B to DEST: B never received these instances.
      const moved = await onB.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: spec(1).StudyInstanceUID }, 'DEST');
      assert.equal(moved.outcome, 'Success');
      assert.equal(moved.completed, 2);
      for (const f of files.filter((x) => x.uid.startsWith(`${spec(1).StudyInstanceUID}.`))) assert.equal(await datasetHash((await dest.storedInstance(f.uid))!.path), f.hash);

      // Storage Commitment asked on B for what A stored; the state is in the shared index.
      const report = await onB.commit([...files.map((f) => ({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: f.uid })), { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.404' }], { timeout: 20_000 });
      assert.deepEqual(report.committed.map((r) => r.sopInstanceUid).sort(), files.map((f) => f.uid).sort());
      assert.deepEqual(report.failed.map((r) => [r.sopInstanceUid, r.failureReason]), [['1.2.3.404', 0x0112]]);
      assert.equal(report.fromAeTitle, 'NODE-B');
      let state = await a.index.commitment(report.transactionUid);
      while (state?.state !== 'reported') {
        await new Promise((r) => setTimeout(r, 20));
        state = await a.index.commitment(report.transactionUid);
      }
      assert.equal(state.references.length, 5);
      await onB.release();

      // C-GET from B.
      const { presentationContexts, roles } = getContexts();
      const getter = await connect(b, 'NODE-B', presentationContexts, { roles });
      const local = await FileStore.open({ root: join(dir, 'got-1'), fsync: 'none' });
      const got = await getter.get('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: 'PID2' }, { store: local });
      assert.equal(got.outcome, 'Success');
      assert.equal(got.completed, 2);
      await getter.release();
    } finally {
      await stop(a, b);
      await dest.close({ timeout: 1000 });
    }
  });

  test('a commitment node A accepted and never reported is reported by node B, once, to the requestor', async () => {
    const url = await pg.createDatabase();
    const storeRoot = join(dir, 'shared-commit');
    const inDir = join(dir, 'in-commit');
    await mkdir(inDir, { recursive: true });
    const file = { ...(await writeInstance(inDir, spec(7))), uid: spec(7).SOPInstanceUID };
    const receiver = new CommitmentReceiver();
    const requestor = new DicomServer({
      aeTitle: 'MODALITY',
      handlers: new HandlerRegistry().register('N-EVENT-REPORT-RQ', receiver.handler),
      presentationContexts: { supported: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, roles: { scu: false, scp: true } }] },
    });
    const { port: requestorPort } = await requestor.listen(0);
    const [a, b] = await nodes(url, storeRoot, 'keep-first', { destinations: { MODALITY: { host: '127.0.0.1', port: requestorPort } } });
    try {
      const toA = await connect(a, 'NODE-A', await storageContextsFor([file.path]));
      assert.equal((await toA.store([file.path]))[0]?.status, 0);
      await toA.release();
      // Node A accepted the request (recorded), then stopped before it reported.
      await a.index.recordCommitment('2.25.777', 'MODALITY', [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: file.uid }, { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.404' }]);
      await stop(a);
      // Not yet stale for a node that waits a minute: nothing taken.
      assert.deepEqual(await b.server.reportAbandonedCommitments(), { reported: [], failed: [] });
      const done = await b.server.reportAbandonedCommitments({ staleAfter: 0 });
      assert.deepEqual(done, { reported: ['2.25.777'], failed: [] });
      const report = await receiver.wait('2.25.777', 10_000);
      assert.equal(report.fromAeTitle, 'NODE-B');
      assert.deepEqual(report.committed.map((r) => r.sopInstanceUid), [file.uid]);
      assert.deepEqual(report.failed.map((r) => [r.sopInstanceUid, r.failureReason]), [['1.2.3.404', 0x0112]]);
      assert.equal((await b.index.commitment('2.25.777'))?.state, 'reported');
      // Reported: not taken again.
      assert.deepEqual(await b.server.reportAbandonedCommitments({ staleAfter: 0 }), { reported: [], failed: [] });
    } finally {
      await stop(b);
      await requestor.close();
    }
  });

  for (const duplicates of ['keep-first', 'reject'] as const) {
    test(`the same instances sent to both nodes at once are stored once (${duplicates})`, async () => {
      const url = await pg.createDatabase();
      const storeRoot = join(dir, `shared-${duplicates}`);
      const inDir = join(dir, `in-${duplicates}`);
      await mkdir(inDir, { recursive: true });
      const count = 12;
      const files = await Promise.all(Array.from({ length: count }, async (_, i) => {
        const s = spec(100 + i, { PatientID: 'RACE', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.9', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.9.1', SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.1.${i + 1}` });
        return { ...(await writeInstance(inDir, s)), uid: s.SOPInstanceUID };
      }));
      const [a, b] = await nodes(url, storeRoot, duplicates);
      const events: { node: string; uid: string; duplicate: boolean }[] = [];
      a.server.on('stored', (i) => events.push({ node: 'A', uid: i.sopInstanceUid, duplicate: i.duplicate }));
      b.server.on('stored', (i) => events.push({ node: 'B', uid: i.sopInstanceUid, duplicate: i.duplicate }));
      try {
        const contexts = await storageContextsFor([inDir]);
        const [toA, toB] = await Promise.all([connect(a, 'NODE-A', contexts), connect(b, 'NODE-B', contexts)]);
        // Both associations send the same instances in the same order, at the same time.
        const [ra, rb] = await Promise.all([toA.store(files.map((f) => f.path)), toB.store(files.map((f) => f.path))]);
        await Promise.all([toA.release(), toB.release()]);
        for (const [n, f] of files.entries()) {
          const statuses = [ra[n]!.status ?? -1, rb[n]!.status ?? -1].sort((x, y) => x - y);
          // keep-first: both Success (one of them told it was a duplicate); reject: one Success, one 0111.
          assert.deepEqual(statuses, duplicates === 'keep-first' ? [0, 0] : [0, 0x0111], f.uid);
          const mine = events.filter((e) => e.uid === f.uid);
          if (duplicates === 'keep-first') assert.deepEqual(mine.map((e) => e.duplicate).sort(), [false, true], f.uid);
          else assert.deepEqual(mine.map((e) => e.duplicate), [false], f.uid);
        }
        // Stored once: one row each, one file each, byte-identical, nothing pending.
        const stats = await a.index.statistics();
        assert.deepEqual({ instances: stats.instances, series: stats.series, studies: stats.studies, patients: stats.patients, pending: stats.pending }, { instances: count, series: 1, studies: 1, patients: 1, pending: 0 });
        const onDisk = (await readdir(storeRoot, { recursive: true })).map(String);
        assert.equal(onDisk.filter((p) => p.endsWith('.dcm')).length, count);
        assert.deepEqual(onDisk.filter((p) => p.includes('.partial-')), []);
        for (const f of files) assert.equal(await datasetHash((await b.server.storedInstance(f.uid))!.path), f.hash);
      } finally {
        await stop(a, b);
      }
    });
  }
});
