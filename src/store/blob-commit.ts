/**
 * The FileStore's commit when instances go to a BlobStore other than its own directory (S3): the
 * same protocol as commit.ts placeIndexed, with a put instead of a rename. Holding the index's
 * lock on the SOP instance: pending entry (key + row) committed, then the object put (atomic: the
 * key shows nothing until it is complete), then the row written and the entry removed in one
 * transaction. An instance is visible only once both are complete; what a crash leaves between
 * them is a pending entry, settled by reconcile at the next start or by `store check`.
 */
import { StoreError, storeErrorCodes, storeErrorFromIndex } from './errors.js';
import type { BlobStore } from './blob/blob-store.js';
import type { DuplicatePolicy } from './file-store.js';
import type { InstanceIndex, InstanceRecord, StoredFile } from './instance-index.js';
import { storageKeyOf } from './storage-key.js';
import type { Placed } from './commit.js';

type Attributes = Omit<InstanceRecord, 'key' | 'transferSyntaxUid' | 'size'>;

/** The object's bytes: opened once per attempt (a file stream, or the chunks held in memory). */
export type BlobBody = () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface BlobPlaceContext {
  readonly blobs: BlobStore;
  readonly duplicates: DuplicatePolicy;
}

const where = (blobs: BlobStore, key: string): string => `${blobs.url}${blobs.url.endsWith('/') ? '' : '/'}${key}`;

export async function placeInBlobStore(store: BlobPlaceContext, index: InstanceIndex, body: BlobBody, a: Attributes, transferSyntaxUid: string, size: number): Promise<Placed> {
  const { blobs } = store;
  const uid = a.SOPInstanceUID;
  let unlock;
  try {
    unlock = await index.lockInstance(uid);
  } catch (error) {
    throw storeErrorFromIndex(error, `cannot lock ${uid}`);
  }
  try {
    let known: StoredFile | undefined;
    try {
      known = await index.findInstance(uid);
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot look up ${uid}`);
    }
    // A row whose object is gone does not count: the instance is stored again.
    const knownObject = known !== undefined && (await blobs.head(known.key)) !== undefined;
    if (knownObject && store.duplicates !== 'overwrite') {
      if (store.duplicates === 'reject') throw duplicateError(uid, known!.key);
      return { key: known!.key, path: where(blobs, known!.key), replaced: false, duplicate: true };
    }
    const key = storageKeyOf(a.StudyInstanceUID, a.SeriesInstanceUID, uid);
    const record: InstanceRecord = { ...a, key, transferSyntaxUid, size };
    // Overwritten with other study or series UIDs: the old object is removed once the new row is in.
    const stale = knownObject && known!.key !== key ? [known!.key] : [];
    try {
      await index.beginPending([{ key, sopInstanceUid: uid, record }, ...stale.map((k) => ({ key: k, sopInstanceUid: uid, record: undefined }))]);
    } catch (error) {
      throw storeErrorFromIndex(error, `cannot note ${uid} as pending`);
    }
    const settle = async (keys: string[]): Promise<void> => {
      // Left for the next start (or store check) when this fails: it finds nothing to do for them.
      await index.endPending(keys).catch(() => undefined);
    };
    try {
      await blobs.put(key, body(), { size });
    } catch (error) {
      // Nothing visible under the key (puts are atomic); an 'overwrite' put that failed leaves the old object.
      await settle([key, ...stale]);
      throw error;
    }
    try {
      await index.addInstance(record, [key]);
    } catch (error) {
      // Not indexed means not retrievable: do not keep an object nobody accounts for. An object
      // that replaced the indexed one under the same key stays, with its pending entry: the row
      // still names it, and reconcile indexes it from the entry.
      if (!(knownObject && known!.key === key)) {
        await blobs.delete(key).catch(() => undefined);
        await settle([key, ...stale]);
      }
      throw storeErrorFromIndex(error, `cannot index ${uid}`);
    }
    if (stale.length > 0) {
      await blobs.delete(stale[0]!).catch(() => undefined);
      await settle(stale);
    }
    return { key, path: where(blobs, key), replaced: knownObject, duplicate: false };
  } finally {
    await unlock().catch(() => undefined);
  }
}

/** Without an index (one process, e.g. `get` into a bucket): the object under the key decides. */
export async function placeInBlobStoreUnindexed(store: BlobPlaceContext, body: BlobBody, a: Attributes, size: number): Promise<Placed> {
  const { blobs } = store;
  const key = storageKeyOf(a.StudyInstanceUID, a.SeriesInstanceUID, a.SOPInstanceUID);
  const existed = (await blobs.head(key)) !== undefined;
  if (existed && store.duplicates !== 'overwrite') {
    if (store.duplicates === 'reject') throw duplicateError(a.SOPInstanceUID, key);
    return { key, path: where(blobs, key), replaced: false, duplicate: true };
  }
  await blobs.put(key, body(), { size });
  return { key, path: where(blobs, key), replaced: existed, duplicate: false };
}

function duplicateError(uid: string, key: string): StoreError {
  return new StoreError(storeErrorCodes.duplicate, `${uid} is already stored as ${key}`, {
    comment: 'duplicate: this SOP Instance is already stored (policy reject)',
  });
}
