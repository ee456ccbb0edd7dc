import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { IndexDb, normalizeTime } from '../../src/store/index-db.js';
import { tempDir } from '../helpers/dicom-data.js';
import { instanceRecord } from '../helpers/instance-record.js';

const record = instanceRecord;

test('WAL mode; a second read-only connection sees committed instances', async () => {
  const { dir, remove } = await tempDir('index');
  try {
    const path = join(dir, 'index.sqlite');
    const db = new IndexDb(path);
    assert.equal((db.connection.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    assert.equal(await db.addInstance(record()), undefined);
    const reader = new IndexDb(path, { readonly: true });
    assert.equal((await reader.findInstance('1.1.1.1'))?.key, 'x/1.dcm');
    await assert.rejects(reader.addInstance(record()), /read-only/);
    reader.close();
    db.close();
  } finally {
    await remove();
  }
});

test('a re-sent instance that moved series replaces the row and prunes the emptied parents', async () => {
  const db = new IndexDb(':memory:');
  await db.addInstance(record());
  const old = await db.addInstance(record({ StudyInstanceUID: '1.2', SeriesInstanceUID: '1.2.1', PatientID: 'P2', key: 'x/2.dcm' }));
  assert.equal(old, 'x/1.dcm');
  const count = (t: string) => (db.connection.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
  assert.deepEqual([count('patient'), count('study'), count('series'), count('instance')], [1, 1, 1, 1]);
  assert.equal(await db.removeInstance('1.1.1.1'), true);
  assert.deepEqual([count('patient'), count('study'), count('series'), count('instance')], [0, 0, 0, 0]);
  assert.equal(await db.removeInstance('1.1.1.1'), false);
  db.close();
});

test('a failing insert leaves the index unchanged (one transaction per instance)', async () => {
  const db = new IndexDb(':memory:');
  await db.addInstance(record());
  // size NOT NULL: the instance insert fails after patient/study/series upserts ran.
  await assert.rejects(db.addInstance(record({ SOPInstanceUID: '9.9', SeriesInstanceUID: '9.9.1', StudyInstanceUID: '9.9.2', size: null as never })), /DICOM_ERR_STORE_INDEX|cannot index/);
  const n = (db.connection.prepare('SELECT count(*) AS n FROM series').get() as { n: number }).n;
  assert.equal(n, 1);
  db.close();
});

test('normalizeTime pads the omitted components for range bounds', () => {
  assert.equal(normalizeTime('10', '0'), '100000.000000');
  assert.equal(normalizeTime('10', '9'), '109999.999999');
  assert.equal(normalizeTime('235959.5', '0'), '235959.500000');
  assert.equal(normalizeTime('10:15', '0'), '101500.000000');
  assert.equal(normalizeTime('', '0'), '');
});

test('synchronous: FULL by default (a WAL fsync per stored instance), NORMAL on request (for a store without fsync)', async () => {
  const { dir, remove } = await tempDir('index-sync');
  try {
    const full = new IndexDb(join(dir, 'a.sqlite'));
    assert.equal(full.synchronous, 'full');
    full.close();
    const normal = new IndexDb(join(dir, 'b.sqlite'), { synchronous: 'normal' });
    assert.equal(normal.synchronous, 'normal');
    normal.close();
  } finally {
    await remove();
  }
});

test('instances of one series write their parent rows once; values that change are written, a parent deleted by another connection is recreated', async () => {
  const { dir, remove } = await tempDir('index');
  try {
    const path = join(dir, 'index.sqlite');
    const db = new IndexDb(path, { synchronous: 'normal' });
    const changes = (): number => (db.connection.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    await db.addInstance(record());
    const before = changes();
    await db.addInstance(record({ SOPInstanceUID: '1.1.1.2', key: 'x/2.dcm' }));
    assert.equal(changes() - before, 1, 'the second instance of the series is one row written, its parents untouched');
    // A corrected patient name reaches the row (the remembered parents are keyed by their values).
    await db.addInstance(record({ SOPInstanceUID: '1.1.1.3', key: 'x/3.dcm', PatientName: 'A^C' }));
    const name = (db.connection.prepare('SELECT patient_name AS n FROM patient').get() as { n: string }).n;
    assert.equal(name, 'A^C');
    // Another connection (another process on the same file) deletes the whole series under us.
    const other = new IndexDb(path);
    for (const uid of ['1.1.1.1', '1.1.1.2', '1.1.1.3']) assert.equal(await other.removeInstance(uid), true);
    other.close();
    // The remembered series id is gone: the foreign key catches it and the parents are written again.
    assert.equal(await db.addInstance(record({ SOPInstanceUID: '1.1.1.4', key: 'x/4.dcm', PatientName: 'A^C' })), undefined);
    const row = db.connection
      .prepare('SELECT p.patient_name AS name, s.series_uid AS series FROM instance i JOIN series s ON i.series_fk = s.id JOIN study t ON s.study_fk = t.id JOIN patient p ON t.patient_fk = p.id WHERE i.sop_uid = ?')
      .get('1.1.1.4') as { name: string; series: string };
    assert.deepEqual({ ...row }, { name: 'A^C', series: '1.1.1' });
    db.close();
  } finally {
    await remove();
  }
});
