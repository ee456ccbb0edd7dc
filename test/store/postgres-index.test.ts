/**
 * PostgresIndex against a real PostgreSQL: migrations by several processes at once, a schema it
 * does not know, a database that is down, and the instance lock of a node that dies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { InvalidOptionError } from '../../src/errors.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { PostgresIndex } from '../../src/store/postgres-index.js';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-schema.js';
import { instanceRecord } from '../helpers/instance-record.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';

test('a database that is down is DICOM_ERR_STORE_INDEX_UNAVAILABLE naming it without the password; a URL that is not postgres:// is an option error', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  await assert.rejects(PostgresIndex.open({ url: `postgres://dicom:hunter2@127.0.0.1:${port}/pacs`, connectTimeout: 5000 }), (e: unknown) => {
    assert.ok(e instanceof StoreError);
    assert.equal(e.code, storeErrorCodes.indexUnavailable);
    assert.equal(e.status, 0xa700);
    assert.match(e.message, new RegExp(`postgres://dicom@127\\.0\\.0\\.1:${port}/pacs`));
    assert.doesNotMatch(e.message, /hunter2/);
    return true;
  });
  await assert.rejects(PostgresIndex.open({ url: 'mysql://x@y/z' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'url');
  await assert.rejects(PostgresIndex.open({ url: 'postgres://x@y/z', maxConnections: 0 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxConnections');
});

describe('PostgresIndex on a real PostgreSQL', { skip: postgresSkip() }, () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server.stop();
  });

  test('four processes opening a fresh database at once: one migrates under the advisory lock, all find schema 2', async () => {
    const url = await server.createDatabase();
    const module = pathToFileURL(fileURLToPath(new URL('../../src/store/postgres-index.js', import.meta.url))).href;
    const script = `const { PostgresIndex } = await import(${JSON.stringify(module)});
      const index = await PostgresIndex.open({ url: process.argv[1], maxConnections: 1 });
      console.log(JSON.stringify({ version: await index.schemaVersion(), content: await index.contentVersion() }));
      await index.close();`;
    const run = promisify(execFile);
    const outputs = await Promise.all([1, 2, 3, 4].map(() => run(process.execPath, ['--input-type=module', '-e', script, url])));
    for (const { stdout } of outputs) assert.deepEqual(JSON.parse(stdout), { version: POSTGRES_SCHEMA_VERSION, content: 1 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM meta WHERE name = 'schema_version'");
      assert.equal(rows[0].n, 1);
    } finally {
      await client.end();
    }
  });

  test('a database of a newer schema is refused with DICOM_ERR_STORE_INDEX_VERSION and left as it is', async () => {
    const url = await server.createDatabase();
    await (await PostgresIndex.open({ url })).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("UPDATE meta SET value = '99' WHERE name = 'schema_version'");
      await assert.rejects(PostgresIndex.open({ url }), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.indexVersion && /99/.test(e.message));
      const { rows } = await client.query("SELECT value FROM meta WHERE name = 'schema_version'");
      assert.equal(rows[0].value, '99');
    } finally {
      await client.end();
    }
  });

  test('an instance lock is held across nodes, and let go when the node holding it dies', async () => {
    const url = await server.createDatabase();
    const [a, b] = [await PostgresIndex.open({ url, maxConnections: 2 }), await PostgresIndex.open({ url, maxConnections: 2 })];
    try {
      const unlockA = await a.lockInstance('1.2.3');
      let bHolds = false;
      const bLock = b.lockInstance('1.2.3').then((unlock) => {
        bHolds = true;
        return unlock;
      });
      // Another instance is not held up by it.
      await (await b.lockInstance('1.2.4'))();
      assert.equal(bHolds, false);
      // Node A dies: its session ends (the server terminates it), and its lock with it.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const { rows } = await admin.query("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid::text::bigint = (hashtext('1.2.3')::bigint & 4294967295)");
        assert.equal(rows.length, 1);
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      } finally {
        await admin.end();
      }
      const unlockB = await bLock;
      assert.equal(bHolds, true);
      await unlockB();
      // A's unlock on its dead connection does not throw.
      await unlockA();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('PostgresIndex when the database stops answering', { skip: postgresSkip() }, () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server.stop();
  });

  test('a frozen database fails adds, look-ups, queries and locks with DICOM_ERR_STORE_INDEX_UNAVAILABLE instead of waiting; once it answers again the index works', { timeout: 120_000 }, async () => {
    const url = await server.createDatabase();
    // The timeouts also bound the work done while the database answers (opening, the first add,
    // the look-ups after the thaw): long enough for a loaded machine, short for the test.
    const index = await PostgresIndex.open({ url, maxConnections: 2, queryTimeout: 2000, connectTimeout: 5000 });
    const unavailable = (e: unknown): boolean => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.code, storeErrorCodes.indexUnavailable);
      assert.equal(e.status, 0xa700);
      return true;
    };
    try {
      const first = instanceRecord({ SOPInstanceUID: '1.2.840.99.1', key: 'a/b/1.dcm' });
      await index.addInstance(first);
      const thaw = server.freeze();
      try {
        await assert.rejects(index.findInstance('1.2.840.99.1'), unavailable);
        await assert.rejects(index.addInstance(instanceRecord({ SOPInstanceUID: '1.2.840.99.2', key: 'a/b/2.dcm' })), unavailable);
        await assert.rejects(index.lockInstance('1.2.840.99.3'), unavailable);
        await assert.rejects(
          (async () => {
            for await (const match of index.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' })) void match;
          })(),
          unavailable,
        );
      } finally {
        thaw();
      }
      // The connections that timed out were dropped, not returned to the pool mid-answer.
      assert.equal((await index.findInstance('1.2.840.99.1'))?.SOPInstanceUID, '1.2.840.99.1');
      await index.addInstance(instanceRecord({ SOPInstanceUID: '1.2.840.99.2', key: 'a/b/2.dcm' }));
      await (await index.lockInstance('1.2.840.99.3'))();
      assert.equal((await index.statistics()).instances, 2);
    } finally {
      await index.close();
    }
  });

  test('a lock another node holds is waited for past the query timeout, and taken when it is let go', { timeout: 120_000 }, async () => {
    const url = await server.createDatabase();
    // 500 ms: short against the wait below, long against a loaded machine's answer to one query
    // (a's own lock must not time out).
    const [a, b] = [await PostgresIndex.open({ url, maxConnections: 2, queryTimeout: 500 }), await PostgresIndex.open({ url, maxConnections: 2, queryTimeout: 500 })];
    try {
      const unlockA = await a.lockInstance('1.2.840.99.9');
      let bHolds = false;
      const bLock = b.lockInstance('1.2.840.99.9').then((unlock) => {
        bHolds = true;
        return unlock;
      });
      // Several query timeouts' worth of polling: b still waits, and has not failed.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal(bHolds, false);
      await unlockA();
      await (await bLock)();
      assert.equal(bHolds, true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
