/**
 * A process that stores one instance again under duplicates 'overwrite' and kills itself with
 * SIGKILL at a chosen point of the commit (test/store/overwrite-crash.test.ts), through the index
 * it is given, wrapped:
 * - 'pending': once the pending entries are committed, before the copy is placed;
 * - 'put': at the same moment it prints `{"placing":true}` and waits for a line on stdin before
 *   placing the copy; the test holds the upload half-way (test/helpers/tcp-tap.ts) and kills it;
 * - 'placed': the copy placed, before its row is written;
 * - 'indexed': the row written, before the old copy is removed;
 * - 'removed': the old copy removed, before its pending entry is cleared.
 * argv[2]: JSON { root, crashAt, datasetPath, meta, sqlite?: path, postgres?: url, s3?: S3 store options }.
 * Prints `{"stored":key}` if it gets to the end (a crash point never reached).
 */
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { FileStore, type StoreRequestMeta } from '../../src/store/file-store.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';

export type CrashPoint = 'pending' | 'put' | 'placed' | 'indexed' | 'removed';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  root: string;
  crashAt: CrashPoint;
  datasetPath: string;
  meta: StoreRequestMeta;
  sqlite?: string;
  postgres?: string;
  s3?: { bucket: string; prefix: string; endpoint: string };
};

const die = (): Promise<never> => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => undefined);
};
let armed = false;
const crash = async (point: CrashPoint): Promise<void> => {
  if (!armed) return;
  if (point === 'pending' && config.crashAt === 'put') {
    process.stdout.write(`${JSON.stringify({ placing: true })}\n`);
    await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
    return;
  }
  if (point === config.crashAt) await die();
};

const index: InstanceIndex = config.postgres !== undefined
  ? await (await import('../../src/store/postgres-index.js')).PostgresIndex.open({ url: config.postgres, maxConnections: 2 })
  : new SqliteIndex(config.sqlite!);
const hooked = new Proxy(index, {
  get(target, prop) {
    const value = Reflect.get(target, prop, target) as unknown;
    if (typeof value !== 'function') return value;
    const call = (args: unknown[]): Promise<unknown> => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
    if (prop === 'beginPending') return async (...args: unknown[]) => { await call(args); await crash('pending'); };
    if (prop === 'addInstance') return async (...args: unknown[]) => { await crash('placed'); const r = await call(args); await crash('indexed'); return r; };
    if (prop === 'endPending') return async (...args: unknown[]) => { await crash('removed'); return call(args); };
    return (value as (...a: unknown[]) => unknown).bind(target);
  },
});
const blobs = config.s3 === undefined ? undefined : await (await import('../../src/store/blob/s3.js')).S3BlobStore.open({
  ...config.s3, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, maxAttempts: 1,
});
const store = await FileStore.open({ root: config.root, index: hooked, duplicates: 'overwrite', ...(blobs === undefined ? {} : { blobs }) });
armed = true;
const bytes = await readFile(config.datasetPath);
async function* chunks(): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 64 * 1024);
}
const stored = await store.store(config.meta, chunks());
process.stdout.write(`${JSON.stringify({ stored: stored.key })}\n`);
await store.close();
await index.close();
