/**
 * The index in PostgreSQL (node-postgres, pooled), shared by several `serve` nodes: the same
 * tables and query semantics as the embedded index (the query builder with the PostgreSQL
 * dialect, sql-dialect.ts), with what several writers need: each instance placed under a
 * database advisory lock (a node that dies lets go), rows decided by unique constraints and
 * transactions, parents pruned by id, a transaction retried when another node's commit got in
 * its way (foreign key, serialization, deadlock).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { channelNames, publish } from '../diagnostics.js';
import { InvalidOptionError } from '../errors.js';
import { StoreError, storeErrorCodes, storeErrorFromIndex } from './errors.js';
import {
  commitmentOfRow,
  pendingEntryOf,
  pendingRecordText,
  type CommitmentReference,
  type CommitmentState,
  type IndexStatistics,
  type InstanceIndex,
  type InstanceRecord,
  type PendingEntry,
  type RetrieveInstance,
  type StoredFile,
  type Unlock,
} from './instance-index.js';
import { lockInProcess } from './instance-lock.js';
import { migratePostgres, POSTGRES_SCHEMA_VERSION, postgresSchemaVersion, type Queryable } from './postgres-schema.js';
import { queryMatches, retrieveInstances, type FindOptions, type InformationModel, type NaturalizedDataset, type QueryLevel, type SqlRunner } from './query.js';
import { INDEX_CONTENT_VERSION } from './reindex.js';
import { postgresDialect } from './sql-dialect.js';

export interface PostgresIndexOptions {
  /**
   * `postgres://user:password@host:port/database` (libpq's URI; `?sslmode=…`, `?options=…`
   * taken as libpq does). What it leaves out comes from the PG* environment variables
   * (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), as with psql.
   */
  readonly url?: string;
  /** Connections for queries and writes, default 10; as many again hold instance locks while placing. */
  readonly maxConnections?: number;
  /** Milliseconds to wait for a connection, default 10 000. */
  readonly connectTimeout?: number;
  /**
   * Milliseconds one statement may go unanswered before the database counts as unreachable
   * (DICOM_ERR_STORE_INDEX_UNAVAILABLE, and the connection is dropped), default 60 000; 0: no
   * limit. Without it, a database that stops answering (frozen host, lost packets without a
   * reset) holds every store and query waiting on it for as long as it stays silent. Waiting for
   * an instance lock that another node holds is not bounded by it: that wait polls.
   */
  readonly queryTimeout?: number;
}

/** Key space of the instance locks (pg_advisory_lock(int4, int4): this class, hashtext(uid)). */
const INSTANCE_LOCK_CLASS = 0x4443_4d31; // "DCM1"

/** SQLSTATEs and errnos that mean the database cannot be reached or let in. */
const unreachable = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE',
  '08000', '08001', '08003', '08004', '08006', '28000', '28P01', '3D000', '57P01', '57P02', '57P03', '53300',
]);

/** SQLSTATEs after which the whole transaction is tried again (another node's commit got in the way). */
const retryable = new Set(['40001', '40P01', '23503', '23505']);

/** node-postgres's `query_timeout` fired: the connection is still waiting for that answer and must be dropped. */
const timedOut = (error: unknown): boolean => /Query read timeout/i.test(String((error as Error | null)?.message ?? ''));

/** How long a placing waits between two tries of an instance lock another node holds (ms). */
const LOCK_POLL_MIN = 2;
const LOCK_POLL_MAX = 100;

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** A PostgreSQL failure as a StoreError: unreachable (A700, the SCU may send again), out of resources (class 53), or an index failure. */
export function postgresStoreError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = codeOf(error);
  const message = String((error as Error | null)?.message ?? error);
  if ((code !== undefined && unreachable.has(code)) || /timeout exceeded when trying to connect|Connection terminated|Query read timeout/i.test(message)) {
    return new StoreError(storeErrorCodes.indexUnavailable, `${what}: the PostgreSQL index cannot be reached: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`, {
      cause: error,
      comment: 'out of resources: the index database is unavailable',
    });
  }
  if (code?.startsWith('53')) {
    return new StoreError(storeErrorCodes.outOfResources, `${what}: ${message} (${code})`, { cause: error, comment: 'out of resources: the index database is full' });
  }
  return storeErrorFromIndex(error, what);
}

