/**
 * `store check`: find, and unless dry-run repair, what a crash or a hand can leave between the
 * index and the blob store, across every node sharing them:
 * - pending entries (a copy on its way to its key when a node stopped): settled as the start-up
 *   reconcile does (indexed from the entry, or the copy or the row removed);
 * - orphan objects: an object under a key no row and no pending entry accounts for (removed);
 * - missing objects: a row whose object is gone (the row is removed: the instance can be sent
 *   again, rather than being found by C-FIND and failing every retrieve);
 * - size mismatches: a row whose object has another size (reported, not repaired);
 * - foreign objects: a key not named `<uid>.dcm`, which the store never writes (reported only: a
 *   wrong prefix must not empty someone else's bucket);
 * - incomplete writes older than the grace period: temporary files, multipart uploads (removed).
 * Objects and rows are compared one study at a time (memory: the largest study, not the store).
 * Each decision about one SOP instance is taken holding the index's lock on it, the lock a node
 * holds from pending entry to row (across processes with PostgreSQL; within one with SQLite,
 * where the grace period keeps a check from removing the object of a store still running).
 */
import { channelNames, publish } from '../diagnostics.js';
import type { BlobInfo, BlobStore, IncompleteBlob } from './blob/blob-store.js';
import { storeErrorFromIndex } from './errors.js';
import { crc32Of, pendingAction } from './commit.js';
import type { InstanceIndex } from './instance-index.js';
import { uidOfKey } from './storage-key.js';

export type StoreCheckFinding =
  | { readonly kind: 'pending'; readonly key: string; readonly sopInstanceUid: string; readonly action: 'indexed' | 'removed' | 'unindexed' | 'cleared' }
  | { readonly kind: 'orphan-object'; readonly key: string; readonly size: number; readonly action: 'removed' }
  | { readonly kind: 'foreign-object'; readonly key: string; readonly size: number; readonly action: 'none' }
  | { readonly kind: 'missing-object'; readonly key: string; readonly sopInstanceUid: string; readonly action: 'unindexed' }
  | { readonly kind: 'size-mismatch'; readonly key: string; readonly sopInstanceUid: string; readonly indexed: number; readonly stored: number; readonly action: 'none' }
  | { readonly kind: 'incomplete'; readonly key: string; readonly id: string; readonly started?: string; readonly action: 'removed' };

export interface StoreCheckReport {
  /** Nothing was changed: every `action` is what a repair would do. */
  readonly dryRun: boolean;
  readonly storage: string;
  readonly index: string;
  /** What was looked at. */
  readonly counts: { readonly objects: number; readonly rows: number; readonly pending: number; readonly incomplete: number };
  readonly findings: readonly StoreCheckFinding[];
}

export interface StoreCheckOptions {
  readonly index: InstanceIndex;
  readonly blobs: BlobStore;
  /** Change nothing; report what would be done. */
  readonly dryRun?: boolean;
  /**
   * Incomplete writes and unaccounted objects younger than this (seconds) may belong to a store
   * still running: left alone. Default 900. 0: no grace at all, so an object whose time stamp is
   * ahead of this clock (another host's clock, or a file written a moment ago on another CPU) is
   * checked too.
   */
  readonly graceSeconds?: number;
  /** For tests: the present time. */
  readonly now?: Date;
}

export { uidOfKey } from './storage-key.js';

/** The study a key of the store's own form (`<study>/<series>/<uid>.dcm`) lies under. */
function studyOfKey(key: string): string | undefined {
  const parts = key.split('/');
  return parts.length === 3 && uidOfKey(key) !== undefined ? parts[0] : undefined;
}

