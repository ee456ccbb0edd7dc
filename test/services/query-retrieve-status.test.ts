/**
 * Final and pending statuses of the Query/Retrieve SCP that a StorageServer answers: a retrieve
 * whose sub-operations all failed (PS3.4 C.4.2.2.1: Failure or Refused), some failed (B000);
 * C-FIND with keys the index cannot match (FF01, PS3.4 C.4.1.1.4); Person Name matching case
 * (PS3.4 C.2.2.2.1) as configured.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DimseStatusError } from '../../src/ae/errors.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { decodeDataset, encodeDataset } from '../../src/dataset/codec.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
const qrContexts = [
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind,
  QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind,
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove,
].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }));
const study = '1.2.826.0.1.3680043.9.7777.1';
const series = `${study}.1`;
const uids = [1, 4].map((n) => `${series}.${n}`);

let dir: string;
let remove: () => Promise<void>;
let src: StorageServer;
let dest: StorageServer;

before(async () => {
  ({ dir, remove } = await tempDir('qr-status'));
  await mkdir(join(dir, 'in'));
  for (const n of [1, 4]) await writeInstance(join(dir, 'in'), spec(n));
  dest = await StorageServer.create({ aeTitle: 'DEST', storeRoot: join(dir, 'dest'), fsync: 'none', duplicates: 'reject' });
  const { port: destPort } = await dest.listen(0);
  src = await StorageServer.create({ aeTitle: 'SRC', storeRoot: join(dir, 'src'), fsync: 'none', destinations: { DEST: { host: '127.0.0.1', port: destPort } } });
  await src.listen(0);
  const sources = [join(dir, 'in')];
  const client = await connect(await storageContextsFor(sources));
  for (const r of await client.store(sources)) assert.equal(r.status, 0, r.errorComment);
  await client.release();
});

after(async () => {
  await src.close({ timeout: 1000 }).catch(() => undefined);
  await dest.close({ timeout: 1000 });
  await remove();
});

function connect(presentationContexts: Parameters<typeof DicomClient.associate>[0]['presentationContexts'], server: StorageServer = src, calledAeTitle = 'SRC'): Promise<DicomClient> {
  return DicomClient.associate({ host: '127.0.0.1', port: server.address!.port, callingAeTitle: 'SCU', calledAeTitle, presentationContexts, timeouts: quick });
}

test('C-MOVE: some sub-operations failed is B000 (Warning); all failed is A702 (Refused), with the counts and the failed UIDs', async () => {
  const client = await connect(qrContexts);
  try {
    const image = (list: string[]) => ({ QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: list });
    const first = await client.move('STUDY_ROOT', image([uids[0]!]), 'DEST');
    assert.equal(first.outcome, 'Success');
    // DEST refuses duplicates (0111): the first instance fails, the second is stored.
    const some = await client.move('STUDY_ROOT', image(uids), 'DEST');
    assert.equal(some.status, 0xb000);
    assert.equal(some.outcome, 'Warning');
    assert.deepEqual([some.completed, some.failed], [1, 1]);
    assert.deepEqual(some.failedSopInstanceUids, [uids[0]]);
    // Now both are duplicates: every sub-operation fails, which the SCU must read as a failure.
    await assert.rejects(client.move('STUDY_ROOT', image(uids), 'DEST'), (e: unknown) => {
      assert.ok(e instanceof DimseStatusError);
      assert.equal(e.status, 0xa702);
      const progress = (e as unknown as { progress: { completed: number; failed: number } }).progress;
      assert.deepEqual([progress.completed, progress.failed], [0, 2]);
      return true;
    });
  } finally {
    await client.release();
  }
});

test('C-MOVE with an identifier the index cannot answer (Study Root at PATIENT level): a failure status naming why', async () => {
  const client = await connect(qrContexts);
  try {
    await assert.rejects(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '' }, 'DEST'), (e: unknown) =>
      e instanceof DimseStatusError && e.status === 0xa900 && /Study Root has no PATIENT level/.test(e.message));
  } finally {
    await client.release();
  }
});

/** The raw C-FIND responses (status and identifier) for one identifier. */
async function findRaw(client: DicomClient, identifier: Record<string, unknown>): Promise<{ status: number; match?: Record<string, unknown> }[]> {
  const sopClass = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
  const context = client.association.contexts.select(sopClass, { requestorRole: 'scu' });
  const pending = client.association.request(
    { type: 'C-FIND-RQ', affectedSopClassUid: sopClass, priority: 0 },
    { dataset: encodeDataset(identifier, context.transferSyntax), presentationContextId: context.id },
  );
  const out: { status: number; match?: Record<string, unknown> }[] = [];
  for await (const m of pending) {
    const status = m.command.status as number;
    out.push(m.dataset === undefined ? { status } : { status, match: decodeDataset(m.dataset, context.transferSyntax) as Record<string, unknown> });
  }
  return out;
}

