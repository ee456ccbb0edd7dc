/**
 * The FileStore's commit protocol: how a complete temporary file reaches its final name and its
 * index row under the duplicate policy, so that a crash at any point leaves nothing a restart
 * cannot settle (pending entries, see index-db.ts PendingEntry), and `reconcile`, which settles it.
 */
import { createReadStream, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { channelNames, publish } from '../diagnostics.js';
import { StoreError, storeErrorCodes, storeErrorFromFs, storeErrorFromIndex } from './errors.js';
import { asyncOps, syncOps, type PlaceOps } from './fs-ops.js';
import type { DuplicatePolicy, FsyncPolicy } from './file-store.js';
import type { InstanceIndex, InstanceRecord, StoredFile } from './instance-index.js';
import { pathOfKey, storageKeyOf, versionedKeyOf } from './storage-key.js';

/** What placing needs of the FileStore. */
export interface PlaceContext {
  readonly root: string;
  readonly duplicates: DuplicatePolicy;
  readonly fsync: FsyncPolicy;
  /** Whether the store places nothing but this copy now (AddInstanceOptions.alone). */
  readonly storingAlone?: boolean;
}

/** The identifying attributes of an instance (its index row without key, syntax and size). */
type Attributes = Omit<InstanceRecord, 'key' | 'transferSyntaxUid' | 'size'>;

/**
 * What `reconcile` did with one file an interrupted run left: 'indexed' (complete, it was not
 * acknowledged; now stored), 'removed' (another copy of the instance is indexed), 'unindexed'
 * (its row named a file that never arrived; the row is gone, the instance can be sent again),
 * 'discarded' (a copy cut short, of another size than its row, or whose bytes differ from its
 * entry's checksum: never acknowledged, removed with the row that names it).
 */
export interface ReconciledFile {
  readonly action: 'indexed' | 'removed' | 'unindexed' | 'discarded';
  /** Storage key of the copy. */
  readonly key: string;
  readonly path: string;
  readonly sopInstanceUid: string;
}

/**
 * Where the copy being placed goes, for placeUnderIndex: a file renamed under the store's root
 * (placeIndexed) or an object put into a BlobStore (blob-commit.ts). Each throws a StoreError.
 */
export interface CopyTarget extends StoredCopies {
  /** Make the received copy the one under the key; atomic: on failure nothing new shows under it. */
  place(key: string): Promise<void>;
  /** The received copy is not needed: a duplicate kept as first stored, or refused. */
  discard(): Promise<void>;
  /**
   * Whether the pending entries must reach the disk before the copy is placed; false where the
   * row's durable commit after the placing carries them (docs/conformance.md "Durability").
   */
  readonly durableNewEntry: boolean;
  /**
   * The received copy is not flushed yet: its flush is under way (`flushed`, started when the
   * data set was complete) and `crc32` is its bytes' checksum. A new instance is then placed and
   * its row committed while the copy is flushed, instead of after (one flush wait per instance
   * instead of two in a row): its pending entry keeps the checksum and stays until both flushes
   * have finished, so that after a power loss reconcile removes a copy whose bytes did not reach
   * the disk, with its row (docs/conformance.md "Durability"). A copy of an instance already
   * indexed waits for `flushed` before it is placed. Undefined: the copy is on disk already.
   */
  readonly unflushed?: { readonly flushed: Promise<void>; readonly crc32: number };
  /**
   * `place`, done synchronously (throws a StoreError): given where placing is a rename on this
   * host, so that a new instance's copy can be placed right after the commit of its row and entry
   * (InstanceIndex.addPlaced), before anything else in this process reads the index.
   */
  readonly placeNow?: (key: string) => void;
  /** The store places nothing else now: the row's commit need not wait for others to join (AddInstanceOptions.alone). */
  readonly alone?: boolean;
}

/**
 * With an index, the index decides what is stored (PS3.4 B.2.2: one instance per SOP Instance
 * UID). The commit protocol keeps "copy present, row absent" from outliving a crash: holding the
 * index's lock on the instance, a pending entry (with the row to write) is committed before the
 * copy reaches its key, and removed in the commit that indexes it; what a crash leaves between
 * them is settled by reconcile at the next start (FileStore.open) or by `store check`. A new
 * instance placed with a synchronous rename under an index that offers it (addPlaced) has its
 * row and entry in one commit, the copy placed right after it (placeNew); that commit comes
 * first, with no look-up before it: it reads the row itself, and a known instance's is rolled back.
 *
 * A copy that replaces an indexed one ('overwrite', or a row whose copy is gone) goes under a key
 * of its own (versionedKeyOf), never over the indexed copy: that one is removed only once the row
 * names the new copy, through a pending entry of its own. So a store that fails or is killed at
 * any point leaves the old instance whole and indexed, or the new one: a put cut short where the
 * store writes in place (s3rver) cuts only the new copy. Orthanc (a new attachment per stored
 * file) and dcm4chee-arc (a new storage path, the old location deleted later) do the same.
 */
export async function placeUnderIndex(duplicates: DuplicatePolicy, index: InstanceIndex, target: CopyTarget, a: Attributes, transferSyntaxUid: string, size: number): Promise<Placed> {
  const uid = a.SOPInstanceUID;
  let unlock;
  try {
    // Across every process sharing the index: the second placing sees the first's row.
    unlock = await index.lockInstance(uid);
  } catch (error) {
    throw storeErrorFromIndex(error, `cannot lock ${uid}`);
  }
  try {
    const unflushed = target.unflushed;
    // Where a new instance's row and entry are one commit (addPlaced), that transaction tells a
    // new instance from a known one: no look-up (a read transaction of its own) before it. A
    // known one is rolled back there, nothing written or placed, and goes the way below.
    if (target.placeNow !== undefined && index.addPlaced !== undefined) {
      const record: InstanceRecord = { ...a, key: storageKeyOf(a.StudyInstanceUID, a.SeriesInstanceUID, uid), transferSyntaxUid, size };
      const placed = await placeNew(index, target, record, target.placeNow, unflushed);
      if (placed !== undefined) return placed;
    }
    let known: StoredFile | undefined;
    try {
      known = await index.findInstance(uid);
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot look up ${uid}`);
    }
    // A row whose copy is gone does not count: the instance is stored again.
    const knownCopy = known !== undefined && (await target.exists(known.key));
    if (knownCopy && duplicates !== 'overwrite') {
      await target.discard();
      if (duplicates === 'reject') throw duplicateError(uid, known!.key);
      return { key: known!.key, path: target.where(known!.key), replaced: false, duplicate: true };
    }
    // No row: the instance's own key (what a copy nobody accounts for holds there is not an
    // acknowledged instance). A row: a key no copy of it used, so nothing the row reads is written.
    const key = known === undefined ? storageKeyOf(a.StudyInstanceUID, a.SeriesInstanceUID, uid) : versionedKeyOf(a.StudyInstanceUID, a.SeriesInstanceUID, uid);
    const record: InstanceRecord = { ...a, key, transferSyntaxUid, size };
    // The indexed copy, removed once the new row is in (its own pending entry until then).
    const stale = knownCopy ? [known!.key] : [];
    // Not flushed on its own where the row's durable commit carries it (durableNewEntry false):
    // lost with a power cut, it leaves at most an unacknowledged orphan copy, the old one indexed.
    // A new instance's copy is placed and indexed while it is flushed (see CopyTarget.unflushed).
    const overlapped = unflushed !== undefined && known === undefined;
    try {
      await index.beginPending(
        [{ key, sopInstanceUid: uid, record, ...(overlapped ? { crc32: unflushed.crc32 } : {}) }, ...stale.map((k) => ({ key: k, sopInstanceUid: uid, record: undefined }))],
        { durable: target.durableNewEntry },
      );
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot note ${uid} as pending`);
    }
    // The entries go once what they account for is settled; when that fails they stay, for the
    // next start (or store check), whose rule (pendingAction) settles each case.
    const settle = async (keys: string[]): Promise<void> => {
      await index.endPending(keys).catch(() => undefined);
    };
    const removeThenSettle = async (remove: string, keys: string[]): Promise<void> => {
      let removed = false;
      await target.remove(remove).then(() => (removed = true), () => undefined);
      if (removed) await settle(keys);
    };
    // Not indexed means not retrievable: the new copy goes, the old one stays indexed. Unless
    // the commit went in after all (its answer lost with the connection): the row then names the
    // new copy, which stays. Where the row cannot be read, the new copy goes only if no old copy
    // depends on knowing (a removed new copy the row names would leave the old one to go too).
    const dropUnlessIndexed = async (): Promise<void> => {
      let row: StoredFile | undefined | null = null;
      try {
        row = await index.findInstance(uid);
      } catch {
        row = null;
      }
      if (row === null ? stale.length === 0 : row?.key !== key) await removeThenSettle(key, [key, ...stale]);
    };
    try {
      // Not overlapped: the copy reaches its key only once on disk.
      if (unflushed !== undefined && !overlapped) await unflushed.flushed;
      await target.place(key);
    } catch (error) {
      // Where the store writes in place, a failed put may have left part of the copy under its key.
      await removeThenSettle(key, [key, ...stale]);
      throw error;
    }
    if (overlapped) {
      // The row is committed while the copy is flushed, its entry kept (with the copy's checksum)
      // until both flushes have finished: answered only then.
      return await settleBesideFlush(index, target, key, uid, index.addInstance(record, [], { copyFlushed: unflushed.flushed }), unflushed.flushed, {
        copyFailed: () => removeThenSettle(key, [key]),
        rowFailed: dropUnlessIndexed,
      });
    }
    try {
      await index.addInstance(record, [key]);
    } catch (error) {
      await dropUnlessIndexed();
      throw storeErrorFromIndex(error, `cannot index ${uid}`);
    }
    if (stale.length > 0) await removeThenSettle(stale[0]!, stale);
    return { key, path: target.where(key), replaced: knownCopy, duplicate: false };
  } finally {
    await unlock().catch(() => undefined);
  }
}

