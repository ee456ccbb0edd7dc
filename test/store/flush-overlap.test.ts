/**
 * A small instance's file is flushed while its row is committed and the index's WAL flushed, not
 * before (commit.ts CopyTarget.unflushed): one flush wait per instance for a peer that sends one
 * instance at a time, instead of two in a row. The answer still waits for both; the pending entry
 * keeps the file's CRC-32 until then, so that reconcile (and `store check`) remove a copy a power
 * loss tore, with its row. The flush calls are replaced here to hold them back, count them or
 * make them fail; no timing is asserted, only what happens before and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { channelNames } from '../../src/diagnostics.js';
import { FileStore } from '../../src/store/file-store.js';
import { copyFsync } from '../../src/store/fs-ops.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { StoreError } from '../../src/store/errors.js';
import { walFsync } from '../../src/store/wal-flush.js';
import { checkStore } from '../../src/store/check.js';
import { LocalBlobStore } from '../../src/store/blob/local.js';
import { ctImageStorage, encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';

const explicitLE = '1.2.840.10008.1.2.1';

const spec = (n: number): InstanceSpec => ({
  PatientName: 'DOE^JANE', PatientID: 'P16', StudyInstanceUID: '1.2.826.0.16.1', SeriesInstanceUID: '1.2.826.0.16.1.2',
  SOPInstanceUID: `1.2.826.0.16.1.2.${n}`, SOPClassUID: ctImageStorage, Modality: 'CT', InstanceNumber: String(n),
});
const meta = (s: InstanceSpec) => ({ sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: explicitLE });
async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
const dataset = (s: InstanceSpec): Uint8Array => encodeDataset([...specElements(s), [0x00081030, 'LO', 'x'.repeat(4000)]]);

/** A few turns of the event loop (and of the thread pool's callbacks). */
const turns = async (n = 20): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Replaces one flush call: each call is counted, and waits until the test releases or fails it (unless `passThrough`). */
function hold(target: { fsync: (fd: number) => Promise<void> }, passThrough = false) {
  const original = target.fsync;
  const waiting: { release(): void; fail(error: Error): void }[] = [];
  let wake: (() => void) | undefined;
  let calls = 0;
  let firstCall: () => void = () => undefined;
  const called = new Promise<void>((r) => (firstCall = r));
  target.fsync = (fd: number) => {
    calls++;
    firstCall();
    if (passThrough) return original(fd);
    return new Promise<void>((resolve, reject) => {
      waiting.push({ release: () => void original(fd).then(resolve, reject), fail: reject });
      wake?.();
    });
  };
  return {
    get calls() {
      return calls;
    },
    /** Resolves at the first call. */
    called,
    async next() {
      while (waiting.length === 0) await new Promise<void>((r) => (wake = r));
      return waiting.shift()!;
    },
    restore() {
      target.fsync = original;
    },
  };
}

/** Resolves with `value`, or rejects after `ms` (a hang guard, never a timing assertion). */
function guard<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]).finally(() => clearTimeout(timer));
}

test("a small instance's file flush runs while its row is committed and the WAL flushed; the answer and a look-up wait for both", async () => {
  const { dir, remove } = await tempDir('flush-overlap');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const store = await FileStore.open({ root: join(dir, 'files'), index, fsync: 'file' });
  const file = hold(copyFsync);
  const wal = hold(walFsync, true);
  try {
    const s = spec(1);
    let answered = false;
    const stored = store.store(meta(s), once(dataset(s))).finally(() => (answered = true));
    const fileFlush = await guard(file.next(), 'the file was never flushed');
    // The file's flush is held: the row's commit and WAL flush go on meanwhile (before, they waited for it).
    await guard(wal.called, 'the WAL flush waited for the file flush');
    await turns();
    assert.equal(answered, false, 'answered before the file was flushed');
    const entries = await index.pendingEntries();
    assert.equal(entries.length, 1, 'the pending entry stays until both flushes are done');
    assert.equal(typeof entries[0]!.crc32, 'number');
    // Committed, but not reported (a duplicate kept, a commitment answered) before its file is on disk.
    let found = false;
    const lookup = index.findInstance(s.SOPInstanceUID).finally(() => (found = true));
    await turns();
    assert.equal(found, false, 'the row was reported before its file was flushed');
    fileFlush.release();
    const placed = await stored;
    assert.equal((await lookup)?.key, placed.key);
    assert.equal(placed.duplicate, false);
    assert.deepEqual(await index.pendingEntries(), [], 'the entry is removed once both flushes are done');
    // What it holds is what was received: the checksum it kept matches the file.
    assert.equal(crc32(await readFile(placed.path)), entries[0]!.crc32);
    // Two flushes per instance, as before: the file's and the WAL's.
    assert.equal(file.calls, 1);
    assert.equal(wal.calls, 1);
  } finally {
    file.restore();
    wal.restore();
    await store.close();
    await index.close();
    await remove();
  }
});

