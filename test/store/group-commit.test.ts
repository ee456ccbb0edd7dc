/**
 * Group commit of the embedded index (SqliteIndex.addInstance): rows asked for in one turn of the
 * event loop are committed in one transaction; each caller is answered for its own row only.
 * Crash consistency with batching on is test/store/crash-consistency.test.ts (4 associations
 * storing at once into the durable default, killed with SIGKILL again and again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { StoreError } from '../../src/store/errors.js';
import type { InstanceRecord } from '../../src/store/instance-index.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const record = (n: number): InstanceRecord => ({
  SpecificCharacterSet: '', PatientID: 'P1', PatientName: 'DOE^JANE', PatientBirthDate: '', PatientSex: '',
  StudyInstanceUID: '1.9', StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '',
  ReferringPhysicianName: '', SeriesInstanceUID: '1.9.1', Modality: 'CT', SeriesNumber: '1', SeriesDescription: '',
  SOPInstanceUID: `1.9.1.${n}`, SOPClassUID: ctImageStorage, InstanceNumber: String(n),
  key: `1.9/1.9.1/1.9.1.${n}.dcm`, transferSyntaxUid: '1.2.840.10008.1.2.1', size: 100 + n,
});

/** A row SQLite refuses (the statement aborts; the transaction goes on), as a bad value would. */
function refuseRow(index: SqliteIndex, sopUid: string): void {
  index.connection.exec(`CREATE TRIGGER refuse_row BEFORE INSERT ON instance WHEN NEW.sop_uid = '${sopUid}' BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`);
}

const count = (index: SqliteIndex, sql: string): number => Number((index.connection.prepare(sql).get() as { n: number }).n);

test('rows asked for at once are committed together: fewer WAL frames than the same rows one by one', async () => {
  const { dir, remove } = await tempDir('group-commit');
  try {
    const walOf = async (name: string, rows: (index: SqliteIndex) => Promise<void>): Promise<number> => {
      const path = join(dir, name);
      const index = new SqliteIndex(path);
      try {
        await index.addInstance(record(0)); // schema and parents written
        index.connection.exec('PRAGMA wal_checkpoint(TRUNCATE)');
        await rows(index);
        assert.equal(count(index, 'SELECT count(*) AS n FROM instance'), 33);
        return (await stat(`${path}-wal`)).size;
      } finally {
        await index.close();
      }
    };
    const ns = Array.from({ length: 32 }, (_, i) => i + 1);
    const together = await walOf('together.sqlite', async (index) => {
      await Promise.all(ns.map((n) => index.addInstance(record(n))));
    });
    const oneByOne = await walOf('one-by-one.sqlite', async (index) => {
      for (const n of ns) await index.addInstance(record(n));
    });
    // One commit rewrites each page it touches once; 32 commits rewrite them 32 times.
    assert.ok(together * 4 < oneByOne, `WAL after 32 rows at once: ${together} bytes, one by one: ${oneByOne} bytes`);
  } finally {
    await remove();
  }
});

test('a row that fails in a batch fails alone: its batch-mates are indexed, its pending entry stays', async () => {
  const { dir, remove } = await tempDir('group-commit');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    refuseRow(index, '1.9.1.5');
    const ns = Array.from({ length: 10 }, (_, i) => i + 1);
    await index.beginPending(ns.map((n) => ({ key: record(n).key, sopInstanceUid: record(n).SOPInstanceUID, record: record(n) })), { durable: false });
    const outcomes = await Promise.allSettled(ns.map((n) => index.addInstance(record(n), [record(n).key])));
    assert.deepEqual(outcomes.map((o) => o.status), ns.map((n) => (n === 5 ? 'rejected' : 'fulfilled')));
    const failure = (outcomes[4] as PromiseRejectedResult).reason;
    assert.ok(failure instanceof StoreError, String(failure));
    assert.match(failure.message, /1\.9\.1\.5/);
    assert.deepEqual(
      (index.connection.prepare('SELECT sop_uid FROM instance ORDER BY id').all() as { sop_uid: string }[]).map((r) => r.sop_uid),
      ns.filter((n) => n !== 5).map((n) => `1.9.1.${n}`),
    );
    // The failed row's pending entry was rolled back with it: the next start settles its file.
    assert.deepEqual((await index.pendingEntries()).map((e) => e.key), [record(5).key]);
    // The connection is back at FULL after a pending entry committed without its fsync.
    assert.equal(index.synchronous, 'full');
  } finally {
    await index.close();
    await remove();
  }
});

