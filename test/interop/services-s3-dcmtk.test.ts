/**
 * The storing server with its instances in S3 (s3rver, started here) and two nodes sharing one
 * index (embedded SQLite, and PostgreSQL: the scale-out setup) and one bucket, driven by DCMTK 3.6.7: storescu stores into node A; findscu, movescu (to a
 * DCMTK storescp) and getscu ask node B, which never received an instance and sends every one of
 * them from the bucket, byte-identical, and answers a Storage Commitment request from the bucket.
 * One instance is above the multipart part size.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { NormalizedSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { indexBackends } from '../helpers/index-backends.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import type { BlobStore } from '../../src/store/blob/blob-store.js';
import { hasDcmtk, run, startListening } from '../helpers/dcmtk.js';
import { dcmdump, dumpValue, tempDir } from '../helpers/dicom-data.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';
import { datasetHash, spec, writeBigInstance, writeInstance } from '../helpers/services.js';

const skip = ['storescu', 'findscu', 'movescu', 'getscu', 'storescp'].every((t) => hasDcmtk(t)) ? false : 'DCMTK tools missing';
const MiB = 1024 * 1024;

let dir: string;
let remove: () => Promise<void>;
let s3: S3Server;
const files: { path: string; hash: string; uid: string }[] = [];

before(async () => {
  ({ dir, remove } = await tempDir('services-s3'));
  s3 = await startS3Server(['dicom']);
  await mkdir(join(dir, 'in'));
  for (let n = 1; n <= 4; n++) {
    const s = spec(n);
    files.push({ ...(await writeInstance(join(dir, 'in'), s, { pixels: 3000 + n })), uid: s.SOPInstanceUID });
  }
  // Above the 5 MiB part size: a multipart upload on the way in, a streamed GetObject on the way out.
  const big = spec(7, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.7' });
  files.push({ ...(await writeBigInstance(join(dir, 'in'), big, 12 * MiB)), uid: big.SOPInstanceUID });
});
after(async () => {
  await s3?.close();
  await remove();
});

async function objectHash(blobs: BlobStore, key: string): Promise<string> {
  const { openStoredDataset } = await import('../../src/store/blob/read.js');
  const hash = createHash('sha256');
  for await (const c of (await openStoredDataset(blobs, key)).dataset) hash.update(c);
  return hash.digest('hex');
}

for (const backend of indexBackends()) describe(`on the ${backend.name} index`, { skip: skip || backend.skip }, () => {
before(() => backend.start());
after(() => backend.stop());
test(`two nodes on one ${backend.name} index and one bucket: storescu → node A; findscu, movescu → storescp, getscu ← node B; every instance once, byte-identical`, async () => {
  const prefix = `site-${backend.name}`;
  const index = await backend.open(await mkdtemp(join(dir, 'index-')));
  // Node B has an index of its own on the same database, as another process would (SQLite: the same file).
  const indexB = await backend.reopen(index);
  const storeA = await S3BlobStore.open({ ...s3.options('dicom', prefix), partSize: 5 * MiB });
  const storeB = await S3BlobStore.open({ ...s3.options('dicom', prefix), partSize: 5 * MiB });
  const work = await mkdtemp(join(dir, `${backend.name}-`));
  await mkdir(join(work, 'moved'));
  await mkdir(join(work, 'twins'));
  const dest = await startListening('storescp', ['+B', '-od', join(work, 'moved')]);
  const a = await StorageServer.create({ aeTitle: 'NODE-A', storeRoot: join(work, 'spool-a'), index, storage: storeA, fsync: 'none' });
  const b = await StorageServer.create({ aeTitle: 'NODE-B', storeRoot: join(work, 'spool-b'), index: indexB, storage: storeB, fsync: 'none', destinations: { DEST: { host: '127.0.0.1', port: dest.port } } });
  try {
    const { port: portA } = await a.listen(0);
    const { port: portB } = await b.listen(0);
    const stored = await run('storescu', ['-aec', 'NODE-A', '-aet', 'STORESCU', '127.0.0.1', String(portA), ...files.map((f) => f.path)]);
    assert.equal(stored.code, 0, stored.output);
    // Sent again to the other node: the duplicate policy (keep-first) keeps one copy.
    const again = await run('storescu', ['-aec', 'NODE-B', '-aet', 'STORESCU', '127.0.0.1', String(portB), files[0]!.path]);
    assert.equal(again.code, 0, again.output);
    // The same new instances sent to both nodes at once: both answered Success; one object and one row each.
    const twins: { path: string }[] = [];
    for (let n = 50; n < 54; n++) twins.push(await writeInstance(join(work, 'twins'), spec(n, { StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.9', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.9.1', SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.1.${n}` }), { pixels: 5000 }));
    const both = await Promise.all([portA, portB].map((port, i) => run('storescu', ['-aec', i === 0 ? 'NODE-A' : 'NODE-B', '-aet', 'STORESCU', '127.0.0.1', String(port), ...twins.map((t) => t.path)])));
    for (const r of both) assert.equal(r.code, 0, r.output);
    const keys: string[] = [];
    for await (const o of storeA.list()) keys.push(o.key);
    assert.equal(keys.length, files.length + twins.length);
    assert.equal((await index.statistics()).instances, files.length + twins.length);
    for (const f of files) {
      const row = await b.storedInstance(f.uid);
      assert.ok(row, f.uid);
      assert.equal(row.path, `s3://dicom/${prefix}/${row.key}`);
      assert.equal(await objectHash(storeB, row.key), f.hash);
    }
    // The spool directories hold nothing once the instances are stored.
    assert.deepEqual(await readdir(join(work, 'spool-a')), []);

    const findOut = join(work, 'find-out');
    await mkdir(findOut);
    const q = await run('findscu', ['-S', '-aec', 'NODE-B', '-X', '-od', findOut, '-k', 'QueryRetrieveLevel=IMAGE', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7777.1', '-k', 'SeriesInstanceUID=1.2.826.0.1.3680043.9.7777.1.1', '-k', 'SOPInstanceUID', '127.0.0.1', String(portB)]);
    assert.equal(q.code, 0, q.output);
    const study = files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.1.'));
    const found: string[] = [];
    for (const name of await readdir(findOut)) found.push(dumpValue(await dcmdump(join(findOut, name)), '0008,0018') ?? '');
    assert.deepEqual(found.sort(), study.map((f) => f.uid).sort());

    const m = await run('movescu', ['-S', '-aec', 'NODE-B', '-aem', 'DEST', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7777.1', '127.0.0.1', String(portB)]);
    assert.equal(m.code, 0, m.output);
    const moved = await readdir(join(work, 'moved'));
    assert.equal(moved.length, study.length, dest.output());
    for (const name of moved) {
      const uid = dumpValue(await dcmdump(join(work, 'moved', name), ['-M']), '0008,0018');
      assert.equal(await datasetHash(join(work, 'moved', name)), study.find((f) => f.uid === uid)?.hash, uid);
    }

    const getOut = join(work, 'get-out');
    await mkdir(getOut);
    const g = await run('getscu', ['-S', '-aec', 'NODE-B', '-od', getOut, '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7777.1', '127.0.0.1', String(portB)]);
    assert.equal(g.code, 0, g.output);
    const got = await readdir(getOut);
    assert.equal(got.length, study.length, g.output);
    for (const name of got) {
      const uid = dumpValue(await dcmdump(join(getOut, name), ['-M']), '0008,0018');
      assert.equal(await datasetHash(join(getOut, name)), study.find((f) => f.uid === uid)?.hash, uid);
    }

    // Storage Commitment asked of node B: committed from the objects' sizes in the bucket; one
    // whose object was removed behind the index's back is not.
    const gone = files[1]!;
    await storeA.delete((await b.storedInstance(gone.uid))!.key);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: portB, callingAeTitle: 'COMMITTER', calledAeTitle: 'NODE-B',
      presentationContexts: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
    });
    try {
      const report = await client.commit(files.map((f) => ({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: f.uid })), { timeout: 20_000 });
      assert.deepEqual(report.committed.map((r) => r.sopInstanceUid).sort(), files.filter((f) => f !== gone).map((f) => f.uid).sort());
      assert.deepEqual(report.failed.map((r) => [r.sopInstanceUid, r.failureReason]), [[gone.uid, 0x0112]]);
    } finally {
      await client.release();
    }
  } finally {
    await a.close({ timeout: 1000 });
    await b.close({ timeout: 1000 });
    await dest.stop();
    await index.close();
    await indexB.close();
    await storeA.close();
    await storeB.close();
  }
});
});
