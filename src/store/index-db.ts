import { StoreError, storeErrorCodes, storeErrorFromIndex } from './errors.js';
import { sqlite, sqliteErrorCode, SQLITE_CONSTRAINT_FOREIGNKEY, transaction, type DatabaseSync, type StatementSync } from './sqlite.js';

/**
 * The embedded index of stored instances: SQLite (Node's built-in `node:sqlite`, synchronous, WAL mode) with
 * one table per level of the PS3.4 C.6 query/retrieve information models. Columns hold the
 * values as text with padding removed; PN is kept whole (all component groups).
 */

/** What the index records for one stored instance; keys are PS3.6 keywords. */
export interface InstanceRecord {
  readonly SpecificCharacterSet: string;
  readonly PatientID: string;
  readonly PatientName: string;
  readonly PatientBirthDate: string;
  readonly PatientSex: string;
  readonly StudyInstanceUID: string;
  readonly StudyDate: string;
  readonly StudyTime: string;
  readonly AccessionNumber: string;
  readonly StudyID: string;
  readonly StudyDescription: string;
  readonly ReferringPhysicianName: string;
  /** Items (CodeValue, CodingSchemeDesignator, CodeMeaning); stored as JSON for sequence matching. */
  readonly ProcedureCodeSequence?: readonly Readonly<Record<string, string>>[];
  readonly SeriesInstanceUID: string;
  readonly Modality: string;
  readonly SeriesNumber: string;
  readonly SeriesDescription: string;
  /** Items (RequestedProcedureID, ScheduledProcedureStepID); stored as JSON. */
  readonly RequestAttributesSequence?: readonly Readonly<Record<string, string>>[];
  readonly SOPInstanceUID: string;
  readonly SOPClassUID: string;
  readonly InstanceNumber: string;
  /** File path, absolute. */
  readonly path: string;
  readonly transferSyntaxUid: string;
  /** File size in bytes. */
  readonly size: number;
}

/** A stored instance's file, as needed for C-MOVE / C-GET sub-operations. */
export interface StoredFile {
  readonly SOPInstanceUID: string;
  readonly SOPClassUID: string;
  readonly transferSyntaxUid: string;
  readonly path: string;
  readonly size: number;
}

