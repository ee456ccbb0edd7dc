/**
 * A process that stores one NEW instance (small: written whole, placed with synchronous calls)
 * into a FileStore under the embedded index and kills itself with SIGKILL at a chosen point of
 * the one-commit placing (test/store/new-instance-crash.test.ts), through the index it is given,
 * wrapped:
 * - 'committed': the row and the pending entry committed, before the copy is renamed onto its key;
 * - 'placed': the copy renamed, before the answer (with fsync 'file', before the flushes finish);
 * - 'answered': the store answered, its entry ended without a commit of its own (not yet deleted).
 * argv[2]: JSON { root, sqlite, fsync, crashAt, datasetPath, meta }.
 * Prints `{"stored":key}` if it gets to the end (a crash point never reached).
 */
import { readFile } from 'node:fs/promises';
import { FileStore, type FsyncPolicy, type StoreRequestMeta } from '../../src/store/file-store.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';

export type NewInstanceCrashPoint = 'committed' | 'placed' | 'answered';

const config = JSON.parse(process.argv[2] ?? '{}') as { root: string; sqlite: string; fsync: FsyncPolicy; crashAt: NewInstanceCrashPoint; datasetPath: string; meta: StoreRequestMeta };

/** Synchronous: the process is gone before the next statement runs. */
const crash = (point: NewInstanceCrashPoint): void => {
  if (point === config.crashAt) process.kill(process.pid, 'SIGKILL');
};

const index = new SqliteIndex(config.sqlite);
const hooked = new Proxy(index, {
  get(target, prop) {
    const value = Reflect.get(target, prop, target) as unknown;
    if (typeof value !== 'function') return value;
    if (prop === 'addPlaced') {
      return (record: unknown, entry: unknown, place: () => void, options: unknown) =>
        (value as (...a: unknown[]) => Promise<void>).call(target, record, entry, () => {
          crash('committed');
          place();
          crash('placed');
        }, options);
    }
    return (value as (...a: unknown[]) => unknown).bind(target);
  },
}) as InstanceIndex;
const store = await FileStore.open({ root: config.root, index: hooked, fsync: config.fsync });
const bytes = await readFile(config.datasetPath);
async function* once(): AsyncGenerator<Uint8Array> {
  yield bytes;
}
const stored = await store.store(config.meta, once());
crash('answered');
process.stdout.write(`${JSON.stringify({ stored: stored.key })}\n`);
await store.close();
await index.close();
