/**
 * The directory store's file operations (src/store/fs-ops.ts PlaceOps) are the one way the commit
 * protocol touches the files: every call of a store's copies (filesUnder) goes through the
 * PlaceOps it is given, so a test that makes them fail sees each failure, and a reconcile whose
 * look at a copy fails stops rather than deciding on what it could not see.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { filesUnder } from '../../src/store/commit.js';
import { FileStore } from '../../src/store/file-store.js';
import { asyncOps, syncOps, type PlaceOps } from '../../src/store/fs-ops.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { tempDir } from '../helpers/dicom-data.js';

test('filesUnder: exists, size and remove each go through the PlaceOps given (both flavours agree on what they see)', async () => {
  const { dir, remove } = await tempDir('fs-ops');
  try {
    await mkdir(join(dir, 's'), { recursive: true });
    await writeFile(join(dir, 's', 'a.dcm'), Buffer.alloc(123));
    for (const base of [asyncOps, syncOps]) {
      const calls: string[] = [];
      const ops = Object.fromEntries(Object.entries(base).map(([name, fn]) => [name, (...args: string[]) => {
        calls.push(`${name} ${args.map((a) => a.slice(dir.length)).join(' ')}`);
        return (fn as (...a: string[]) => Promise<unknown>)(...args);
      }])) as unknown as PlaceOps;
      const copies = filesUnder(dir, ops);
      assert.equal(await copies.exists('s/a.dcm'), true);
      assert.equal(await copies.size('s/a.dcm'), 123);
      assert.equal(await copies.size('s/none.dcm'), undefined);
      await copies.remove('s/a.dcm');
      await copies.remove('s/a.dcm');
      assert.equal(await copies.size('s/a.dcm'), undefined);
      assert.deepEqual(calls, ['exists /s/a.dcm', 'size /s/a.dcm', 'size /s/none.dcm', 'remove /s/a.dcm', 'remove /s/a.dcm', 'size /s/a.dcm']);
      await writeFile(join(dir, 's', 'a.dcm'), Buffer.alloc(123));
    }
  } finally {
    await remove();
  }
});

test('reconcile at open: a copy whose size cannot be read (injected EIO) fails the open; nothing is decided on it', async () => {
  const { dir, remove } = await tempDir('fs-ops');
  const root = join(dir, 'files');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const size = asyncOps.size;
  try {
    await FileStore.open({ root, index });
    await mkdir(join(root, '1.2', '1.2.3'), { recursive: true });
    await writeFile(join(root, '1.2', '1.2.3', '1.2.3.4.dcm'), Buffer.alloc(10));
    await index.beginPending([{ key: '1.2/1.2.3/1.2.3.4.dcm', sopInstanceUid: '1.2.3.4', record: undefined }]);
    asyncOps.size = async () => {
      throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
    };
    await assert.rejects(FileStore.open({ root, index }), /EIO: injected/);
    assert.equal((await index.pendingEntries()).length, 1);
    asyncOps.size = size;
    await FileStore.open({ root, index });
    assert.deepEqual(await index.pendingEntries(), []);
  } finally {
    asyncOps.size = size;
    await index.close();
    await remove();
  }
});
