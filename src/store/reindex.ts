import { publish, channelNames } from '../diagnostics.js';
import type { FileStore } from './file-store.js';
import type { InstanceIndex, InstanceRecord } from './instance-index.js';

/**
 * Index content versions, kept in the index (a `meta` row; before versioned schemas SQLite's
 * `user_version`, see sqlite-schema.ts). An index written by an older version
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
  readonly failed: readonly { readonly key: string; readonly path: string; readonly error: string }[];
}

/**
 * Re-read and re-index every instance when the index was written by an older version
 * (`INDEX_CONTENT_VERSION`); nothing to do otherwise. Progress goes to the `server` diagnostics
 * channel as `{ kind: 'reindex-started' | 'reindex-progress' | 'reindex-done', total, done, failed }`.
 * The version is raised at the end of a complete pass, so a pass the process did not finish starts
 * again at the next open.
 */
export async function reindexIfOutdated(store: FileStore, index: InstanceIndex): Promise<ReindexResult | undefined> {
  const from = await index.contentVersion();
  if (from >= INDEX_CONTENT_VERSION) return undefined;
  const files = await index.allInstances();
  if (files.length === 0) {
    await index.setContentVersion(INDEX_CONTENT_VERSION);
    return { total: 0, reindexed: 0, failed: [] };
  }
  const total = files.length;
  publish(channelNames.server, { kind: 'reindex-started', total, fromVersion: from, toVersion: INDEX_CONTENT_VERSION });
  const failed: { key: string; path: string; error: string }[] = [];
  let done = 0;
  for (const f of files) {
    const path = store.locationOf(f.key);
    try {
      const attributes = await store.readAttributesOf(f.key);
      const record: InstanceRecord = { ...attributes, key: f.key, size: f.size };
      await index.addInstance(record);
    } catch (error) {
      failed.push({ key: f.key, path, error: error instanceof Error ? error.message : String(error) });
    }
    done++;
    if (done % PROGRESS_EVERY === 0 && done < total) publish(channelNames.server, { kind: 'reindex-progress', total, done, failed: failed.length });
  }
  // A file that cannot be read now will not be readable later either (the store wrote it
  // whole): its row keeps the old text, and the index is marked current.
  await index.setContentVersion(INDEX_CONTENT_VERSION);
  publish(channelNames.server, { kind: 'reindex-done', total, done, failed: failed.length, failures: failed.slice(0, 20) });
  return { total, reindexed: done - failed.length, failed };
}