test('concurrent durable stores into a FileStore: all answered, all indexed, one failing row fails only its instance', async () => {
  const { dir, remove } = await tempDir('group-commit');
  const root = join(dir, 'store');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    const store = await FileStore.open({ root, index, fsync: 'file' });
    const datasets = Array.from({ length: 24 }, (_, i) => encodeDataset([
      ...specElements({ PatientID: 'GC', StudyInstanceUID: '1.2.826.0.1.3680043.9.77', SeriesInstanceUID: `1.2.826.0.1.3680043.9.77.${(i % 2) + 1}`, SOPInstanceUID: `1.2.826.0.1.3680043.9.77.${(i % 2) + 1}.${i}`, SOPClassUID: ctImageStorage }),
      [0x7fe00010, 'OW', new Uint8Array(4000 + i * 10).fill(i)],
    ]));
    const uidOf = (i: number): string => `1.2.826.0.1.3680043.9.77.${(i % 2) + 1}.${i}`;
    refuseRow(index, uidOf(7));
    const outcomes = await Promise.allSettled(datasets.map((d, i) =>
      store.store({ sopClassUid: ctImageStorage, sopInstanceUid: uidOf(i), transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
        yield d;
      })()),
    ));
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [uidOf(i)] : []));
    assert.deepEqual(failed, [uidOf(7)]);
    assert.ok((outcomes[7] as PromiseRejectedResult).reason instanceof StoreError);
    const rows = index.connection.prepare('SELECT sop_uid, storage_key FROM instance ORDER BY sop_uid').all() as { sop_uid: string; storage_key: string }[];
    assert.deepEqual(rows.map((r) => r.sop_uid), datasets.map((_, i) => uidOf(i)).filter((u) => u !== uidOf(7)).sort());
    for (const row of rows) {
      const path = join(root, ...row.storage_key.split('/'));
      const i = datasets.findIndex((_, k) => uidOf(k) === row.sop_uid);
      assert.ok((await readFile(path)).subarray((await readPart10Header(path)).datasetOffset).equals(datasets[i]!), `${row.sop_uid} differs`);
    }
    // The failed instance's file is gone with its row; nothing is pending or half-written.
    const files = (await readdir(root, { recursive: true })).map(String).filter((f) => f.endsWith('.dcm') || f.includes('.partial-'));
    assert.equal(files.length, rows.length);
    // (Entries ended without a commit of their own go with the index's next write: not pending any more.)
    assert.deepEqual(await index.pendingEntries(), []);
    assert.equal(count(index, 'SELECT count(*) AS n FROM pending'), 0);
  } finally {
    await index.close();
    await remove();
  }
});

test('a row whose caller stores nothing else (alone) is committed and placed at once; others wait the turn out to be grouped', async () => {
  const { dir, remove } = await tempDir('group-commit');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    const entryOf = (n: number) => ({ key: record(n).key, sopInstanceUid: record(n).SOPInstanceUID, record: record(n) });
    const placed: number[] = [];
    const rows = (): number => count(index, 'SELECT count(*) AS n FROM instance');
    // Alone: the commit and the placing happen inside the call, before anything else runs.
    const first = index.addPlaced(record(1), entryOf(1), () => void placed.push(1), { alone: true });
    assert.deepEqual(placed, [1]);
    assert.equal(rows(), 1);
    await first;
    // Not alone: grouped with whatever else is asked for in this turn, committed at setImmediate.
    const second = index.addPlaced(record(2), entryOf(2), () => void placed.push(2));
    // Alone, but a row is already waiting: it joins that commit rather than going first.
    const third = index.addPlaced(record(3), entryOf(3), () => void placed.push(3), { alone: true });
    assert.deepEqual(placed, [1]);
    assert.equal(rows(), 1);
    await Promise.all([second, third]);
    assert.deepEqual(placed, [1, 2, 3]);
    assert.equal(rows(), 3);
  } finally {
    await index.close();
    await remove();
  }
});

