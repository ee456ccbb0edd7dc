/**
 * `serve --index postgres://…` / config `index.url`: the index in PostgreSQL. A database that
 * cannot be reached stops the start with one sentence and a typed code (no stack, no password);
 * a reachable one is migrated, stored into and queried through the CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PostgresIndex } from '../../src/store/postgres-index.js';
import { oneSentenceError, runCli, tempDir } from '../helpers/cli.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { listening, spawnServe } from '../helpers/serve-process.js';
import { spec, writeInstance } from '../helpers/services.js';

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('serve with an index database that is down: one sentence, DICOM_ERR_STORE_INDEX_UNAVAILABLE, exit 18, the password never shown', async () => {
  const tmp = tempDir('cli-serve-index-');
  try {
    const port = await closedPort();
    const r = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'data'), '--index', `postgres://dicom:s3cret@127.0.0.1:${port}/pacs`], { cwd: tmp.dir });
    const e = oneSentenceError(r);
    assert.equal(e.code, 'DICOM_ERR_STORE_INDEX_UNAVAILABLE');
    assert.match(e.sentence, new RegExp(`postgres://dicom@127\\.0\\.0\\.1:${port}/pacs`));
    assert.doesNotMatch(r.stderr + r.stdout, /s3cret/);
    assert.equal(r.code, 18);
    const bad = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'data'), '--index', 'mysql://u:pw@h/db'], { cwd: tmp.dir });
    assert.equal(oneSentenceError(bad).code, 'DICOM_ERR_USAGE');
    assert.doesNotMatch(bad.stderr, /pw@/);
  } finally {
    tmp.cleanup();
  }
});

describe('serve on a PostgreSQL index', { skip: postgresSkip() }, () => {
  let pg: PostgresServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg.stop();
  });

  test('index.url in the config file: migrated at start, stored into, found through the CLI; the row holds a relative key', async () => {
    const tmp = tempDir('cli-serve-index-');
    const url = await pg.createDatabase();
    const data = join(tmp.dir, 'data');
    const config = join(tmp.dir, 'serve.json');
    writeFileSync(config, JSON.stringify({ data, host: '127.0.0.1', port: 0, tls: { devPki: true }, index: { url, maxConnections: 3, queryTimeout: 30000 } }));
    const serve = spawnServe(['--config', config, '--log-format', 'json'], { cwd: tmp.dir });
    try {
      const { port } = await listening(serve);
      assert.match(serve.output(), /"index":"postgres"/);
      assert.match(serve.output(), /"event":"index-migrated".*"fromVersion":0,"toVersion":2/);
      const s = spec(1, { PatientID: 'PG-CLI-1' });
      const file = await writeInstance(tmp.dir, s);
      const pki = (f: string): string => join(data, 'pki', f);
      const tls = ['--ca', pki('ca.pem'), '--cert', pki('client.pem'), '--key', pki('client-key.pem'), '--call', 'DICOM-TLS'];
      const stored = await runCli(['store', `127.0.0.1:${port}`, file.path, ...tls]);
      assert.equal(stored.code, 0, stored.stderr);
      const found = await runCli(['find', `127.0.0.1:${port}`, ...tls, '--level', 'PATIENT', '--root', 'patient', '-k', 'PatientID=PG-CLI-*', '--json']);
      assert.equal(found.code, 0, found.stderr);
      assert.match(found.stdout, /PG-CLI-1/);
      const index = await PostgresIndex.open({ url });
      try {
        const row = await index.findInstance(s.SOPInstanceUID);
        assert.equal(row?.key, `${s.StudyInstanceUID}/${s.SeriesInstanceUID}/${s.SOPInstanceUID}.dcm`);
        assert.equal(await index.schemaVersion(), 2);
      } finally {
        await index.close();
      }
    } finally {
      await serve.kill();
      tmp.cleanup();
    }
  });
});
