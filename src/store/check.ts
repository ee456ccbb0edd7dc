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
 * Each decision about one SOP instance is taken holding the index's lock on it, the lock a node
 * holds from pending entry to row (across processes with PostgreSQL; within one with SQLite,
 * where the grace period keeps a check from removing the object of a store still running).
 */
import { channelNames, publish } from '../diagnostics.js';
import type { BlobInfo, BlobStore, IncompleteBlob } from './blob/blob-store.js';
import { storeErrorFromIndex } from './errors.js';
import type { InstanceIndex } from './instance-index.js';

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
  /** Incomplete writes and unaccounted objects younger than this (seconds) may belong to a store still running: left alone. Default 900. */
  readonly graceSeconds?: number;
  /** For tests: the present time. */
  readonly now?: Date;
}

/** The SOP Instance UID a key names (`…/<uid>.dcm`), or undefined for a key the store never writes. */
export function uidOfKey(key: string): string | undefined {
  const m = /(?:^|\/)(\d+(?:\.\d+)*)\.dcm$/.exec(key);
  return m?.[1];
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
        const present = (await blobs.head(entry.key)) !== undefined;
        const row = await ix(`cannot look up ${uid}`, () => index.findInstance(uid));
        const otherCopy = row !== undefined && row.key !== entry.key && (await blobs.head(row.key)) !== undefined;
        let action: 'indexed' | 'removed' | 'unindexed' | 'cleared' = 'cleared';
        if (present) {
          if (entry.record !== undefined && !otherCopy) action = 'indexed';
          else if (row?.key !== entry.key) action = 'removed';
        } else if (row?.key === entry.key) action = 'unindexed';
        if (!dryRun) {
          if (action === 'indexed') await ix(`cannot index ${uid}`, () => index.addInstance(entry.record!, [entry.key]));
          if (action === 'removed') await blobs.delete(entry.key);
          if (action === 'unindexed') await ix(`cannot remove ${uid}`, () => index.removeInstance(uid));
          await ix('cannot clear a pending entry', () => index.endPending([entry.key]));
        }
        note({ kind: 'pending', key: entry.key, sopInstanceUid: uid, action });
      }
    });
  }

  // 2. Objects, then rows: a key is accounted for by a row (or, in a dry run, a pending entry
  // left in place). Pending entries are read before rows: an entry that becomes a row between
  // the two reads is seen as one or the other, never as neither.
  const objects = new Map<string, BlobInfo>();
  for await (const o of blobs.list('')) objects.set(o.key, o);
  const pendingKeys = new Set((await ix('cannot read the pending entries', () => index.pendingEntries())).map((e) => e.key));
  const rows = await ix('cannot read the instances', () => index.allInstances());
  const rowKeys = new Set(rows.map((r) => r.key));

  for (const [key, o] of objects) {
    if (rowKeys.has(key) || pendingKeys.has(key)) continue;
    const uid = uidOfKey(key);
    // A young object may be a put whose pending entry this check just cleared (an embedded index
    // locks within one process only): left for a later check.
    if (o.modified !== undefined && now - o.modified.getTime() < graceMs) continue;
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
    const listed = objects.get(r.key);
    if (listed !== undefined) {
      if (listed.size !== r.size) note({ kind: 'size-mismatch', key: r.key, sopInstanceUid: r.SOPInstanceUID, indexed: r.size, stored: listed.size, action: 'none' });
      continue;
    }
    await withLock(r.SOPInstanceUID, async () => {
      // Put after the listing, or replaced by another copy since: not missing.
      if ((await blobs.head(r.key)) !== undefined) return;
      const row = await ix(`cannot look up ${r.SOPInstanceUID}`, () => index.findInstance(r.SOPInstanceUID));
      if (row?.key !== r.key) return;
      if (!dryRun) await ix(`cannot remove ${r.SOPInstanceUID}`, () => index.removeInstance(r.SOPInstanceUID));
      note({ kind: 'missing-object', key: r.key, sopInstanceUid: r.SOPInstanceUID, action: 'unindexed' });
    });
  }

  // 3. Writes that never completed and are older than the grace period.
  let incompleteCount = 0;
  const incomplete: IncompleteBlob[] = [];
  for await (const i of blobs.listIncomplete()) {
    incompleteCount++;
    if (i.started !== undefined && now - i.started.getTime() < graceMs) continue;
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
    counts: { objects: objects.size, rows: rows.length, pending: pendingCount, incomplete: incompleteCount },
    findings,
  };
}
