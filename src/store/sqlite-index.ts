import { resolve } from 'node:path';
import { channelNames, publish } from '../diagnostics.js';
import { StoreError, storeErrorCodes, storeErrorFromIndex } from './errors.js';
import { commitmentOfRow, pendingEntryOf, pendingRecordText, type AddInstanceOptions, type CommitmentReference, type CommitmentState, type IndexStatistics, type InstanceIndex, type InstanceRecord, type PendingEntry, type RetrieveInstance, type StoredFile, type Unlock } from './instance-index.js';
import { queryMatches, retrieveInstances, type FindOptions, type InformationModel, type NaturalizedDataset, type QueryLevel, type SqlRunner } from './query.js';
import { INDEX_CONTENT_VERSION } from './reindex.js';
import { sqliteDialect } from './sql-dialect.js';
import { migrate, schemaVersionOf, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js';
import type { SQLInputValue } from 'node:sqlite';
import { retryWhileBusy, sqlite, sqliteErrorCode, SQLITE_CONSTRAINT_FOREIGNKEY, transaction, type DatabaseSync, type StatementSync } from './sqlite.js';
import { normalizeTime, personNameMatches } from './text-match.js';
import { lockInProcess } from './instance-lock.js';
import { WalFlusher } from './wal-flush.js';

/** A row's failure that also ended the batch's transaction (the row's savepoint is gone). */
class BatchLost extends Error {
  constructor(cause: unknown) {
    super('the transaction ended with this row', { cause });
  }
}

/** addPlaced's instance has a row already: its transaction (or savepoint) is rolled back, nothing placed. */
class AlreadyIndexed extends Error {
  constructor() {
    super('the instance is indexed already');
  }
}

export type { InstanceRecord, PendingEntry, StoredFile } from './instance-index.js';

/**
 * The embedded index of stored instances: SQLite (Node's built-in `node:sqlite`, synchronous, WAL
 * mode) with one table per level of the PS3.4 C.6 query/retrieve information models. Columns
 * hold the values as text with padding removed; PN is kept whole (all component groups). The
 * InstanceIndex methods do their work synchronously (an embedded database, no round trip) and
 * return settled promises; queries yield to the event loop between chunks (query.ts).
 */

/** The patient, study and series rows last written, by their values and ids. */
interface Parents {
  readonly patientKey: string;
  readonly patientFk: number;
  readonly studyKey: string;
  readonly studyFk: number;
  readonly seriesKey: string;
  readonly seriesFk: number;
}

/** One string for a row's values (unit separator between them: never in a DICOM text value we index). */
const keyOf = (...values: (string | number)[]): string => values.join('\u001f');

export interface SqliteIndexOptions {
  /** Open read-only (a second connection for queries); default false. */
  readonly readonly?: boolean;
  /**
   * 'full' (default): every write settles only once its commit is on disk (the WAL flushed), i.e.
   * one flush per batch of rows stored together (see addInstance). The connection commits at
   * SQLite `synchronous` NORMAL and the index fsyncs the `-wal` file in the thread pool
   * (wal-flush.ts), so the event loop goes on during the flush; where it cannot hold that file
   * (in memory), SQLite's own FULL. 'normal': no flush per commit: survives a crash of the
   * process but may lose the last commits on power loss, matching a FileStore with fsync 'none'.
   */
  readonly synchronous?: 'full' | 'normal';
  /**
   * How long this connection writes nothing before it counts as idle: the pending entries ended
   * without a commit of their own (endPending `durable: false`) then get one (until then the
   * next write carries them), and the WAL is checkpointed once `idleCheckpointWrites` writes
   * have gone into it (docs/conformance.md "Durability"). Default 50 ms.
   */
  readonly idleDrainMs?: number;
  /** Write transactions after which an idle index checkpoints its WAL; default IDLE_CHECKPOINT_WRITES. */
  readonly idleCheckpointWrites?: number;
}

/** An addInstance (or addPlaced) call waiting for its batch's commit. */
interface QueuedRow {
  readonly record: InstanceRecord;
  readonly settled: readonly string[];
  /**
   * addPlaced: the copy's pending entry, committed with the row, the placing run right after that
   * commit, and the copy's flush under way (see AddInstanceOptions.copyFlushed), held once placed.
   */
  readonly placing?: { readonly entry: PendingEntry; readonly place: () => void; readonly copyFlushed?: Promise<unknown> | undefined };
  resolve(old: string | undefined): void;
  reject(error: unknown): void;
}

interface PendingOps {
  begin(entries: readonly PendingEntry[], durable: boolean): void;
  end(keys: readonly string[]): void;
  list(sopUid: string | undefined): PendingEntry[];
}

export class SqliteIndex implements InstanceIndex {
  readonly kind = 'sqlite';
  /** Where the instance locks of this database are kept apart from other databases'. */
  readonly #lockScope: string;
  readonly #runner: SqlRunner;
  readonly #statements = new Map<string, StatementSync>();
  #closed = false;
  readonly #db: DatabaseSync;
  /** Flushes the WAL after durable commits ('full' on a file); undefined: SQLite flushes, or nothing does. */
  readonly #wal: WalFlusher | undefined;
  readonly #add: (record: InstanceRecord, settled: readonly string[], entry?: PendingEntry) => string | undefined;
  /** Rows committed together (group commit, see addInstance); each settles its own caller. */
  readonly #addBatch: (items: readonly QueuedRow[]) => void = () => undefined;
  #queued: QueuedRow[] = [];
  readonly #pending: PendingOps | undefined;
  readonly #find: StatementSync;
  readonly #remove: (sopUid: string) => boolean;
  /** addPlaced's placing failed after its commit: the row (if it still names the key) and the entry go, in one commit. */
  readonly #unplace: (sopUid: string, key: string) => void;
  /** The parent rows this connection wrote last (see addInstance). */
  #parents: Parents | undefined;
  /**
   * Pending entries ended without a commit of their own (endPending `durable: false`): deleted
   * in the next write transaction of this connection, before anything else it writes (so a later
   * entry under the same key is never the one deleted), at the latest once this connection has
   * written nothing for `idleDrainMs` (#whenIdle).
   */
  #ending: string[] = [];
  #idleTimer: NodeJS.Timeout | undefined;
  /** Write transactions that carried the ended entries (#ended), so far: the drain's measure of idleness. */
  #carried = 0;
  #carriedAtArm = 0;
  /** Of those, the ones since this connection's last idle checkpoint (#whenIdle). */
  #sinceCheckpoint = 0;
  readonly #idleDrainMs: number;
  readonly #idleCheckpointWrites: number;

  /**
   * Open or create the index at `path` (':memory:' for a throw-away one), migrated to the
   * current schema (sqlite-schema.ts; a read-only one must be current already).
   */
  constructor(path: string, options: SqliteIndexOptions = {}) {
    this.#lockScope = path === ':memory:' ? `memory:${++memoryIndexes}` : resolve(path);
    this.#idleDrainMs = options.idleDrainMs ?? 50;
    this.#idleCheckpointWrites = options.idleCheckpointWrites ?? IDLE_CHECKPOINT_WRITES;
    try {
      this.#db = new (sqlite().DatabaseSync)(path, { readOnly: options.readonly ?? false });
      // Another process opening or migrating the same file at once: wait for it, not fail.
      this.#db.exec('PRAGMA busy_timeout = 10000');
      if (options.readonly !== true) {
        // WAL: readers (C-FIND) see a consistent snapshot while an instance is being indexed.
        // SQLite may refuse this at once, without the busy timeout, while another process writes.
        retryWhileBusy(() => this.#db.exec('PRAGMA journal_mode = WAL'), 10_000);
        this.#db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        this.#db.exec('PRAGMA foreign_keys = ON');
        // The WAL is checkpointed when the index is idle (#whenIdle); SQLite's own checkpoint,
        // inside a COMMIT on the event loop, only past this many frames (its default 1000).
        this.#db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_FRAMES}`);
        const from = migrate(this.#db, INDEX_CONTENT_VERSION);
        if (from > 0 && from < SQLITE_SCHEMA_VERSION) publish(channelNames.server, () => ({ kind: 'index-migrated', database: 'sqlite', path, fromVersion: from, toVersion: SQLITE_SCHEMA_VERSION }));
        // Migrated at FULL; from here on the WAL is flushed in the thread pool (wal-flush.ts).
        if (options.synchronous !== 'normal') {
          const main = (this.#db.prepare('PRAGMA database_list').all() as { name: string; file: string }[]).find((d) => d.name === 'main');
          this.#wal = WalFlusher.forDatabase(main?.file);
          if (this.#wal !== undefined) {
            this.#db.exec('PRAGMA synchronous = NORMAL');
            // Grown ahead once, under the write lock (BEGIN IMMEDIATE): see WalFlusher.preallocate.
            const wal = this.#wal;
            const pageSize = Number((this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
            try {
              transaction(this.#db, () => wal.preallocate(WAL_HEADER_BYTES + WAL_PREALLOCATE_FRAMES * (WAL_FRAME_HEADER_BYTES + pageSize)), 'BEGIN IMMEDIATE')();
            } catch {
              // Another connection kept the write lock past the busy timeout: the WAL grows as it would have.
            }
          }
        }
      } else if (schemaVersionOf(this.#db) !== SQLITE_SCHEMA_VERSION) {
        throw new StoreError(storeErrorCodes.indexVersion, `schema version ${schemaVersionOf(this.#db)} is not the current ${SQLITE_SCHEMA_VERSION}: open it writable once to migrate it`);
      }
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError(storeErrorCodes.index, `cannot open index ${path}: ${String(error)}`, { cause: error });
    }
    this.#db.function('dicom_tm', { deterministic: true }, (value: unknown) => normalizeTime(String(value ?? ''), '0'));
    this.#db.function('dicom_pn_match', { deterministic: true }, (value: unknown, key: unknown, ci: unknown) =>
      personNameMatches(String(value ?? ''), String(key ?? ''), Number(ci) === 1) ? 1 : 0,
    );
    const db = this.#db;
    this.#runner = {
      dialect: sqliteDialect,
      defaultScanChunk: 2000,
      all: async (sql, params) => this.#statement(sql).all(...(params as SQLInputValue[])) as Record<string, unknown>[],
    };
    // Statements bound with a whole record: keys the statement does not name are ignored.
    const prepare = (sql: string): StatementSync => {
      const statement = db.prepare(sql);
      statement.setAllowUnknownNamedParameters(true);
      return statement;
    };
    if (options.readonly === true) {
      this.#add = () => {
        throw new StoreError(storeErrorCodes.index, 'the index is open read-only');
      };
      this.#remove = this.#add as unknown as (sopUid: string) => boolean;
      this.#unplace = this.#add as unknown as (sopUid: string, key: string) => void;
      this.#pending = undefined;
    } else {
      const upsertPatient = prepare(`INSERT INTO patient (patient_id, patient_name, patient_birth_date, patient_sex, charset)
        VALUES (@PatientID, @PatientName, @PatientBirthDate, @PatientSex, @SpecificCharacterSet)
        ON CONFLICT(patient_id) DO UPDATE SET patient_name = excluded.patient_name,
          patient_birth_date = excluded.patient_birth_date, patient_sex = excluded.patient_sex, charset = excluded.charset
        WHERE (patient_name, patient_birth_date, patient_sex, charset)
          IS NOT (excluded.patient_name, excluded.patient_birth_date, excluded.patient_sex, excluded.charset)
        RETURNING id`);
      const patientId = db.prepare('SELECT id FROM patient WHERE patient_id = ?');
      const upsertStudy = prepare(`INSERT INTO study (patient_fk, study_uid, study_date, study_time, accession_number,
          study_id, study_description, referring_physician_name, procedure_codes, charset)
        VALUES (@patientFk, @StudyInstanceUID, @StudyDate, @StudyTime, @AccessionNumber, @StudyID, @StudyDescription,
          @ReferringPhysicianName, @procedureCodes, @SpecificCharacterSet)
        ON CONFLICT(study_uid) DO UPDATE SET patient_fk = excluded.patient_fk, study_date = excluded.study_date,
          study_time = excluded.study_time, accession_number = excluded.accession_number, study_id = excluded.study_id,
          study_description = excluded.study_description, referring_physician_name = excluded.referring_physician_name,
          procedure_codes = excluded.procedure_codes, charset = excluded.charset
        WHERE (patient_fk, study_date, study_time, accession_number, study_id, study_description, referring_physician_name,
            procedure_codes, charset)
          IS NOT (excluded.patient_fk, excluded.study_date, excluded.study_time, excluded.accession_number, excluded.study_id,
            excluded.study_description, excluded.referring_physician_name, excluded.procedure_codes, excluded.charset)
        RETURNING id`);
      const studyId = db.prepare('SELECT id FROM study WHERE study_uid = ?');
      const upsertSeries = prepare(`INSERT INTO series (study_fk, series_uid, modality, series_number, series_description,
          request_attributes, charset)
        VALUES (@studyFk, @SeriesInstanceUID, @Modality, @SeriesNumber, @SeriesDescription, @requestAttributes, @SpecificCharacterSet)
        ON CONFLICT(series_uid) DO UPDATE SET study_fk = excluded.study_fk, modality = excluded.modality,
          series_number = excluded.series_number, series_description = excluded.series_description,
          request_attributes = excluded.request_attributes, charset = excluded.charset
        WHERE (study_fk, modality, series_number, series_description, request_attributes, charset)
          IS NOT (excluded.study_fk, excluded.modality, excluded.series_number, excluded.series_description,
            excluded.request_attributes, excluded.charset)
        RETURNING id`);
      const seriesId = db.prepare('SELECT id FROM series WHERE series_uid = ?');
      const previous = db.prepare('SELECT storage_key AS key FROM instance WHERE sop_uid = ?');
      // The instance's statements take positional values: binding a whole record by name looks
      // every key of it up three times (@, :, $), ~10 µs per instance against ~1 µs.
      const upsertInstance = db.prepare(`INSERT INTO instance (series_fk, sop_uid, sop_class_uid, instance_number, storage_key,
          transfer_syntax, size, charset, stored_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(sop_uid) DO UPDATE SET series_fk = excluded.series_fk, sop_class_uid = excluded.sop_class_uid,
          instance_number = excluded.instance_number, storage_key = excluded.storage_key, transfer_syntax = excluded.transfer_syntax,
          size = excluded.size, charset = excluded.charset, stored_at = excluded.stored_at`);
      const pruneSeries = db.prepare('DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM instance WHERE series_fk = series.id)');
      const pruneStudy = db.prepare('DELETE FROM study WHERE NOT EXISTS (SELECT 1 FROM series WHERE study_fk = study.id)');
      const prunePatient = db.prepare('DELETE FROM patient WHERE NOT EXISTS (SELECT 1 FROM study WHERE patient_fk = patient.id)');
      const prune = (): void => {
        pruneSeries.run();
        pruneStudy.run();
        prunePatient.run();
      };
      const insertInstance = db.prepare(`INSERT INTO instance (series_fk, sop_uid, sop_class_uid, instance_number, storage_key,
          transfer_syntax, size, charset, stored_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(sop_uid) DO NOTHING RETURNING id`);
      // One transaction per stored instance: the index never shows half an instance.
      const insertPending = db.prepare(`INSERT OR REPLACE INTO pending (storage_key, sop_uid, record, started_at, seq)
        VALUES (?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM pending))`);
      const deletePending = db.prepare('DELETE FROM pending WHERE storage_key = ?');
      const listPending = db.prepare('SELECT storage_key AS key, sop_uid, record, started_at FROM pending ORDER BY started_at, seq');
      const listPendingOf = db.prepare('SELECT storage_key AS key, sop_uid, record, started_at FROM pending WHERE sop_uid = ? ORDER BY started_at, seq');
      // The entries ended since the last write (see #ending), deleted first in each write transaction;
      // forgotten only once that transaction has committed (see #ended).
      const endQueued = (): void => {
        for (const key of this.#ending) deletePending.run(key);
      };
      const beginTx = transaction(db, (entries: readonly PendingEntry[]): void => {
        endQueued();
        const now = new Date().toISOString();
        for (const e of entries) insertPending.run(e.key, e.sopInstanceUid, pendingRecordText(e), now);
      });
      // A pending entry that is not `durable` is committed without the WAL fsync (synchronous
      // NORMAL for this one commit, or no flush by the WalFlusher): it survives a crash of the
      // process, and the next durable commit (the instance's row) flushes the WAL with it.
      // docs/conformance.md "Durability" says why a power loss in between can cost at most an
      // orphan file of an unacknowledged instance. With a WalFlusher the connection is at NORMAL
      // already, and beginPending flushes a durable entry.
      const full = options.synchronous !== 'normal' && this.#wal === undefined;
      const begin = (entries: readonly PendingEntry[], durable: boolean): void => {
        if (durable || !full) return beginTx(entries);
        db.exec('PRAGMA synchronous = NORMAL');
        try {
          beginTx(entries);
        } finally {
          db.exec('PRAGMA synchronous = FULL');
        }
      };
      const endTx = transaction(db, (keys: readonly string[]): void => {
        endQueued();
        for (const key of keys) deletePending.run(key);
      });
      this.#pending = {
        begin: (entries, durable) => this.#ended(() => begin(entries, durable)),
        end: (keys) => this.#ended(() => endTx(keys)),
        list: (sopUid) =>
          ((sopUid === undefined ? listPending.all() : listPendingOf.all(sopUid)) as { key: string; sop_uid: string; record: string | null; started_at: string }[]).map((r) =>
            pendingEntryOf(r.key, r.sop_uid, r.record, r.started_at),
          ),
      };
      const addBody = (record: InstanceRecord, parents: Parents | undefined, settled: readonly string[], entry?: PendingEntry): { old: string | undefined; parents: Parents } => {
        // addPlaced places new instances only: a known one goes back before anything is written
        // (commit.ts then goes the way of a known instance).
        if (entry !== undefined && previous.get(record.SOPInstanceUID) !== undefined) throw new AlreadyIndexed();
        // The pending entries of this file go in the same commit as its row (see PendingEntry).
        for (const key of settled) deletePending.run(key);
        // addPlaced: the copy's entry is written with its row, and stays (see addPlaced).
        if (entry !== undefined) insertPending.run(entry.key, entry.sopInstanceUid, pendingRecordText(entry), new Date().toISOString());
        // Arrays cannot be bound: the sequences go in as JSON text.
        const { ProcedureCodeSequence, RequestAttributesSequence, ...row } = record;
        const procedureCodes = JSON.stringify(ProcedureCodeSequence ?? []);
        const requestAttributes = JSON.stringify(RequestAttributesSequence ?? []);
        // Parent rows equal to the ones this connection wrote last need no statement at all (the
        // instances of a series share them). Otherwise an upsert whose row is unchanged writes
        // nothing and returns nothing (its WHERE), and the id is read. Rewriting three unchanged
        // parent rows per instance made most of each commit's WAL pages.
        const patientKey = keyOf(row.PatientID, row.PatientName, row.PatientBirthDate, row.PatientSex, row.SpecificCharacterSet);
        const patientFk =
          parents?.patientKey === patientKey
            ? parents.patientFk
            : ((upsertPatient.get(row) ?? patientId.get(row.PatientID)!) as { id: number }).id;
        const studyKey = keyOf(patientFk, row.StudyInstanceUID, row.StudyDate, row.StudyTime, row.AccessionNumber, row.StudyID,
          row.StudyDescription, row.ReferringPhysicianName, procedureCodes, row.SpecificCharacterSet);
        const studyFk =
          parents?.studyKey === studyKey
            ? parents.studyFk
            : ((upsertStudy.get({ ...row, patientFk, procedureCodes }) ?? studyId.get(row.StudyInstanceUID)!) as { id: number }).id;
        const seriesKey = keyOf(studyFk, row.SeriesInstanceUID, row.Modality, row.SeriesNumber, row.SeriesDescription, requestAttributes,
          row.SpecificCharacterSet);
        const seriesFk =
          parents?.seriesKey === seriesKey
            ? parents.seriesFk
            : ((upsertSeries.get({ ...row, studyFk, requestAttributes }) ?? seriesId.get(row.SeriesInstanceUID)!) as { id: number }).id;
        const values = [seriesFk, row.SOPInstanceUID, row.SOPClassUID, row.InstanceNumber, row.key, row.transferSyntaxUid, row.size, row.SpecificCharacterSet, new Date().toISOString()] as const;
        // A new instance is one statement; a re-sent one reads the key it replaces, then updates.
        let old: string | undefined;
        if (insertInstance.get(...values) === undefined) {
          old = (previous.get(record.SOPInstanceUID) as { key: string } | undefined)?.key;
          upsertInstance.run(...values);
          // It may have moved to another series or study: drop emptied parents.
          prune();
        }
        return { old, parents: { patientKey, patientFk, studyKey, studyFk, seriesKey, seriesFk } };
      };
      type Added = ReturnType<typeof addBody>;
      const add = transaction(db, (record: InstanceRecord, parents: Parents | undefined, settled: readonly string[], entry?: PendingEntry): Added => {
        endQueued();
        return addBody(record, parents, settled, entry);
      });
      // A parent row deleted or changed by another connection since it was remembered: the
      // foreign key caught the remembered id. Once more, with every parent written through.
      const withRetry = (run: typeof addBody, record: InstanceRecord, parents: Parents | undefined, settled: readonly string[], entry?: PendingEntry): Added => {
        try {
          return run(record, parents, settled, entry);
        } catch (error) {
          if (parents === undefined || sqliteErrorCode(error) !== SQLITE_CONSTRAINT_FOREIGNKEY) throw error;
          return run(record, undefined, settled, entry);
        }
      };
      // One row of a batch: a failing row is rolled back alone, its batch-mates stay. When the
      // savepoint is gone too, SQLite ended the whole transaction itself (a full disk, an I/O
      // error): BatchLost says so. (Not `db.isTransaction`: Node 22.15 has no such property.)
      const savepointed = (record: InstanceRecord, parents: Parents | undefined, settled: readonly string[], entry?: PendingEntry): Added => {
        db.exec('SAVEPOINT instance_row');
        try {
          const done = addBody(record, parents, settled, entry);
          db.exec('RELEASE instance_row');
          return done;
        } catch (error) {
          try {
            db.exec('ROLLBACK TO instance_row');
            db.exec('RELEASE instance_row');
          } catch {
            throw new BatchLost(error);
          }
          throw error;
        }
      };
      this.#add = (record: InstanceRecord, settled: readonly string[], entry?: PendingEntry): string | undefined => {
        const parents = this.#parents;
        this.#parents = undefined; // kept only once this transaction has committed
        let done: Added;
        try {
          done = this.#ended(() => withRetry(add, record, parents, settled, entry));
        } catch (error) {
          // Rolled back before it wrote a parent: the ones remembered still stand.
          if (error instanceof AlreadyIndexed) this.#parents = parents;
          throw error;
        }
        this.#parents = done.old === undefined ? done.parents : undefined;
        return done.old;
      };
      this.#addBatch = (items: readonly QueuedRow[]): void => {
        let parents = this.#parents;
        this.#parents = undefined;
        const outcomes: Outcome[] = [];
        let whole = true;
        const ending = this.#ending.length;
        try {
          db.exec('BEGIN');
          endQueued();
          for (const item of items) {
            try {
              const done = withRetry(savepointed, item.record, parents, item.settled, item.placing?.entry);
              outcomes.push({ old: done.old });
              parents = done.old === undefined ? done.parents : undefined;
            } catch (error) {
              // A full disk or an I/O error ends SQLite's transaction itself: the batch is gone.
              if (error instanceof BatchLost) throw error.cause;
              outcomes.push({ error });
            }
          }
          db.exec('COMMIT');
        } catch {
          whole = false;
          try {
            db.exec('ROLLBACK');
          } catch {
            // already rolled back by SQLite
          }
        }
        if (!whole) {
          // The batch did not commit: every row once more in its own transaction, so that only
          // the rows that fail again fail.
          const again = items.map((item): Outcome => {
            try {
              return { old: this.#add(item.record, item.settled, item.placing?.entry) };
            } catch (error) {
              return { error };
            }
          });
          return this.#settleDurable(items, again);
        }
        this.#ending.splice(0, ending);
        this.#wrote();
        this.#parents = parents;
        this.#settleDurable(items, outcomes);
      };
      const deleteInstance = db.prepare('DELETE FROM instance WHERE sop_uid = ?');
      const remove = transaction(db, (sopUid: string): boolean => {
        endQueued();
        const removed = Number(deleteInstance.run(sopUid).changes) > 0;
        if (removed) prune();
        return removed;
      });
      this.#remove = (sopUid: string): boolean => {
        this.#parents = undefined; // a parent may have been pruned
        return this.#ended(() => remove(sopUid));
      };
      const deletePlaced = db.prepare('DELETE FROM instance WHERE sop_uid = ? AND storage_key = ?');
      const unplace = transaction(db, (sopUid: string, key: string): void => {
        endQueued();
        if (Number(deletePlaced.run(sopUid, key).changes) > 0) prune();
        deletePending.run(key);
      });
      this.#unplace = (sopUid: string, key: string): void => {
        this.#parents = undefined;
        this.#ended(() => unplace(sopUid, key));
      };
    }
    this.#find = db.prepare(`SELECT sop_uid AS SOPInstanceUID, sop_class_uid AS SOPClassUID,
      transfer_syntax AS transferSyntaxUid, storage_key AS key, size FROM instance WHERE sop_uid = ?`);
  }

  /** A prepared statement for `sql`, kept for the next call (a query runs one per chunk). */
  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= 64) this.#statements.delete(this.#statements.keys().next().value!);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Group commit: the rows asked for within one turn of the event loop (several associations
   * storing at once) are committed in one transaction at `setImmediate`, one WAL fsync for all
   * of them; each caller's promise settles once that commit is durable. A row that fails is
   * rolled back alone (a savepoint per row); a batch whose commit fails is retried row by row,
   * so only the rows that fail again fail. A lone row is its own transaction, as before; a row
   * whose caller stores nothing else (`options.alone`), with no row waiting, is committed at once.
   */
  addInstance(record: InstanceRecord, settled: readonly string[] = [], options: AddInstanceOptions = {}): Promise<string | undefined> {
    return this.#queue(record, settled, undefined, options);
  }

  /**
   * A new instance's row and its copy's pending entry (`entry`, which stays) in one commit, and
   * `place` (which puts the copy under `entry.key`, synchronously) called right after that commit,
   * before anything else runs on this thread: no query of this process sees the row before its
   * copy is in place, and a crash between the two leaves a row and an entry whose copy never
   * arrived, which reconcile settles ('unindexed'). One commit per new instance instead of two
   * (entry, then row). Settles once durable, as addInstance; when `place` throws, the row and the
   * entry are removed and the call rejects with what it threw. The caller ends the entry
   * (endPending) once the copy is settled (flushed). Batched like addInstance. An instance that
   * has a row already (read first inside the transaction: no look-up of its own) rolls back and
   * settles false: nothing written, nothing placed.
   */
  addPlaced(record: InstanceRecord, entry: PendingEntry, place: () => void, options: AddInstanceOptions = {}): Promise<boolean> {
    // The copy's flush is held (for findInstance) only once it is placed: a known instance's is not.
    return this.#queue(record, [], { entry, place, copyFlushed: options.copyFlushed }, options.alone === true ? { alone: true } : {}).then(
      () => true,
      (error: unknown) => {
        if (error instanceof AlreadyIndexed) return false;
        throw error;
      },
    );
  }

  #queue(record: InstanceRecord, settled: readonly string[], placing: QueuedRow['placing'], options: AddInstanceOptions): Promise<string | undefined> {
    if (options.copyFlushed !== undefined) this.#holdReports(options.copyFlushed);
    const queued = new Promise<string | undefined>((resolve, reject) => {
      const item: QueuedRow = { record, settled, ...(placing === undefined ? {} : { placing }), resolve, reject };
      if (this.#pending === undefined || this.#closed) {
        let outcome: Outcome;
        try {
          outcome = { old: this.#add(record, settled, placing?.entry) };
        } catch (error) {
          outcome = { error };
        }
        this.#placeCommitted([item], [outcome]);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.old);
        return;
      }
      this.#queued.push(item);
      // A row nobody can join (see AddInstanceOptions.alone): committed now, not a turn later.
      if (options.alone === true && this.#queued.length === 1) this.#flush();
      else if (this.#queued.length === 1) setImmediate(() => this.#flush());
    });
    return queued.catch((error: unknown) => {
      if (error instanceof AlreadyIndexed) throw error;
      throw storeErrorFromIndex(error, `cannot index ${record.SOPInstanceUID}`);
    });
  }

  #flush(): void {
    const items = this.#queued;
    this.#queued = [];
    if (items.length === 0) return;
    if (items.length > 1) return this.#addBatch(items);
    const [item] = items;
    let outcome: Outcome;
    try {
      outcome = { old: this.#add(item!.record, item!.settled, item!.placing?.entry) };
    } catch (error) {
      outcome = { error };
    }
    this.#settleDurable(items, [outcome]);
  }

  /**
   * The placings (addPlaced) of the rows just committed, one after the other and before anything
   * else runs: a placing that throws takes its row and entry out again (its outcome becomes the error).
   */
  #placeCommitted(items: readonly QueuedRow[], outcomes: Outcome[]): void {
    items.forEach((item, i) => {
      if (item.placing === undefined || 'error' in outcomes[i]!) return;
      try {
        item.placing.place();
        if (item.placing.copyFlushed !== undefined) this.#holdReports(item.placing.copyFlushed);
      } catch (error) {
        outcomes[i] = { error };
        try {
          this.#unplace(item.record.SOPInstanceUID, item.placing.entry.key);
        } catch {
          // Left to reconcile: the entry's copy is not under its key, the row names it ('unindexed').
        }
      }
    });
  }

  /** The entries ended without a commit of their own are gone once `write` (a write transaction that deleted them first) has committed. */
  #ended<T>(write: () => T): T {
    const ending = this.#ending.length;
    const done = write();
    this.#ending.splice(0, ending);
    this.#wrote();
    return done;
  }

  #wrote(): void {
    this.#carried++;
    if (++this.#sinceCheckpoint >= this.#idleCheckpointWrites) this.#whenIdle();
  }

  /**
   * Once this connection has written nothing for `idleDrainMs`: a write transaction for the
   * ended entries alone (while instances keep arriving, a peer sending one at a time, each
   * instance's commit carries the end of the one before: one commit per instance instead of
   * two), and a WAL checkpoint once `idleCheckpointWrites` writes have gone in since the last
   * (instead of SQLite's, inside some instance's COMMIT: its fsyncs then hold up that answer).
   * The timer is unref'd (it keeps no process alive); close, pendingEntries and statistics drain
   * first. A crash meanwhile leaves only entries whose copy is in place and named by its row,
   * which reconcile and `store check` clear without a finding.
   */
  #whenIdle(): void {
    if (this.#idleTimer !== undefined) return;
    this.#carriedAtArm = this.#carried;
    const timer = setTimeout(() => {
      if (this.#closed || (this.#ending.length === 0 && this.#sinceCheckpoint < this.#idleCheckpointWrites)) {
        this.#idleTimer = undefined;
        return;
      }
      // Written since: not idle; what is left waits for the next write or the next quiet interval.
      if (this.#carried !== this.#carriedAtArm) {
        this.#carriedAtArm = this.#carried;
        timer.refresh();
        return;
      }
      try {
        if (this.#ending.length > 0) this.#pending?.end([]);
      } catch {
        // Kept for the next write (or reconcile): each such entry's copy is in place and named by its row.
      }
      if (this.#sinceCheckpoint >= this.#idleCheckpointWrites) {
        this.#sinceCheckpoint = 0;
        try {
          // PASSIVE: copies what no reader (another connection) still needs, waits for nobody.
          this.#db.exec('PRAGMA wal_checkpoint(PASSIVE)');
        } catch {
          // Left to the next idle interval, or to SQLite's own at WAL_AUTOCHECKPOINT_FRAMES.
        }
      }
      this.#idleTimer = undefined;
    }, this.#idleDrainMs);
    timer.unref();
    this.#idleTimer = timer;
  }

  /**
   * Answer each row of a commit: a failed row at once, the committed ones once the WAL holding
   * them is flushed (a failed flush fails them all: they are in the index, not on disk).
   */
  #settleDurable(items: readonly QueuedRow[], outcomes: Outcome[]): void {
    this.#placeCommitted(items, outcomes);
    const committed: [QueuedRow, string | undefined][] = [];
    items.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if ('error' in outcome) item.reject(outcome.error);
      else committed.push([item, outcome.old]);
    });
    if (committed.length === 0) return;
    this.#durable().then(
      () => {
        for (const [item, old] of committed) item.resolve(old);
      },
      (error: unknown) => {
        for (const [item] of committed) item.reject(error);
      },
    );
  }

  /** Copies whose rows are committed and whose flushes are under way (see findInstance). */
  readonly #copyFlushes = new Set<Promise<unknown>>();

  #holdReports(flushed: Promise<unknown>): void {
    const held = flushed.then(noop, noop);
    this.#copyFlushes.add(held);
    void held.then(() => this.#copyFlushes.delete(held));
  }

  /** Settles once every commit made so far is on disk (see SqliteIndexOptions.synchronous). */
  #durable(): Promise<void> {
    return this.#wal === undefined ? Promise.resolve() : this.#wal.flush();
  }

  async beginPending(entries: readonly PendingEntry[], options: { readonly durable?: boolean } = {}): Promise<void> {
    const durable = options.durable ?? true;
    try {
      this.#writable().begin(entries, durable);
      if (durable) await this.#durable();
    } catch (error) {
      throw storeErrorFromIndex(error, 'cannot note a pending copy');
    }
  }

  async endPending(keys: readonly string[], options: { readonly durable?: boolean } = {}): Promise<void> {
    try {
      const pending = this.#writable();
      if (options.durable === false) {
        // No commit of its own: deleted first in the next write transaction (see #ending).
        this.#ending.push(...keys);
        this.#whenIdle();
        return;
      }
      pending.end(keys);
      await this.#durable();
    } catch (error) {
      throw storeErrorFromIndex(error, 'cannot settle a pending copy');
    }
  }

  async pendingEntries(sopInstanceUid?: string): Promise<PendingEntry[]> {
    const pending = this.#writable();
    // Ended entries are not pending any more.
    if (this.#ending.length > 0) pending.end([]);
    return pending.list(sopInstanceUid);
  }

  #writable(): PendingOps {
    if (this.#pending === undefined) throw new StoreError(storeErrorCodes.index, 'the index is open read-only');
    return this.#pending;
  }

  /** One process owns an embedded database: the lock is the process's own (instance-lock.ts). */
  lockInstance(sopInstanceUid: string): Promise<Unlock> {
    return lockInProcess(`${this.#lockScope}\0${sopInstanceUid}`);
  }

  async findInstance(sopInstanceUid: string): Promise<StoredFile | undefined> {
    try {
      const row = this.#find.get(sopInstanceUid) as StoredFile | undefined;
      // A row is committed before its flush ends, and before its copy's (see addInstance's
      // copyFlushed): it is reported (a duplicate kept, a commitment answered) only once on disk.
      if (row !== undefined) {
        await this.#wal?.settled();
        if (this.#copyFlushes.size > 0) await Promise.allSettled([...this.#copyFlushes]);
      }
      return row;
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot look up ${sopInstanceUid}`);
    }
  }

  async removeInstance(sopInstanceUid: string): Promise<boolean> {
    try {
      const removed = this.#remove(sopInstanceUid);
      await this.#durable();
      return removed;
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot remove ${sopInstanceUid}`);
    }
  }

  find(model: InformationModel, identifier: NaturalizedDataset, options?: FindOptions): AsyncIterable<NaturalizedDataset> {
    return queryMatches(this.#runner, model, identifier, options);
  }

  instancesFor(level: QueryLevel, keys: NaturalizedDataset): Promise<RetrieveInstance[]> {
    return retrieveInstances(this.#runner, level, keys);
  }

  async statistics(): Promise<IndexStatistics> {
    if (this.#ending.length > 0) this.#pending?.end([]);
    const row = this.#statement(`SELECT (SELECT count(*) FROM patient) AS patients, (SELECT count(*) FROM study) AS studies,
      (SELECT count(*) FROM series) AS series, (SELECT count(*) FROM instance) AS instances,
      (SELECT coalesce(sum(size), 0) FROM instance) AS bytes, (SELECT count(*) FROM pending) AS pending`).get() as Record<string, number>;
    return { patients: Number(row['patients']), studies: Number(row['studies']), series: Number(row['series']), instances: Number(row['instances']), bytes: Number(row['bytes']), pending: Number(row['pending']) };
  }

  async recordCommitment(transactionUid: string, requestor: string, references: readonly CommitmentReference[]): Promise<void> {
    const now = new Date().toISOString();
    this.#statement(`INSERT INTO commitment (transaction_uid, requestor, state, refs, requested_at, updated_at) VALUES (?, ?, 'requested', ?, ?, ?)
      ON CONFLICT(transaction_uid) DO UPDATE SET requestor = excluded.requestor, state = excluded.state, refs = excluded.refs,
        requested_at = excluded.requested_at, updated_at = excluded.updated_at`).run(transactionUid, requestor, JSON.stringify(references), now, now);
    await this.#durable();
  }

  async commitmentChecked(transactionUid: string, references: readonly CommitmentReference[]): Promise<void> {
    this.#statement("UPDATE commitment SET state = 'checked', refs = ?, updated_at = ? WHERE transaction_uid = ?").run(JSON.stringify(references), new Date().toISOString(), transactionUid);
    await this.#durable();
  }

  async commitmentReported(transactionUid: string): Promise<void> {
    this.#statement("UPDATE commitment SET state = 'reported', updated_at = ? WHERE transaction_uid = ?").run(new Date().toISOString(), transactionUid);
    await this.#durable();
  }

  async commitment(transactionUid: string): Promise<CommitmentState | undefined> {
    const row = this.#statement('SELECT transaction_uid, requestor, state, refs, requested_at, updated_at FROM commitment WHERE transaction_uid = ?').get(transactionUid) as Record<string, string> | undefined;
    return row === undefined ? undefined : commitmentOfRow(row);
  }

  async claimUnreportedCommitments(before: string, limit: number): Promise<CommitmentState[]> {
    const rows = this.#statement(`UPDATE commitment SET updated_at = ? WHERE transaction_uid IN
        (SELECT transaction_uid FROM commitment WHERE state <> 'reported' AND updated_at < ? ORDER BY updated_at LIMIT ?)
      RETURNING transaction_uid, requestor, state, refs, requested_at, updated_at`).all(new Date().toISOString(), before, limit) as Record<string, string>[];
    await this.#durable();
    return rows.map(commitmentOfRow).sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  async schemaVersion(): Promise<number> {
    return schemaVersionOf(this.#db);
  }

  async contentVersion(): Promise<number> {
    const row = this.#statement("SELECT value FROM meta WHERE name = 'content_version'").get() as { value: string } | undefined;
    return Number(row?.value ?? 0);
  }

  async setContentVersion(version: number): Promise<void> {
    this.#statement("INSERT OR REPLACE INTO meta (name, value) VALUES ('content_version', ?)").run(String(Math.trunc(version)));
    await this.#durable();
  }

  async allInstances(): Promise<StoredFile[]> {
    return this.#statement(`SELECT sop_uid AS SOPInstanceUID, sop_class_uid AS SOPClassUID, transfer_syntax AS transferSyntaxUid,
      storage_key AS key, size FROM instance ORDER BY id`).all() as unknown as StoredFile[];
  }

  /** The connection (tests and tools; not part of InstanceIndex). */
  get connection(): DatabaseSync {
    return this.#db;
  }

  /**
   * How durable a commit is once its write settles: 'full' when it is flushed first (by the
   * WalFlusher, the connection itself then at NORMAL, or by SQLite at FULL), else the
   * connection's SQLite `synchronous` level ('normal', …).
   */
  get synchronous(): string {
    if (this.#wal !== undefined) return 'full';
    const level = Number((this.#db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous);
    return ['off', 'normal', 'full', 'extra'][level] ?? String(level);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    if (this.#ending.length > 0) {
      try {
        this.#pending?.end([]);
      } catch {
        // left to reconcile at the next open: each such entry's copy is in place and its row names it
      }
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#closed = true;
    this.#db.close();
    // The rows just committed settle once flushed (the close checkpointed them to disk anyway).
    await this.#wal?.close();
  }
}

let memoryIndexes = 0;
/**
 * Write transactions (about four WAL frames each for a new instance) after which an idle index
 * checkpoints its WAL: SQLite's default interval of 1000 frames, moved to a quiet moment.
 */
const IDLE_CHECKPOINT_WRITES = 250;
/** SQLite's own checkpoint past this many WAL frames (~16 MB at 4 KiB pages): the cap while writes never pause. */
const WAL_AUTOCHECKPOINT_FRAMES = 4000;

/**
 * Frames a durable index's WAL is grown to when it opens (WalFlusher.preallocate): about as many
 * as an idle checkpoint lets gather (IDLE_CHECKPOINT_WRITES commits of a few pages each), ~4 MiB.
 */
const WAL_PREALLOCATE_FRAMES = 1000;
/** SQLite's WAL file format: a 32-byte header, then frames of a 24-byte header and a page. */
const WAL_HEADER_BYTES = 32;
const WAL_FRAME_HEADER_BYTES = 24;
type Outcome = { readonly old: string | undefined } | { readonly error: unknown };
const noop = (): void => undefined;
