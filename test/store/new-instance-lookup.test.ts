/**
 * A new instance under the embedded index has no look-up of its own before its commit: the
 * commit of its row with its pending entry (SqliteIndex.addPlaced) is tried first, and that
 * transaction tells a new instance from a known one (one read transaction fewer per instance). A known one is
 * rolled back there, nothing written or placed, and goes the known instance's way under each
 * duplicate policy: kept as first stored, refused, or stored beside the first ('overwrite').
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import type { DuplicatePolicy } from '../../src/store/file-store-types.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { StoreError } from '../../src/store/errors.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const STUDY = '1.2.826.0.1.3680043.9.7318';
const SERIES = `${STUDY}.1`;
const uidOf = (n: number): string => `${SERIES}.${n}`;
const datasetOf = (n: number, fill: number): Buffer => encodeDataset([
  ...specElements({ PatientID: 'LOOKUP', StudyInstanceUID: STUDY, SeriesInstanceUID: SERIES, SOPInstanceUID: uidOf(n), SOPClassUID: ctImageStorage }),
  [0x7fe00010, 'OW', new Uint8Array(4_000).fill(fill)],
]);
const metaOf = (n: number) => ({ sopClassUid: ctImageStorage, sopInstanceUid: uidOf(n), transferSyntaxUid: '1.2.840.10008.1.2.1' });
async function* chunks(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}
const filesUnder = async (root: string): Promise<string[]> =>
  (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();

for (const duplicates of ['keep-first', 'reject', 'overwrite'] as const satisfies readonly DuplicatePolicy[]) {
  for (const fsync of ['none', 'file'] as const) {
    test(`duplicates '${duplicates}', fsync '${fsync}': new instances are committed with no look-up before; a re-sent one is rolled back at its insert and goes the known way`, async () => {
      const { dir, remove } = await tempDir('new-instance-lookup');
      const index = new SqliteIndex(join(dir, 'index.sqlite'), { synchronous: fsync === 'none' ? 'normal' : 'full' });
      let lookups = 0;
      const counted = new Proxy(index, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as unknown;
          if (typeof value !== 'function') return value;
          if (prop === 'findInstance') lookups++;
          return (value as (...a: unknown[]) => unknown).bind(target);
        },
      }) as InstanceIndex;
      const root = join(dir, 'files');
      try {
        const store = await FileStore.open({ root, index: counted, fsync, duplicates });
        const first = [];
        for (let n = 1; n <= 4; n++) first.push(await store.store(metaOf(n), chunks(datasetOf(n, 1))));
        assert.equal(lookups, 0);
        const filesBefore = await filesUnder(root);
        const bytesBefore = await readFile(first[1]!.path);
        // Instance 2 again, other bytes.
        const again = store.store(metaOf(2), chunks(datasetOf(2, 2)));
        if (duplicates === 'reject') {
          await assert.rejects(again, (e: unknown) => e instanceof StoreError && e.code === 'DICOM_ERR_STORE_DUPLICATE');
        } else {
          const stored = await again;
          assert.equal(stored.duplicate, duplicates === 'keep-first');
          assert.equal(stored.replaced, duplicates === 'overwrite');
          if (duplicates === 'overwrite') assert.notEqual(stored.key, first[1]!.key);
          else assert.equal(stored.key, first[1]!.key);
        }
        assert.ok(lookups > 0);
        // Nothing of the rolled-back attempt is left: no entry, the row as the policy says, the files.
        assert.deepEqual(await index.pendingEntries(), []);
        assert.equal((index.connection.prepare('SELECT count(*) AS n FROM pending').get() as { n: number }).n, 0);
        assert.equal((await index.allInstances()).length, 4);
        const row = await index.findInstance(uidOf(2));
        if (duplicates === 'overwrite') {
          assert.notEqual(row?.key, first[1]!.key);
          assert.deepEqual((await filesUnder(root)).length, filesBefore.length);
          assert.equal((await readFile(join(root, ...row!.key.split('/')))).at(-1), 2);
        } else {
          assert.equal(row?.key, first[1]!.key);
          assert.deepEqual(await filesUnder(root), filesBefore);
          assert.deepEqual(await readFile(first[1]!.path), bytesBefore);
        }
        // And the next new instance again without a look-up.
        const before = lookups;
        await store.store(metaOf(5), chunks(datasetOf(5, 1)));
        assert.equal(lookups, before);
        await store.close();
      } finally {
        await index.close();
        await remove();
      }
    });
  }
}

test('a commit that fails before it could tell the instance is known, with the look-up after it failing too, leaves the indexed copy under its key alone', async () => {
  const { dir, remove } = await tempDir('new-instance-lookup');
  const index = new SqliteIndex(join(dir, 'index.sqlite'), { synchronous: 'normal' });
  let failing = false;
  const failed = (): Promise<never> => Promise.reject(new StoreError('DICOM_ERR_STORE_INDEX', 'the index fails for the test'));
  const flaky = new Proxy(index, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (failing && (prop === 'addPlaced' || prop === 'findInstance')) return failed;
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  }) as InstanceIndex;
  const root = join(dir, 'files');
  try {
    const store = await FileStore.open({ root, index: flaky, fsync: 'none' });
    const first = await store.store(metaOf(1), chunks(datasetOf(1, 1)));
    const bytes = await readFile(first.path);
    failing = true;
    await assert.rejects(store.store(metaOf(1), chunks(datasetOf(1, 2))), StoreError);
    failing = false;
    // The instance indexed before is whole: its row, its copy, and no temporary file beside it.
    assert.deepEqual(await readFile(first.path), bytes);
    assert.equal((await index.findInstance(uidOf(1)))?.key, first.key);
    assert.deepEqual(await filesUnder(root), [first.path]);
    await store.close();
  } finally {
    await index.close();
    await remove();
  }
});
