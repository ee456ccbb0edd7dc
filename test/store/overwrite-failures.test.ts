/**
 * An 'overwrite' that fails part-way (not a crash: the store goes on) never costs the instance
 * already stored: a failed placing (an injected rename failure; an S3 put that wrote part of the
 * object, as a server writing in place leaves it, and then failed) or a failed index write leaves
 * the acknowledged copy whole and indexed and nothing of the new one; a failed removal of the old
 * copy leaves it accounted for by a pending entry, which `store check` (or the next start) settles;
 * a new copy nothing accounts for (its entry lost) is an orphan `store check` removes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readAll, type BlobStore } from '../../src/store/blob/blob-store.js';
import { LocalBlobStore } from '../../src/store/blob/local.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import { checkStore } from '../../src/store/check.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { FileStore } from '../../src/store/file-store.js';
import { asyncOps, syncOps, type PlaceOps } from '../../src/store/fs-ops.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { ctImageStorage, encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';
import { startS3Server } from '../helpers/s3.js';

const STUDY = '1.2.826.0.1.3680043.9.7302';
const s: InstanceSpec = { PatientName: 'DOE^J', PatientID: 'F', StudyInstanceUID: STUDY, SeriesInstanceUID: `${STUDY}.1`, SOPInstanceUID: `${STUDY}.1.1`, SOPClassUID: ctImageStorage, Modality: 'CT' };
const v1 = encodeDataset([...specElements(s), [0x00081030, 'LO', 'FIRST'], [0x7fe00010, 'OW', new Uint8Array(40_000).fill(1)]]);
const v2 = encodeDataset([...specElements(s), [0x00081030, 'LO', 'SECOND'], [0x7fe00010, 'OW', new Uint8Array(40_000).fill(2)]]);
const meta = { sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: '1.2.840.10008.1.2.1' };
async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}
const eio = (): Error => Object.assign(new Error('EIO: injected'), { code: 'EIO' });

/** Replace one PlaceOps call in both flavours for the duration of `fn`. */
async function injected<K extends keyof PlaceOps>(name: K, fake: PlaceOps[K], fn: () => Promise<void>): Promise<void> {
  const saved = [asyncOps[name], syncOps[name]] as const;
  asyncOps[name] = fake;
  syncOps[name] = fake;
  try {
    await fn();
  } finally {
    [asyncOps[name], syncOps[name]] = saved;
  }
}

async function consistent(index: InstanceIndex, blobs: BlobStore): Promise<void> {
  assert.deepEqual(await index.pendingEntries(), []);
  assert.deepEqual((await checkStore({ index, blobs, graceSeconds: 0 })).findings, []);
}

async function directory(): Promise<{ root: string; index: SqliteIndex; store: FileStore; first: Awaited<ReturnType<FileStore['store']>>; done(): Promise<void> }> {
  const { dir, remove } = await tempDir('overwrite-fail');
  const root = join(dir, 'files');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const store = await FileStore.open({ root, index, duplicates: 'overwrite' });
  const first = await store.store(meta, once(v1));
  return { root, index, store, first, done: async () => { await index.close(); await remove(); } };
}

test('directory: the placing fails (injected rename failure): the first copy stays indexed and whole, nothing of the second is left', async () => {
  const d = await directory();
  try {
    const before = await readFile(d.first.path);
    await injected('rename', async () => { throw eio(); }, async () => {
      await assert.rejects(d.store.store(meta, once(v2)), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.io);
    });
    assert.equal((await d.index.findInstance(s.SOPInstanceUID))?.key, d.first.key);
    assert.ok((await readFile(d.first.path)).equals(before));
    await consistent(d.index, LocalBlobStore.at({ root: d.root }));
  } finally {
    await d.done();
  }
});