/**
 * A new instance (no row) under an index that commits a row with its entry (addPlaced), the copy
 * placed right after that commit; undefined, nothing done, when that transaction finds the
 * instance indexed already: one commit per instance instead of two (docs/conformance.md
 * "Durability" has the order and what a crash leaves at each point). The entry, with the copy's
 * checksum while its flush is under way, is ended once the copy is settled, without a commit of
 * its own (the index's next write carries it): an entry left by a crash has its copy in place
 * and its row naming it, and reconcile only clears it (or, torn, removes both).
 */
async function placeNew(index: InstanceIndex, target: CopyTarget, record: InstanceRecord, placeNow: (key: string) => void, unflushed: CopyTarget['unflushed']): Promise<Placed | undefined> {
  const { key, SOPInstanceUID: uid } = record;
  const entry = { key, sopInstanceUid: uid, record, ...(unflushed === undefined ? {} : { crc32: unflushed.crc32 }) };
  // Not indexed means not retrievable: the copy goes (a failed placing left it where it was).
  const drop = async (): Promise<void> => {
    await target.discard();
    let row: StoredFile | undefined | null = null;
    try {
      row = await index.findInstance(uid);
    } catch {
      row = null;
    }
    // The commit went in after all (its answer lost): the row names the copy, which stays.
    if (row?.key === key) return;
    let removed = false;
    await target.remove(key).then(() => (removed = true), () => undefined);
    if (removed) await index.endPending([key]).catch(() => undefined);
  };
  let placed = false;
  const row = index.addPlaced!(record, entry, () => {
    placeNow(key);
    placed = true;
  }, {
    ...(unflushed === undefined ? {} : { copyFlushed: unflushed.flushed }),
    ...(target.alone === true ? { alone: true } : {}),
  });
  // The copy's flush goes on meanwhile; awaited below, or by the known instance's way.
  void unflushed?.flushed.catch(() => undefined);
  const outcome = await row.then((isNew) => ({ isNew }), (error: unknown) => ({ error }));
  // Indexed already: nothing was written or placed (undefined: the caller goes the known way).
  if ('isNew' in outcome && !outcome.isNew) return undefined;
  if ('error' in outcome && !placed) {
    // Not placed (the commit failed, or the placing, which the index undid): no row names this
    // copy and nothing of it is under its key, where a copy of the same instance, indexed
    // before, may lie (the commit may have failed before it could tell). Only the received copy goes.
    await unflushed?.flushed.catch(() => undefined);
    await target.discard();
    throw storeErrorFromIndex(outcome.error, `cannot index ${uid}`);
  }
  return settleBesideFlush(index, target, key, uid, row, unflushed?.flushed, { copyFailed: drop, rowFailed: drop });
}

