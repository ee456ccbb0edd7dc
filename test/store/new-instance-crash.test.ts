/**
 * A new instance's row and pending entry are one commit, its copy renamed onto its key right
 * after it (commit.ts placeNew, SqliteIndex.addPlaced); its entry is ended without a commit of its
 * own. A process storing one new instance is killed with SIGKILL at each point of that order
 * (test/helpers/new-instance-crash-child.ts), with fsync 'none' and 'file' (the entry then carries
 * the copy's checksum, its flush overlapping the commit). After the next start (reconcile): the
 * index and the files agree, nothing is pending, no temporary file is left; an instance killed
 * before its copy was placed is not indexed and is stored again as new; one killed after is
 * indexed whole and a re-send is its duplicate. A copy torn after its row (a power loss before
 * its flush finished, simulated by changing its bytes) is removed with its row. Also: one commit
 * per new instance (the next one's commit ends the entry), and a placing that fails after the
 * commit leaves neither row nor copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { channelNames } from '../../src/diagnostics.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { FileStore, type FsyncPolicy } from '../../src/store/file-store.js';
import { SqliteIndex, type SqliteIndexOptions } from '../../src/store/sqlite-index.js';
import { StoreError } from '../../src/store/errors.js';
import type { NewInstanceCrashPoint } from '../helpers/new-instance-crash-child.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const STUDY = '1.2.826.0.1.3680043.9.7317';
const SERIES = `${STUDY}.1`;
const explicitLE = '1.2.840.10008.1.2.1';
const uidOf = (n: number): string => `${SERIES}.${n}`;
const datasetOf = (n: number): Buffer => encodeDataset([
  ...specElements({ PatientID: 'NEW', StudyInstanceUID: STUDY, SeriesInstanceUID: SERIES, SOPInstanceUID: uidOf(n), SOPClassUID: ctImageStorage }),
  [0x7fe00010, 'OW', new Uint8Array(20_000 + n * 2).map((_, k) => (k * 7 + n) & 0xff)],
]);
const metaOf = (n: number) => ({ sopClassUid: ctImageStorage, sopInstanceUid: uidOf(n), transferSyntaxUid: explicitLE });
async function* chunks(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

/** Every file under the root: stored copies and temporary files alike. */
async function filesUnder(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1).split('\\').join('/')).sort();
}

const dataOf = async (path: string): Promise<Buffer> => (await readFile(path)).subarray((await readPart10Header(path)).datasetOffset);

let cases = 0;
for (const fsync of ['none', 'file'] as const satisfies readonly FsyncPolicy[]) {
  for (const point of ['committed', 'placed', 'answered'] as const satisfies readonly NewInstanceCrashPoint[]) {
    test(`fsync '${fsync}': a new instance's store killed at '${point}': after the next start the index and the files agree, and the instance is ${point === 'committed' ? 'stored anew' : 'kept'} when sent again`, { timeout: 120_000 }, async () => {
      const { dir, remove } = await tempDir('new-instance-crash');
      const n = ++cases;
      const root = join(dir, 'files');
      const sqlite = join(dir, 'index.sqlite');
      try {
        await mkdir(root, { recursive: true });
        const datasetPath = join(dir, 'dataset.bin');
        await writeFile(datasetPath, datasetOf(n));
        const script = new URL('../helpers/new-instance-crash-child.js', import.meta.url).pathname;
        const child = spawn(process.execPath, [script, JSON.stringify({ root, sqlite, fsync, crashAt: point, datasetPath, meta: metaOf(n) })], { stdio: ['ignore', 'pipe', 'inherit'] });
        const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        assert.equal(signal, 'SIGKILL', `the crash point '${point}' was never reached`);

        const index = new SqliteIndex(sqlite);
        const events: { action: string; key: string }[] = [];
        const onEvent = (m: unknown): void => {
          const e = m as { kind?: string; action: string; key: string };
          if (e.kind === 'store-reconciled') events.push({ action: e.action, key: e.key });
        };
        diagnosticsChannel.subscribe(channelNames.server, onEvent);
        try {
          const store = await FileStore.open({ root, index, fsync });
          diagnosticsChannel.unsubscribe(channelNames.server, onEvent);
          assert.deepEqual(await index.pendingEntries(), []);
          const rows = index.connection.prepare('SELECT sop_uid, storage_key FROM instance').all() as { sop_uid: string; storage_key: string }[];
          const files = await filesUnder(root);
          // No file without its row, no row without its file, no temporary file.
          assert.deepEqual(files, rows.map((r) => r.storage_key).sort());
          if (point === 'committed') {
            // The row and entry went in, the copy never reached its key: the row goes.
            assert.deepEqual(rows, []);
            assert.deepEqual(events.map((e) => e.action), ['unindexed']);
          } else {
            assert.equal(rows.length, 1);
            assert.ok((await dataOf(join(root, rows[0]!.storage_key))).equals(datasetOf(n)), 'the stored copy is not the one received');
            // Its entry only cleared: nothing to report.
            assert.deepEqual(events, []);
          }
          const again = await store.store(metaOf(n), chunks(datasetOf(n)));
          assert.equal(again.duplicate, point !== 'committed');
          assert.ok((await dataOf(again.path)).equals(datasetOf(n)));
          assert.deepEqual(await index.pendingEntries(), []);
          await store.close();
        } finally {
          diagnosticsChannel.unsubscribe(channelNames.server, onEvent);
          await index.close();
        }
      } finally {
        await remove();
      }
    });
  }
}

