/**
 * The one place that loads `node:sqlite`, Node's built-in SQLite (no native build at install).
 *
 * Node 22 prints an ExperimentalWarning the first time the module loads; Node 24 and later do
 * not. That one warning is dropped while the module loads: every other warning, and every
 * warning after, goes through untouched.
 */
import type * as Sqlite from 'node:sqlite';

export type { DatabaseSync, StatementSync } from 'node:sqlite';

let loaded: typeof Sqlite | undefined;

/** `node:sqlite`, loaded on first use (a plain-TCP echo never opens an index). */
export function sqlite(): typeof Sqlite {
  if (loaded !== undefined) return loaded;
  const emitWarning = process.emitWarning;
  process.emitWarning = function filtered(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    const message = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type ?? (warning as Error).name;
    if (type === 'ExperimentalWarning' && message.startsWith('SQLite ')) return;
    (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    loaded = process.getBuiltinModule('node:sqlite') as typeof Sqlite;
  } finally {
    process.emitWarning = emitWarning;
  }
  return loaded;
}

/**
 * `fn` run as one transaction (BEGIN … COMMIT, ROLLBACK when it throws), as better-sqlite3's
 * `db.transaction` did. Not re-entrant: the index never nests transactions.
 */
export function transaction<A extends unknown[], R>(db: Sqlite.DatabaseSync, fn: (...args: A) => R, begin = 'BEGIN'): (...args: A) => R {
  return (...args: A): R => {
    db.exec(begin);
    let result: R;
    try {
      result = fn(...args);
    } catch (error) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite rolled back already (a full disk or I/O error ends the transaction itself).
      }
      throw error;
    }
    db.exec('COMMIT');
    return result;
  };
}

/** SQLite's extended result code of an error from `node:sqlite` (`errcode`), if it has one. */
export function sqliteErrorCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code : undefined;
}

/** SQLITE_CONSTRAINT_FOREIGNKEY (sqlite3.h). */
export const SQLITE_CONSTRAINT_FOREIGNKEY = 787;

/**
 * `fn`, tried again while SQLite answers SQLITE_BUSY at once, for up to `ms`. SQLite skips the
 * busy timeout where waiting could deadlock: `PRAGMA journal_mode = WAL` on a file in rollback
 * mode while another process holds a write transaction (an older index being migrated, two
 * processes opening it at once) fails immediately. Blocks the thread between tries, so it is
 * for opening a database only.
 */
export function retryWhileBusy<T>(fn: () => T, ms: number): T {
  const deadline = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      return fn();
    } catch (error) {
      if (((sqliteErrorCode(error) ?? 0) & 0xff) !== 5 || Date.now() >= deadline) throw error;
    }
    Atomics.wait(pause, 0, 0, wait);
  }
}
