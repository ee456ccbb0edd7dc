/**
 * A BlobStore on S3-compatible object storage (AWS S3, MinIO, Ceph RGW) through the AWS SDK v3.
 * Objects are `<prefix><key>`. A put is one PutObject when the body fits one part, else a
 * multipart upload (lib-storage `Upload`, at most queueSize × partSize bytes held); S3 makes
 * either visible only when complete, and a failed multipart upload is aborted (or, when the
 * service is gone, left incomplete: invisible, listed by `listIncomplete`). Reads stream
 * GetObject, with a Range header for a byte range. The SDK is imported when a store is opened,
 * so programs that never use S3 never load it.
 */
import { Readable } from 'node:stream';
import { InvalidOptionError } from '../../errors.js';
import { Semaphore } from '../../internal/semaphore.js';
import { StoreError, storeErrorCodes } from '../errors.js';
import { checkKey, checkPrefix, countBytes, type BlobInfo, type BlobStore, type BlobStream, type ByteRange, type IncompleteBlob, type PutOptions } from './blob-store.js';
import type { S3Client } from '@aws-sdk/client-s3';

export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** Prepended to every key ('' or ending in '/'; a missing final '/' is added). */
  readonly prefix?: string;
  /** e.g. `http://127.0.0.1:9000` for MinIO; omitted: AWS's endpoint for the region. */
  readonly endpoint?: string;
  /** Default: AWS_REGION / the SDK's configuration, else 'us-east-1'. */
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), as MinIO and Ceph RGW usually need. Default false. */
  readonly forcePathStyle?: boolean;
  /** Omitted: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Multipart part size in bytes (S3 minimum 5 MiB). Default 8 MiB. */
  readonly partSize?: number;
  /** Parts uploaded at once per put. Default 2. */
  readonly queueSize?: number;
  /** SDK attempts per request (retries on throttling, 5xx, resets). Default 3. */
  readonly maxAttempts?: number;
  /**
   * Puts running at once across the store; more wait their turn. Default 4. Each holds up to
   * (queueSize + 1) × partSize bytes, so this bounds the memory of all uploads (4 × 24 MiB with
   * the defaults) whatever the number of associations and outstanding C-STOREs.
   */
  readonly maxConcurrentPuts?: number;
  /** Milliseconds to connect to the endpoint before the attempt counts as failed. Default 10 000. */
  readonly connectTimeout?: number;
  /**
   * Milliseconds a connection may stay idle mid-request (a stalled service) before it is dropped
   * and the request fails (or is retried). Default 120 000: a C-STORE never waits forever on a
   * service that stopped answering, while holding the instance's lock.
   */
  readonly idleTimeout?: number;
}

const MiB = 1024 * 1024;

export class S3BlobStore implements BlobStore {
  readonly url: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly partSize: number;
  readonly queueSize: number;
  readonly #client: S3Client;
  readonly #puts: Semaphore;
  readonly #sdk: typeof import('@aws-sdk/client-s3');
  readonly #Upload: typeof import('@aws-sdk/lib-storage').Upload;

  private constructor(options: S3BlobStoreOptions, client: S3Client, sdk: typeof import('@aws-sdk/client-s3'), upload: typeof import('@aws-sdk/lib-storage').Upload) {
    this.bucket = options.bucket;
    const prefix = options.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.url = `s3://${this.bucket}/${this.prefix}`;
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 2;
    this.#puts = new Semaphore(options.maxConcurrentPuts ?? 4);
    this.#client = client;
    this.#sdk = sdk;
    this.#Upload = upload;
  }

