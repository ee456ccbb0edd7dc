import { publish, channelNames } from '../diagnostics.js';
import type { FileStore } from './file-store.js';
import type { IndexDb, InstanceRecord } from './index-db.js';

/**
 * Index content versions, kept in SQLite's `user_version`. An index written by an older version
 * holds values this one reads differently, so its rows are re-read from the stored files:
 *  0: text read as Latin-1 or UTF-8 only (an ISO_IR 144 or ISO 2022 name stored as mojibake).
 *  1: text decoded with each instance's Specific Character Set (dataset/charset.ts).
 */
export const INDEX_CONTENT_VERSION = 1;

/** Progress is published every this many instances (and at the start and end). */
const PROGRESS_EVERY = 500;

export interface ReindexResult {
  /** Instances looked at. */
  readonly total: number;
  readonly reindexed: number;
  /** Files that could not be read back (missing, unreadable): their rows are left as they were. */
  readonly failed: readonly { readonly path: string; readonly error: string }[];
}

/**
 * Re-read and re-index every instance when the index was written by an older version
 * (`INDEX_CONTENT_VERSION`); nothing to do otherwise. Progress goes to the `server` diagnostics
 * channel as `{ kind: 'reindex-started' | 'reindex-progress' | 'reindex-done', total, done, failed }`.
 * The version is raised at the end of a complete pass, so a pass the process did not finish starts
 * again at the next open.
 */
export async function reindexIfOutdated(store: FileStore, index: IndexDb): Promise<ReindexResult | undefined> {
  if (index.contentVersion >= INDEX_CONTENT_VERSION) return undefined;
  const files = index.connection.prepare('SELECT sop_uid AS sopUid, path, transfer_syntax AS ts, size FROM instance ORDER BY id').all() as {
    sopUid: string;
    path: string;
    ts: string;
    size: number;
  }[];
  if (files.length === 0) {
    index.contentVersion = INDEX_CONTENT_VERSION;
    return { total: 0, reindexed: 0, failed: [] };
  }
  const total = files.length;
  const from = index.contentVersion;
  publish(channelNames.server, { kind: 'reindex-started', total, fromVersion: from, toVersion: INDEX_CONTENT_VERSION });
  const failed: { path: string; error: string }[] = [];
  let done = 0;
  for (const f of files) {
    try {
      const attributes = await store.readAttributes(f.path);
      const record: InstanceRecord = { ...attributes, path: f.path, size: f.size };
      index.addInstance(record);
    } catch (error) {
      failed.push({ path: f.path, error: error instanceof Error ? error.message : String(error) });
    }
    done++;
    if (done % PROGRESS_EVERY === 0 && done < total) publish(channelNames.server, { kind: 'reindex-progress', total, done, failed: failed.length });
  }
  // A file that cannot be read now will not be readable later either (the store wrote it
  // whole): its row keeps the old text, and the index is marked current.
  index.contentVersion = INDEX_CONTENT_VERSION;
  publish(channelNames.server, { kind: 'reindex-done', total, done, failed: failed.length, failures: failed.slice(0, 20) });
  return { total, reindexed: done - failed.length, failed };
}
