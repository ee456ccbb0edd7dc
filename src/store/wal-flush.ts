/**
 * The embedded index's durable commits without a disk flush on the event loop: the connection
 * commits at SQLite `synchronous` NORMAL (the transaction's frames are written to the `-wal` file,
 * not flushed), and this flushes that file with `fsync` in the thread pool; a write of the index
 * settles only once a flush that started after its commit has finished. docs/conformance.md
 * "Durability" says why this keeps what synchronous FULL kept.
 */
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { StoreError, storeErrorCodes } from './errors.js';
import { fsyncFd } from './fs-ops.js';

/**
 * @internal The flush call itself, replaceable by tests (to hold a flush back, or make it fail).
 */
export const walFsync: { fsync: (fd: number) => Promise<void> } = { fsync: fsyncFd };

const noop = (): void => undefined;

/**
 * Flushes of one connection's WAL file, group-committed: at most one fsync in flight; the
 * commits made while it runs share the next one.
 */
export class WalFlusher {
  readonly #fd: number;
  /** The fsync running now. */
  #inFlight: Promise<void> | undefined;
  /** The fsync that starts once the one in flight is done: it covers the commits made meanwhile. */
  #next: Promise<void> | undefined;
  /** A flush failed: the file's pages may be lost (the kernel marks them clean), so no later commit is durable either. */
  #failure: StoreError | undefined;
  #closed = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * The WAL file of the connection's main database (`<file>-wal`, as SQLite names it), held open
   * for the connection's life; undefined when there is none to hold (an in-memory database, or
   * the file cannot be opened): the caller then lets SQLite flush (synchronous FULL).
   */
  static forDatabase(databaseFile: string | undefined): WalFlusher | undefined {
    if (databaseFile === undefined || databaseFile === '') return undefined;
    let fd: number;
    try {
      // Read-write, never created here: fsync needs write access on some platforms.
      fd = openSync(`${databaseFile}-wal`, 'r+');
    } catch {
      return undefined;
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      return undefined;
    }
    return new WalFlusher(fd);
  }

  /**
   * Grows the WAL file to `bytes` with zeros beyond its end (nothing it holds is touched) and
   * flushes that once, so that the commits after it write into the file in place. A flush of a
   * file that grows also writes its new blocks' allocation (~0.13 ms per commit against ~0.07 on
   * this project's test host): SQLite reuses its WAL from the start after each checkpoint, so only
   * a WAL that is still growing pays that, which is every commit after a start until the file
   * has grown once (PostgreSQL fills its WAL segments with zeros for the same reason). SQLite
   * reads a WAL only up to its first frame whose checksum fails, and zeros fail it, so they read
   * as the end of the log (and a file of zeros alone as an empty log). The caller holds the
   * database's write lock, so that no other connection appends meanwhile. Best effort: a file
   * system that cannot take it (full) leaves the WAL to grow as before.
   */
  preallocate(bytes: number): void {
    if (this.#closed) return;
    try {
      let at = fstatSync(this.#fd).size;
      if (at >= bytes) return;
      const zeros = new Uint8Array(Math.min(bytes - at, 1 << 18));
      while (at < bytes) at += writeSync(this.#fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
      fsyncSync(this.#fd);
    } catch {
      // Left to grow as it would have (what was written is zeros past the log's end).
    }
  }

  /** Settles once everything written to the WAL before this call is on disk; rejects with a StoreError (A700) if a flush failed. */
  flush(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    // After close: the connection's close checkpointed and flushed everything.
    if (this.#closed) return Promise.resolve();
    if (this.#inFlight === undefined) return this.#start();
    // The fsync in flight may have started before this commit's frames were written.
    this.#next ??= this.#inFlight.then(noop, noop).then(() => {
      this.#next = undefined;
      return this.#failure !== undefined ? Promise.reject(this.#failure) : this.#start();
    });
    return this.#next;
  }

  /** Settles once the flushes asked for so far have finished (at once when none is running). */
  settled(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return this.#next ?? this.#inFlight ?? Promise.resolve();
  }

  #start(): Promise<void> {
    const flushing: Promise<void> = walFsync.fsync(this.#fd).then(
      () => {
        if (this.#inFlight === flushing) this.#inFlight = undefined;
      },
      (error: unknown) => {
        if (this.#inFlight === flushing) this.#inFlight = undefined;
        const code = (error as { code?: unknown } | null)?.code;
        this.#failure ??= new StoreError(storeErrorCodes.outOfResources, `cannot flush the index's write-ahead log: ${typeof code === 'string' ? code : String(error)}`, {
          cause: error,
          comment: 'out of resources: the index database cannot write',
        });
        throw this.#failure;
      },
    );
    this.#inFlight = flushing;
    return flushing;
  }

  /** After the connection is closed: waits for the flushes under way, then releases the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#next?.catch(noop);
    await this.#inFlight?.catch(noop);
    closeSync(this.#fd);
  }
}
