/** Our DicomClient against our StorageServer, plain TCP: store, find, move, get, storage commitment, N-services. */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import type { SqliteIndex } from '../../src/store/sqlite-index.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { indexBackends } from '../helpers/index-backends.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { CommitmentReceiver } from '../../src/services/scu/commitment.js';
import { nAction, nCreate, nDelete, nEventReport, nGet, nSet } from '../../src/services/scu/n-services.js';
import { FileStore } from '../../src/store/file-store.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { DimseStatusError } from '../../src/ae/errors.js';
import { NormalizedSopClass, QueryRetrieveSopClass, VerificationSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { decodeDataset, encodeDataset } from '../../src/dataset/codec.js';
import { tempDir } from '../helpers/dicom-data.js';
import { datasetHash, IMPLICIT_LE, spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
const qr = [QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelMove];
const qrContexts = qr.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }));

for (const backend of indexBackends()) {
describe(`client and server on the ${backend.name} index`, { skip: backend.skip }, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let server: StorageServer;
  let index: InstanceIndex | undefined;
  let port: number;
  const files: { path: string; hash: string; uid: string }[] = [];

  before(async () => {
    await backend.start();
    ({ dir, remove } = await tempDir('services'));
    await mkdir(join(dir, 'in'));
    for (let n = 1; n <= 6; n++) {
      const s = spec(n);
      const f = await writeInstance(join(dir, 'in'), s, { ts: n === 4 ? IMPLICIT_LE : undefined, pixels: 2000 + n * 512 });
      files.push({ ...f, uid: s.SOPInstanceUID });
    }
    // SQLite: the index the server opens itself; PostgreSQL: one given to it.
    index = backend.name === 'sqlite' ? undefined : await backend.open(dir);
    server = await StorageServer.create({ aeTitle: 'STORE-SCP', storeRoot: join(dir, 'store'), fsync: 'none', duplicates: 'reject', ...(index === undefined ? {} : { index }) });
    ({ port } = await server.listen(0));
  });

  after(async () => {
    await server.close({ timeout: 1000 });
    await index?.close();
    await remove();
    await backend.stop();
  });

  async function connect(presentationContexts: Parameters<typeof DicomClient.associate>[0]['presentationContexts'], extra: Partial<Parameters<typeof DicomClient.associate>[0]> = {}): Promise<DicomClient> {
    return DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'STORE-SCP', presentationContexts, timeouts: quick, ...extra });
  }

  test('C-STORE: a directory over one association, each file in its own syntax, per-instance results and progress, byte-identical', async () => {
    const sources = [join(dir, 'in')];
    const client = await connect(await storageContextsFor(sources));
    const progress: string[] = [];
    const results = await client.store(sources, { onProgress: (p) => progress.push(`${p.phase}:${p.index}`) });
    assert.equal(results.length, 6);
    for (const r of results) {
      assert.equal(r.status, 0, `${r.sopInstanceUid}: ${r.errorComment}`);
      assert.equal(r.outcome, 'Success');
      assert.equal(r.sentTransferSyntaxUid, r.transferSyntaxUid);
    }
    assert.equal(results.filter((r) => r.transferSyntaxUid === IMPLICIT_LE).length, 1);
    assert.deepEqual(progress.slice(0, 2), ['sending:0', 'done:0']);
    assert.equal(progress.length, 12);
    // StorageServer announces 256 KiB by default: the client fragments to it (PS3.8 D.1).
    assert.equal(client.association.peerMaxPduLength, 262144);
    // fsync 'none': the index it opened does not fsync its WAL per instance either.
    if (backend.name === 'sqlite') assert.equal((server.index as SqliteIndex).synchronous, 'normal');
    for (const f of files) {
      const stored = (await server.storedInstance(f.uid));
      assert.ok(stored !== undefined, f.uid);
      assert.equal(await datasetHash(stored.path), f.hash);
      assert.equal(stored.transferSyntaxUid, f.uid.endsWith('.4') ? IMPLICIT_LE : TransferSyntax.ExplicitVrLittleEndian);
    }
    // Duplicate policy 'reject': the same instance again answers 0111 and is a Failure result.
    const again = await client.store([files[0]!.path]);
    assert.equal(again[0]?.status, 0x0111);
    assert.equal(again[0]?.outcome, 'Failure');
    // A file that is not DICOM is a failed result, not an exception.
    const notDicom = join(dir, 'not-dicom.bin');
    await writeFile(notDicom, 'not a DICOM file\n'.repeat(20));
    const bogus = await client.store([notDicom]);
    assert.equal(bogus[0]?.outcome, 'Failure');
    assert.ok(bogus[0]?.error !== undefined);
    await client.release();
  });

  test('C-STORE fallback: only Implicit VR LE accepted, an explicit file is transcoded and stored as implicit', async () => {
    const s = spec(30, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.0.1.30' });
    const f = await writeInstance(dir, s);
    const client = await connect([{ abstractSyntax: s.SOPClassUID!, transferSyntaxes: [IMPLICIT_LE] }]);
    const [r] = await client.store([f.path]);
    assert.equal(r?.status, 0);
    assert.equal(r?.sentTransferSyntaxUid, IMPLICIT_LE);
    const stored = (await server.storedInstance(s.SOPInstanceUID))!;
    assert.equal(stored.transferSyntaxUid, IMPLICIT_LE);
    await client.release();
  });

  test('C-FIND at every level, Patient and Study Root; leaving the loop early cancels and the association goes on', async () => {
    const client = await connect([...qrContexts, { abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }]);
    const all = async (model: 'PATIENT_ROOT' | 'STUDY_ROOT', id: Record<string, unknown>): Promise<Record<string, unknown>[]> => {
      const out: Record<string, unknown>[] = [];
      for await (const m of client.find(model, id)) out.push(m);
      return out;
    };
    const patients = await all('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '', PatientName: 'TEST*' });
    assert.deepEqual(patients.map((p) => p['PatientID']).sort(), ['PID0', 'PID1', 'PID2']);
    const studies = await all('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '', StudyDate: '20200101-20200102' });
    assert.equal(studies.length, 2);
    const series = await all('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1', SeriesInstanceUID: '', Modality: 'CT' });
    assert.equal(series.length, 1);
    const images = await all('PATIENT_ROOT', { QueryRetrieveLevel: 'IMAGE', PatientID: 'PID1', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1', SOPInstanceUID: '' });
    assert.deepEqual(images.map((i) => i['SOPInstanceUID']).sort(), ['1.2.826.0.1.3680043.9.7777.1.1.1', '1.2.826.0.1.3680043.9.7777.1.1.4']);
    // Break after the first match: C-CANCEL is sent and the final response awaited — unless the
    // final response had already come (all of them can arrive in one read and be taken at once:
    // then there is nothing to cancel). The endless worklist in services-units always cancels.
    const sent: string[] = [];
    let finalArrived = false;
    client.association.on('message', (m) => {
      if (m.direction === 'sent') sent.push(m.command.type);
      else if (m.command.type === 'C-FIND-RSP' && m.command.status !== 0xff00 && m.command.status !== 0xff01) finalArrived = true;
    });
    let seen = 0;
    let finalBeforeBreak = false;
    for await (const _ of client.find('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.0', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.0.1' })) {
      seen++;
      finalBeforeBreak = finalArrived;
      break;
    }
    assert.equal(seen, 1);
    assert.equal(sent.includes('C-CANCEL-RQ'), !finalBeforeBreak);
    assert.equal(client.association.outstandingRequests, 0);
    // An AbortSignal cancels too.
    const ac = new AbortController();
    ac.abort();
    const none = [];
    for await (const m of client.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' }, { signal: ac.signal })) none.push(m);
    assert.equal(none.length, 0);
    // A bad identifier is a DimseStatusError (A900: no PATIENT level in Study Root).
    await assert.rejects(all('STUDY_ROOT', { QueryRetrieveLevel: 'PATIENT' }), (e: unknown) => e instanceof DimseStatusError && e.status === 0xa900);
    assert.equal((await client.echo()).status, 0);
    await client.release();
  });

  test('C-MOVE to a configured destination: pending counts, final counts, files byte-identical; unknown destination A801', async () => {
    const dest = await StorageServer.create({ aeTitle: 'DEST', storeRoot: join(dir, 'dest'), fsync: 'none' });
    const { port: destPort } = await dest.listen(0);
    const src = await StorageServer.create({ aeTitle: 'SRC', storeRoot: join(dir, 'store'), index: server.index, fsync: 'none', destinations: { DEST: { host: '127.0.0.1', port: destPort } } });
    const { port: srcPort } = await src.listen(0);
    try {
      const client = await DicomClient.associate({ host: '127.0.0.1', port: srcPort, callingAeTitle: 'MOVER', calledAeTitle: 'SRC', presentationContexts: qrContexts, timeouts: quick });
      const progress: number[] = [];
      const result = await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, 'DEST', { onProgress: (p) => progress.push(p.remaining ?? -1) });
      assert.equal(result.outcome, 'Success');
      assert.equal(result.completed, 2);
      assert.equal(result.failed, 0);
      assert.deepEqual(progress, [1]);
      for (const f of files.filter((x) => x.uid.includes('.7777.1.1.'))) {
        const stored = (await dest.storedInstance(f.uid));
        assert.ok(stored, f.uid);
        assert.equal(await datasetHash(stored.path), f.hash);
      }
      await assert.rejects(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, 'NOBODY'), (e: unknown) => e instanceof DimseStatusError && e.status === 0xa801);
      await client.release();
    } finally {
      await src.close({ timeout: 1000 }).catch(() => undefined);
      await dest.close({ timeout: 1000 });
    }
  });

  test('C-GET: sub-operations on the same association (SCP role) into a FileStore, byte-identical', async () => {
    const { presentationContexts, roles } = getContexts();
    const client = await connect(presentationContexts, { roles });
    const local = await FileStore.open({ root: join(dir, 'got'), fsync: 'none' });
    const stored: string[] = [];
    const progress: number[] = [];
    const result = await client.get('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: 'PID0' }, { store: local, onStored: (i) => stored.push(i.sopInstanceUid), onProgress: (p) => progress.push(p.completed) });
    assert.equal(result.outcome, 'Success');
    const expected = files.filter((f) => f.uid.includes('.7777.0.1.')).map((f) => f.uid);
    assert.equal(result.completed, expected.length + 1); // plus the transcoded one of the fallback test
    for (const f of files.filter((x) => expected.includes(x.uid))) {
      const path = join(dir, 'got', '1.2.826.0.1.3680043.9.7777.0', '1.2.826.0.1.3680043.9.7777.0.1', `${f.uid}.dcm`);
      assert.equal(await datasetHash(path), f.hash);
    }
    assert.equal(stored.length, result.completed);
    // Or to a handler, streamed.
    const seen: { uid: string; bytes: number }[] = [];
    const r2 = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.2', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.2.1' }, {
      onInstance: async (i) => {
        let bytes = 0;
        for await (const c of i.dataset) bytes += (c as Buffer).length;
        seen.push({ uid: i.sopInstanceUid, bytes });
      },
    });
    assert.equal(r2.completed, 2);
    assert.deepEqual(seen.map((s) => s.uid).sort(), files.filter((f) => f.uid.includes('.7777.2.1.')).map((f) => f.uid).sort());
    assert.ok(seen.every((s) => s.bytes > 2000));
    await client.release();
  });

  test('Storage Commitment on the same association: committed and failed instances reported by N-EVENT-REPORT', async () => {
    const client = await connect([{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }]);
    const report = await client.commit(
      [
        { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: files[0]!.uid },
        { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.4.5.404' },
        { sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: files[1]!.uid },
      ],
      { timeout: 10_000 },
    );
    assert.deepEqual(report.committed.map((r) => r.sopInstanceUid), [files[0]!.uid]);
    assert.deepEqual(report.failed.map((r) => [r.sopInstanceUid, r.failureReason]), [['1.2.3.4.5.404', 0x0112], [files[1]!.uid, 0x0119]]);
    assert.equal(report.fromAeTitle, 'STORE-SCP');
    // The transaction is kept in the index (any node sharing it can read it): asked, checked, reported.
    let state = await server.index.commitment(report.transactionUid);
    while (state?.state !== 'reported') {
      await new Promise((r) => setTimeout(r, 10));
      state = await server.index.commitment(report.transactionUid);
    }
    assert.equal(state.requestor, 'SCU');
    assert.deepEqual(state.references.map((r) => [r.sopInstanceUid, r.failureReason]), [[files[0]!.uid, undefined], ['1.2.3.4.5.404', 0x0112], [files[1]!.uid, 0x0119]]);
    await client.release();
  });

  test('Storage Commitment on a new association (forced, or when the same association refuses the report): the SCP opens one to the requesting AE (SCP role)', async () => {
    const receiver = new CommitmentReceiver();
    const handlers = new HandlerRegistry().register('N-EVENT-REPORT-RQ', receiver.handler);
    const ours = new DicomServer({
      aeTitle: 'COMMIT-SCU',
      handlers,
      presentationContexts: { supported: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, roles: { scu: false, scp: true } }] },
    });
    const { port: ourPort } = await ours.listen(0);
    const destinations = { 'COMMIT-SCU': { host: '127.0.0.1', port: ourPort } };
    const scp = await StorageServer.create({ aeTitle: 'COMMIT-SCP', storeRoot: join(dir, 'store'), index: server.index, fsync: 'none', commitmentReport: 'new-association', destinations });
    const { port: scpPort } = await scp.listen(0);
    // 'auto': tried on the same association first; this requestor has no N-EVENT-REPORT handler
    // there (answers 0211 unrecognized), so the report goes to its own SCP instead.
    const auto = await StorageServer.create({ aeTitle: 'COMMIT-AUTO', storeRoot: join(dir, 'store'), index: server.index, fsync: 'none', destinations });
    const { port: autoPort } = await auto.listen(0);
    try {
      const c2 = await DicomClient.associate({ host: '127.0.0.1', port: autoPort, callingAeTitle: 'COMMIT-SCU', calledAeTitle: 'COMMIT-AUTO', presentationContexts: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }], timeouts: quick });
      const { requestStorageCommitment: rsc } = await import('../../src/services/scu/commitment.js');
      const uid2 = await rsc(c2.association, [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: files[3]!.uid }]);
      const r2 = await receiver.wait(uid2, 10_000);
      assert.equal(r2.fromAeTitle, 'COMMIT-AUTO');
      assert.deepEqual(r2.committed.map((r) => r.sopInstanceUid), [files[3]!.uid]);
      await c2.release();
      const client = await DicomClient.associate({ host: '127.0.0.1', port: scpPort, callingAeTitle: 'COMMIT-SCU', calledAeTitle: 'COMMIT-SCP', presentationContexts: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }], timeouts: quick });
      const { requestStorageCommitment } = await import('../../src/services/scu/commitment.js');
      const uid = await requestStorageCommitment(client.association, [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: files[2]!.uid }]);
      await client.release();
      const report = await receiver.wait(uid, 10_000);
      assert.deepEqual(report.committed.map((r) => r.sopInstanceUid), [files[2]!.uid]);
      assert.equal(report.failed.length, 0);
      assert.equal(report.fromAeTitle, 'COMMIT-SCP');
    } finally {
      await scp.close({ timeout: 1000 }).catch(() => undefined);
      await auto.close({ timeout: 1000 }).catch(() => undefined);
      await ours.close({ timeout: 1000 });
    }
  });

  test('N-CREATE, N-SET, N-GET, N-EVENT-REPORT, N-ACTION, N-DELETE against application handlers (MPPS-like)', async () => {
    const mpps = NormalizedSopClass.ModalityPerformedProcedureStep;
    const instances = new Map<string, Record<string, unknown>>();
    const handlers = new HandlerRegistry()
      .register('N-CREATE-RQ', {
        handle: (rq, c) => {
          instances.set(rq.affectedSopInstanceUid!, decodeDataset(c.dataset!, c.presentationContext.transferSyntax));
          return { status: 0 };
        },
      })
      .register('N-SET-RQ', {
        handle: (rq, c) => {
          const cur = instances.get(rq.requestedSopInstanceUid);
          if (cur === undefined) return { status: 0x0112 };
          Object.assign(cur, decodeDataset(c.dataset!, c.presentationContext.transferSyntax));
          return { status: 0 };
        },
      })
      .register('N-GET-RQ', { handle: (rq, c) => ({ status: 0, dataset: encodeDataset(instances.get(rq.requestedSopInstanceUid)!, c.presentationContext.transferSyntax) }) })
      .register('N-EVENT-REPORT-RQ', { handle: (rq) => ({ status: rq.eventTypeId === 1 ? 0 : 0x0113 }) })
      .register('N-ACTION-RQ', { handle: () => ({ status: 0 }) })
      .register('N-DELETE-RQ', { handle: (rq) => ({ status: instances.delete(rq.requestedSopInstanceUid) ? 0 : 0x0112 }) });
    const scp = new DicomServer({ handlers, presentationContexts: { supported: [{ abstractSyntax: mpps }] } });
    const { port: p } = await scp.listen(0);
    try {
      const client = await DicomClient.associate({ host: '127.0.0.1', port: p, callingAeTitle: 'MOD', calledAeTitle: 'MPPS', presentationContexts: [{ abstractSyntax: mpps, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }], timeouts: quick });
      const a = client.association;
      const uid = '1.2.826.0.1.3680043.9.7777.99';
      await nCreate(a, { sopClassUid: mpps, sopInstanceUid: uid, attributes: { PerformedProcedureStepStatus: 'IN PROGRESS', PerformedStationAETitle: 'MOD' } });
      await nSet(a, { sopClassUid: mpps, sopInstanceUid: uid, modifications: { PerformedProcedureStepStatus: 'COMPLETED' } });
      const got = await nGet(a, { sopClassUid: mpps, sopInstanceUid: uid, attributes: [0x00400252] });
      assert.equal(got.dataset?.['PerformedProcedureStepStatus'], 'COMPLETED');
      assert.equal((await nEventReport(a, { sopClassUid: mpps, sopInstanceUid: uid, eventTypeId: 1 })).response.status, 0);
      await assert.rejects(nEventReport(a, { sopClassUid: mpps, sopInstanceUid: uid, eventTypeId: 9 }), (e: unknown) => e instanceof DimseStatusError && e.status === 0x0113);
      assert.equal((await nAction(a, { sopClassUid: mpps, sopInstanceUid: uid, actionTypeId: 1 })).response.status, 0);
      await nDelete(a, { sopClassUid: mpps, sopInstanceUid: uid });
      await assert.rejects(nDelete(a, { sopClassUid: mpps, sopInstanceUid: uid }), (e: unknown) => e instanceof DimseStatusError && e.status === 0x0112);
      await client.release();
    } finally {
      await scp.close({ timeout: 1000 });
    }
    assert.deepEqual(await readdir(join(dir, 'in')).then((l) => l.length), 6);
  });
});
}
