/**
 * One place that turns the `storage` configuration into a BlobStore: `s3://bucket/prefix` (with
 * endpoint, region, forcePathStyle beside it), `file:///dir`, or a plain directory path.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from '../../errors.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore, type LocalFsync } from './local.js';
import type { S3BlobStoreOptions } from './s3.js';

export interface StorageConfig {
  /** `s3://bucket/prefix`, `file:///dir`, or a directory path. */
  readonly url: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** Multipart part size (S3), bytes. */
  readonly partSize?: number;
  /** For a directory store (see LocalBlobStoreOptions.fsync). */
  readonly fsync?: LocalFsync;
  /** Explicit credentials (tests); otherwise the AWS SDK's default chain, e.g. AWS_ACCESS_KEY_ID. */
  readonly credentials?: S3BlobStoreOptions['credentials'];
}

/** What a storage URL names. */
export type StorageTarget = { readonly kind: 's3'; readonly bucket: string; readonly prefix: string } | { readonly kind: 'directory'; readonly root: string };

export function parseStorageUrl(url: string): StorageTarget {
  if (typeof url !== 'string' || url === '') throw new InvalidOptionError('storage.url', 'must be s3://bucket/prefix, file:///dir or a directory path');
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (bucket === '') throw new InvalidOptionError('storage.url', `names no bucket: ${url}`);
    return { kind: 's3', bucket, prefix };
  }
  if (url.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (error) {
      throw new InvalidOptionError('storage.url', `is not a file URL: ${url} (${String(error)})`);
    }
    return { kind: 'directory', root: path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new InvalidOptionError('storage.url', `has an unsupported scheme (s3:// or file:// or a path): ${url}`);
  return { kind: 'directory', root: isAbsolute(url) ? url : resolve(url) };
}

/** Open the configured store; S3 checks its bucket and credentials here (HeadBucket). */
export async function openBlobStore(config: StorageConfig): Promise<BlobStore> {
  const target = parseStorageUrl(config.url);
  if (target.kind === 'directory') return LocalBlobStore.open({ root: target.root, ...(config.fsync === undefined ? {} : { fsync: config.fsync }) });
  const { S3BlobStore } = await import('./s3.js');
  return S3BlobStore.open({
    bucket: target.bucket,
    prefix: target.prefix,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.forcePathStyle === undefined ? {} : { forcePathStyle: config.forcePathStyle }),
    ...(config.partSize === undefined ? {} : { partSize: config.partSize }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  });
}
