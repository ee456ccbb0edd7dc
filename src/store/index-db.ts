/**
 * The embedded index under its first name: new code takes an `InstanceIndex` (instance-index.ts)
 * and opens a `SqliteIndex` (sqlite-index.ts) or a `PostgresIndex`.
 */
import { SqliteIndex } from './sqlite-index.js';

/** @deprecated The embedded index is `SqliteIndex`; take an `InstanceIndex` where any index will do. */
export const IndexDb = SqliteIndex;
/** @deprecated See the value. */
export type IndexDb = SqliteIndex;
export type { SqliteIndexOptions as IndexDbOptions } from './sqlite-index.js';
export type { InstanceRecord, PendingEntry, StoredFile } from './instance-index.js';
export { normalizeTime } from './text-match.js';