/**
 * A new copy's row commit and its flush (if any), run together, settled: a failed flush removes
 * the copy, and the row if it went in (the copy may not be what was received); a failed commit
 * leaves it to `rowFailed`; both done, the entry is ended without a flush of its own (one a power
 * loss leaves is settled by reconcile: its checksum matches, the row names the copy), while the
 * instance is still held (later, it could end the entry of the next placing).
 */
async function settleBesideFlush(
  index: InstanceIndex,
  target: CopyTarget,
  key: string,
  uid: string,
  commit: Promise<unknown>,
  flushed: Promise<void> | undefined,
  on: { copyFailed: () => Promise<void>; rowFailed: () => Promise<void> },
): Promise<Placed> {
  const [row, copy] = await Promise.allSettled([commit, flushed]);
  if (copy.status === 'rejected') {
    await index.removeInstance(uid).catch(() => undefined);
    await on.copyFailed();
    throw row.status === 'rejected' ? storeErrorFromIndex(row.reason, `cannot index ${uid}`) : copy.reason;
  }
  if (row.status === 'rejected') {
    await on.rowFailed();
    throw storeErrorFromIndex(row.reason, `cannot index ${uid}`);
  }
  await index.endPending([key], { durable: false }).catch(() => undefined);
  return { key, path: target.where(key), replaced: false, duplicate: false };
}