/** Where a URL points, without its password (for messages). */
function describe(url: string | undefined): string {
  if (url === undefined) return `PostgreSQL from the PG* environment (${process.env['PGHOST'] ?? 'localhost'}:${process.env['PGPORT'] ?? 5432}/${process.env['PGDATABASE'] ?? process.env['PGUSER'] ?? ''})`;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'PostgreSQL (an unparseable URL)';
  }
}

interface Parents {
  readonly patientKey: string;
  readonly patientFk: string;
  readonly studyKey: string;
  readonly studyFk: string;
  readonly seriesKey: string;
  readonly seriesFk: string;
}

const keyOf = (...values: (string | number)[]): string => values.join('\u001f');

const upsertPatient = `INSERT INTO patient AS p (patient_id, patient_name, patient_birth_date, patient_sex, charset) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (patient_id) DO UPDATE SET patient_name = excluded.patient_name, patient_birth_date = excluded.patient_birth_date,
    patient_sex = excluded.patient_sex, charset = excluded.charset
  WHERE (p.patient_name, p.patient_birth_date, p.patient_sex, p.charset)
    IS DISTINCT FROM (excluded.patient_name, excluded.patient_birth_date, excluded.patient_sex, excluded.charset)
  RETURNING id`;
// `old`: the parent the row had before this statement (its snapshot), to prune if emptied.
const upsertStudy = `WITH old AS (SELECT patient_fk FROM study WHERE study_uid = $2)
  INSERT INTO study AS s (patient_fk, study_uid, study_date, study_time, accession_number, study_id, study_description,
    referring_physician_name, procedure_codes, charset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (study_uid) DO UPDATE SET patient_fk = excluded.patient_fk, study_date = excluded.study_date, study_time = excluded.study_time,
    accession_number = excluded.accession_number, study_id = excluded.study_id, study_description = excluded.study_description,
    referring_physician_name = excluded.referring_physician_name, procedure_codes = excluded.procedure_codes, charset = excluded.charset
  WHERE (s.patient_fk, s.study_date, s.study_time, s.accession_number, s.study_id, s.study_description, s.referring_physician_name,
      s.procedure_codes, s.charset)
    IS DISTINCT FROM (excluded.patient_fk, excluded.study_date, excluded.study_time, excluded.accession_number, excluded.study_id,
      excluded.study_description, excluded.referring_physician_name, excluded.procedure_codes, excluded.charset)
  RETURNING id, (SELECT patient_fk FROM old) AS old_parent`;
const upsertSeries = `WITH old AS (SELECT study_fk FROM series WHERE series_uid = $2)
  INSERT INTO series AS s (study_fk, series_uid, modality, series_number, series_description, request_attributes, charset)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (series_uid) DO UPDATE SET study_fk = excluded.study_fk, modality = excluded.modality, series_number = excluded.series_number,
    series_description = excluded.series_description, request_attributes = excluded.request_attributes, charset = excluded.charset
  WHERE (s.study_fk, s.modality, s.series_number, s.series_description, s.request_attributes, s.charset)
    IS DISTINCT FROM (excluded.study_fk, excluded.modality, excluded.series_number, excluded.series_description,
      excluded.request_attributes, excluded.charset)
  RETURNING id, (SELECT study_fk FROM old) AS old_parent`;
