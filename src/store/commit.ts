/**
 * The FileStore's commit protocol: how a complete temporary file reaches its final name and its
 * index row under the duplicate policy, so that a crash at any point leaves nothing a restart
 * cannot settle (pending entries, see index-db.ts PendingEntry), and `reconcile`, which settles it.
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { channelNames, publish } from '../diagnostics.js';
import { StoreError, storeErrorCodes, storeErrorFromFs, storeErrorFromIndex } from './errors.js';
import { asyncOps, type PlaceOps } from './fs-ops.js';
import type { DuplicatePolicy, FsyncPolicy } from './file-store.js';
import type { IndexDb, InstanceRecord, StoredFile } from './index-db.js';

/** What placing needs of the FileStore. */
export interface PlaceContext {
  readonly root: string;
  readonly duplicates: DuplicatePolicy;
  readonly fsync: FsyncPolicy;
}

/** The identifying attributes of an instance (its index row without path, syntax and size). */
type Attributes = Omit<InstanceRecord, 'path' | 'transferSyntaxUid' | 'size'>;

/**
 * What `reconcile` did with one file an interrupted run left: 'indexed' (complete, it was not
 * acknowledged; now stored), 'removed' (another copy of the instance is indexed), 'unindexed'
 * (its row named a file that never arrived; the row is gone, the instance can be sent again).
 */
export interface ReconciledFile {
  readonly action: 'indexed' | 'removed' | 'unindexed';
  readonly path: string;
  readonly sopInstanceUid: string;
}

/**
 * With an index, the index decides what is stored (PS3.4 B.2.2: one instance per SOP Instance
 * UID). The commit protocol keeps "file present, row absent" from outliving a crash: a pending
 * entry (with the row to write) is committed before the file reaches its name and removed in
 * the commit that indexes it; FileStore.open settles what a crash left (see reconcile).
 */
