/**
 * The FileStore's commit when instances go to a BlobStore other than its own directory (S3): the
 * protocol of commit.ts placeUnderIndex, with a put instead of a rename. Holding the index's
 * lock on the SOP instance: pending entry (key + row) committed, then the object put under a key
 * no indexed copy uses (on S3 the key shows nothing until it is complete; a server that writes
 * in place shows part of it, never over an acknowledged object), then the row written and the
 * entry removed in one transaction. An instance is visible only once both are complete; what a crash leaves between
 * them is a pending entry, settled by reconcile at the next start or by `store check`.
 */
import type { BlobStore } from './blob/blob-store.js';
import type { DuplicatePolicy } from './file-store.js';
import type { InstanceIndex, InstanceRecord } from './instance-index.js';
import { storageKeyOf } from './storage-key.js';
import { crc32Of, duplicateError, placeUnderIndex, type CopyTarget, type Placed, type StoredCopies } from './commit.js';

type Attributes = Omit<InstanceRecord, 'key' | 'transferSyntaxUid' | 'size'>;

/** The object's bytes: opened once per attempt (a file stream, or the chunks held in memory). */
export type BlobBody = () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface BlobPlaceContext {
  readonly blobs: BlobStore;
  readonly duplicates: DuplicatePolicy;
}

const where = (blobs: BlobStore, key: string): string => `${blobs.url}${blobs.url.endsWith('/') ? '' : '/'}${key}`;

/** The copies of a BlobStore other than the FileStore's own directory (objects in S3). */
export function objectsIn(blobs: BlobStore): StoredCopies {
  return {
    exists: async (key) => (await blobs.head(key)) !== undefined,
    size: async (key) => (await blobs.head(key))?.size,
    crc32: async (key) => ((await blobs.head(key)) === undefined ? undefined : crc32Of(await blobs.get(key))),
    remove: (key) => blobs.delete(key),
    where: (key) => where(blobs, key),
  };
}

export function placeInBlobStore(store: BlobPlaceContext, index: InstanceIndex, body: BlobBody, a: Attributes, transferSyntaxUid: string, size: number): Promise<Placed> {
  const { blobs } = store;
  const target: CopyTarget = {
    ...objectsIn(blobs),
    // Never over an indexed object's key (placeUnderIndex): a put that failed, even one cut short
    // by a server that writes in place, leaves the indexed object whole.
    place: async (key) => {
      await blobs.put(key, body(), { size });
    },
    // The body is the caller's (a temporary file it removes, or chunks in memory).
    discard: async () => undefined,
    durableNewEntry: true,
  };
  return placeUnderIndex(store.duplicates, index, target, a, transferSyntaxUid, size);
}

/**
 * Without an index (one process, e.g. `get` into a bucket): the object under the key decides.
 * Nothing records a second key here, so 'overwrite' puts over the key: safe where puts are atomic
 * (S3, MinIO, Ceph RGW), not on a server that writes in place (docs/conformance.md "Duplicate policy").
 */
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
