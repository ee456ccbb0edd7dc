/**
 * The index of stored instances as the server sees it: an async interface with one
 * implementation per database (sqlite-index.ts: embedded, through `node:sqlite`; postgres-index.ts:
 * PostgreSQL, shared by several nodes). Handlers and the FileStore take this interface, never a
 * concrete class or a SQL dialect.
 *
 * The index names each instance's stored copy by a storage key relative to the store's root
 * (`<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`), never an absolute path: the
 * same row serves every node that mounts the store, and a store moved to another directory.
 */
import type { FindOptions, InformationModel, NaturalizedDataset, QueryLevel } from './query.js';

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
  /** Storage key of the stored copy, relative to the store's root ('/'-separated). */
  readonly key: string;
  readonly transferSyntaxUid: string;
  /** Stored size in bytes. */
  readonly size: number;
}

/** A stored instance's copy, as needed for C-MOVE / C-GET sub-operations and commitment. */
export interface StoredFile {
  readonly SOPInstanceUID: string;
  readonly SOPClassUID: string;
  readonly transferSyntaxUid: string;
  /** Storage key, relative to the store's root. */
  readonly key: string;
  readonly size: number;
}

/** A stored copy found for a retrieve, with the study and patient it belongs to (for the audit trail). */
export interface RetrieveInstance extends StoredFile {
  readonly studyInstanceUid: string;
  readonly patientId: string;
  readonly patientName: string;
  readonly accessionNumber: string;
}

/**
 * A copy that may exist under `key` without the instance row that accounts for it: written before
 * the copy reaches that key and removed in the transaction that indexes it (or once the copy is
 * gone). What a crash leaves here is settled at the next start (FileStore.open, commit.ts
 * reconcile): the copy is indexed from `record` or removed. Queries and retrieves read only
 * instance rows, so an instance is visible only once both its copy and its row are complete.
 */
export interface PendingEntry {
  readonly key: string;
  readonly sopInstanceUid: string;
  /** The row to write once the copy is in place; undefined for a superseded copy to be removed. */
  readonly record: InstanceRecord | undefined;
  /**
   * CRC-32 (zlib's) of the copy's bytes, given when the copy reaches its key and its row is
   * committed before the copy's flush has finished (commit.ts placeUnderIndex): after a power
   * loss, a copy that does not match was never acknowledged, and reconcile removes it with its row.
   */
  readonly crc32?: number;
  /**
   * When the entry was written (ISO 8601), where the index reports it (the embedded one): a young
   * entry whose row names a copy not yet in place may be a store still running (store check).
   */
  readonly startedAt?: string;
}

/** A pending entry's record column: the row as JSON, its `crc32` beside the row's keys. */
export function pendingRecordText(e: PendingEntry): string | null {
  if (e.record === undefined) return null;
  return JSON.stringify(e.crc32 === undefined ? e.record : { ...e.record, [crc32Key]: e.crc32 });
}

/** A pending entry read back from its columns (pendingRecordText's inverse). */
export function pendingEntryOf(key: string, sopInstanceUid: string, text: string | null | undefined, startedAt?: string): PendingEntry {
  const at = startedAt === undefined ? {} : { startedAt };
  if (text == null) return { key, sopInstanceUid, record: undefined, ...at };
  const { [crc32Key]: crc32, ...record } = JSON.parse(text) as InstanceRecord & { [crc32Key]?: number };
  return { key, sopInstanceUid, record, ...(typeof crc32 === 'number' ? { crc32 } : {}), ...at };
}

/** Not a DICOM keyword: never a column of the row (rows are bound by keyword). */
const crc32Key = 'contentCrc32';

/** Row counts of the index. */
export interface IndexStatistics {
  readonly patients: number;
  readonly studies: number;
  readonly series: number;
  readonly instances: number;
  /** Sum of the instances' stored sizes, bytes. */
  readonly bytes: number;
  /** Pending entries (copies being placed, or left by a crash). */
  readonly pending: number;
}

/** One SOP instance referenced in a Storage Commitment request (PS3.4 J.3.2). */
export interface CommitmentReference {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  /** Failure Reason (PS3.4 Table J.3-2) once checked and not committed. */
  readonly failureReason?: number;
}

/**
 * A Storage Commitment transaction as the index keeps it, so that any node sharing the index
 * can tell what was asked and answered: 'requested' once the N-ACTION is accepted, 'checked'
 * with each reference's outcome, 'reported' once the N-EVENT-REPORT was delivered.
 */
export interface CommitmentState {
  readonly transactionUid: string;
  /** The AE that asked (the report goes to it). */
  readonly requestor: string;
  readonly state: 'requested' | 'checked' | 'reported';
  readonly references: readonly CommitmentReference[];
  /** ISO 8601 times. */
  readonly requestedAt: string;
  readonly updatedAt: string;
}

export interface AddInstanceOptions {
  /**
   * The flush of the row's copy, still under way (commit.ts placeUnderIndex): a look-up that
   * finds the row waits for it, as for the row's own flush, so that a row is never reported
   * before its copy is on disk. An index may ignore it where no such look-up can happen first.
   */
  readonly copyFlushed?: Promise<unknown>;
  /**
   * Nothing else is being stored by the caller now, so no other row can join this one's commit:
   * an index that groups the rows of one turn of the event loop into one commit may commit it at
   * once instead of waiting that turn out (a peer sending one instance at a time waits for the
   * answer, so the wait is all latency). An index may ignore it.
   */
  readonly alone?: boolean;
}