  /** Load the SDK, make the client, and check that the bucket exists and the credentials work (HeadBucket). */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    checkOptions(options);
    const [sdk, { Upload }] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]);
    const client = new sdk.S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      region: options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: { connectionTimeout: options.connectTimeout ?? 10_000, socketTimeout: options.idleTimeout ?? 120_000 },
      // The SDK's default since early 2025 sends CRC checksums in aws-chunked trailers, which
      // several S3-compatible services (older MinIO and Ceph RGW among them) reject or store
      // verbatim; only when an operation requires one is the compatible choice.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const store = new S3BlobStore(options, client, sdk, Upload);
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: store.bucket }));
    } catch (error) {
      client.destroy();
      throw s3Error(error, `cannot open bucket ${store.bucket}`, 'bucket');
    }
    return store;
  }

  async put(key: string, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: PutOptions): Promise<BlobInfo> {
    const objectKey = this.prefix + checkKey(key);
    const release = (await this.#puts.acquire()) as () => void;
    try {
      return await this.#put(key, objectKey, body, options);
    } finally {
      release();
    }
  }

  async #put(key: string, objectKey: string, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions | undefined): Promise<BlobInfo> {
    let size = 0;
    const count = countBytes(key, options?.size, (n) => (size = n));
    const source = Readable.from(body, { objectMode: false });
    // A failing body destroys `count`, which fails the upload (and aborts the multipart upload).
    source.on('error', (error) => count.destroy(error));
    const upload = new this.#Upload({
      client: this.#client,
      params: { Bucket: this.bucket, Key: objectKey, Body: source.pipe(count), ContentType: 'application/dicom' },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    let parts = 0;
    upload.on('httpUploadProgress', (p) => (parts = Math.max(parts, p.part ?? 0)));
    try {
      await upload.done();
    } catch (error) {
      throw s3Error(error, `cannot put ${key}`, 'key');
    }
    return { key, size, parts };
  }

  async get(key: string, range?: ByteRange): Promise<AsyncIterable<Uint8Array>> {
    const objectKey = this.prefix + checkKey(key);
    if (range !== undefined) {
      const ok = Number.isSafeInteger(range.start) && range.start >= 0 && (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
      if (!ok) throw new InvalidOptionError('range', `must be { start >= 0, end >= start }; got ${JSON.stringify(range)}`);
    }
    try {
      const out = await this.#client.send(
        new this.#sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end ?? ''}` }) }),
      );
      // In Node the body is an http.IncomingMessage: a Readable, so an async iterable. The whole
      // object's size: Content-Range's total for a range, else Content-Length.
      const total = range === undefined ? out.ContentLength : Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1] ?? Number.NaN);
      const body = out.Body as unknown as BlobStream;
      return total === undefined || !Number.isSafeInteger(total) ? body : Object.assign(body, { objectSize: total });
    } catch (error) {
      throw s3Error(error, `cannot get ${key}`, 'key');
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const objectKey = this.prefix + checkKey(key);
    try {
      const out = await this.#client.send(new this.#sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { key, size: out.ContentLength ?? 0, ...(out.LastModified === undefined ? {} : { modified: out.LastModified }) };
    } catch (error) {
      const mapped = s3Error(error, `cannot head ${key}`, 'key');
      if (mapped.code === storeErrorCodes.blobNotFound) return undefined;
      throw mapped;
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.prefix + checkKey(key);
    try {
      await this.#client.send(new this.#sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (error) {
      const mapped = s3Error(error, `cannot delete ${key}`, 'key');
      if (mapped.code !== storeErrorCodes.blobNotFound) throw mapped;
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    checkPrefix(prefix);
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.#client.send(
          new this.#sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }),
        );
      } catch (error) {
        throw s3Error(error, `cannot list ${this.url}${prefix}`, 'bucket');
      }
      for (const o of out.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(this.prefix)) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, ...(o.LastModified === undefined ? {} : { modified: o.LastModified }) };
      }
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /**
   * Incomplete multipart uploads under the prefix (ListMultipartUploads). A service without that
   * operation (some emulators) reports none: configure the bucket's lifecycle rule
   * AbortIncompleteMultipartUpload there instead.
   */
  async *listIncomplete(): AsyncIterable<IncompleteBlob> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let out;
      try {
        out = await this.#client.send(
          new this.#sdk.ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix,
            ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
            ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
          }),
        );
      } catch (error) {
        if (notImplemented(error)) return;
        throw s3Error(error, `cannot list the incomplete uploads of ${this.url}`, 'bucket');
      }
      for (const u of out.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        yield { key: u.Key.slice(this.prefix.length), id: `${u.Key}\0${u.UploadId}`, ...(u.Initiated === undefined ? {} : { started: u.Initiated }) };
      }
      const more = out.IsTruncated === true;
      keyMarker = more ? out.NextKeyMarker : undefined;
      uploadIdMarker = more ? out.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
  }

  async removeIncomplete(blob: IncompleteBlob): Promise<void> {
    const [key, uploadId] = blob.id.split('\0');
    if (key === undefined || uploadId === undefined || !key.startsWith(this.prefix)) throw new InvalidOptionError('blob', `is not an upload of this store: ${JSON.stringify(blob.id)}`);
    try {
      await this.#client.send(new this.#sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      const mapped = s3Error(error, `cannot abort the upload of ${blob.key}`, 'key');
      if (mapped.code !== storeErrorCodes.blobNotFound) throw mapped;
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

function checkOptions(o: S3BlobStoreOptions): void {
  // Bucket naming rules (S3 "Bucket naming rules"; MinIO and Ceph follow them).
  if (typeof o.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket)) throw new InvalidOptionError('bucket', `must be an S3 bucket name (3-63 of a-z 0-9 . -); got ${JSON.stringify(o.bucket)}`);
  if (o.prefix !== undefined && o.prefix !== '') checkPrefix(o.prefix);
  if (o.endpoint !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(o.endpoint);
    } catch {
      u = undefined;
    }
    if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new InvalidOptionError('endpoint', `must be an http(s) URL; got ${JSON.stringify(o.endpoint)}`);
  }
  if (o.partSize !== undefined && (!Number.isSafeInteger(o.partSize) || o.partSize < 5 * MiB)) throw new InvalidOptionError('partSize', `must be an integer >= 5 MiB (the S3 minimum); got ${String(o.partSize)}`);
  if (o.queueSize !== undefined && (!Number.isSafeInteger(o.queueSize) || o.queueSize < 1)) throw new InvalidOptionError('queueSize', `must be an integer >= 1; got ${String(o.queueSize)}`);
  if (o.maxAttempts !== undefined && (!Number.isSafeInteger(o.maxAttempts) || o.maxAttempts < 1)) throw new InvalidOptionError('maxAttempts', `must be an integer >= 1; got ${String(o.maxAttempts)}`);
  for (const [name, v] of [['connectTimeout', o.connectTimeout], ['idleTimeout', o.idleTimeout]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new InvalidOptionError(name, `must be a whole number of milliseconds >= 1; got ${String(v)}`);
  }
  if (o.maxConcurrentPuts !== undefined && (!Number.isSafeInteger(o.maxConcurrentPuts) || o.maxConcurrentPuts < 1)) throw new InvalidOptionError('maxConcurrentPuts', `must be an integer >= 1; got ${String(o.maxConcurrentPuts)}`);
}

/** S3 error names (the `Code` of the error document) that mean refused credentials or permissions. */
const accessNames = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'Forbidden', 'CredentialsProviderError', 'AllAccessDisabled']);
/** Network failures below HTTP (Node errno codes and the SDK's timeout names). */
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'TimeoutError', 'RequestTimeout', 'ServiceUnavailable', 'SlowDown', 'InternalError']);

