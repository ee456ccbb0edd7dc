/**
 * Instances into S3 are streamed, never held: a 120 MB instance stored by a server process whose
 * instances go to S3 (s3rver, started here) arrives whole in the bucket, while the server's live
 * memory and peak RSS grow far less than the instance (the spool file and at most three upload
 * parts of 5 MiB, not the data set).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import { openStoredDataset } from '../../src/store/blob/read.js';
import { tempDir } from '../helpers/dicom-data.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';
import { spec, writeBigInstance } from '../helpers/services.js';
import { startStorageServerProcess, vmHwm } from '../helpers/storage-server-process.js';

const MiB = 1024 * 1024;
let dir: string;
let remove: () => Promise<void>;
let s3: S3Server;

before(async () => {
  ({ dir, remove } = await tempDir('services-s3-memory'));
  s3 = await startS3Server(['dicom']);
});
after(async () => {
  await s3?.close();
  await remove();
});

test('a 120 MB instance into S3: whole in the bucket; the server process holds parts, not the instance', async () => {
  await mkdir(join(dir, 'in'));
  const s = spec(300, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.8.1.300', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.8', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.8.1' });
  const big = await writeBigInstance(join(dir, 'in'), s, 120 * MiB);
  // Warm-up above the part size: the SDK loaded, a multipart upload done, before the baseline.
  const warm = await writeBigInstance(join(dir, 'in'), spec(301, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.8.1.301', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.8', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.8.1' }), 12 * MiB);
  const server = await startStorageServerProcess(
    { storeRoot: join(dir, 'spool'), maxPduLength: 65536, s3: { endpoint: s3.endpoint, bucket: 'dicom', prefix: 'mem', partSize: 5 * MiB } },
    ['--expose-gc', '--no-concurrent-array-buffer-sweeping'],
  );
  try {
    const client = await DicomClient.associate({ host: '127.0.0.1', port: server.port, callingAeTitle: 'BIG', calledAeTitle: 'CHILD-SCP', presentationContexts: await storageContextsFor([warm.path, big.path]), maxPduLength: 65536, timeouts: { connect: 5000, association: 5000, dimse: 120_000 } });
    assert.equal((await client.store([warm.path]))[0]?.status, 0);
    const base = await vmHwm(server.child.pid!);
    const liveFrom = server.lines.length;
    const [r] = await client.store([big.path]);
    assert.equal(r?.status, 0, r?.errorComment);
    const peak = await vmHwm(server.child.pid!);
    await client.release();
    const stored = server.lines.find((l) => l['stored'] === s.SOPInstanceUID);
    assert.ok(stored, JSON.stringify(server.lines));
    const blobs = await S3BlobStore.open({ ...s3.options('dicom', 'mem') });
    try {
      const key = String(stored['path']).replace('s3://dicom/mem/', '');
      const hash = createHash('sha256');
      for await (const c of (await openStoredDataset(blobs, key)).dataset) hash.update(c);
      assert.equal(hash.digest('hex'), big.hash);
    } finally {
      await blobs.close();
    }
    const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
    const live = server.lines.slice(liveFrom).map((l) => l['live']).filter((v): v is number => typeof v === 'number');
    const liveBase = server.lines.slice(0, liveFrom).map((l) => l['live']).filter((v): v is number => typeof v === 'number').at(-1)!;
    assert.ok(live.length >= 5, 'memory was sampled');
    // Up to three 5 MiB parts of the upload in memory at once, and what receiving holds.
    assert.ok(Math.max(...live) - liveBase < 32 * MiB, `server live memory grew by ${mib(Math.max(...live) - liveBase)} for ${mib(big.size)}`);
    const grew = peak - base;
    assert.ok(grew < big.size * 0.5, `server peak RSS grew by ${mib(grew)} for ${mib(big.size)}`);
  } finally {
    await server.stop();
  }
});