/** Releases an instance lock (see InstanceIndex.lockInstance). */
export type Unlock = () => Promise<void>;

export interface InstanceIndex {
  /** 'sqlite' or 'postgres': which database this is (diagnostics, health). */
  readonly kind: string;

  /**
   * Record a stored instance (one transaction) under `duplicates`-independent rules: the row is
   * inserted, or replaces the one with the same SOP Instance UID; returns the storage key it
   * replaced, if any. `settled`: pending keys (see beginPending) this commit accounts for,
   * removed in the same commit. A full disk or I/O error under the database is a StoreError
   * 'out of resources' (A700).
   */
  addInstance(record: InstanceRecord, settled?: readonly string[], options?: AddInstanceOptions): Promise<string | undefined>;
  /**
   * Note copies about to reach their keys before their rows exist (one commit; see PendingEntry).
   * `durable: false` (default true) lets the index commit them without waiting for the disk
   * (SQLite: synchronous NORMAL for that commit): they survive a crash of the process, and the
   * next durable commit makes them durable too; docs/conformance.md "Durability" says when that
   * is enough. An index may ignore it (PostgreSQL commits them durably).
   */
  beginPending(entries: readonly PendingEntry[], options?: { readonly durable?: boolean }): Promise<void>;
  /**
   * Optional (the embedded index): a new instance's row and its copy's pending entry `entry` in
   * one commit, with `place` (which puts the copy under `entry.key` synchronously, throwing a
   * StoreError when it cannot) run right after that commit, before anything else runs in this
   * process; instead of beginPending, placing, addInstance (two commits). The entry stays until
   * the caller ends it; when `place` throws, the row and the entry are removed and the call
   * rejects with its error. When the instance has a row already, nothing is written nor placed
   * and it settles false (the transaction reads the row: a new instance needs no look-up before it).
   * commit.ts placeUnderIndex says when it is used.
   */
  addPlaced?(record: InstanceRecord, entry: PendingEntry, place: () => void, options?: AddInstanceOptions): Promise<boolean>;
  /**
   * Forget pending entries whose copies are accounted for (indexed, or removed). `durable: false`
   * (default true): the commit need not be flushed (an entry left by a power loss is settled by
   * reconcile); an index may ignore it.
   */
  endPending(keys: readonly string[], options?: { readonly durable?: boolean }): Promise<void>;
  /** The pending entries, oldest first; of one SOP instance when `sopInstanceUid` is given. */
  pendingEntries(sopInstanceUid?: string): Promise<PendingEntry[]>;
  /**
   * Place one SOP instance at a time across every process sharing this index: resolves once the
   * caller holds the instance, with the function that lets it go. A holder that dies lets go
   * (a database lock, not a flag): what it left is settled by reconcile.
   */
  lockInstance(sopInstanceUid: string): Promise<Unlock>;

  /** The stored copy of one SOP instance, if indexed. */
  findInstance(sopInstanceUid: string): Promise<StoredFile | undefined>;
  /** Forget one SOP instance (and parents left empty); true if it was indexed. */
  removeInstance(sopInstanceUid: string): Promise<boolean>;

  /**
   * C-FIND (PS3.4 C.4.1.3.1; query.ts has the matching rules): the matches of `identifier`,
   * read in id ranges and pages so stores go on while a slow peer consumes them.
   */
  find(model: InformationModel, identifier: NaturalizedDataset, options?: FindOptions): AsyncIterable<NaturalizedDataset>;
  /** C-MOVE / C-GET (PS3.4 C.4.2, C.4.3): the stored copies under `keys` at `level`, in study, series, instance order. */
  instancesFor(level: QueryLevel, keys: NaturalizedDataset): Promise<RetrieveInstance[]>;
  statistics(): Promise<IndexStatistics>;

  /** Record a Storage Commitment request (state 'requested'); a repeated Transaction UID starts it again. */
  recordCommitment(transactionUid: string, requestor: string, references: readonly CommitmentReference[]): Promise<void>;
  /** Record each reference's outcome (state 'checked'). */
  commitmentChecked(transactionUid: string, references: readonly CommitmentReference[]): Promise<void>;
  /** The report was delivered (state 'reported'). */
  commitmentReported(transactionUid: string): Promise<void>;
  commitment(transactionUid: string): Promise<CommitmentState | undefined>;
  /**
   * Take up to `limit` transactions not reported and not touched since `before` (ISO 8601), the
   * oldest first, and mark them touched now, in one statement: of several nodes looking at once,
   * each transaction goes to one (commitment.ts reportAbandonedCommitments).
   */
  claimUnreportedCommitments(before: string, limit: number): Promise<CommitmentState[]>;

  /** The schema version of the database (migrations.ts); the current one once open. */
  schemaVersion(): Promise<number>;
  /** What version of the index's content the database holds (see reindex.ts). */
  contentVersion(): Promise<number>;
  setContentVersion(version: number): Promise<void>;
  /** Every instance's SOP Instance UID, key, syntax and size, in insertion order (re-indexing). */
  allInstances(): Promise<StoredFile[]>;

  close(): Promise<void>;
}

/** A commitment row as CommitmentState (both databases store the same columns). */
export function commitmentOfRow(row: Readonly<Record<string, unknown>>): CommitmentState {
  const time = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
  return {
    transactionUid: String(row['transaction_uid']),
    requestor: String(row['requestor']),
    state: String(row['state']) as CommitmentState['state'],
    references: JSON.parse(String(row['refs'])) as CommitmentReference[],
    requestedAt: time(row['requested_at']),
    updatedAt: time(row['updated_at']),
  };
}
