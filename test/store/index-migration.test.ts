/**
 * An embedded index written before versioned schemas (absolute file paths in its rows, the
 * content version in user_version) is migrated at open: keys instead of paths, nothing lost,
 * what a crash left pending still settled, two processes opening it at once both fine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { channelNames } from '../../src/diagnostics.js';
import { encodeFileMetaInformation } from '../../src/dataset/part10.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { sqlite } from '../../src/store/sqlite.js';
import { LEGACY_SCHEMA, SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite-schema.js';
import { encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';

const explicitLE = '1.2.840.10008.1.2.1';
const ct = '1.2.840.10008.5.1.4.1.1.2';

/** The tables as the version before schema 2 created them (copied from it: the fixture must not follow the code). */
const schemaBefore2 = `
CREATE TABLE IF NOT EXISTS patient (id INTEGER PRIMARY KEY, patient_id TEXT NOT NULL UNIQUE, patient_name TEXT NOT NULL DEFAULT '',
  patient_birth_date TEXT NOT NULL DEFAULT '', patient_sex TEXT NOT NULL DEFAULT '', charset TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS study (id INTEGER PRIMARY KEY, patient_fk INTEGER NOT NULL REFERENCES patient(id), study_uid TEXT NOT NULL UNIQUE,
  study_date TEXT NOT NULL DEFAULT '', study_time TEXT NOT NULL DEFAULT '', accession_number TEXT NOT NULL DEFAULT '',
  study_id TEXT NOT NULL DEFAULT '', study_description TEXT NOT NULL DEFAULT '', referring_physician_name TEXT NOT NULL DEFAULT '',
  procedure_codes TEXT NOT NULL DEFAULT '[]', charset TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS study_patient ON study(patient_fk);
CREATE INDEX IF NOT EXISTS study_date ON study(study_date);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, study_fk INTEGER NOT NULL REFERENCES study(id), series_uid TEXT NOT NULL UNIQUE,
  modality TEXT NOT NULL DEFAULT '', series_number TEXT NOT NULL DEFAULT '', series_description TEXT NOT NULL DEFAULT '',
  request_attributes TEXT NOT NULL DEFAULT '[]', charset TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS series_study ON series(study_fk);
CREATE TABLE IF NOT EXISTS instance (id INTEGER PRIMARY KEY, series_fk INTEGER NOT NULL REFERENCES series(id), sop_uid TEXT NOT NULL UNIQUE,
  sop_class_uid TEXT NOT NULL, instance_number TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, transfer_syntax TEXT NOT NULL,
  size INTEGER NOT NULL, charset TEXT NOT NULL DEFAULT '', stored_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS instance_series ON instance(series_fk);
CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY, sop_uid TEXT NOT NULL, record TEXT, started_at TEXT NOT NULL);
`;

const { DatabaseSync } = sqlite();
const ivanovLatin1 = Buffer.from('\xb8\xd2\xd0\xdd\xde\xd2^\xb8\xd2\xd0\xdd', 'latin1'); // Иванов^Иван in ISO_IR 144

function spec(n: number): InstanceSpec {
  return { PatientID: `P${n}`, StudyInstanceUID: `1.2.826.0.9.8.${n}`, SeriesInstanceUID: `1.2.826.0.9.8.${n}.1`, SOPInstanceUID: `1.2.826.0.9.8.${n}.1.1`, SOPClassUID: ct, SpecificCharacterSet: 'ISO_IR 144' };
}

/**
 * A store as the previous version left it: files under root/<study>/<series>/<sop>.dcm, an index
 * with absolute paths, `contentVersion` in user_version, and (when `crashed`) a third file in
 * place whose row was never written, noted in `pending` with its record.
 */
