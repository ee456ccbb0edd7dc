/**
 * File operations of the FileStore in two flavours: thread-pool (promises) for instances written
 * behind the network, synchronous for small ones written whole at the end (file-store.ts
 * #writeSmall says why), with the same shape so #place runs either.
 */
import { close, closeSync, existsSync, fsync, fsyncSync, linkSync, mkdirSync, open as openCb, openSync, renameSync, rmSync, statSync, unlinkSync, writev, writevSync } from 'node:fs';
import { link, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';

/** The file operations of #place: thread-pool (large instances) or synchronous (small ones). */
export interface PlaceOps {
  link(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<unknown>;
  exists(path: string): Promise<boolean>;
  /** The file's size in bytes, or undefined when there is none. */
  size(path: string): Promise<number | undefined>;
  /** Remove a file; a missing one is not an error. */
  remove(path: string): Promise<void>;
  syncDir(path: string): Promise<void>;
}

export const asyncOps: PlaceOps = {
  link,
  rename,
  unlink,
  mkdir: (path) => mkdir(path, { recursive: true }),
  exists,
  size: (path) => stat(path).then((st) => st.size, absent),
  remove: (path) => rm(path, { force: true }),
  async syncDir(path) {
    const d = await open(path, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  },
};

// async wrappers: a throw becomes a rejection, as with the thread-pool calls; no round trip.
export const syncOps: PlaceOps = {
  link: async (from, to) => linkSync(from, to),
  rename: async (from, to) => renameSync(from, to),
  unlink: async (path) => unlinkSync(path),
  mkdir: async (path) => mkdirSync(path, { recursive: true }),
  exists: async (path) => existsSync(path),
  size: async (path) => {
    try {
      return statSync(path).size;
    } catch (error) {
      return absent(error as NodeJS.ErrnoException);
    }
  },
  remove: async (path) => rmSync(path, { force: true }),
  async syncDir(path) {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

/** What is left of `parts` after a writev wrote its first `written` bytes (a short write). */
function unwritten(parts: Uint8Array[], written: number): Uint8Array[] {
  let skip = written;
  const rest: Uint8Array[] = [];
  for (const p of parts) {
    if (skip >= p.byteLength) {
      skip -= p.byteLength;
      continue;
    }
    rest.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return rest;
}

function byteLength(parts: Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  return total;
}

/** writevSync until every byte is written. */
export function writeAllSync(fd: number, parts: Uint8Array[]): void {
  let rest = parts;
  let total = byteLength(parts);
  while (total > 0) {
    const n = writevSync(fd, rest as NodeJS.ArrayBufferView[]);
    total -= n;
    rest = unwritten(rest, n);
  }
}

const writevAsync = (fd: number, parts: NodeJS.ArrayBufferView[]): Promise<number> =>
  new Promise((resolve, reject) => writev(fd, parts, (error, written) => (error ? reject(error) : resolve(written))));

/** writev in the thread pool until every byte is written (a short write continues where it stopped). */
export async function writeAll(fd: number, parts: Uint8Array[]): Promise<void> {
  let rest = parts;
  let total = byteLength(parts);
  while (total > 0) {
    const written = await writevAsync(fd, rest as NodeJS.ArrayBufferView[]);
    total -= written;
    rest = unwritten(rest, written);
  }
}

/** Create a file that must not exist yet ('wx'), in the thread pool: its descriptor. */
export const createExclusive: (path: string) => Promise<number> = (path) =>
  new Promise((resolve, reject) => openCb(path, 'wx', (error, fd) => (error ? reject(error) : resolve(fd))));

/** fsync and close in the thread pool. */
export const fsyncFd = promisify(fsync);

/**
 * @internal The FileStore's flush of a received copy (its temporary file), replaceable by tests
 * (to count flushes, hold one back, or make it fail).
 */
export const copyFsync: { fsync: (fd: number) => Promise<void> } = { fsync: fsyncFd };
export const closeFd = promisify(close);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A missing file has no size; any other failure is one. */
function absent(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}