export async function checkStore(options: StoreCheckOptions): Promise<StoreCheckReport> {
  const { index, blobs } = options;
  const dryRun = options.dryRun ?? false;
  const graceMs = (options.graceSeconds ?? 900) * 1000;
  const now = (options.now ?? new Date()).getTime();
  const findings: StoreCheckFinding[] = [];
  const note = (f: StoreCheckFinding): void => {
    findings.push(f);
    publish(channelNames.server, () => ({ kind: 'store-check', dryRun, finding: f }));
  };
  const ix = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (error) {
      throw storeErrorFromIndex(error, what);
    }
  };
  const young = (startedAt: string | undefined): boolean => graceMs > 0 && startedAt !== undefined && now - Date.parse(startedAt) < graceMs;
  const withLock = async <T>(uid: string, fn: () => Promise<T>): Promise<T> => {
    const unlock = await ix(`cannot lock ${uid}`, () => index.lockInstance(uid));
    try {
      return await fn();
    } finally {
      await unlock().catch(() => undefined);
    }
  };

  // 1. Pending entries, one instance at a time under its lock (what reconcile does at start-up).
  const pendingUids = [...new Set((await ix('cannot read the pending entries', () => index.pendingEntries())).map((e) => e.sopInstanceUid))];
  let pendingCount = 0;
  for (const uid of pendingUids) {
    await withLock(uid, async () => {
      for (const entry of await ix('cannot read the pending entries', () => index.pendingEntries(uid))) {
        pendingCount++;
        const held = await blobs.head(entry.key);
        // Not the size its entry's row says: a put cut short where the store writes in place (see reconcile).
        const cut = held !== undefined && entry.record !== undefined && held.size !== entry.record.size;
        const present = held !== undefined;
        // A copy placed before its flush finished: its bytes against the entry's checksum (as reconcile).
        const torn = present && !cut && entry.crc32 !== undefined ? (await crc32Of(await blobs.get(entry.key))) !== entry.crc32 : cut && entry.crc32 !== undefined ? true : undefined;
        const row = await ix(`cannot look up ${uid}`, () => index.findInstance(uid));
        const otherCopy = row !== undefined && row.key !== entry.key && (await blobs.head(row.key)) !== undefined;
        const rowNamesIt = row?.key === entry.key;
        // reconcile's rule; a cut-short copy is reported here as the removal it is.
        const decided = pendingAction({ present, cut, torn, hasRecord: entry.record !== undefined, otherCopy, rowNamesIt });
        // A young entry whose row names a copy not in place yet may be a new instance being
        // placed right now (its row and entry are one commit, the rename follows: commit.ts
        // placeNew; an embedded index locks within one process only): left for a later check.
        if (decided === 'unindexed' && young(entry.startedAt)) continue;
        const action: 'indexed' | 'removed' | 'unindexed' | 'cleared' = decided === undefined ? 'cleared' : decided === 'discarded' ? 'removed' : decided;
        if (!dryRun) {
          if (action === 'indexed') await ix(`cannot index ${uid}`, () => index.addInstance(entry.record!, [entry.key]));
          if (action === 'removed') await blobs.delete(entry.key);
          // A torn copy goes with the row that names it (never acknowledged).
          if (decided === 'discarded' && rowNamesIt) await ix(`cannot remove ${uid}`, () => index.removeInstance(uid));
          if (action === 'unindexed') await ix(`cannot remove ${uid}`, () => index.removeInstance(uid));
          await ix('cannot clear a pending entry', () => index.endPending([entry.key]));
        }
        // A copy in place (matching its checksum) that its row names: stored whole, only its entry was
        // left (a new instance's entry is ended without a commit of its own, and a crash or a check
        // beside the server can find it before the next write removes it). Nothing to repair, as
        // for reconcile at start-up: cleared, not reported.
        if (decided === undefined && present && rowNamesIt) continue;
        note({ kind: 'pending', key: entry.key, sopInstanceUid: uid, action });
      }
    });
  }

  // 2. Objects against rows, one study at a time: keys are `<study>/<series>/<uid>.dcm`, and both
  // stores list a prefix's keys together (S3 in key order, a directory depth first), so the
  // listing is read as it comes and only one study's objects and rows are held at once. Pending
  // entries are read before each study's rows: an entry that becomes a row between the two reads
  // is seen as one or the other, never as neither. Every removal is confirmed under the
  // instance's lock, so a key that shows up in an unexpected group costs a look-up, never a
  // wrong repair.
  let objectCount = 0;
  let rowCount = 0;
  const studiesSeen = new Set<string>();
  const checkStudy = async (study: string | undefined, listed: readonly BlobInfo[]): Promise<void> => {
    const objects = new Map(listed.map((o) => [o.key, o]));
    const pendingKeys = new Set((await ix('cannot read the pending entries', () => index.pendingEntries())).map((e) => e.key));
    const rows = study === undefined || studiesSeen.has(study) ? [] : await ix(`cannot read the instances of study ${study}`, () => index.instancesFor('STUDY', { StudyInstanceUID: study }));
    if (study !== undefined) studiesSeen.add(study);
    rowCount += rows.length;
    const rowKeys = new Set(rows.map((r) => r.key));

    for (const [key, o] of objects) {
      if (rowKeys.has(key) || pendingKeys.has(key)) continue;
      const uid = uidOfKey(key);
      // A young object may be a put whose pending entry this check just cleared (an embedded index
      // locks within one process only): left for a later check.
      if (graceMs > 0 && o.modified !== undefined && now - o.modified.getTime() < graceMs) continue;
      // Not a name the store writes: someone else's object under the prefix, never removed.
      if (uid === undefined) {
        note({ kind: 'foreign-object', key, size: o.size, action: 'none' });
        continue;
      }
      // Confirmed under the instance's lock: a store that finished since the listing has its row now.
      const orphan = await withLock(uid, async () => {
        const row = await ix(`cannot look up ${uid}`, () => index.findInstance(uid));
        if (row?.key === key) return false;
        if ((await ix('cannot read the pending entries', () => index.pendingEntries(uid))).some((e) => e.key === key)) return false;
        if (!dryRun) await blobs.delete(key);
        return true;
      });
      if (orphan) note({ kind: 'orphan-object', key, size: o.size, action: 'removed' });
    }

    for (const r of rows) {
      const found = objects.get(r.key);
      if (found !== undefined) {
        if (found.size !== r.size) note({ kind: 'size-mismatch', key: r.key, sopInstanceUid: r.SOPInstanceUID, indexed: r.size, stored: found.size, action: 'none' });
        continue;
      }
      await withLock(r.SOPInstanceUID, async () => {
        // Put after the listing, or replaced by another copy since: not missing.
        if ((await blobs.head(r.key)) !== undefined) return;
        const row = await ix(`cannot look up ${r.SOPInstanceUID}`, () => index.findInstance(r.SOPInstanceUID));
        if (row?.key !== r.key) return;
        // A pending entry names it: on its way (a new instance's row comes with its entry, before
        // its copy: commit.ts placeNew), or left by a crash; the pending step settles it.
        if ((await ix('cannot read the pending entries', () => index.pendingEntries(r.SOPInstanceUID))).some((e) => e.key === r.key)) return;
        if (!dryRun) await ix(`cannot remove ${r.SOPInstanceUID}`, () => index.removeInstance(r.SOPInstanceUID));
        note({ kind: 'missing-object', key: r.key, sopInstanceUid: r.SOPInstanceUID, action: 'unindexed' });
      });
    }
  };

  let group: BlobInfo[] = [];
  let groupStudy: string | undefined;
  for await (const o of blobs.list('')) {
    objectCount++;
    const study = studyOfKey(o.key);
    if (group.length > 0 && study !== groupStudy) {
      await checkStudy(groupStudy, group);
      group = [];
    }
    groupStudy = study;
    group.push(o);
  }
  if (group.length > 0) await checkStudy(groupStudy, group);
  // Studies the index holds and the listing never showed: each of their rows lost its object.
  const unlisted: string[] = [];
  for await (const s of index.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' })) {
    const uid = s['StudyInstanceUID'];
    if (typeof uid === 'string' && !studiesSeen.has(uid)) unlisted.push(uid);
  }
  for (const study of unlisted) await checkStudy(study, []);

  // 3. Writes that never completed and are older than the grace period.
  let incompleteCount = 0;
  const incomplete: IncompleteBlob[] = [];
  for await (const i of blobs.listIncomplete()) {
    incompleteCount++;
    if (graceMs > 0 && i.started !== undefined && now - i.started.getTime() < graceMs) continue;
    incomplete.push(i);
  }
  for (const i of incomplete) {
    if (!dryRun) await blobs.removeIncomplete(i);
    note({ kind: 'incomplete', key: i.key, id: i.id, ...(i.started === undefined ? {} : { started: i.started.toISOString() }), action: 'removed' });
  }

  return {
    dryRun,
    storage: blobs.url,
    index: index.kind,
    counts: { objects: objectCount, rows: rowCount, pending: pendingCount, incomplete: incompleteCount },
    findings,
  };
}
