/**
 * A BlobStore on a directory: the local disk (the default) or a shared mount (NFS; see
 * docs/scale-out.md "Storage" for the mount options it needs). A put writes a temporary file in
 * the root (`.<name>.partial-<random>`, on the same file system as every key), fsyncs it per the
 * policy, then renames it onto the key: rename is atomic, so a reader sees the old object or the
 * new one, never a part.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from '../../errors.js';
import { StoreError, storeErrorCodes, storeErrorFromFs } from '../errors.js';
import { checkKey, checkPrefix, countBytes, type BlobInfo, type BlobStore, type BlobStream, type ByteRange, type IncompleteBlob, type PutOptions } from './blob-store.js';

/** Same values as FileStore's fsyncPolicies (file-store.ts says what each costs). */
export type LocalFsync = 'file' | 'file-and-directory' | 'none';

export interface LocalBlobStoreOptions {
  /** The root directory; created if missing. */
  readonly root: string;
  /** Default 'file'. On a shared mount use 'file-and-directory' (the rename must reach the server). */
  readonly fsync?: LocalFsync;
}

/** The marker FileStore.removePartials also recognises. */
export const partialMarker = '.partial-';

export class LocalBlobStore implements BlobStore {
  readonly root: string;
  readonly url: string;
  readonly fsync: LocalFsync;
  readonly #run = randomBytes(4).toString('hex');
  #n = 0;

  private constructor(options: LocalBlobStoreOptions) {
    if (typeof options.root !== 'string' || options.root === '') throw new InvalidOptionError('root', 'must be a directory path');
    const fsync = options.fsync ?? 'file';
    if (!['file', 'file-and-directory', 'none'].includes(fsync)) throw new InvalidOptionError('fsync', `must be one of file, file-and-directory, none; got ${String(fsync)}`);
    this.root = resolve(options.root);
    this.url = pathToFileURL(this.root).href;
    this.fsync = fsync;
  }

  /** A store on a root that exists (or that its owner creates): no file-system call. */
  static at(options: LocalBlobStoreOptions): LocalBlobStore {
    return new LocalBlobStore(options);
  }

  /** Create the root when missing. */
  static async open(options: LocalBlobStoreOptions): Promise<LocalBlobStore> {
    const store = new LocalBlobStore(options);
    try {
      await mkdir(store.root, { recursive: true });
    } catch (error) {
      throw fsError(error, `cannot create ${store.root}`);
    }
    return store;
  }

  /** The file a key names (keys are checked: never outside the root). */
  pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async put(key: string, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: PutOptions): Promise<BlobInfo> {
    const path = this.pathOf(key);
    const base = key.slice(key.lastIndexOf('/') + 1);
    const temp = join(this.root, `.${base}${partialMarker}${this.#run}${(this.#n++).toString(36)}`);
    let size = 0;
    const count = countBytes(key, options?.size, (n) => (size = n));
    try {
      // `flush` fsyncs the file before its close resolves the pipeline.
      await pipeline(Readable.from(body, { objectMode: false }), count, createWriteStream(temp, { flags: 'wx', flush: this.fsync !== 'none' }));
      try {
        await rename(temp, path);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOENT') throw error;
        await mkdir(dirname(path), { recursive: true });
        await rename(temp, path);
      }
      if (this.fsync === 'file-and-directory') await syncDir(dirname(path));
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      // ENOENT before the rename: the root itself is gone.
      if ((error as { code?: string }).code === 'ENOENT') throw new StoreError(storeErrorCodes.blobContainer, `cannot write ${key}: ${this.root} does not exist`, { cause: error, comment: 'the store directory is missing' });
      throw fsError(error, `cannot write ${key}`);
    }
    return { key, size };
  }

  async get(key: string, range?: ByteRange): Promise<BlobStream> {
    const path = this.pathOf(key);
    checkRange(range);
    // Opened here so a missing file rejects get() itself, not the first read.
    let handle;
    let objectSize: number;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw fsError(error, `cannot read ${key}`);
    }
    try {
      objectSize = (await handle.stat()).size;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw fsError(error, `cannot read ${key}`);
    }
    return Object.assign(createReadStream('', { fd: handle, start: range?.start, end: range?.end, autoClose: true }), { objectSize });
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : undefined;
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw fsError(error, `cannot stat ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.pathOf(key), { force: true });
    } catch (error) {
      throw fsError(error, `cannot delete ${key}`);
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    checkPrefix(prefix);
    // Walk only the directories the prefix can reach.
    const cut = prefix.lastIndexOf('/');
    const start = cut < 0 ? '' : prefix.slice(0, cut);
    yield* this.#walk(start, prefix);
  }

  async *#walk(dirKey: string, prefix: string): AsyncIterable<BlobInfo> {
    let entries;
    try {
      entries = await readdir(dirKey === '' ? this.root : join(this.root, ...dirKey.split('/')), { withFileTypes: true });
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT' && dirKey !== '') return;
      throw fsError(error, `cannot list ${dirKey || this.root}`);
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.#walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const s = await stat(join(this.root, ...key.split('/'))).catch(() => undefined);
        if (s !== undefined) yield { key, size: s.size, modified: s.mtime };
      }
    }
  }

  async *listIncomplete(): AsyncIterable<IncompleteBlob> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (error) {
      throw fsError(error, `cannot list ${this.root}`);
    }
    for (const name of names) {
      const at = name.indexOf(partialMarker);
      if (!name.startsWith('.') || at < 0) continue;
      const s = await stat(join(this.root, name)).catch(() => undefined);
      if (s === undefined) continue;
      // The temporary name keeps only the key's last segment.
      yield { key: name.slice(1, at), id: name, started: s.mtime };
    }
  }

  async removeIncomplete(blob: IncompleteBlob): Promise<void> {
    if (!blob.id.startsWith('.') || !blob.id.includes(partialMarker) || blob.id.includes(sep) || blob.id.includes('/')) {
      throw new InvalidOptionError('blob', `is not a temporary file of this store: ${JSON.stringify(blob.id)}`);
    }
    await rm(join(this.root, blob.id), { force: true });
  }

  async close(): Promise<void> {}
}

function checkRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const ok = Number.isSafeInteger(range.start) && range.start >= 0 && (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok) throw new InvalidOptionError('range', `must be { start >= 0, end >= start }; got ${JSON.stringify(range)}`);
}

async function syncDir(path: string): Promise<void> {
  const d = await open(path, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** errno → the BlobStore codes (missing file: not found; EACCES/EPERM: access; else FileStore's mapping). */
function fsError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return new StoreError(storeErrorCodes.blobNotFound, `${what}: no such object`, { cause: error, comment: 'the stored object is missing' });
  if (code === 'EACCES' || code === 'EPERM') return new StoreError(storeErrorCodes.blobAccess, `${what}: ${code}`, { cause: error, comment: `the store refused access: ${code}` });
  return storeErrorFromFs(error, what);
}