/** placeUnderIndex for a complete temporary file in the store's root, renamed onto its key. */
export function placeIndexed(store: PlaceContext, index: InstanceIndex, tempPath: string, a: Attributes, transferSyntaxUid: string, size: number, fs: PlaceOps, unflushed?: CopyTarget['unflushed']): Promise<Placed> {
  const target: CopyTarget = {
    ...(unflushed === undefined ? {} : { unflushed }),
    ...filesUnder(store.root, fs),
    place: async (key) => {
      const path = pathOfKey(store.root, key);
      const dir = dirname(path);
      try {
        // rename() replaces a file no row accounts for (left by an older version, or a failure).
        await inDirectory(fs, dir, () => fs.rename(tempPath, path));
        if (store.fsync === 'file-and-directory') await fs.syncDir(dir);
      } catch (error) {
        throw storeErrorFromFs(error, `cannot place ${a.SOPInstanceUID}`);
      }
    },
    discard: () => fs.unlink(tempPath).catch(() => undefined),
    // The row's durable commit after the rename carries the entries.
    durableNewEntry: false,
    // A small copy's rename (synchronous calls); its directory's flush would be one more wait between commit and placing.
    ...(fs === syncOps && store.fsync !== 'file-and-directory' ? { placeNow: (key: string) => renameNow(tempPath, pathOfKey(store.root, key), a.SOPInstanceUID) } : {}),
    ...(store.storingAlone === true ? { alone: true } : {}),
  };
  return placeUnderIndex(store.duplicates, index, target, a, transferSyntaxUid, size);
}