test("fsync 'file': a copy torn after its row and entry were committed (its flush never finished) is removed with its row at the next start", { timeout: 120_000 }, async () => {
  const { dir, remove } = await tempDir('new-instance-crash');
  const root = join(dir, 'files');
  const sqlite = join(dir, 'index.sqlite');
  try {
    await mkdir(root, { recursive: true });
    const datasetPath = join(dir, 'dataset.bin');
    await writeFile(datasetPath, datasetOf(40));
    const script = new URL('../helpers/new-instance-crash-child.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [script, JSON.stringify({ root, sqlite, fsync: 'file', crashAt: 'placed', datasetPath, meta: metaOf(40) })], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL');
    // What a power loss can leave of a copy whose flush had not finished: other bytes.
    const [placed] = await filesUnder(root);
    const bytes = await readFile(join(root, placed!));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(join(root, placed!), bytes);
    const index = new SqliteIndex(sqlite);
    try {
      const store = await FileStore.open({ root, index, fsync: 'file' });
      assert.equal(await index.findInstance(uidOf(40)), undefined);
      assert.deepEqual(await filesUnder(root), []);
      assert.deepEqual(await index.pendingEntries(), []);
      assert.equal((await store.store(metaOf(40), chunks(datasetOf(40)))).duplicate, false);
      await store.close();
    } finally {
      await index.close();
    }
  } finally {
    await remove();
  }
});

/** An index whose COMMITs are counted (every write transaction of the index ends in one `COMMIT` exec). */
function countingIndex(path: string, options: SqliteIndexOptions): { index: SqliteIndex; commits: () => number } {
  const index = new SqliteIndex(path, options);
  const db = index.connection;
  const exec = db.exec.bind(db);
  let commits = 0;
  db.exec = (sql: string) => {
    if (/^\s*COMMIT\b/i.test(sql)) commits++;
    return exec(sql);
  };
  return { index, commits: () => commits };
}

const pendingRows = (index: SqliteIndex): number => (index.connection.prepare('SELECT count(*) AS n FROM pending').get() as { n: number }).n;

for (const fsync of ['none', 'file'] as const satisfies readonly FsyncPolicy[]) {
  test(`fsync '${fsync}': N new instances sent one after another are N commits of the index, one before each answer (its row with its pending entry, and the end of the entry before it); not 2N`, async () => {
    const { dir, remove } = await tempDir('new-instance-commits');
    // Never idle long enough for a drain of its own here: only the writes count.
    const options = { synchronous: fsync === 'none' ? 'normal' : 'full', idleDrainMs: 3_600_000 } as const;
    const { index, commits } = countingIndex(join(dir, 'index.sqlite'), options);
    try {
      const store = await FileStore.open({ root: join(dir, 'files'), index, fsync });
      const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
      await store.store(metaOf(100), chunks(datasetOf(100)));
      await turn();
      const first = commits();
      for (let n = 101; n <= 110; n++) {
        const before = commits();
        await store.store(metaOf(n), chunks(datasetOf(n)));
        // Before the answer: the row with its entry (and the previous entry's end), nothing else.
        assert.equal(commits() - before, 1);
        // Nor after it: the entry's end waits for the next write.
        await turn();
        await turn();
        assert.equal(commits() - before, 1);
        // Only the last instance's entry is left in the table, ended.
        assert.equal(pendingRows(index), 1);
      }
      assert.equal(commits() - first, 10);
      // Ended entries are not pending: asking drains them (one commit), the table is empty.
      assert.deepEqual(await index.pendingEntries(), []);
      assert.equal(commits() - first, 11);
      assert.equal(pendingRows(index), 0);
      await store.close();
    } finally {
      await index.close();
      await remove();
    }
  });
}

test('an ended entry that no later write carries gets a commit of its own once the index is idle', { timeout: 60_000 }, async (t) => {
  const { dir, remove } = await tempDir('new-instance-idle-drain');
  const options = { synchronous: 'normal', idleDrainMs: 1 } as const;
  const { index, commits } = countingIndex(join(dir, 'index.sqlite'), options);
  try {
    const store = await FileStore.open({ root: join(dir, 'files'), index, fsync: 'none' });
    const before = commits();
    await store.store(metaOf(200), chunks(datasetOf(200)));
    assert.equal(commits() - before, 1);
    // No bound on when: it comes (the test's timeout is the hang guard).
    while (pendingRows(index) > 0 && !t.signal.aborted) await new Promise((r) => setTimeout(r, 5));
    assert.equal(commits() - before, 2);
    assert.deepEqual(await index.pendingEntries(), []);
    assert.equal(commits() - before, 2);
    await store.close();
  } finally {
    await index.close();
    await remove();
  }
});

test('a placing that fails after the row and entry were committed leaves neither row, copy nor entry; the instance is refused and can be sent again', async () => {
  const { dir, remove } = await tempDir('new-instance-place');
  const root = join(dir, 'files');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    const store = await FileStore.open({ root, index, fsync: 'none' });
    // A directory where the copy goes: the rename fails.
    const blocked = join(root, STUDY, SERIES, `${uidOf(60)}.dcm`);
    await mkdir(join(blocked, 'x'), { recursive: true });
    await assert.rejects(store.store(metaOf(60), chunks(datasetOf(60))), (e: unknown) => e instanceof StoreError && e.code === 'DICOM_ERR_STORE_IO');
    assert.equal(await index.findInstance(uidOf(60)), undefined);
    assert.deepEqual(await index.pendingEntries(), []);
    // No copy and no temporary file left (the blocking directory holds none).
    assert.deepEqual(await filesUnder(root), []);
    await rm(blocked, { recursive: true });
    assert.equal((await store.store(metaOf(60), chunks(datasetOf(60)))).duplicate, false);
    assert.ok((await dataOf(join(root, STUDY, SERIES, `${uidOf(60)}.dcm`))).equals(datasetOf(60)));
    await store.close();
  } finally {
    await index.close();
    await remove();
  }
});
