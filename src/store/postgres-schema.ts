/**
 * The PostgreSQL index's schema and its versioned migrations, run at start-up under an advisory
 * lock: several nodes starting at once migrate once, the others wait and find it current. The
 * version numbers are the embedded index's (sqlite-schema.ts): schema 2 is the first one
 * PostgreSQL has. Text columns use the "C" collation, so comparisons, ranges and wildcards
 * work on code points as SQLite's BINARY does, whatever the database's locale.
 */
import { StoreError, storeErrorCodes } from './errors.js';

/** What the schema code needs of a connection (a pg PoolClient, without pg's types on the public surface). */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, values?: readonly unknown[]): Promise<{ readonly rows: R[]; readonly rowCount: number | null }>;
}

export const POSTGRES_SCHEMA_VERSION = 2;

/** pg_advisory_lock key of the migration (one 64-bit key; the instance locks use the two-key space). */
export const MIGRATION_LOCK = 0x4449_434f_4d00_0001n; // "DICOM" + 1

const t = 'text COLLATE "C" NOT NULL';

const schema2 = `
CREATE TABLE meta (name ${t} PRIMARY KEY, value ${t});
CREATE TABLE patient (
  id bigserial PRIMARY KEY,
  patient_id ${t} UNIQUE,
  patient_name ${t} DEFAULT '',
  patient_birth_date ${t} DEFAULT '',
  patient_sex ${t} DEFAULT '',
  charset ${t} DEFAULT ''
);
CREATE TABLE study (
  id bigserial PRIMARY KEY,
  patient_fk bigint NOT NULL REFERENCES patient(id),
  study_uid ${t} UNIQUE,
  study_date ${t} DEFAULT '',
  study_time ${t} DEFAULT '',
  accession_number ${t} DEFAULT '',
  study_id ${t} DEFAULT '',
  study_description ${t} DEFAULT '',
  referring_physician_name ${t} DEFAULT '',
  procedure_codes ${t} DEFAULT '[]',
  charset ${t} DEFAULT ''
);
CREATE INDEX study_patient ON study(patient_fk);
CREATE INDEX study_date ON study(study_date);
CREATE TABLE series (
  id bigserial PRIMARY KEY,
  study_fk bigint NOT NULL REFERENCES study(id),
  series_uid ${t} UNIQUE,
  modality ${t} DEFAULT '',
  series_number ${t} DEFAULT '',
  series_description ${t} DEFAULT '',
  request_attributes ${t} DEFAULT '[]',
  charset ${t} DEFAULT ''
);
CREATE INDEX series_study ON series(study_fk);
CREATE TABLE instance (
  id bigserial PRIMARY KEY,
  series_fk bigint NOT NULL REFERENCES series(id),
  sop_uid ${t} UNIQUE,
  sop_class_uid ${t},
  instance_number ${t} DEFAULT '',
  storage_key ${t},
  transfer_syntax ${t},
  size bigint NOT NULL,
  charset ${t} DEFAULT '',
  stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instance_series ON instance(series_fk);
CREATE TABLE pending (
  storage_key ${t} PRIMARY KEY,
  sop_uid ${t},
  record text,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  seq bigserial
);
CREATE INDEX pending_sop ON pending(sop_uid);
CREATE TABLE commitment (
  transaction_uid ${t} PRIMARY KEY,
  requestor ${t},
  state ${t},
  refs text NOT NULL,
  requested_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
-- TM normalized for comparison, as text-match.ts normalizeTime(value, '0').
CREATE OR REPLACE FUNCTION dicom_tm(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN s.t = '' THEN '' ELSE rpad(split_part(s.t, '.', 1), 6, '0') || '.' || rpad(split_part(s.t, '.', 2), 6, '0') END
  FROM (SELECT replace(btrim(coalesce(v, '')), ':', '') AS t) s
$$;
-- IS as an integer the way SQLite's CAST reads it: the leading digits, 0 when none.
CREATE OR REPLACE FUNCTION dicom_int(v text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(substring(btrim(coalesce(v, '')) from '^[+-]?[0-9]{1,18}')::bigint, 0)
$$;
`;

interface Migration {
  readonly version: number;
  readonly sql: string;
}

const migrations: readonly Migration[] = [{ version: 2, sql: schema2 }];

/** The schema version of the database `client` is connected to: 0 when it has no index yet. */
export async function postgresSchemaVersion(client: Queryable): Promise<number> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('meta')::text AS t");
  if (exists.rows[0]?.t == null) return 0;
  const row = await client.query<{ value: string }>("SELECT value FROM meta WHERE name = 'schema_version'");
  return Number(row.rows[0]?.value ?? 0);
}

/**
 * Bring the database to POSTGRES_SCHEMA_VERSION under the migration lock, each migration in its
 * own transaction with the version it reaches (a failed one leaves the previous version whole).
 * A fresh database starts at content version `freshContentVersion`. Returns the version found.
 */
export async function migratePostgres(client: Queryable, freshContentVersion: number): Promise<number> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
  try {
    const found = await postgresSchemaVersion(client);
    if (found > POSTGRES_SCHEMA_VERSION) {
      throw new StoreError(storeErrorCodes.indexVersion, `the index has schema version ${found}; this version of dicom-tls reads up to ${POSTGRES_SCHEMA_VERSION}`);
    }
    for (const m of migrations) {
      if (m.version <= found) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO meta (name, value) VALUES ('schema_version', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value", [String(m.version)]);
        if (found === 0) await client.query("INSERT INTO meta (name, value) VALUES ('content_version', $1) ON CONFLICT (name) DO NOTHING", [String(freshContentVersion)]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
    return found;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => undefined);
  }
}
