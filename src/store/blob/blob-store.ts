/**
 * Where the store keeps instance bytes: a `BlobStore` maps relative keys
 * (`<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`) to objects, with one contract
 * for a local directory, a shared mount and S3-compatible object storage, so the index records
 * keys, never machine paths, and any node that shares the store can read what another wrote.
 */
import { Transform } from 'node:stream';
import { InvalidOptionError } from '../../errors.js';
import { StoreError, storeErrorCodes } from '../errors.js';

/** What a stored object is. */
export interface BlobInfo {
  /** The relative key. */
  readonly key: string;
  /** Bytes. */
  readonly size: number;
  /** Last write, when the store reports it. */
  readonly modified?: Date;
  /** S3 puts: how many parts were sent (1: one PutObject; more: a multipart upload). */
  readonly parts?: number;
}

/** An object write that has not completed (a temporary file, an incomplete multipart upload). */
export interface IncompleteBlob {
  /** The key it was meant for ('' when the store cannot tell). */
  readonly key: string;
  /** What `removeIncomplete` takes: the temporary file's name, or key + upload id. */
  readonly id: string;
  /** When it was started (the temporary file's mtime, the upload's initiation). */
  readonly started?: Date;
}

/**
 * What `get` streams. `objectSize`: the whole object's size (not the range's), where the store
 * learns it with the read itself (S3: the GetObject response; a directory: fstat of the opened
 * file); a reader that needs it and finds it absent asks `head`.
 */
export type BlobStream = AsyncIterable<Uint8Array> & { readonly objectSize?: number };

/** Bytes `start` up to and including `end` (HTTP Range semantics); `end` omitted: to the end. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

export interface PutOptions {
  /**
   * The exact byte count when the caller knows it: lets S3 send one PutObject instead of a
   * multipart upload when it fits one part. A body of another length fails the put.
   */
  readonly size?: number;
}

/**
 * A streaming object store addressed by relative key. Every implementation guarantees:
 * - `put` is atomic: the key shows nothing, or the old object, until the new one is complete; a
 *   failed or interrupted put leaves no object under the key (at most an incomplete write that
 *   `listIncomplete` reports and `removeIncomplete` clears).
 * - the body is streamed: memory held per put is bounded (one part for S3), never the object.
 * - failures are `StoreError`s with stable codes (errors.ts): a missing object
 *   DICOM_ERR_STORE_BLOB_NOT_FOUND, a missing bucket or directory DICOM_ERR_STORE_BLOB_CONTAINER,
 *   refused credentials DICOM_ERR_STORE_BLOB_ACCESS, an unreachable service
 *   DICOM_ERR_STORE_BLOB_UNAVAILABLE, a full disk DICOM_ERR_STORE_OUT_OF_RESOURCES.
 */
export interface BlobStore {
  /** Where the store is, without credentials: `file:///dir`, `s3://bucket/prefix`. */
  readonly url: string;
  /** Write `body` under `key`; resolves once the object is durable and visible. */
  put(key: string, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: PutOptions): Promise<BlobInfo>;
  /** Stream an object (or a byte range of it). Rejects with BLOB_NOT_FOUND when absent. */
  get(key: string, range?: ByteRange): Promise<BlobStream>;
  /** The object's size, or undefined when absent. */
  head(key: string): Promise<BlobInfo | undefined>;
  /** Remove an object; removing an absent one is not an error. */
  delete(key: string): Promise<void>;
  /** Every complete object whose key starts with `prefix` ('' for all), in no particular order. */
  list(prefix?: string): AsyncIterable<BlobInfo>;
  /** Writes that never completed (for `store check`). */
  listIncomplete(): AsyncIterable<IncompleteBlob>;
  /** Discard one incomplete write reported by `listIncomplete`. */
  removeIncomplete(blob: IncompleteBlob): Promise<void>;
  /** Release connections; the store is not used afterwards. */
  close(): Promise<void>;
}

/**
 * Keys are relative, '/'-separated, and cannot name anything outside the store: no empty, '.'
 * or '..' segment, no segment starting with '.' (temporary files use those names), no
 * backslash or control character; at most 1024 bytes (the S3 limit).
 */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > 1024) throw new InvalidOptionError('key', `must be a relative key of 1 to 1024 bytes; got ${JSON.stringify(key)}`);
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x1f\x7f]/.test(key)) throw new InvalidOptionError('key', `must not contain a backslash or control character: ${JSON.stringify(key)}`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment.startsWith('.')) throw new InvalidOptionError('key', `has an empty segment or one starting with '.': ${JSON.stringify(key)}`);
  }
  return key;
}

/** Key prefixes given to `list`: '' or a relative prefix with the same rules as a key. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? `${prefix}x` : prefix);
  return prefix;
}

/** Collect a stream into one buffer (tests and small reads; callers bound the size). */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * A pass-through that counts bytes and, when the size was announced, fails the stream before its
 * end on any other count: the put then never completes, so a wrong body never shows.
 */
export function countBytes(key: string, announced: number | undefined, onCount: (n: number) => void): Transform {
  let n = 0;
  const mismatch = (): StoreError => new StoreError(storeErrorCodes.aborted, `the body of ${key} is not the ${String(announced)} bytes announced (${n} or more)`);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      n += chunk.byteLength;
      onCount(n);
      done(announced !== undefined && n > announced ? mismatch() : null, chunk);
    },
    flush(done) {
      done(announced !== undefined && n !== announced ? mismatch() : null);
    },
  });
}