test('a lone store into a FileStore has its row committed within the call that places it; stores at once are still grouped', async () => {
  const { dir, remove } = await tempDir('group-commit');
  const root = join(dir, 'store');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const asked: { alone: boolean }[] = [];
  const addPlaced = index.addPlaced.bind(index);
  index.addPlaced = (record, entry, place, options = {}) => {
    asked.push({ alone: options.alone === true });
    return addPlaced(record, entry, place, options);
  };
  try {
    const store = await FileStore.open({ root, index, fsync: 'none' });
    const uidOf = (i: number): string => `1.2.826.0.1.3680043.9.78.1.${i}`;
    const dataset = (i: number): Uint8Array => encodeDataset([
      ...specElements({ PatientID: 'GA', StudyInstanceUID: '1.2.826.0.1.3680043.9.78', SeriesInstanceUID: '1.2.826.0.1.3680043.9.78.1', SOPInstanceUID: uidOf(i), SOPClassUID: ctImageStorage }),
      [0x7fe00010, 'OW', new Uint8Array(2000).fill(i)],
    ]);
    const storeOne = (i: number) => store.store({ sopClassUid: ctImageStorage, sopInstanceUid: uidOf(i), transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
      yield dataset(i);
    })());
    for (const i of [1, 2]) await storeOne(i);
    assert.deepEqual(asked, [{ alone: true }, { alone: true }]);
    asked.length = 0;
    await Promise.all([3, 4, 5].map(storeOne));
    assert.equal(asked.length, 3);
    assert.ok(asked.some((a) => !a.alone), `stores at once all asked alone: ${JSON.stringify(asked)}`);
    assert.equal(count(index, 'SELECT count(*) AS n FROM instance'), 5);
  } finally {
    await index.close();
    await remove();
  }
});

test('addPlaced in one batch with an instance indexed already: that row alone is rolled back (false, not placed, no entry), the others placed and committed', async () => {
  const { dir, remove } = await tempDir('group-commit');
  const index = new SqliteIndex(join(dir, 'index.sqlite'), { synchronous: 'normal' });
  try {
    await index.addInstance({ ...record(2), size: 7 });
    const placed: number[] = [];
    const entryOf = (n: number) => ({ key: record(n).key, sopInstanceUid: record(n).SOPInstanceUID, record: record(n) });
    const outcomes = await Promise.all([1, 2, 3].map((n) => index.addPlaced(record(n), entryOf(n), () => placed.push(n))));
    assert.deepEqual(outcomes, [true, false, true]);
    assert.deepEqual(placed, [1, 3]);
    // The known row untouched, the new ones in with their entries; none for the known one.
    assert.equal(count(index, `SELECT size AS n FROM instance WHERE sop_uid = '${record(2).SOPInstanceUID}'`), 7);
    assert.equal(count(index, 'SELECT count(*) AS n FROM instance'), 3);
    assert.deepEqual((await index.pendingEntries()).map((e) => e.key).sort(), [record(1).key, record(3).key]);
    // Alone (its own transaction), the same.
    assert.equal(await index.addPlaced(record(2), entryOf(2), () => placed.push(2)), false);
    assert.deepEqual(placed, [1, 3]);
    assert.equal(count(index, `SELECT size AS n FROM instance WHERE sop_uid = '${record(2).SOPInstanceUID}'`), 7);
    assert.deepEqual((await index.pendingEntries()).map((e) => e.key).sort(), [record(1).key, record(3).key]);
  } finally {
    await index.close();
    await remove();
  }
});
