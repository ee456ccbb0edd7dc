/**
 * The test matrix of the index: the same suites run on the embedded SQLite index and on
 * PostgreSQL (test/helpers/postgres.ts starts one cluster per test file; each index gets a fresh
 * database). `describe(backend.name, { skip: backend.skip }, …)` with `before(backend.start)` and
 * `after(backend.stop)`.
 */
import { join } from 'node:path';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { PostgresIndex } from '../../src/store/postgres-index.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { postgresSkip, startPostgres, type PostgresServer } from './postgres.js';

export interface IndexBackend {
  readonly name: 'sqlite' | 'postgres';
  /** The `skip` option of the suite (see postgresSkip). */
  readonly skip: string | false;
  start(): Promise<void>;
  /** A new empty index (`dir` holds a SQLite file). */
  open(dir: string, name?: string): Promise<InstanceIndex>;
  /** The same index opened once more (a restart, another node). */
  reopen(index: InstanceIndex): Promise<InstanceIndex>;
  stop(): Promise<void>;
}

const where = new WeakMap<InstanceIndex, string>();

export function indexBackends(): IndexBackend[] {
  let server: PostgresServer | undefined;
  const sqlite: IndexBackend = {
    name: 'sqlite',
    skip: false,
    async start() {},
    async open(dir, name = 'index.sqlite') {
      const path = join(dir, name);
      const index = new SqliteIndex(path, { synchronous: 'normal' });
      where.set(index, path);
      return index;
    },
    async reopen(index) {
      const path = where.get(index)!;
      const again = new SqliteIndex(path, { synchronous: 'normal' });
      where.set(again, path);
      return again;
    },
    async stop() {},
  };
  const postgres: IndexBackend = {
    name: 'postgres',
    skip: postgresSkip(),
    async start() {
      server = await startPostgres();
    },
    async open() {
      const url = await server!.createDatabase();
      const index = await PostgresIndex.open({ url, maxConnections: 4 });
      where.set(index, url);
      return index;
    },
    async reopen(index) {
      const url = where.get(index)!;
      const again = await PostgresIndex.open({ url, maxConnections: 4 });
      where.set(again, url);
      return again;
    },
    async stop() {
      await server?.stop();
    },
  };
  return [sqlite, postgres];
}