const instanceColumns = 'series_fk, sop_uid, sop_class_uid, instance_number, storage_key, transfer_syntax, size, charset';
const insertInstance = `INSERT INTO instance (${instanceColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sop_uid) DO NOTHING RETURNING id`;
const upsertInstance = `INSERT INTO instance (${instanceColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (sop_uid) DO UPDATE SET series_fk = excluded.series_fk, sop_class_uid = excluded.sop_class_uid,
    instance_number = excluded.instance_number, storage_key = excluded.storage_key, transfer_syntax = excluded.transfer_syntax,
    size = excluded.size, charset = excluded.charset, stored_at = now()`;
const storedFileColumns = `sop_uid AS "SOPInstanceUID", sop_class_uid AS "SOPClassUID", transfer_syntax AS "transferSyntaxUid", storage_key AS "key", size`;

const storedFile = (row: Record<string, unknown>): StoredFile => ({ ...(row as unknown as StoredFile), size: Number(row['size']) });

let indexes = 0;

export class PostgresIndex implements InstanceIndex {
  readonly kind = 'postgres';
  readonly #pool: Pool;
  /** Connections that hold instance locks (a placing keeps one for its duration). */
  readonly #locks: Pool;
  readonly #runner: SqlRunner;
  readonly #id = ++indexes;
  /** The parent rows this node wrote last (see addInstance). */
  #parents: Parents | undefined;
  #closed = false;

