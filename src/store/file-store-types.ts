/** The FileStore's options and the shapes of what it stores and reads (file-store.ts). */
import type { BlobStore } from './blob/blob-store.js';
import type { InstanceIndex, InstanceRecord } from './instance-index.js';
import type { StoredDataset } from './blob/read.js';

/**
 * What a second C-STORE of a SOP Instance UID already stored does: 'keep-first' (default, as
 * archives do: Success, the stored copy kept, a 'store-duplicate' diagnostics event),
 * 'overwrite' (Success, the new copy replaces it), 'reject' (0111 Duplicate SOP Instance).
 */
export const duplicatePolicies = ['keep-first', 'overwrite', 'reject'] as const;
export type DuplicatePolicy = (typeof duplicatePolicies)[number];

/**
 * 'file': fsync the file before the rename (survives power loss once answered);
 * 'file-and-directory': also fsync the directory after the rename; 'none': leave it to the OS.
 * Measured on the project's 2-core VM (ext4 on virtio, 300 instances of 256 KiB): 2-7 ms per
 * instance under every policy, the run-to-run noise larger than any difference; on disks that
 * honour flushes expect one flush latency per instance for 'file', two for 'file-and-directory'.
 */
export const fsyncPolicies = ['file', 'file-and-directory', 'none'] as const;
export type FsyncPolicy = (typeof fsyncPolicies)[number];

export interface FileStoreOptions {
  /** Root directory; created if missing. */
  readonly root: string;
  /** Default 'keep-first' (see duplicatePolicies). */
  readonly duplicates?: DuplicatePolicy;
  /** Default 'file'. */
  readonly fsync?: FsyncPolicy;
  /** When given, each stored instance is recorded in it (one transaction). */
  readonly index?: InstanceIndex;
  /**
   * Where complete instances go, when not to files under `root` (S3: blob/s3.ts). `root` then
   * holds only the temporary files of instances being received. Closed by `close()`.
   */
  readonly blobs?: BlobStore;
  /**
   * At open, temporary files of unfinished stores are removed only once this many milliseconds
   * old (by modification time: a file being written is always younger). Default 0 (all of them)
   * with an embedded index or none, where this process is the only writer; 15 minutes with a
   * shared index (PostgreSQL), where other nodes may be writing into the same root right now.
   */
  readonly partialsGraceMs?: number;
}

/** The default `partialsGraceMs` of a store shared by several nodes. */
export const sharedPartialsGraceMs = 15 * 60_000;

/** What the C-STORE command and presentation context say about the instance. */
export interface StoreRequestMeta {
  /** Affected SOP Class UID (0000,0002). */
  readonly sopClassUid: string;
  /** Affected SOP Instance UID (0000,1000). */
  readonly sopInstanceUid: string;
  /** The presentation context's transfer syntax: how the data set bytes are encoded. */
  readonly transferSyntaxUid: string;
  /**
   * Calling AE title, recorded as SourceApplicationEntityTitle (0002,0016) as DCMTK and dcm4che
   * do, and as SendingApplicationEntityTitle (0002,0017).
   */
  readonly callingAeTitle?: string;
  /** Called AE title (this server), recorded as ReceivingApplicationEntityTitle (0002,0018). */
  readonly calledAeTitle?: string;
}

export interface StoredInstance {
  /** Storage key, relative to the root (what the index records). */
  readonly key: string;
  readonly path: string;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly transferSyntaxUid: string;
  /** File size: meta header plus data set. */
  readonly size: number;
  readonly datasetSize: number;
  /** A previous copy was replaced ('overwrite'). */
  readonly replaced: boolean;
  /** Not stored again: the copy already stored was kept ('keep-first'); `path` is that copy. */
  readonly duplicate: boolean;
  /** The identifying attributes found in the data set (what the index records). */
  readonly attributes: Omit<InstanceRecord, 'key' | 'transferSyntaxUid' | 'size'>;
}

/** Where stored copies are, by storage key (what retrieve and commitment read). */
export interface InstanceFiles {
  /** The copies are objects of a BlobStore (S3), not files under a root: read them with openDataset. */
  readonly remote: boolean;
  /** The file of a key (a directory store only). */
  pathOf(key: string): string;
  /** The stored copy's size in bytes, or undefined when it is missing. */
  sizeOf(key: string): Promise<number | undefined>;
  /**
   * Stream a stored copy: its meta header, then its data set. `expectedSize`: the size its row
   * records; a copy of another size is refused (DICOM_ERR_STORE_BLOB_DAMAGED) before anything is read on.
   */
  openDataset(key: string, expectedSize?: number): Promise<StoredDataset>;
}