/** Without an index the file names decide: link() fails with EEXIST atomically. */
export async function placeUnindexed(store: PlaceContext, tempPath: string, a: Attributes, fs: PlaceOps): Promise<Placed> {
  const key = storageKeyOf(a.StudyInstanceUID, a.SeriesInstanceUID, a.SOPInstanceUID);
  const path = pathOfKey(store.root, key);
  const dir = dirname(path);
  try {
    let placed: Placed;
    if (store.duplicates === 'overwrite') {
      const existed = await fs.exists(path);
      await inDirectory(fs, dir, () => fs.rename(tempPath, path));
      placed = { key, path, replaced: existed, duplicate: false };
    } else {
      try {
        await inDirectory(fs, dir, () => fs.link(tempPath, path));
        placed = { key, path, replaced: false, duplicate: false };
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error;
        if (store.duplicates === 'reject') throw duplicateError(a.SOPInstanceUID, key);
        placed = { key, path, replaced: false, duplicate: true };
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
 * Settle what an interrupted run left between a copy reaching its key and its index row (the
 * index's pending entries): a copy present is indexed from its entry, or removed when another
 * copy of the instance is indexed; a row naming a copy that never arrived is removed. Each
 * instance is settled under its instance lock, its entries read again there: a node still
 * placing it (on a shared index) finishes first, and leaves nothing to settle. One
 * 'store-reconciled' diagnostics event per instance. FileStore.open runs it before any store.
 */
/**
 * What becomes of one pending entry's copy, from what is found (the rule `reconcile` applies at
 * start-up and `store check` applies while nodes run): `present` a copy under its key, `cut` of
 * another size than the entry's row, `otherCopy` another key of the instance indexed and there,
 * `rowNamesIt` the index row already naming this key, `torn` whether the copy's bytes differ from
 * the entry's checksum (undefined: the entry has none). Undefined: only the entry is cleared; a
 * copy 'discarded' goes with the row when the row names it.
 */
export function pendingAction(f: { present: boolean; cut: boolean; torn?: boolean | undefined; hasRecord: boolean; otherCopy: boolean; rowNamesIt: boolean }): ReconciledFile['action'] | undefined {
  if (!f.present) return f.rowNamesIt ? 'unindexed' : undefined;
  // The entry's checksum does not match: the copy's flush did not finish (a power loss), so it
  // was never acknowledged; it goes, and the row naming it with it.
  if (f.torn === true) return 'discarded';
  // The row names the copy (with a checksum: one that matches): placed and indexed (a new
  // instance's row is committed with its entry, see placeNew); only the entry is left.
  if (f.rowNamesIt) return undefined;
  if (f.hasRecord && !f.otherCopy && !f.cut) return 'indexed';
  return f.cut && !f.otherCopy ? 'discarded' : 'removed';
}

/** The stored copies reconcile looks at: files under a root, or objects in a BlobStore. */
export interface StoredCopies {
  exists(key: string): Promise<boolean>;
  /** The copy's size in bytes, or undefined when there is none. */
  size(key: string): Promise<number | undefined>;
  /** CRC-32 (zlib's) of the copy's bytes (read whole), or undefined when there is none. */
  crc32(key: string): Promise<number | undefined>;
  remove(key: string): Promise<void>;
  /** Where a key is, for people (a path, or the object's URL). */
  where(key: string): string;
}

/** The copies of a directory store (`fs`: the calls to make, synchronous ones for a small file). */
export function filesUnder(root: string, fs: PlaceOps = asyncOps): StoredCopies {
  // Every call through `fs`: a test that makes the file system fail sees each of them fail.
  return {
    exists: (key) => fs.exists(pathOfKey(root, key)),
    size: (key) => fs.size(pathOfKey(root, key)),
    // Read only for a pending entry with a checksum (reconcile, store check).
    crc32: (key) => crc32Of(createReadStream(pathOfKey(root, key))).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    }),
    remove: (key) => fs.remove(pathOfKey(root, key)),
    where: (key) => pathOfKey(root, key),
  };
}

export async function reconcile(copies: StoredCopies, index: InstanceIndex): Promise<ReconciledFile[]> {
  const settled: ReconciledFile[] = [];
  let uids;
  try {
    uids = [...new Set((await index.pendingEntries()).map((e) => e.sopInstanceUid))];
  } catch (error) {
    throw storeErrorFromIndex(error, 'cannot read the pending entries');
  }
  for (const uid of uids) {
    const unlock = await index.lockInstance(uid);
    try {
      for (const entry of await index.pendingEntries(uid)) {
        const path = copies.where(entry.key);
        const size = await copies.size(entry.key);
        // A copy of another size than its entry's row is not the one being placed: a put cut short
        // where the store writes objects in place (s3rver does; S3 shows a put only once complete).
        // Never acknowledged, it is not indexed; where no row names it, it goes.
        const present = size !== undefined;
        const cut = present && entry.record !== undefined && size !== entry.record.size;
        // A copy placed before its flush finished (see CopyTarget.unflushed): are its bytes the ones received?
        const torn = present && !cut && entry.crc32 !== undefined ? (await copies.crc32(entry.key)) !== entry.crc32 : cut && entry.crc32 !== undefined ? true : undefined;
        const row = await index.findInstance(entry.sopInstanceUid);
        const otherCopy = row !== undefined && row.key !== entry.key && (await copies.exists(row.key));
        const rowNamesIt = row?.key === entry.key;
        const action = pendingAction({ present, cut, torn, hasRecord: entry.record !== undefined, otherCopy, rowNamesIt });
        if (action === 'indexed') await index.addInstance(entry.record!, [entry.key]);
        else if (action === 'removed' || action === 'discarded') await copies.remove(entry.key);
        else if (action === 'unindexed') await index.removeInstance(entry.sopInstanceUid);
        if (action === 'discarded' && rowNamesIt) await index.removeInstance(entry.sopInstanceUid);
        await index.endPending([entry.key]);
        if (action !== undefined) {
          const done: ReconciledFile = { action, key: entry.key, path, sopInstanceUid: entry.sopInstanceUid };
          settled.push(done);
          // What an audit trail records of a removed copy (audit/): its study and patient when its entry names them.
          const r = entry.record;
          publish(channelNames.server, () => ({
            kind: 'store-reconciled', ...done, sopClassUid: r?.SOPClassUID ?? row?.SOPClassUID,
            studyInstanceUid: r?.StudyInstanceUID, patientId: r?.PatientID, patientName: r?.PatientName, accessionNumber: r?.AccessionNumber,
          }));
        }
      }
    } finally {
      await unlock().catch(() => undefined);
    }
  }
  return settled;
}

/** Where #place put an instance; `duplicate`: the one already stored was kept ('keep-first'). */
export interface Placed {
  readonly key: string;
  readonly path: string;
  readonly replaced: boolean;
  readonly duplicate: boolean;
}

export function duplicateError(uid: string, key: string): StoreError {
  return new StoreError(storeErrorCodes.duplicate, `${uid} is already stored as ${key}`, {
    comment: 'duplicate: this SOP Instance is already stored (policy reject)',
  });
}

/** rename(), making the directory when it is missing, with synchronous calls (see CopyTarget.placeNow). */
function renameNow(from: string, to: string, uid: string): void {
  try {
    try {
      renameSync(from, to);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
      mkdirSync(dirname(to), { recursive: true });
      renameSync(from, to);
    }
  } catch (error) {
    throw storeErrorFromFs(error, `cannot place ${uid}`);
  }
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

/** CRC-32 (zlib's) of a stream of bytes: a copy read back, to compare with its pending entry's. */
export async function crc32Of(bytes: AsyncIterable<Uint8Array>): Promise<number> {
  let value = 0;
  for await (const chunk of bytes) value = crc32(chunk, value);
  return value;
}