test('with several instances being stored at once, each file is flushed before its rename and row, as before (their flushes overlap one another)', async () => {
  const { dir, remove } = await tempDir('flush-overlap-several');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const store = await FileStore.open({ root: join(dir, 'files'), index, fsync: 'file' });
  const file = hold(copyFsync);
  const wal = hold(walFsync, true);
  try {
    const [a, b] = [spec(4), spec(5)];
    // Both data sets arrive before either is complete.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    async function* gated(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
      await gate;
      yield bytes;
    }
    const stored = [store.store(meta(a), gated(dataset(a))), store.store(meta(b), gated(dataset(b)))];
    release();
    const flushes = [await guard(file.next(), 'a file was never flushed'), await guard(file.next(), 'a file was never flushed')];
    await turns();
    assert.equal(wal.calls, 0, 'a row was committed before its file was flushed');
    assert.deepEqual(await index.pendingEntries(), [], 'nothing placed before its flush');
    for (const f of flushes) f.release();
    const placed = await Promise.all(stored);
    assert.deepEqual(placed.map((p) => p.duplicate), [false, false]);
    assert.deepEqual(await index.pendingEntries(), []);
    assert.equal((await index.statistics()).instances, 2);
  } finally {
    file.restore();
    wal.restore();
    await store.close();
    await index.close();
    await remove();
  }
});

test("a failed file flush while the row was committed: refused, no row, no file, no pending entry", async () => {
  const { dir, remove } = await tempDir('flush-overlap-fail');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const store = await FileStore.open({ root: join(dir, 'files'), index, fsync: 'file' });
  const file = hold(copyFsync);
  try {
    const s = spec(2);
    const stored = store.store(meta(s), once(dataset(s)));
    (await guard(file.next(), 'the file was never flushed')).fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await assert.rejects(stored, (e: unknown) => e instanceof StoreError);
    assert.equal(await index.findInstance(s.SOPInstanceUID), undefined);
    assert.deepEqual(await index.pendingEntries(), []);
    assert.equal((await index.statistics()).instances, 0);
    await assert.rejects(readFile(store.pathOf(`${s.StudyInstanceUID}/${s.SeriesInstanceUID}/${s.SOPInstanceUID}.dcm`)), /ENOENT/);
  } finally {
    file.restore();
    await store.close();
    await index.close();
    await remove();
  }
});

/**
 * What a power loss can leave of an instance placed while its file was flushed: its row and its
 * pending entry (with the checksum) on disk, its file's bytes not (the same size, other bytes).
 * `torn`: the file's bytes changed after the store, as a lost flush leaves them.
 */
async function leftByPowerLoss(dir: string, torn: boolean) {
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const store = await FileStore.open({ root: join(dir, 'files'), index, fsync: 'file' });
  const s = spec(3);
  const placed = await store.store(meta(s), once(dataset(s)));
  const record = (await index.allInstances()).find((r) => r.key === placed.key)!;
  // The entry as it was while the flushes ran (its removal was not flushed before the power went).
  const bytes = await readFile(placed.path);
  await index.beginPending([{ key: placed.key, sopInstanceUid: s.SOPInstanceUID, record: { ...placed.attributes, key: placed.key, transferSyntaxUid: record.transferSyntaxUid, size: record.size }, crc32: crc32(bytes) }]);
  if (torn) await writeFile(placed.path, Buffer.alloc(bytes.length));
  await store.close();
  await index.close();
  return { s, placed, bytes };
}

test('after a power loss, reconcile removes a copy whose bytes differ from its entry\'s checksum, with its row; a matching one stays, only its entry cleared', async () => {
  const events: { action?: string; sopInstanceUid?: string }[] = [];
  const listen = (m: unknown): void => {
    if ((m as { kind?: string }).kind === 'store-reconciled') events.push(m as { action?: string });
  };
  diagnosticsChannel.subscribe(channelNames.server, listen);
  try {
    for (const torn of [true, false]) {
      events.length = 0;
      const { dir, remove } = await tempDir('flush-overlap-reconcile');
      try {
        const { s, placed, bytes } = await leftByPowerLoss(dir, torn);
        const index = new SqliteIndex(join(dir, 'index.sqlite'));
        const store = await FileStore.open({ root: join(dir, 'files'), index, fsync: 'file' });
        try {
          assert.deepEqual(await index.pendingEntries(), []);
          if (torn) {
            // Never acknowledged (the answer waits for the file's flush): gone, and storable again.
            assert.equal(await index.findInstance(s.SOPInstanceUID), undefined, 'a row names a torn copy');
            await assert.rejects(readFile(placed.path), /ENOENT/);
            assert.deepEqual(events.map((e) => e.action), ['discarded']);
            const again = await store.store(meta(s), once(dataset(s)));
            assert.equal(again.duplicate, false, 'a re-send was kept as a duplicate of the torn copy');
          } else {
            assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, placed.key);
            assert.deepEqual(await readFile(placed.path), bytes);
            assert.deepEqual(events, [], 'nothing to settle but the entry');
          }
        } finally {
          await store.close();
          await index.close();
        }
      } finally {
        await remove();
      }
    }
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, listen);
  }
});

test('store check removes a torn copy and its row, as reconcile does', async () => {
  const { dir, remove } = await tempDir('flush-overlap-check');
  try {
    const { s, placed } = await leftByPowerLoss(dir, true);
    const index = new SqliteIndex(join(dir, 'index.sqlite'));
    // The blobs of the directory store, without FileStore.open (which would reconcile first).
    const blobs = LocalBlobStore.at({ root: join(dir, 'files'), fsync: 'file' });
    try {
      const report = await checkStore({ index, blobs, graceSeconds: 0 });
      assert.deepEqual(report.findings.filter((f) => f.kind === 'pending').map((f) => f.action), ['removed']);
      assert.equal(await index.findInstance(s.SOPInstanceUID), undefined);
      assert.deepEqual(await index.pendingEntries(), []);
      await assert.rejects(readFile(placed.path), /ENOENT/);
    } finally {
      await blobs.close();
      await index.close();
    }
  } finally {
    await remove();
  }
});