test('C-FIND: FF01 on each match when the identifier has keys the index cannot match or return, FF00 otherwise', async () => {
  const client = await connect(qrContexts);
  try {
    const supported = await findRaw(client, { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study, StudyDate: '', SpecificCharacterSet: '' });
    assert.deepEqual(supported.map((r) => r.status), [0xff00, 0x0000]);
    // Institution Name (0008,0080) is not in the index: returned empty, the match is FF01.
    const unknown = await findRaw(client, { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study, InstitutionName: '' });
    assert.deepEqual(unknown.map((r) => r.status), [0xff01, 0x0000]);
    assert.equal(unknown[0]!.match!['InstitutionName'] ?? '', '');
    // A count key with a value is not matched on.
    const count = await findRaw(client, { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study, NumberOfStudyRelatedInstances: '7' });
    assert.deepEqual(count.map((r) => r.status), [0xff01, 0x0000]);
    // A sequence item key the index does not keep.
    const nested = await findRaw(client, { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study, ProcedureCodeSequence: [{ CodeValue: '', CodingSchemeVersion: '' }] });
    assert.deepEqual(nested.map((r) => r.status), [0xff01, 0x0000]);
    // No match, no pending response at all.
    const none = await findRaw(client, { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '9.9.9', InstitutionName: '' });
    assert.deepEqual(none.map((r) => r.status), [0x0000]);
  } finally {
    await client.release();
  }
});

test('C-FIND: Person Name matches case-insensitively by default in StorageServer; caseInsensitivePersonName: false makes it exact', async () => {
  const names = async (server: StorageServer, aet: string): Promise<string[]> => {
    const client = await connect(qrContexts, server, aet);
    try {
      const out: string[] = [];
      for await (const m of client.find('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '', PatientName: 'test^p1' })) out.push(String(m['PatientID']));
      return out;
    } finally {
      await client.release();
    }
  };
  assert.deepEqual(await names(src, 'SRC'), ['PID1']);
  const exact = await StorageServer.create({ aeTitle: 'EXACT', storeRoot: join(dir, 'src'), index: src.index, fsync: 'none', caseInsensitivePersonName: false });
  await exact.listen(0);
  try {
    assert.deepEqual(await names(exact, 'EXACT'), []);
  } finally {
    await exact.close({ timeout: 1000 });
  }
});

test('StorageServer.create: a bad AE title is refused up front; a bad option found later leaves no index file open', async () => {
  const { readdirSync, readlinkSync } = await import('node:fs');
  const root = join(dir, 'bad-config');
  const openIndexFiles = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(join(root, '.index.sqlite'));
      } catch {
        return false; // closed meanwhile (the directory's own descriptor)
      }
    }).length;
  await assert.rejects(StorageServer.create({ aeTitle: '', storeRoot: root, fsync: 'none' }), (e: unknown) => (e as { code?: string }).code === 'DICOM_ERR_INVALID_OPTION');
  await assert.rejects(StorageServer.create({ aeTitle: ['OK', 'A-TITLE-LONGER-THAN-16'], storeRoot: root, fsync: 'none' }), (e: unknown) => (e as { code?: string }).code === 'DICOM_ERR_INVALID_OPTION');
  // Found by the FileStore, after the index was opened.
  await assert.rejects(StorageServer.create({ aeTitle: 'OK', storeRoot: root, fsync: 'sometimes' as never }), (e: unknown) => (e as { code?: string }).code === 'DICOM_ERR_INVALID_OPTION');
  await assert.rejects(StorageServer.create({ aeTitle: 'OK', storeRoot: root, duplicates: 'bogus' as never }), (e: unknown) => (e as { code?: string }).code === 'DICOM_ERR_INVALID_OPTION');
  assert.equal(openIndexFiles(), 0);
  // The same root opens (and closes) normally afterwards.
  const ok = await StorageServer.create({ aeTitle: 'OK', storeRoot: root, fsync: 'none' });
  assert.ok(openIndexFiles() > 0, "the check sees an open index (and its WAL)");
  await ok.close();
  assert.equal(openIndexFiles(), 0);
});