  private constructor(pool: Pool, locks: Pool) {
    this.#pool = pool;
    this.#locks = locks;
    this.#runner = {
      dialect: postgresDialect,
      // The scan runs on the server: nothing here waits for it but this query.
      defaultScanChunk: Number.POSITIVE_INFINITY,
      all: async (sql, params) => {
        try {
          return (await pool.query(sql, params as unknown[])).rows as Record<string, unknown>[];
        } catch (error) {
          throw postgresStoreError(error, 'the query failed');
        }
      },
    };
  }

  /**
   * Connect, and bring the database to the current schema (migrations under an advisory lock:
   * nodes starting together migrate once). A database that cannot be reached is a StoreError
   * DICOM_ERR_STORE_INDEX_UNAVAILABLE naming where it was looked for (never the password).
   */
  static async open(options: PostgresIndexOptions = {}): Promise<PostgresIndex> {
    const max = options.maxConnections ?? 10;
    if (!Number.isInteger(max) || max < 1) throw new InvalidOptionError('maxConnections', `must be an integer ≥ 1, got ${String(max)}`);
    const connectTimeout = options.connectTimeout ?? 10_000;
    if (!Number.isInteger(connectTimeout) || connectTimeout < 1) throw new InvalidOptionError('connectTimeout', `must be an integer ≥ 1 (ms), got ${String(connectTimeout)}`);
    const queryTimeout = options.queryTimeout ?? 60_000;
    if (!Number.isInteger(queryTimeout) || queryTimeout < 0) throw new InvalidOptionError('queryTimeout', `must be an integer ≥ 0 (ms), got ${String(queryTimeout)}`);
    if (options.url !== undefined && (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url))) {
      throw new InvalidOptionError('url', 'must be a postgres:// or postgresql:// URL');
    }
    const pg = (await import('pg')).default;
    const config: PoolConfig = {
      ...(options.url === undefined ? {} : { connectionString: options.url }),
      max,
      connectionTimeoutMillis: connectTimeout,
      ...(queryTimeout === 0 ? {} : { query_timeout: queryTimeout }),
      application_name: 'dicom-tls',
    };
    const pool = new pg.Pool(config);
    const locks = new pg.Pool(config);
    // An idle connection the server drops (restart, network) is reported here, not thrown.
    for (const p of [pool, locks]) p.on('error', (error) => publish(channelNames.server, () => ({ kind: 'index-connection-error', error })));
    const where = describe(options.url);
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      await Promise.all([pool.end(), locks.end()]).catch(() => undefined);
      throw postgresStoreError(error, `cannot connect to ${where}`);
    }
    // Dropped between two statements of the migration: the next statement fails, nothing is thrown out of band.
    const onLost = (): void => undefined;
    client.on('error', onLost);
    try {
      const from = await migratePostgres(client as unknown as Queryable, INDEX_CONTENT_VERSION);
      if (from < POSTGRES_SCHEMA_VERSION) publish(channelNames.server, () => ({ kind: 'index-migrated', database: 'postgres', fromVersion: from, toVersion: POSTGRES_SCHEMA_VERSION }));
      client.off('error', onLost);
      client.release();
    } catch (error) {
      client.off('error', onLost);
      client.release(true);
      await Promise.all([pool.end(), locks.end()]).catch(() => undefined);
      throw postgresStoreError(error, `cannot prepare the index in ${where}`);
    }
    return new PostgresIndex(pool, locks);
  }

  /** `fn` in one transaction on one connection, tried again (up to 5 times) when another node's commit got in its way. */
  async #transaction<T>(what: string, fn: (client: PoolClient, attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (error) {
        throw postgresStoreError(error, what);
      }
      let broken: Error | undefined;
      const onLost = (error: Error): void => void (broken = error);
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const result = await fn(client, attempt);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // After a timeout the connection still owes that answer: a ROLLBACK would queue behind it.
        // Dropping the connection rolls the transaction back on the server.
        if (timedOut(error)) broken = error as Error;
        else await client.query('ROLLBACK').catch((e: unknown) => (broken = e as Error));
        if (attempt < 5 && retryable.has(codeOf(error) ?? '')) continue;
        throw postgresStoreError(error, what);
      } finally {
        client.off('error', onLost);
        client.release(broken);
      }
    }
  }

  async #query(what: string, sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    try {
      return (await this.#pool.query(sql, params as unknown[])).rows as Record<string, unknown>[];
    } catch (error) {
      throw postgresStoreError(error, what);
    }
  }

  async addInstance(record: InstanceRecord, settled: readonly string[] = []): Promise<string | undefined> {
    const cached = this.#parents;
    this.#parents = undefined; // kept only once this transaction has committed
    const done = await this.#transaction(`cannot index ${record.SOPInstanceUID}`, (client, attempt) =>
      // A parent remembered from the last commit may have been pruned by another node since: the
      // foreign key catches it, and the retry writes every parent through.
      this.#add(client, record, attempt === 1 ? cached : undefined, settled),
    );
    this.#parents = done.old === undefined ? done.parents : undefined;
    return done.old;
  }

  async #add(c: PoolClient, record: InstanceRecord, parents: Parents | undefined, settled: readonly string[]): Promise<{ old: string | undefined; parents: Parents }> {
    if (settled.length > 0) await c.query('DELETE FROM pending WHERE storage_key = ANY($1::text[])', [settled]);
    const { ProcedureCodeSequence, RequestAttributesSequence, ...r } = record;
    const procedureCodes = JSON.stringify(ProcedureCodeSequence ?? []);
    const requestAttributes = JSON.stringify(RequestAttributesSequence ?? []);
    // Parents emptied by this commit (the instance, its series or its study moved): pruned at the end.
    const emptied = { series: [] as string[], study: [] as string[], patient: [] as string[] };
    const parentId = async (sql: string, values: unknown[], select: string, key: string, level: 'study' | 'patient' | undefined): Promise<string> => {
      const written = (await c.query(sql, values)).rows[0] as { id: string; old_parent?: string | null } | undefined;
      if (written === undefined) return String((await c.query(select, [key])).rows[0]!.id);
      if (level !== undefined && written.old_parent != null && String(written.old_parent) !== String(values[0])) emptied[level].push(String(written.old_parent));
      return String(written.id);
    };
    const patientKey = keyOf(r.PatientID, r.PatientName, r.PatientBirthDate, r.PatientSex, r.SpecificCharacterSet);
    const patientFk =
      parents?.patientKey === patientKey
        ? parents.patientFk
        : await parentId(upsertPatient, [r.PatientID, r.PatientName, r.PatientBirthDate, r.PatientSex, r.SpecificCharacterSet], 'SELECT id FROM patient WHERE patient_id = $1', r.PatientID, undefined);
    const studyKey = keyOf(patientFk, r.StudyInstanceUID, r.StudyDate, r.StudyTime, r.AccessionNumber, r.StudyID, r.StudyDescription, r.ReferringPhysicianName, procedureCodes, r.SpecificCharacterSet);
    const studyFk =
      parents?.studyKey === studyKey
        ? parents.studyFk
        : await parentId(
            upsertStudy,
            [patientFk, r.StudyInstanceUID, r.StudyDate, r.StudyTime, r.AccessionNumber, r.StudyID, r.StudyDescription, r.ReferringPhysicianName, procedureCodes, r.SpecificCharacterSet],
            'SELECT id FROM study WHERE study_uid = $1',
            r.StudyInstanceUID,
            'patient',
          );
    const seriesKey = keyOf(studyFk, r.SeriesInstanceUID, r.Modality, r.SeriesNumber, r.SeriesDescription, requestAttributes, r.SpecificCharacterSet);
    const seriesFk =
      parents?.seriesKey === seriesKey
        ? parents.seriesFk
        : await parentId(
            upsertSeries,
            [studyFk, r.SeriesInstanceUID, r.Modality, r.SeriesNumber, r.SeriesDescription, requestAttributes, r.SpecificCharacterSet],
            'SELECT id FROM series WHERE series_uid = $1',
            r.SeriesInstanceUID,
            'study',
          );
    const values = [seriesFk, r.SOPInstanceUID, r.SOPClassUID, r.InstanceNumber, r.key, r.transferSyntaxUid, r.size, r.SpecificCharacterSet];
    // A new instance is one statement; a re-sent one reads the key it replaces, then updates.
    let old: string | undefined;
    if ((await c.query(insertInstance, values)).rowCount === 0) {
      const previous = (await c.query('SELECT storage_key, series_fk FROM instance WHERE sop_uid = $1 FOR UPDATE', [r.SOPInstanceUID])).rows[0] as
        | { storage_key: string; series_fk: string }
        | undefined;
      old = previous?.storage_key;
      await c.query(upsertInstance, values);
      if (previous !== undefined && String(previous.series_fk) !== seriesFk) emptied.series.push(String(previous.series_fk));
    }
    await prune(c, emptied);
    return { old, parents: { patientKey, patientFk, studyKey, studyFk, seriesKey, seriesFk } };
  }

  /** Always durable (`options.durable` is not used): PostgreSQL's own group commit shares the WAL flushes of concurrent commits. */
  async beginPending(entries: readonly PendingEntry[], _options?: { readonly durable?: boolean }): Promise<void> {
    await this.#query(
      'cannot note a pending copy',
      `INSERT INTO pending (storage_key, sop_uid, record)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
        ON CONFLICT (storage_key) DO UPDATE SET sop_uid = excluded.sop_uid, record = excluded.record, started_at = clock_timestamp()`,
      [entries.map((e) => e.key), entries.map((e) => e.sopInstanceUid), entries.map((e) => pendingRecordText(e))],
    );
  }

  /** Always durable (`options.durable` is not used). */
  async endPending(keys: readonly string[], _options?: { readonly durable?: boolean }): Promise<void> {
    await this.#query('cannot settle a pending copy', 'DELETE FROM pending WHERE storage_key = ANY($1::text[])', [keys]);
  }

  async pendingEntries(sopInstanceUid?: string): Promise<PendingEntry[]> {
    const rows = await this.#query(
      'cannot read the pending entries',
      `SELECT storage_key, sop_uid, record FROM pending ${sopInstanceUid === undefined ? '' : 'WHERE sop_uid = $1'} ORDER BY started_at, seq`,
      sopInstanceUid === undefined ? [] : [sopInstanceUid],
    );
    return rows.map((row) => pendingEntryOf(String(row['storage_key']), String(row['sop_uid']), row['record'] == null ? null : String(row['record'])));
  }

  /**
   * In-process first (placings in this node queue without holding connections), then a session
   * advisory lock on a connection kept for the duration: every node sharing the database
   * waits for it, and a node that dies lets go with its connection.
   */
  async lockInstance(sopInstanceUid: string): Promise<Unlock> {
    const unlockHere = await lockInProcess(`postgres:${this.#id}\0${sopInstanceUid}`);
    let client: PoolClient | undefined;
    // A checked-out connection the server drops while we hold it (placing a file) reports here:
    // without a listener, node-postgres would throw it as an uncaught 'error' event.
    let lost: Error | undefined;
    const onLost = (error: Error): void => {
      lost = error;
      publish(channelNames.server, () => ({ kind: 'index-connection-error', error }));
    };
    try {
      client = await this.#locks.connect();
      client.on('error', onLost);
      // Tries, not one blocking pg_advisory_lock: each try is answered at once, so the query
      // timeout tells a silent database from a lock another node holds for a long placing.
      for (let pause = LOCK_POLL_MIN; ; pause = Math.min(pause * 2, LOCK_POLL_MAX)) {
        const { rows } = await client.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS held', [INSTANCE_LOCK_CLASS, sopInstanceUid]);
        if ((rows[0] as { held: boolean }).held) break;
        await delay(pause);
      }
    } catch (error) {
      client?.off('error', onLost);
      client?.release(true);
      await unlockHere();
      throw postgresStoreError(error, `cannot lock ${sopInstanceUid}`);
    }
    const held = client;
    return async () => {
      try {
        if (lost !== undefined) throw lost;
        await held.query('SELECT pg_advisory_unlock($1, hashtext($2))', [INSTANCE_LOCK_CLASS, sopInstanceUid]);
        held.off('error', onLost);
        held.release();
      } catch (error) {
        // Dropping the connection ends its session, and the lock with it.
        held.off('error', onLost);
        held.release(error as Error);
      } finally {
        await unlockHere();
      }
    };
  }

  async findInstance(sopInstanceUid: string): Promise<StoredFile | undefined> {
    const [row] = await this.#query(`cannot look up ${sopInstanceUid}`, `SELECT ${storedFileColumns} FROM instance WHERE sop_uid = $1`, [sopInstanceUid]);
    return row === undefined ? undefined : storedFile(row);
  }

  async removeInstance(sopInstanceUid: string): Promise<boolean> {
    this.#parents = undefined; // a parent may be pruned
    return this.#transaction(`cannot remove ${sopInstanceUid}`, async (c) => {
      const [row] = (await c.query('DELETE FROM instance WHERE sop_uid = $1 RETURNING series_fk', [sopInstanceUid])).rows as { series_fk: string }[];
      if (row === undefined) return false;
      await prune(c, { series: [String(row.series_fk)], study: [], patient: [] });
      return true;
    });
  }

  find(model: InformationModel, identifier: NaturalizedDataset, options?: FindOptions): AsyncIterable<NaturalizedDataset> {
    return queryMatches(this.#runner, model, identifier, options);
  }

  instancesFor(level: QueryLevel, keys: NaturalizedDataset): Promise<RetrieveInstance[]> {
    return retrieveInstances(this.#runner, level, keys);
  }

  async statistics(): Promise<IndexStatistics> {
    const [row] = await this.#query(
      'cannot count',
      `SELECT (SELECT count(*) FROM patient) AS patients, (SELECT count(*) FROM study) AS studies, (SELECT count(*) FROM series) AS series,
        (SELECT count(*) FROM instance) AS instances, (SELECT coalesce(sum(size), 0) FROM instance) AS bytes, (SELECT count(*) FROM pending) AS pending`,
    );
    const n = (k: string): number => Number(row![k]);
    return { patients: n('patients'), studies: n('studies'), series: n('series'), instances: n('instances'), bytes: n('bytes'), pending: n('pending') };
  }

  async recordCommitment(transactionUid: string, requestor: string, references: readonly CommitmentReference[]): Promise<void> {
    await this.#query(
      'cannot record a commitment request',
      `INSERT INTO commitment (transaction_uid, requestor, state, refs, requested_at, updated_at) VALUES ($1, $2, 'requested', $3, now(), now())
        ON CONFLICT (transaction_uid) DO UPDATE SET requestor = excluded.requestor, state = excluded.state, refs = excluded.refs,
          requested_at = excluded.requested_at, updated_at = excluded.updated_at`,
      [transactionUid, requestor, JSON.stringify(references)],
    );
  }

  async commitmentChecked(transactionUid: string, references: readonly CommitmentReference[]): Promise<void> {
    await this.#query('cannot record a commitment outcome', "UPDATE commitment SET state = 'checked', refs = $2, updated_at = now() WHERE transaction_uid = $1", [transactionUid, JSON.stringify(references)]);
  }

  async commitmentReported(transactionUid: string): Promise<void> {
    await this.#query('cannot record a commitment report', "UPDATE commitment SET state = 'reported', updated_at = now() WHERE transaction_uid = $1", [transactionUid]);
  }

  async commitment(transactionUid: string): Promise<CommitmentState | undefined> {
    const [row] = await this.#query('cannot read a commitment', 'SELECT * FROM commitment WHERE transaction_uid = $1', [transactionUid]);
    return row === undefined ? undefined : commitmentOfRow(row);
  }

  async claimUnreportedCommitments(before: string, limit: number): Promise<CommitmentState[]> {
    // SKIP LOCKED: a node claiming at the same moment takes the others.
    const rows = await this.#query(
      'cannot claim commitments',
      `UPDATE commitment SET updated_at = now() WHERE transaction_uid IN
          (SELECT transaction_uid FROM commitment WHERE state <> 'reported' AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [before, limit],
    );
    return rows.map(commitmentOfRow).sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  async schemaVersion(): Promise<number> {
    try {
      return await postgresSchemaVersion(this.#pool as unknown as Queryable);
    } catch (error) {
      throw postgresStoreError(error, 'cannot read the schema version');
    }
  }

  async contentVersion(): Promise<number> {
    const [row] = await this.#query('cannot read the content version', "SELECT value FROM meta WHERE name = 'content_version'");
    return Number(row?.['value'] ?? 0);
  }

  async setContentVersion(version: number): Promise<void> {
    await this.#query(
      'cannot write the content version',
      "INSERT INTO meta (name, value) VALUES ('content_version', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      [String(Math.trunc(version))],
    );
  }

  async allInstances(): Promise<StoredFile[]> {
    return (await this.#query('cannot list the instances', `SELECT ${storedFileColumns} FROM instance ORDER BY id`)).map(storedFile);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#pool.end(), this.#locks.end()]);
  }
}

/**
 * Delete the given parents when nothing refers to them any more, series before studies before
 * patients (a deleted series may empty its study, …). By id: another node's rows are never
 * scanned, and a parent another transaction is filling keeps its rows by the foreign key.
 */
async function prune(c: PoolClient, emptied: { series: string[]; study: string[]; patient: string[] }): Promise<void> {
  if (emptied.series.length > 0) {
    const { rows } = await c.query('DELETE FROM series s WHERE s.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM instance WHERE series_fk = s.id) RETURNING study_fk', [emptied.series]);
    for (const r of rows as { study_fk: string }[]) emptied.study.push(String(r.study_fk));
  }
  if (emptied.study.length > 0) {
    const { rows } = await c.query('DELETE FROM study s WHERE s.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM series WHERE study_fk = s.id) RETURNING patient_fk', [emptied.study]);
    for (const r of rows as { patient_fk: string }[]) emptied.patient.push(String(r.patient_fk));
  }
  if (emptied.patient.length > 0) {
    await c.query('DELETE FROM patient p WHERE p.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM study WHERE patient_fk = p.id)', [emptied.patient]);
  }
}
