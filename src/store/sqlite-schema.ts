/**
 * The embedded index's schema and its versioned migrations. SQLite's `user_version` holds the
 * schema version; a `meta` row holds the content version (reindex.ts). Stores written before
 * versioned schemas (no `meta` table) kept the content version in `user_version` and absolute
 * file paths in their rows: migration 2 turns those into storage keys.
 */
import { StoreError, storeErrorCodes } from './errors.js';
import { transaction, type DatabaseSync } from './sqlite.js';
import { storageKeyOfPath } from './storage-key.js';

/** The schema this version writes. */
export const SQLITE_SCHEMA_VERSION = 3;

const parents = `
CREATE TABLE IF NOT EXISTS patient (
  id INTEGER PRIMARY KEY,
  patient_id TEXT NOT NULL UNIQUE,
  patient_name TEXT NOT NULL DEFAULT '',
  patient_birth_date TEXT NOT NULL DEFAULT '',
  patient_sex TEXT NOT NULL DEFAULT '',
  charset TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS study (
  id INTEGER PRIMARY KEY,
  patient_fk INTEGER NOT NULL REFERENCES patient(id),
  study_uid TEXT NOT NULL UNIQUE,
  study_date TEXT NOT NULL DEFAULT '',
  study_time TEXT NOT NULL DEFAULT '',
  accession_number TEXT NOT NULL DEFAULT '',
  study_id TEXT NOT NULL DEFAULT '',
  study_description TEXT NOT NULL DEFAULT '',
  referring_physician_name TEXT NOT NULL DEFAULT '',
  procedure_codes TEXT NOT NULL DEFAULT '[]',
  charset TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS study_patient ON study(patient_fk);
CREATE INDEX IF NOT EXISTS study_date ON study(study_date);
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  study_fk INTEGER NOT NULL REFERENCES study(id),
  series_uid TEXT NOT NULL UNIQUE,
  modality TEXT NOT NULL DEFAULT '',
  series_number TEXT NOT NULL DEFAULT '',
  series_description TEXT NOT NULL DEFAULT '',
  request_attributes TEXT NOT NULL DEFAULT '[]',
  charset TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS series_study ON series(study_fk);
`;

/** The tables of a store written before versioned schemas (what migration 2 starts from). */
export const LEGACY_SCHEMA = `${parents}
CREATE TABLE IF NOT EXISTS instance (
  id INTEGER PRIMARY KEY,
  series_fk INTEGER NOT NULL REFERENCES series(id),
  sop_uid TEXT NOT NULL UNIQUE,
  sop_class_uid TEXT NOT NULL,
  instance_number TEXT NOT NULL DEFAULT '',
  path TEXT NOT NULL,
  transfer_syntax TEXT NOT NULL,
  size INTEGER NOT NULL,
  charset TEXT NOT NULL DEFAULT '',
  stored_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instance_series ON instance(series_fk);
CREATE TABLE IF NOT EXISTS pending (
  path TEXT PRIMARY KEY,
  sop_uid TEXT NOT NULL,
  record TEXT,
  started_at TEXT NOT NULL
);
`;