test('directory: the old copy cannot be removed (injected failure): the new one is indexed, the old one stays pending, and store check removes it', async () => {
  const d = await directory();
  try {
    let second;
    await injected('remove', async () => { throw eio(); }, async () => {
      second = await d.store.store(meta, once(v2));
    });
    assert.ok(second !== undefined);
    const row = await d.index.findInstance(s.SOPInstanceUID);
    assert.equal(row?.key, (second as { key: string }).key);
    assert.notEqual(row?.key, d.first.key);
    assert.ok(existsSync(d.first.path), 'the old copy is still there');
    assert.deepEqual((await d.index.pendingEntries()).map((e) => [e.key, e.record]), [[d.first.key, undefined]]);
    const blobs = LocalBlobStore.at({ root: d.root });
    const report = await checkStore({ index: d.index, blobs, graceSeconds: 0 });
    assert.deepEqual(report.findings, [{ kind: 'pending', key: d.first.key, sopInstanceUid: s.SOPInstanceUID, action: 'removed' }]);
    assert.equal(existsSync(d.first.path), false);
    await consistent(d.index, blobs);
  } finally {
    await d.done();
  }
});

test('directory: the index write fails: the first copy stays indexed and whole, the second copy is removed', async () => {
  const { dir, remove } = await tempDir('overwrite-fail');
  const root = join(dir, 'files');
  const real = new SqliteIndex(join(dir, 'index.sqlite'));
  let failAdd = false;
  const index = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'addInstance') return (...args: unknown[]) => (failAdd ? Promise.reject(new Error('SQLITE_CORRUPT: injected')) : (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  try {
    const store = await FileStore.open({ root, index, duplicates: 'overwrite' });
    const first = await store.store(meta, once(v1));
    const before = await readFile(first.path);
    failAdd = true;
    await assert.rejects(store.store(meta, once(v2)), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.index);
    failAdd = false;
    assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, first.key);
    assert.ok((await readFile(first.path)).equals(before));
    await consistent(index, LocalBlobStore.at({ root }));
  } finally {
    await real.close();
    await remove();
  }
});

test('S3: a put that wrote part of the new object under its key and failed (a server writing in place): the first object stays indexed and whole, the part is removed', async () => {
  const s3 = await startS3Server(['dicom']);
  const { dir, remove } = await tempDir('overwrite-fail');
  const real = await S3BlobStore.open({ ...s3.options('dicom', 'fail'), maxAttempts: 1 });
  let failPut = false;
  const blobs: BlobStore = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'put') {
        return async (key: string, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) => {
          if (!failPut) return (value as BlobStore['put']).call(target, key, body);
          const whole = await readAll(body as AsyncIterable<Uint8Array>);
          await target.put(key, [whole.subarray(0, 1000)]);
          throw new StoreError(storeErrorCodes.blobUnavailable, 'the connection was reset (injected)');
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    const store = await FileStore.open({ root: join(dir, 'spool'), index, blobs, duplicates: 'overwrite' });
    const first = await store.store(meta, once(v1));
    const before = await readAll(await blobs.get(first.key));
    failPut = true;
    await assert.rejects(store.store(meta, once(v2)), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.blobUnavailable);
    failPut = false;
    assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, first.key);
    assert.ok((await readAll(await blobs.get(first.key))).equals(before), 'the acknowledged object was damaged');
    const held = [];
    for await (const o of blobs.list('')) held.push(o.key);
    assert.deepEqual(held, [first.key]);
    await consistent(index, blobs);
  } finally {
    await index.close();
    await real.close();
    await s3.close();
    await remove();
  }
});

test('store check: a copy under a replacement key that nothing accounts for (its pending entry lost with a power cut) is an orphan and removed; the indexed copy stays', async () => {
  const d = await directory();
  try {
    const stray = d.first.key.replace(/\.dcm$/, '-mz0abc12ff00ee11.dcm');
    const path = join(d.root, ...stray.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, v2);
    const blobs = LocalBlobStore.at({ root: d.root });
    const report = await checkStore({ index: d.index, blobs, graceSeconds: 0 });
    assert.deepEqual(report.findings.map((f) => [f.kind, f.key, f.action]), [['orphan-object', stray, 'removed']]);
    assert.equal(existsSync(path), false);
    assert.ok(existsSync(d.first.path));
    await consistent(d.index, blobs);
  } finally {
    await d.done();
  }
});