export async function placeIndexed(store: PlaceContext, index: IndexDb, tempPath: string, a: Attributes, transferSyntaxUid: string, size: number, fs: PlaceOps): Promise<Placed> {
  const uid = a.SOPInstanceUID;
  const unlock = await lockInstance(`${store.root}\0${uid}`);
  try {
    let known: StoredFile | undefined;
    try {
      known = index.findInstance(uid);
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot look up ${uid}`);
    }
    // A row whose file is gone does not count: the instance is stored again.
    const knownFile = known !== undefined && (await fs.exists(known.path));
    if (knownFile && store.duplicates !== 'overwrite') {
      await fs.unlink(tempPath).catch(() => undefined);
      if (store.duplicates === 'reject') throw duplicateError(uid, known!.path);
      return { path: known!.path, replaced: false, duplicate: true };
    }
    const dir = join(store.root, a.StudyInstanceUID, a.SeriesInstanceUID);
    const path = join(dir, `${uid}.dcm`);
    const record: InstanceRecord = { ...a, path, transferSyntaxUid, size };
    // Overwritten with other study or series UIDs: the old copy is removed once the new row is in.
    const stale = knownFile && known!.path !== path ? [known!.path] : [];
    index.beginPending([{ path, sopInstanceUid: uid, record }, ...stale.map((p) => ({ path: p, sopInstanceUid: uid, record: undefined }))]);
    const settle = (paths: string[]): void => {
      try {
        index.endPending(paths);
      } catch {
        // Left for the next start, which finds nothing to do for them.
      }
    };
    try {
      // rename() replaces a file no row accounts for (left by an older version, or a failure).
      await inDirectory(fs, dir, () => fs.rename(tempPath, path));
      if (store.fsync === 'file-and-directory') await fs.syncDir(dir);
    } catch (error) {
      settle([path, ...stale]);
      throw storeErrorFromFs(error, `cannot place ${uid}`);
    }
    try {
      index.addInstance(record, [path]);
    } catch (error) {
      // Not indexed means not retrievable: do not keep a file the server cannot account for.
      // A copy that replaced the indexed one in place stays, with its pending entry: the row
      // still names it, and the next start indexes it from the entry.
      if (!(knownFile && known!.path === path)) {
        await rm(path, { force: true }).catch(() => undefined);
        settle([path, ...stale]);
      }
      throw error;
    }
    if (stale.length > 0) {
      await rm(stale[0]!, { force: true }).catch(() => undefined);
      settle(stale);
    }
    return { path, replaced: knownFile, duplicate: false };
  } finally {
    unlock();
  }
}

/** Without an index the file names decide: link() fails with EEXIST atomically. */
export async function placeUnindexed(store: PlaceContext, tempPath: string, a: Attributes, fs: PlaceOps): Promise<Placed> {
  const dir = join(store.root, a.StudyInstanceUID, a.SeriesInstanceUID);
  const path = join(dir, `${a.SOPInstanceUID}.dcm`);
  try {
    let placed: Placed;
    if (store.duplicates === 'overwrite') {
      const existed = await fs.exists(path);
      await inDirectory(fs, dir, () => fs.rename(tempPath, path));
      placed = { path, replaced: existed, duplicate: false };
    } else {
      try {
        await inDirectory(fs, dir, () => fs.link(tempPath, path));
        placed = { path, replaced: false, duplicate: false };
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error;
        if (store.duplicates === 'reject') throw duplicateError(a.SOPInstanceUID, path);
        placed = { path, replaced: false, duplicate: true };
      }
      await fs.unlink(tempPath);
    }
    if (store.fsync === 'file-and-directory' && !placed.duplicate) await fs.syncDir(dir);
    return placed;
  } catch (error) {
    throw storeErrorFromFs(error, `cannot place ${a.SOPInstanceUID}`);
  }
}

/**
 * Settle what an interrupted run left between a file reaching its name and its index row (the
 * index's pending entries): a file present is indexed from its entry, or removed when another
 * copy of the instance is indexed; a row naming a file that never arrived is removed. One
 * 'store-reconciled' diagnostics event per instance. FileStore.open runs it before any store.
 */
export async function reconcile(index: IndexDb): Promise<ReconciledFile[]> {
  const settled: ReconciledFile[] = [];
  let entries;
  try {
    entries = index.pendingEntries();
  } catch (error) {
    throw storeErrorFromIndex(error, 'cannot read the pending entries');
  }
  for (const entry of entries) {
    const present = await asyncOps.exists(entry.path);
    const row = index.findInstance(entry.sopInstanceUid);
    const otherCopy = row !== undefined && row.path !== entry.path && (await asyncOps.exists(row.path));
    let action: ReconciledFile['action'] | undefined;
    if (present) {
      if (entry.record !== undefined && !otherCopy) {
        index.addInstance(entry.record, [entry.path]);
        action = 'indexed';
      } else if (row?.path !== entry.path) {
        await rm(entry.path, { force: true });
        action = 'removed';
      }
    } else if (row?.path === entry.path) {
      index.removeInstance(entry.sopInstanceUid);
      action = 'unindexed';
    }
    index.endPending([entry.path]);
    if (action !== undefined) {
      const done: ReconciledFile = { action, path: entry.path, sopInstanceUid: entry.sopInstanceUid };
      settled.push(done);
      publish(channelNames.server, () => ({ kind: 'store-reconciled', ...done }));
    }
  }
  return settled;
}

/** Where #place put an instance; `duplicate`: the one already stored was kept ('keep-first'). */
export interface Placed {
  readonly path: string;
  readonly replaced: boolean;
  readonly duplicate: boolean;
}

function duplicateError(uid: string, path: string): StoreError {
  return new StoreError(storeErrorCodes.duplicate, `${uid} is already stored at ${path}`, {
    comment: 'duplicate: this SOP Instance is already stored (policy reject)',
  });
}

/** Run `fn`; when it fails for a missing directory, make the directory and run it once more. */
async function inDirectory<T>(fs: PlaceOps, dir: string, fn: () => Promise<T>): Promise<T> {
  // The directory is made only when a link/rename says it is missing: a mkdir per instance
  // was one more thread-pool round trip for the 199 instances of a series after the first.
  try {
    return await fn();
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
    await fs.mkdir(dir);
    return fn();
  }
}

/**
 * Stores of one SOP instance run their placing one at a time (per process; across processes the
 * index's pending entries and commits decide): the second sees the first's row.
 */
const instanceLocks = new Map<string, Promise<void>>();
async function lockInstance(key: string): Promise<() => void> {
  const previous = instanceLocks.get(key);
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous === undefined ? mine : previous.then(() => mine);
  instanceLocks.set(key, tail);
  await previous;
  return () => {
    release();
    if (instanceLocks.get(key) === tail) instanceLocks.delete(key);
  };
}