function notImplemented(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501;
}

/**
 * The one table from an S3 / SDK failure to a StoreError. `subject` says what a bare 404 (HEAD
 * has no error body) means: a missing key, or for HeadBucket/list a missing bucket.
 */
export function s3Error(error: unknown, what: string, subject: 'key' | 'bucket'): StoreError {
  if (error instanceof StoreError) return error;
  const e = (error ?? {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const errno = e.code ?? e.cause?.code ?? '';
  // A network failure is a plain Error named by its errno; an S3 error by its Code.
  const label = name !== '' && name !== 'Error' ? name : errno || name || 'error';
  const detail = `${what}: ${label}${e.message ? ` (${e.message})` : ''}`;
  if (name === 'NoSuchBucket' || (subject === 'bucket' && (name === 'NotFound' || status === 404))) {
    return new StoreError(storeErrorCodes.blobContainer, detail, { cause: error, comment: 'the storage bucket does not exist' });
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new StoreError(storeErrorCodes.blobNotFound, detail, { cause: error, comment: 'the stored object is missing' });
  }
  if (accessNames.has(name) || status === 403) {
    return new StoreError(storeErrorCodes.blobAccess, detail, { cause: error, comment: 'the storage service refused access' });
  }
  if (unavailableCodes.has(name) || unavailableCodes.has(errno) || (status !== undefined && status >= 500)) {
    return new StoreError(storeErrorCodes.blobUnavailable, detail, { cause: error, comment: 'the storage service is unavailable' });
  }
  return new StoreError(storeErrorCodes.io, detail, { cause: error, comment: 'the storage service failed' });
}
