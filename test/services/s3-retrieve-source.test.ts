/**
 * C-GET and C-MOVE from a server whose instances are in S3 (s3rver, behind a relay that can break
 * a read off): an object that is missing, or cut short (of another size than its row records),
 * fails its own sub-operation (counted once, listed once in the Failed SOP Instance UID List, a
 * 'retrieve-source-failed' event) before anything of it is sent, and the other sub-operations and
 * the association go on, as with the directory store; a read the service breaks off mid-object
 * is resumed where it stopped, and the instance arrives whole.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DimseStatusError } from '../../src/ae/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { readAll } from '../../src/store/blob/blob-store.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import { FileStore } from '../../src/store/file-store.js';
import { tempDir } from '../helpers/dicom-data.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';
import { startTcpTap, type TcpTap } from '../helpers/tcp-tap.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 10_000, association: 10_000, dimse: 30_000 };
const study = '1.2.826.0.1.3680043.9.7777.1';
const specOf = (n: number) => spec(n, { StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: `${study}.1.${n}` });
const uids = [1, 2, 3, 4].map((n) => specOf(n).SOPInstanceUID);

let s3: S3Server;
let tap: TcpTap;
let dir: string;
let remove: () => Promise<void>;
let blobs: S3BlobStore;
let src: StorageServer;
let dest: StorageServer;

before(async () => {
  s3 = await startS3Server(['dicom']);
  tap = await startTcpTap(s3.port);
  ({ dir, remove } = await tempDir('s3-retrieve'));
  await mkdir(join(dir, 'in'));
  for (const n of [1, 2, 3]) await writeInstance(join(dir, 'in'), specOf(n), { pixels: 200_000 + n });
  // Instance 4: 3 MB, for a read broken off half-way.
  await writeInstance(join(dir, 'in'), specOf(4), { pixels: 3_000_000 });
  blobs = await S3BlobStore.open({ ...s3.options('dicom', 'retrieve'), endpoint: tap.endpoint, maxAttempts: 1 });
  dest = await StorageServer.create({ aeTitle: 'DEST', storeRoot: join(dir, 'dest'), fsync: 'none' });
  const { port: destPort } = await dest.listen(0);
  src = await StorageServer.create({ aeTitle: 'SRC', storeRoot: join(dir, 'src'), fsync: 'none', storage: blobs, destinations: { DEST: { host: '127.0.0.1', port: destPort } } });
  await src.listen(0);
  const sources = [join(dir, 'in')];
  const client = await DicomClient.associate({ host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', presentationContexts: await storageContextsFor(sources), timeouts: quick });
  for (const r of await client.store(sources)) assert.equal(r.status, 0, r.errorComment);
  await client.release();
  // Instance 2: the first 100 000 bytes of its object only (what an in-place put cut short leaves);
  // instance 3: no object at all.
  const row2 = (await src.index.findInstance(uids[1]!))!;
  const whole = await readAll(await blobs.get(row2.key));
  await blobs.put(row2.key, [whole.subarray(0, 100_000)]);
  await blobs.delete((await src.index.findInstance(uids[2]!))!.key);
});

after(async () => {
  await src?.close({ timeout: 1000 }).catch(() => undefined);
  await dest?.close({ timeout: 1000 }).catch(() => undefined);
  await tap?.close();
  await s3?.close();
  await remove?.();
});

/** 'retrieve-source-failed' events, and the instances a receiving store in this process refused ('store-failed'). */
function watchSourceFailures(): { uids: string[]; refused: string[]; stop(): void } {
  const seen: string[] = [];
  const refused: string[] = [];
  const on = (m: unknown): void => {
    const e = m as { kind?: string; sopInstanceUid?: string };
    if (e.kind === 'retrieve-source-failed') seen.push(e.sopInstanceUid!);
    if (e.kind === 'store-failed') refused.push(e.sopInstanceUid!);
  };
  diagnostics.subscribe(channelNames.server, on);
  return { uids: seen, refused, stop: () => diagnostics.unsubscribe(channelNames.server, on) };
}

test('C-GET from S3: the cut-short and the missing object each fail their sub-operation; the whole one arrives; the association goes on', async () => {
  const watch = watchSourceFailures();
  const { presentationContexts, roles } = getContexts();
  const client = await DicomClient.associate({ host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', presentationContexts, roles, timeouts: quick });
  try {
    const local = await FileStore.open({ root: join(dir, 'got'), fsync: 'none' });
    const got = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study }, { store: local });
    assert.equal(got.status, 0xb000);
    assert.deepEqual([got.completed, got.failed], [2, 2]);
    assert.deepEqual([...got.failedSopInstanceUids].sort(), [uids[1], uids[2]].sort());
    const files = (await readdir(join(dir, 'got'), { recursive: true })).map(String).filter((f) => f.endsWith('.dcm'));
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort(), [`${uids[0]}.dcm`, `${uids[3]}.dcm`]);
    // The association is still there: a second retrieve of the whole instance works on it.
    const again = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: uids[0] }, { store: local });
    assert.equal(again.outcome, 'Success');
    assert.deepEqual(watch.uids.sort(), [uids[1], uids[2]].sort());
    // Nothing of the damaged copy was sent: the receiving store never saw (and refused) part of it.
    assert.deepEqual(watch.refused, []);
  } finally {
    watch.stop();
    await client.release();
  }
});

test('C-MOVE from S3: the same, each unreadable object one failed sub-operation (B000), the whole one moved', async () => {
  const watch = watchSourceFailures();
  const contexts = [QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }));
  const client = await DicomClient.associate({ host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', presentationContexts: contexts, timeouts: quick });
  try {
    const moved = await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study }, 'DEST').catch((e: unknown) => {
      assert.ok(e instanceof DimseStatusError, String(e));
      throw e;
    });
    assert.equal(moved.status, 0xb000);
    assert.deepEqual([moved.completed, moved.failed], [2, 2]);
    assert.deepEqual([...moved.failedSopInstanceUids].sort(), [uids[1], uids[2]].sort());
    assert.ok(await dest.index.findInstance(uids[0]!));
    assert.equal(await dest.index.findInstance(uids[1]!), undefined);
    assert.deepEqual(watch.uids.sort(), [uids[1], uids[2]].sort());
    // Nothing of the damaged copy was sent: the receiving store never saw (and refused) part of it.
    assert.deepEqual(watch.refused, []);
  } finally {
    watch.stop();
    await client.release();
  }
});

test('C-GET from S3: a read the service breaks off in the middle of an object is resumed where it stopped; the instance arrives whole', async () => {
  const { presentationContexts, roles } = getContexts();
  const client = await DicomClient.associate({ host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', presentationContexts, roles, timeouts: quick });
  try {
    const local = await FileStore.open({ root: join(dir, 'got-resumed'), fsync: 'none' });
    // The GetObject reply is cut after 1 MB of the 3 MB object: part of the data set is sent by then.
    tap.cutReplyAfter(1_000_000);
    const got = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: uids[3] }, { store: local });
    assert.equal(got.outcome, 'Success');
    assert.equal(got.completed, 1);
    assert.equal(tap.cuts, 1, 'the read was broken off');
    const row = (await src.index.findInstance(uids[3]!))!;
    const original = join(dir, 'original.dcm');
    await writeFile(original, await readAll(await blobs.get(row.key)));
    assert.equal(await datasetHash(join(dir, 'got-resumed', study, `${study}.1`, `${uids[3]}.dcm`)), await datasetHash(original));
  } finally {
    await client.release();
  }
});