/** Tables new in schema 2 (also part of a fresh database). */
const schema2Tables = `
CREATE TABLE IF NOT EXISTS commitment (
  transaction_uid TEXT PRIMARY KEY,
  requestor TEXT NOT NULL,
  state TEXT NOT NULL,
  refs TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/**
 * The pending entries (schema 3): one B-tree, keyed by storage key. The table holds a few rows
 * (the copies being placed), written and deleted in every new instance's commit: a rowid table
 * with a unique key and an index by SOP Instance UID was three B-trees, three pages in each
 * commit's WAL frames (~4 µs of its ~20 µs); a look-up by SOP Instance UID reads it whole.
 * `seq` keeps the order of entries written in the same millisecond (the rowid did).
 */
function pendingTable(name: string): string {
  return `CREATE TABLE ${name} (
  storage_key TEXT PRIMARY KEY,
  sop_uid TEXT NOT NULL,
  record TEXT,
  started_at TEXT NOT NULL,
  seq INTEGER NOT NULL
) WITHOUT ROWID;`;
}

const currentSchema = `${parents}
CREATE TABLE instance (
  id INTEGER PRIMARY KEY,
  series_fk INTEGER NOT NULL REFERENCES series(id),
  sop_uid TEXT NOT NULL UNIQUE,
  sop_class_uid TEXT NOT NULL,
  instance_number TEXT NOT NULL DEFAULT '',
  storage_key TEXT NOT NULL,
  transfer_syntax TEXT NOT NULL,
  size INTEGER NOT NULL,
  charset TEXT NOT NULL DEFAULT '',
  stored_at TEXT NOT NULL
);
CREATE INDEX instance_series ON instance(series_fk);
${pendingTable('pending')}
${schema2Tables}`;

/** A migration from version - 1 to `version`, run inside the migrating transaction. */
interface Migration {
  readonly version: number;
  readonly up: (db: DatabaseSync) => void;
}

const migrations: readonly Migration[] = [
  {
    // Absolute paths become storage keys; commitment state and the meta table appear; the
    // content version moves from user_version to meta.
    version: 2,
    up(db) {
      const legacyContent = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
      db.exec(LEGACY_SCHEMA);
      db.exec('ALTER TABLE instance RENAME COLUMN path TO storage_key');
      db.exec('ALTER TABLE pending RENAME COLUMN path TO storage_key');
      db.function('dicom_storage_key', { deterministic: true }, (value: unknown) => storageKeyOfPath(String(value)));
      db.exec('UPDATE OR REPLACE instance SET storage_key = dicom_storage_key(storage_key)');
      const rows = db.prepare('SELECT storage_key AS k, sop_uid AS uid, record, started_at AS at FROM pending').all() as { k: string; uid: string; record: string | null; at: string }[];
      db.exec('DELETE FROM pending');
      const insert = db.prepare('INSERT OR REPLACE INTO pending (storage_key, sop_uid, record, started_at) VALUES (?, ?, ?, ?)');
      for (const r of rows) {
        let record = r.record;
        if (record !== null) {
          const { path, ...rest } = JSON.parse(record) as Record<string, unknown>;
          record = JSON.stringify({ ...rest, key: storageKeyOfPath(String(path ?? rest['key'] ?? '')) });
        }
        insert.run(storageKeyOfPath(r.k), r.uid, record, r.at);
      }
      db.exec(`CREATE INDEX IF NOT EXISTS pending_sop ON pending(sop_uid);${schema2Tables}`);
      db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('content_version', ?)").run(String(legacyContent));
    },
  },
  {
    // The pending table becomes one B-tree (see pendingTable), its entries and their order kept.
    version: 3,
    up(db) {
      db.exec(pendingTable('pending_v3'));
      db.exec('INSERT INTO pending_v3 (storage_key, sop_uid, record, started_at, seq) SELECT storage_key, sop_uid, record, started_at, rowid FROM pending');
      db.exec('DROP TABLE pending');
      db.exec('ALTER TABLE pending_v3 RENAME TO pending');
    },
  },
];

/**
 * Bring the database to SQLITE_SCHEMA_VERSION: create a fresh one at the current version (its
 * content version `freshContentVersion`), or run the migrations from its version, all in one
 * write transaction (BEGIN IMMEDIATE: a second process opening the same file waits for it, then
 * finds nothing to do). Returns the version found.
 */
export function migrate(db: DatabaseSync, freshContentVersion: number): number {
  const run = (): number => {
    const version = schemaVersionOf(db);
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new StoreError(storeErrorCodes.indexVersion, `the index has schema version ${version}; this version of dicom-tls reads up to ${SQLITE_SCHEMA_VERSION}`);
    }
    if (version === 0) {
      db.exec(currentSchema);
      db.prepare("INSERT INTO meta (name, value) VALUES ('content_version', ?)").run(String(freshContentVersion));
    } else {
      for (const m of migrations) if (m.version > version) m.up(db);
    }
    if (version < SQLITE_SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION}`);
    return version;
  };
  if (schemaVersionOf(db) === SQLITE_SCHEMA_VERSION) return SQLITE_SCHEMA_VERSION;
  return transaction(db, run, 'BEGIN IMMEDIATE')();
}

/**
 * The schema version of an open database: 0 for an empty one, 1 for a store written before
 * versioned schemas (an instance table, no meta table), else `user_version`.
 */
export function schemaVersionOf(db: DatabaseSync): number {
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  if (tables.has('meta')) return Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
  return tables.has('instance') ? 1 : 0;
}
