/**
 * The index and the blob store `serve` (and `store check`) use, from the settings: the embedded
 * defaults in the data directory (DATA/index.sqlite, DATA/files), PostgreSQL for the index, a
 * directory or shared mount for the instances, or S3 (DATA/files then holds only instances being
 * received).
 */
import { join } from 'node:path';
import type { ServeSettings } from './serve-config.js';
import type { BlobStore } from '../store/blob/blob-store.js';
import type { InstanceIndex } from '../store/instance-index.js';

export interface ServeStores {
  readonly index: InstanceIndex;
  /** The FileStore root: instances themselves, or (with `storage`) only instances being received. */
  readonly storeRoot: string;
  /** A remote BlobStore (S3), when configured. */
  readonly storage: BlobStore | undefined;
  /** Where complete instances are, whatever the kind (for store check). */
  readonly blobs: BlobStore;
  close(): Promise<void>;
}

/** The FileStore root and the remote store (if any) that `s.storage` names. */
export async function openStorage(s: Pick<ServeSettings, 'data' | 'storage'>): Promise<{ storeRoot: string; storage: BlobStore | undefined }> {
  const { openBlobStore, parseStorageUrl } = await import('../store/blob/open.js');
  const target = s.storage === undefined ? undefined : parseStorageUrl(s.storage.url);
  if (target === undefined) return { storeRoot: join(s.data, 'files'), storage: undefined };
  // A directory (local disk or shared mount) is the FileStore's own root: rename, no copy.
  if (target.kind === 'directory') return { storeRoot: target.root, storage: undefined };
  return { storeRoot: join(s.data, 'files'), storage: await openBlobStore({ ...s.storage!, fsync: 'file' }) };
}

/** The index `s.index` names: PostgreSQL, or the embedded SQLite one (DATA/index.sqlite, or `sqlitePath`). */
export async function openIndex(s: Pick<ServeSettings, 'data' | 'index'>, sqlitePath?: string): Promise<InstanceIndex> {
  if (s.index === undefined) return new (await import('../store/sqlite-index.js')).SqliteIndex(sqlitePath ?? join(s.data, 'index.sqlite'));
  const { PostgresIndex } = await import('../store/postgres-index.js');
  return PostgresIndex.open({
    url: s.index.url,
    ...(s.index.maxConnections === undefined ? {} : { maxConnections: s.index.maxConnections }),
    ...(s.index.queryTimeout === undefined ? {} : { queryTimeout: s.index.queryTimeout }),
  });
}

export async function openServeStores(s: ServeSettings, sqlitePath?: string): Promise<ServeStores> {
  const { LocalBlobStore } = await import('../store/blob/local.js');
  const index = await openIndex(s, sqlitePath);
  let storeRoot: string;
  let storage: BlobStore | undefined;
  try {
    ({ storeRoot, storage } = await openStorage(s));
  } catch (error) {
    await index.close();
    throw error;
  }
  const blobs = storage ?? (await LocalBlobStore.open({ root: storeRoot }));
  return {
    index, storeRoot, storage, blobs,
    async close() {
      await index.close();
      await blobs.close();
    },
  };
}