const schema = `
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

/**
 * A file that may exist at `path` without the instance row that accounts for it: written before
 * the file reaches that name and removed in the transaction that indexes it (or once the file is
 * gone). What a crash leaves here is settled at the next start (FileStore.open): the file is
 * indexed from `record` or removed. Queries and retrieves read only the instance table, so an
 * instance is visible only once both its file and its row are complete.
 */
export interface PendingEntry {
  readonly path: string;
  readonly sopInstanceUid: string;
  /** The row to write once the file is in place; undefined for a superseded copy to be removed. */
  readonly record: InstanceRecord | undefined;
}

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

export interface IndexDbOptions {
  /** Open read-only (a second connection for queries); default false. */
  readonly readonly?: boolean;
  /**
   * SQLite `synchronous` in WAL mode: 'full' (default) fsyncs the WAL at every commit, i.e. once
   * per stored instance, blocking the event loop for a disk flush (0.3-0.6 ms measured on the
   * project VM); 'normal' survives a crash of the process but may lose the last commits on power
   * loss, matching a FileStore with fsync 'none'.
   */
  readonly synchronous?: 'full' | 'normal';
}

interface PendingOps {
  begin(entries: readonly PendingEntry[]): void;
  end(paths: readonly string[]): void;
  list(): PendingEntry[];
}

export class IndexDb {
  readonly #db: DatabaseSync;
  readonly #add: (record: InstanceRecord, settled: readonly string[]) => string | undefined;
  readonly #pending: PendingOps | undefined;
  readonly #find: StatementSync;
  readonly #remove: (sopUid: string) => boolean;
  /** The parent rows this connection wrote last (see addInstance). */
  #parents: Parents | undefined;

  /** Open or create the index at `path` (':memory:' for a throw-away one). */
  constructor(path: string, options: IndexDbOptions = {}) {
    try {
      this.#db = new (sqlite().DatabaseSync)(path, { readOnly: options.readonly ?? false });
      if (options.readonly !== true) {
        // WAL: readers (C-FIND) see a consistent snapshot while an instance is being indexed.
        this.#db.exec('PRAGMA journal_mode = WAL');
        this.#db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        this.#db.exec('PRAGMA foreign_keys = ON');
        this.#db.exec(schema);
      }
    } catch (error) {
      throw new StoreError(storeErrorCodes.index, `cannot open index ${path}: ${String(error)}`, { cause: error });
    }
    this.#db.function('dicom_tm', { deterministic: true }, (value: unknown) => normalizeTime(String(value ?? ''), '0'));
    const db = this.#db;
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
      const previous = db.prepare('SELECT path FROM instance WHERE sop_uid = ?');
      const upsertInstance = prepare(`INSERT INTO instance (series_fk, sop_uid, sop_class_uid, instance_number, path,
          transfer_syntax, size, charset, stored_at)
        VALUES (@seriesFk, @SOPInstanceUID, @SOPClassUID, @InstanceNumber, @path, @transferSyntaxUid, @size,
          @SpecificCharacterSet, @storedAt)
        ON CONFLICT(sop_uid) DO UPDATE SET series_fk = excluded.series_fk, sop_class_uid = excluded.sop_class_uid,
          instance_number = excluded.instance_number, path = excluded.path, transfer_syntax = excluded.transfer_syntax,
          size = excluded.size, charset = excluded.charset, stored_at = excluded.stored_at`);
      const pruneSeries = db.prepare('DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM instance WHERE series_fk = series.id)');
      const pruneStudy = db.prepare('DELETE FROM study WHERE NOT EXISTS (SELECT 1 FROM series WHERE study_fk = study.id)');
      const prunePatient = db.prepare('DELETE FROM patient WHERE NOT EXISTS (SELECT 1 FROM study WHERE patient_fk = patient.id)');
      const prune = (): void => {
        pruneSeries.run();
        pruneStudy.run();
        prunePatient.run();
      };
      const insertInstance = prepare(`INSERT INTO instance (series_fk, sop_uid, sop_class_uid, instance_number, path,
          transfer_syntax, size, charset, stored_at)
        VALUES (@seriesFk, @SOPInstanceUID, @SOPClassUID, @InstanceNumber, @path, @transferSyntaxUid, @size,
          @SpecificCharacterSet, @storedAt)
        ON CONFLICT(sop_uid) DO NOTHING RETURNING id`);
      // One transaction per stored instance: the index never shows half an instance.
      const insertPending = db.prepare('INSERT OR REPLACE INTO pending (path, sop_uid, record, started_at) VALUES (?, ?, ?, ?)');
      const deletePending = db.prepare('DELETE FROM pending WHERE path = ?');
      const listPending = db.prepare('SELECT path, sop_uid, record FROM pending ORDER BY started_at');
      const begin = transaction(db, (entries: readonly PendingEntry[]): void => {
        const now = new Date().toISOString();
        for (const e of entries) insertPending.run(e.path, e.sopInstanceUid, e.record === undefined ? null : JSON.stringify(e.record), now);
      });
      const end = transaction(db, (paths: readonly string[]): void => {
        for (const path of paths) deletePending.run(path);
      });
      this.#pending = {
        begin,
        end,
        list: () =>
          (listPending.all() as { path: string; sop_uid: string; record: string | null }[]).map((r) => ({
            path: r.path,
            sopInstanceUid: r.sop_uid,
            record: r.record === null ? undefined : (JSON.parse(r.record) as InstanceRecord),
          })),
      };
      const add = transaction(db, (record: InstanceRecord, parents: Parents | undefined, settled: readonly string[]): { old: string | undefined; parents: Parents } => {
        // The pending entries of this file go in the same commit as its row (see PendingEntry).
        for (const path of settled) deletePending.run(path);
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
        const values = { ...row, seriesFk, storedAt: new Date().toISOString() };
        // A new instance is one statement; a re-sent one reads the path it replaces, then updates.
        let old: string | undefined;
        if (insertInstance.get(values) === undefined) {
          old = (previous.get(record.SOPInstanceUID) as { path: string } | undefined)?.path;
          upsertInstance.run(values);
          // It may have moved to another series or study: drop emptied parents.
          prune();
        }
        return { old, parents: { patientKey, patientFk, studyKey, studyFk, seriesKey, seriesFk } };
      });
      this.#add = (record: InstanceRecord, settled: readonly string[]): string | undefined => {
        const parents = this.#parents;
        this.#parents = undefined; // kept only once this transaction has committed
        let done: ReturnType<typeof add>;
        try {
          done = add(record, parents, settled);
        } catch (error) {
          // A parent row deleted or changed by another connection since: the foreign key caught
          // the remembered id. Once more, with every parent written through.
          if (parents === undefined || sqliteErrorCode(error) !== SQLITE_CONSTRAINT_FOREIGNKEY) throw error;
          done = add(record, undefined, settled);
        }
        this.#parents = done.old === undefined ? done.parents : undefined;
        return done.old;
      };
      const deleteInstance = db.prepare('DELETE FROM instance WHERE sop_uid = ?');
      const remove = transaction(db, (sopUid: string): boolean => {
        const removed = Number(deleteInstance.run(sopUid).changes) > 0;
        if (removed) prune();
        return removed;
      });
      this.#remove = (sopUid: string): boolean => {
        this.#parents = undefined; // a parent may have been pruned
        return remove(sopUid);
      };
    }
    this.#find = db.prepare(`SELECT sop_uid AS SOPInstanceUID, sop_class_uid AS SOPClassUID,
      transfer_syntax AS transferSyntaxUid, path, size FROM instance WHERE sop_uid = ?`);
  }

  /**
   * Record a stored instance (one transaction); returns the path it replaced, if any. `settled`:
   * pending paths (see beginPending) that this commit accounts for, removed in the same commit.
   * A full disk or I/O error under the database is a StoreError 'out of resources' (A700).
   */
  addInstance(record: InstanceRecord, settled: readonly string[] = []): string | undefined {
    try {
      return this.#add(record, settled);
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot index ${record.SOPInstanceUID}`);
    }
  }

  /** Note files about to reach their names before their rows exist (one commit; see PendingEntry). */
  beginPending(entries: readonly PendingEntry[]): void {
    try {
      this.#writable().begin(entries);
    } catch (error) {
      throw storeErrorFromIndex(error, 'cannot note a pending file');
    }
  }

  /** Forget pending entries whose files are accounted for (indexed, or removed). */
  endPending(paths: readonly string[]): void {
    try {
      this.#writable().end(paths);
    } catch (error) {
      throw storeErrorFromIndex(error, 'cannot settle a pending file');
    }
  }

  /** The pending entries, oldest first (what a crash left, when called before storing starts). */
  pendingEntries(): PendingEntry[] {
    return this.#writable().list();
  }

  #writable(): PendingOps {
    if (this.#pending === undefined) throw new StoreError(storeErrorCodes.index, 'the index is open read-only');
    return this.#pending;
  }

  /** The stored file of one SOP instance, if indexed. */
  findInstance(sopInstanceUid: string): StoredFile | undefined {
    return this.#find.get(sopInstanceUid) as StoredFile | undefined;
  }

  /** Forget one SOP instance (and parents left empty); true if it was indexed. */
  removeInstance(sopInstanceUid: string): boolean {
    return this.#remove(sopInstanceUid);
  }

  /** What version of the index's content the file holds (SQLite `user_version`; see reindex.ts). */
  get contentVersion(): number {
    return Number((this.#db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
  }
  set contentVersion(version: number) {
    this.#db.exec(`PRAGMA user_version = ${Math.trunc(version)}`);
  }

  /** The connection, for query.ts (not part of the public surface). */
  get connection(): DatabaseSync {
    return this.#db;
  }

  /** The connection's SQLite `synchronous` level as in effect ('full', 'normal', …). */
  get synchronous(): string {
    const level = Number((this.#db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous);
    return ['off', 'normal', 'full', 'extra'][level] ?? String(level);
  }

  close(): void {
    this.#db.close();
  }
}

/**
 * TM normalized for comparison (PS3.5 6.2 TM: HHMMSS.FFFFFF, components may be omitted from
 * the right): missing digits filled with `fill` ('0' for a lower bound, '9' for an upper).
 */
export function normalizeTime(value: string, fill: '0' | '9'): string {
  const v = value.trim().replace(/:/g, '');
  if (v === '') return '';
  const [whole = '', fraction = ''] = v.split('.');
  return `${whole.padEnd(6, fill).slice(0, 6)}.${fraction.padEnd(6, fill).slice(0, 6)}`;
}