async function storeBefore2(dir: string, contentVersion: number, crashed: boolean): Promise<{ root: string; indexPath: string; paths: string[] }> {
  const root = join(dir, 'files');
  const indexPath = join(dir, 'index.sqlite');
  const db = new DatabaseSync(indexPath);
  db.exec(schemaBefore2);
  const paths: string[] = [];
  for (let n = 1; n <= 3; n++) {
    const s = spec(n);
    const path = join(root, s.StudyInstanceUID, s.SeriesInstanceUID, `${s.SOPInstanceUID}.dcm`);
    await mkdir(join(root, s.StudyInstanceUID, s.SeriesInstanceUID), { recursive: true });
    const bytes = Buffer.concat([
      encodeFileMetaInformation({ MediaStorageSOPClassUID: ct, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: explicitLE }),
      encodeDataset([...specElements(s), [0x00100010, 'PN', ivanovLatin1]]),
    ]);
    await writeFile(path, bytes);
    paths.push(path);
    // Content version 0 read ISO_IR 144 as Latin-1; 1 decoded it.
    const name = contentVersion === 0 ? ivanovLatin1.toString('latin1') : 'Иванов^Иван';
    const record = {
      SpecificCharacterSet: 'ISO_IR 144', PatientID: s.PatientID, PatientName: name, PatientBirthDate: '', PatientSex: '', StudyInstanceUID: s.StudyInstanceUID,
      StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '', ReferringPhysicianName: '', SeriesInstanceUID: s.SeriesInstanceUID,
      Modality: 'CT', SeriesNumber: '', SeriesDescription: '', SOPInstanceUID: s.SOPInstanceUID, SOPClassUID: ct, InstanceNumber: '', path,
      transferSyntaxUid: explicitLE, size: bytes.length,
    };
    if (n === 3) {
      if (crashed) db.prepare('INSERT INTO pending (path, sop_uid, record, started_at) VALUES (?, ?, ?, ?)').run(path, s.SOPInstanceUID, JSON.stringify(record), new Date().toISOString());
      continue;
    }
    const p = db.prepare("INSERT INTO patient (patient_id, patient_name, charset) VALUES (?, ?, 'ISO_IR 144') RETURNING id").get(s.PatientID!, name) as { id: number };
    const st = db.prepare("INSERT INTO study (patient_fk, study_uid, charset) VALUES (?, ?, 'ISO_IR 144') RETURNING id").get(p.id, s.StudyInstanceUID) as { id: number };
    const se = db.prepare("INSERT INTO series (study_fk, series_uid, modality, charset) VALUES (?, ?, 'CT', 'ISO_IR 144') RETURNING id").get(st.id, s.SeriesInstanceUID) as { id: number };
    db.prepare("INSERT INTO instance (series_fk, sop_uid, sop_class_uid, path, transfer_syntax, size, charset, stored_at) VALUES (?, ?, ?, ?, ?, ?, 'ISO_IR 144', ?)")
      .run(se.id, s.SOPInstanceUID, ct, path, explicitLE, bytes.length, new Date().toISOString());
  }
  db.exec(`PRAGMA user_version = ${contentVersion}`);
  db.close();
  return { root, indexPath, paths };
}

