import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IndexDb } from '../../src/store/index-db.js';
import { FileStore } from '../../src/store/file-store.js';
import { INDEX_CONTENT_VERSION, reindexIfOutdated } from '../../src/store/reindex.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { channelNames } from '../../src/diagnostics.js';
import { encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const ivanov = Buffer.from('\xb8\xd2\xd0\xdd\xde\xd2^\xb8\xd2\xd0\xdd', 'latin1'); // Иванов^Иван in ISO_IR 144

/** A store whose index looks as an older version left it: names read as Latin-1, user_version 0. */
async function oldStore(dir: string, count: number): Promise<void> {
  const index = new IndexDb(join(dir, 'index.sqlite'));
  const fs = await FileStore.open({ root: join(dir, 'files'), index });
  for (let n = 1; n <= count; n++) {
    const sop = `1.7.${n}.1.1`;
    const spec = { StudyInstanceUID: `1.7.${n}`, SeriesInstanceUID: `1.7.${n}.1`, SOPInstanceUID: sop, PatientID: `P${n}`, SpecificCharacterSet: 'ISO_IR 144' };
    const ds = encodeDataset([...specElements(spec), [0x00100010, 'PN', ivanov]]);
    await fs.store({ sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: sop, transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
      yield ds;
    })());
  }
  index.connection.prepare('UPDATE patient SET patient_name = ?').run(ivanov.toString('latin1'));
  await index.setContentVersion(0);
  await index.close();
}

function names(index: IndexDb | StorageServer['index']): string[] {
  return ((index as IndexDb).connection.prepare('SELECT patient_name AS n FROM patient ORDER BY id').all() as { n: string }[]).map((r) => r.n);
}

test('an index of an older version is re-read from the files, with progress on the server channel', async () => {
  const t = await tempDir('reindex');
  const events: { kind: string; total?: number; done?: number; failed?: number }[] = [];
  const listen = (m: unknown): void => {
    const e = m as { kind: string };
    if (e.kind.startsWith('reindex')) events.push(e);
  };
  diagnosticsChannel.subscribe(channelNames.server, listen);
  try {
    await oldStore(t.dir, 3);
    const index = new IndexDb(join(t.dir, 'index.sqlite'));
    try {
      assert.deepEqual(names(index), ['¸ÒÐÝÞÒ^¸ÒÐÝ', '¸ÒÐÝÞÒ^¸ÒÐÝ', '¸ÒÐÝÞÒ^¸ÒÐÝ']);
      // One file gone: its row is kept as it was, the others are rewritten.
      await rm(join(t.dir, 'files', '1.7.3', '1.7.3.1', '1.7.3.1.1.dcm'));
      const store = await FileStore.open({ root: join(t.dir, 'files'), index });
      const result = await reindexIfOutdated(store, index);
      assert.equal(result?.total, 3);
      assert.equal(result?.reindexed, 2);
      assert.equal(result?.failed.length, 1);
      assert.deepEqual(names(index), ['Иванов^Иван', 'Иванов^Иван', '¸ÒÐÝÞÒ^¸ÒÐÝ']);
      assert.equal(await index.contentVersion(), INDEX_CONTENT_VERSION);
      assert.deepEqual(events.map((e) => [e.kind, e.total, e.failed]), [['reindex-started', 3, undefined], ['reindex-done', 3, 1]]);
      // Current now: a second open does nothing.
      assert.equal(await reindexIfOutdated(store, index), undefined);
    } finally {
      index.close();
    }
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, listen);
    await t.remove();
  }
});

test('StorageServer.create re-indexes an outdated index before it serves', async () => {
  const t = await tempDir('reindex-server');
  try {
    await oldStore(t.dir, 1);
    const server = await StorageServer.create({ aeTitle: 'REINDEX', storeRoot: join(t.dir, 'files'), index: join(t.dir, 'index.sqlite'), fsync: 'none' });
    try {
      assert.deepEqual(names(server.index), ['Иванов^Иван']);
      assert.equal(await server.index.contentVersion(), INDEX_CONTENT_VERSION);
    } finally {
      await server.close({ timeout: 1000 });
    }
  } finally {
    await t.remove();
  }
});

test('a new index is current from the start', async () => {
  const index = new IndexDb(':memory:');
  try {
    const t = await tempDir('reindex-new');
    const store = await FileStore.open({ root: t.dir, index });
    assert.equal(await reindexIfOutdated(store, index), undefined);
    assert.equal(await index.contentVersion(), INDEX_CONTENT_VERSION);
    await t.remove();
  } finally {
    index.close();
  }
});