test('an index written before schema 2 is migrated at open: paths become keys, pending entries too, content version kept', async () => {
  const { dir, remove } = await tempDir('index-migration');
  const events: { kind?: string; action?: string; sopInstanceUid?: string }[] = [];
  const listen = (m: unknown): void => void events.push(m as (typeof events)[number]);
  diagnosticsChannel.subscribe(channelNames.server, listen);
  try {
    const { root, indexPath, paths } = await storeBefore2(dir, 1, true);
    const server = await StorageServer.create({ aeTitle: 'MIGRATED', storeRoot: root, index: indexPath, fsync: 'none' });
    try {
      const index = server.index;
      assert.equal(await index.schemaVersion(), SQLITE_SCHEMA_VERSION);
      assert.equal(await index.contentVersion(), 1);
      // No re-index was needed (content version 1), and the crashed third instance was indexed from its migrated entry.
      assert.deepEqual(events.filter((e) => e.kind?.startsWith('reindex')), []);
      assert.deepEqual(events.filter((e) => e.kind === 'index-migrated').map((e) => ({ ...e })), [{ kind: 'index-migrated', database: 'sqlite', path: indexPath, fromVersion: 1, toVersion: SQLITE_SCHEMA_VERSION }]);
      assert.deepEqual(events.filter((e) => e.kind === 'store-reconciled').map((e) => `${e.action} ${e.sopInstanceUid}`), [`indexed ${spec(3).SOPInstanceUID}`]);
      assert.deepEqual(await index.pendingEntries(), []);
      for (const [n, path] of paths.entries()) {
        const s = spec(n + 1);
        const stored = await index.findInstance(s.SOPInstanceUID);
        assert.equal(stored?.key, `${s.StudyInstanceUID}/${s.SeriesInstanceUID}/${s.SOPInstanceUID}.dcm`);
        assert.equal((await server.storedInstance(s.SOPInstanceUID))?.path, path);
        assert.ok((await readFile(path)).length > 0);
      }
      const names: unknown[] = [];
      for await (const m of index.find('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '', PatientName: 'Иванов*' })) names.push(m['PatientID']);
      assert.deepEqual(names.sort(), ['P1', 'P2', 'P3']);
      const files = await index.instancesFor('STUDY', { StudyInstanceUID: spec(2).StudyInstanceUID });
      assert.deepEqual(files.map((f) => [f.SOPInstanceUID, f.key]), [[spec(2).SOPInstanceUID, `${spec(2).StudyInstanceUID}/${spec(2).SeriesInstanceUID}/${spec(2).SOPInstanceUID}.dcm`]]);
      assert.deepEqual({ ...(await index.statistics()) }, { patients: 3, studies: 3, series: 3, instances: 3, bytes: (await Promise.all(paths.map((p) => readFile(p)))).reduce((a, b) => a + b.length, 0), pending: 0 });
    } finally {
      await server.close({ timeout: 1000 });
    }
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, listen);
    await remove();
  }
});

test('an index before schema 2 with content version 0 is migrated, then re-read from its files through the keys', async () => {
  const { dir, remove } = await tempDir('index-migration');
  try {
    const { root, indexPath } = await storeBefore2(dir, 0, false);
    const server = await StorageServer.create({ aeTitle: 'MIGRATED', storeRoot: root, index: indexPath, fsync: 'none' });
    try {
      assert.equal(await server.index.contentVersion(), 1);
      const names = ((server.index as SqliteIndex).connection.prepare('SELECT patient_name AS n FROM patient ORDER BY id').all() as { n: string }[]).map((r) => r.n);
      assert.deepEqual(names, ['Иванов^Иван', 'Иванов^Иван']);
    } finally {
      await server.close({ timeout: 1000 });
    }
  } finally {
    await remove();
  }
});

test('two processes opening an index before schema 2 at once: one migrates, the other waits and finds it current', async () => {
  const { dir, remove } = await tempDir('index-migration');
  try {
    const { indexPath } = await storeBefore2(dir, 1, false);
    const module = pathToFileURL(fileURLToPath(new URL('../../src/store/sqlite-index.js', import.meta.url))).href;
    const script = `const { SqliteIndex } = await import(${JSON.stringify(module)});
      const index = new SqliteIndex(process.argv[1]);
      const rows = await index.allInstances();
      console.log(JSON.stringify({ version: await index.schemaVersion(), keys: rows.map((r) => r.key) }));
      await index.close();`;
    const run = promisify(execFile);
    const outputs = await Promise.all([1, 2].map(() => run(process.execPath, ['--no-warnings', '--input-type=module', '-e', script, indexPath])));
    for (const { stdout } of outputs) {
      const result = JSON.parse(stdout) as { version: number; keys: string[] };
      assert.equal(result.version, SQLITE_SCHEMA_VERSION);
      assert.deepEqual(result.keys, [1, 2].map((n) => `${spec(n).StudyInstanceUID}/${spec(n).SeriesInstanceUID}/${spec(n).SOPInstanceUID}.dcm`));
    }
  } finally {
    await remove();
  }
});

test('an index of a newer schema is refused with a typed error, and left as it is', async () => {
  const { dir, remove } = await tempDir('index-migration');
  try {
    const path = join(dir, 'index.sqlite');
    await new SqliteIndex(path).close();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 99');
    db.close();
    assert.throws(() => new SqliteIndex(path), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.indexVersion && /99/.test(e.message));
    const again = new DatabaseSync(path);
    assert.equal((again.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 99);
    again.close();
  } finally {
    await remove();
  }
});

test('opening an index while another process holds a write transaction on it waits for it (SQLite refuses the switch to WAL at once, without its busy timeout)', async () => {
  const { dir, remove } = await tempDir('index-migration');
  try {
    const path = join(dir, 'index.sqlite');
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE other_tool (x)');
    db.close();
    // Another process writing the file in rollback mode (an older version, a tool), for a second.
    const holder = spawn(process.execPath, ['--no-warnings', '-e', `const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
      const d = new DatabaseSync(process.argv[1]);
      d.exec('BEGIN IMMEDIATE'); d.exec('INSERT INTO other_tool VALUES (1)'); console.log('held');
      setTimeout(() => { d.exec('COMMIT'); d.close(); }, 1000);`, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    const index = new SqliteIndex(path);
    try {
      assert.equal(await index.schemaVersion(), SQLITE_SCHEMA_VERSION);
    } finally {
      await index.close();
    }
    assert.equal(await exited, 0, 'the other process committed');
  } finally {
    await remove();
  }
});

test('an index of schema 2 is migrated at open: its pending table becomes one B-tree keyed by storage key, its entries kept in their order', async () => {
  const { dir, remove } = await tempDir('index-migration');
  const path = join(dir, 'index.sqlite');
  const events: { kind?: string; fromVersion?: number; toVersion?: number }[] = [];
  const listen = (m: unknown): void => void events.push(m as (typeof events)[number]);
  diagnosticsChannel.subscribe(channelNames.server, listen);
  try {
    const db = new DatabaseSync(path);
    // Schema 2 as it was written: a rowid table, its storage key unique, an index by SOP Instance UID.
    db.exec(LEGACY_SCHEMA);
    db.exec(`ALTER TABLE instance RENAME COLUMN path TO storage_key; ALTER TABLE pending RENAME COLUMN path TO storage_key;
      CREATE INDEX pending_sop ON pending(sop_uid);
      CREATE TABLE commitment (transaction_uid TEXT PRIMARY KEY, requestor TEXT NOT NULL, state TEXT NOT NULL, refs TEXT NOT NULL, requested_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta (name, value) VALUES ('content_version', '1');
      PRAGMA user_version = 2;`);
    const insert = db.prepare('INSERT INTO pending (storage_key, sop_uid, record, started_at) VALUES (?, ?, ?, ?)');
    // Two in the same millisecond (an overwrite's new and old copy): their order is the order written.
    insert.run('s/r/9.dcm', '9', null, '2026-12-07T10:00:00.000Z');
    insert.run('s/r/1.dcm', '1', null, '2026-12-07T10:00:00.000Z');
    insert.run('s/r/5.dcm', '5', null, '2026-12-07T09:00:00.000Z');
    db.close();
    const index = new SqliteIndex(path);
    try {
      assert.equal(await index.schemaVersion(), 3);
      assert.deepEqual(events.filter((e) => e.kind === 'index-migrated').map((e) => [e.fromVersion, e.toVersion]), [[2, 3]]);
      assert.deepEqual((await index.pendingEntries()).map((e) => e.key), ['s/r/5.dcm', 's/r/9.dcm', 's/r/1.dcm']);
      assert.deepEqual((await index.pendingEntries('1')).map((e) => e.key), ['s/r/1.dcm']);
      const sql = (index.connection.prepare("SELECT sql FROM sqlite_master WHERE name = 'pending'").get() as { sql: string }).sql;
      assert.match(sql, /WITHOUT ROWID/);
      assert.deepEqual(index.connection.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'pending' AND type = 'index' AND sql IS NOT NULL").all(), []);
      // Written again under a key already pending: replaced, and now the newest.
      await index.beginPending([{ key: 's/r/5.dcm', sopInstanceUid: '5', record: undefined }]);
      assert.deepEqual((await index.pendingEntries()).map((e) => e.key).slice(0, 2), ['s/r/9.dcm', 's/r/1.dcm']);
    } finally {
      await index.close();
    }
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, listen);
    await remove();
  }
});
