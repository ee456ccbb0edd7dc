/**
 * `serve --storage s3://…` and `dicom-tls store check` as an operator runs them: the endpoint and
 * path style from DICOM_TLS_STORAGE__* variables, the credentials from AWS_* variables (the SDK's
 * default chain), s3rver started by the test. A serve killed with SIGKILL in the middle of a large
 * store leaves nothing half-visible, and after a restart `store check` finds the store consistent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';
import { spec, writeBigInstance, writeInstance } from '../helpers/services.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';

const MiB = 1024 * 1024;
const tmp = tempDir('cli-serve-s3-');
let s3: S3Server;
let env: NodeJS.ProcessEnv;

before(async () => {
  s3 = await startS3Server(['dicom']);
  env = { ...s3.env, DICOM_TLS_STORAGE__ENDPOINT: s3.endpoint, DICOM_TLS_STORAGE__FORCE_PATH_STYLE: 'true', DICOM_TLS_STORAGE__PART_SIZE: String(5 * MiB) };
});
after(async () => {
  await s3?.close();
  tmp.cleanup();
});

async function objects(prefix: string): Promise<Map<string, number>> {
  const store = await S3BlobStore.open(s3.options('dicom', prefix));
  const out = new Map<string, number>();
  for await (const o of store.list()) out.set(o.key, o.size);
  await store.close();
  return out;
}

test('serve --storage s3://: instances stored through the plain port are objects in the bucket; kill -9 mid-store; after the restart store check is clean and every object has its row', async () => {
  const data = join(tmp.dir, 'data');
  const input = join(tmp.dir, 'in');
  mkdirSync(input, { recursive: true });
  const small = [];
  for (let n = 1; n <= 3; n++) small.push(await writeInstance(input, spec(n)));
  const big = await writeBigInstance(join(tmp.dir), spec(9, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.0.1.9' }), 48 * MiB);
  const args = ['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', data, '--storage', 's3://dicom/node'];
  let serve = spawnServe(args, { cwd: tmp.dir, env });
  try {
    const { plainPort } = await listening(serve);
    assert.match(serve.output(), /instances in s3:\/\/dicom\/node\//);
    const stored = await runCli(['store', `127.0.0.1:${plainPort}`, input, '--call', 'DICOM-TLS', '--no-tls', '--json']);
    assert.equal(stored.code, 0, stored.stderr);
    assert.equal((await objects('node')).size, 3);
    // Nothing but the spool directory under DATA/files.
    assert.deepEqual(readdirSync(join(data, 'files')), []);

    // A large store, and SIGKILL once the server has part of it.
    const sending = runCli(['store', `127.0.0.1:${plainPort}`, big.path, '--call', 'DICOM-TLS', '--no-tls']);
    const spool = join(data, 'files');
    for (let i = 0; i < 600; i++) {
      const partial = readdirSync(spool).filter((n) => n.includes('.partial-'));
      if (partial.some((n) => existsSync(join(spool, n)) && statSync(join(spool, n), { throwIfNoEntry: false })?.size! > 8 * MiB)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await serve.kill();
    const sent = await sending;
    assert.notEqual(sent.code, 0, 'the store was cut off');

    serve = spawnServe(args, { cwd: tmp.dir, env });
    await listening(serve);
    // Start-up removed the spooled part; nothing of the cut instance is visible.
    assert.deepEqual(readdirSync(spool), []);
    const check = await runCli(['store', 'check', '--data', data, '--storage', 's3://dicom/node', '--grace', '0', '--json'], { env: { ...process.env, ...env } });
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    const report = JSON.parse(check.stdout) as { findings: unknown[]; counts: { objects: number; rows: number }; storage: string };
    assert.deepEqual(report.findings, []);
    assert.equal(report.storage, 's3://dicom/node/');
    assert.equal(report.counts.objects, 3);
    assert.equal(report.counts.rows, 3);
    assert.ok(!(await objects('node')).has(`1.2.826.0.1.3680043.9.7777.0/1.2.826.0.1.3680043.9.7777.0.1/${'1.2.826.0.1.3680043.9.7777.0.1.9'}.dcm`));

    // Again, and SIGKILL once the whole data set is spooled: while it is uploaded, or just after.
    const second = runCli(['store', `127.0.0.1:${(await listening(serve)).plainPort}`, big.path, '--call', 'DICOM-TLS', '--no-tls']);
    for (let i = 0; i < 1500; i++) {
      const partial = readdirSync(spool).filter((n) => n.includes('.partial-'));
      if (partial.some((n) => (statSync(join(spool, n), { throwIfNoEntry: false })?.size ?? 0) >= big.size - 4096)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await serve.kill();
    await second;
    serve = spawnServe(args, { cwd: tmp.dir, env });
    const { plainPort: port3 } = await listening(serve);
    const recheck = await runCli(['store', 'check', '--data', data, '--storage', 's3://dicom/node', '--grace', '0', '--json'], { env: { ...process.env, ...env } });
    assert.equal(recheck.code, 0, `${recheck.stdout}\n${recheck.stderr}`);
    const counts = (JSON.parse(recheck.stdout) as { counts: { objects: number; rows: number } }).counts;
    // Stored whole or not at all: as many objects as rows, whichever side of the commit the kill hit.
    assert.equal(counts.objects, counts.rows);

    // The same instance sent again is stored whole (a multipart upload), or kept if it was.
    const again = await runCli(['store', `127.0.0.1:${port3}`, big.path, '--call', 'DICOM-TLS', '--no-tls']);
    assert.equal(again.code, 0, again.stderr);
    const after = await objects('node');
    assert.equal(after.size, 4);
    assert.ok([...after.values()].some((v) => v > 48 * MiB));
  } finally {
    await serve.kill();
  }
});

test('serve refuses to start on a bucket that does not exist, or on refused credentials, naming why', async () => {
  const data = join(tmp.dir, 'refused');
  const missing = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', data, '--storage', 's3://no-such-bucket/x'], { cwd: tmp.dir, env });
  const m = await missing.exited;
  assert.notEqual(m.code, 0);
  assert.match(missing.output(), /DICOM_ERR_STORE_BLOB_CONTAINER/);
  const denied = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', data, '--storage', 's3://dicom/x'], { cwd: tmp.dir, env: { ...env, AWS_ACCESS_KEY_ID: 'NOBODY' } });
  const d = await denied.exited;
  assert.notEqual(d.code, 0);
  assert.match(denied.output(), /DICOM_ERR_STORE_BLOB_ACCESS/);
});

test('store check on the default local store: an orphan file is reported (16), kept by --dry-run, removed by a repair; then 0', async () => {
  const data = join(tmp.dir, 'local');
  const serve = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', data], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(serve);
    const input = join(tmp.dir, 'local-in');
    mkdirSync(input);
    await writeInstance(input, spec(4));
    assert.equal((await runCli(['store', `127.0.0.1:${plainPort}`, input, '--call', 'DICOM-TLS', '--no-tls'])).code, 0);
  } finally {
    await serve.kill();
  }
  const orphanDir = join(data, 'files', '1.2.826.0.1.3680043.9.7777.2', '1.2.826.0.1.3680043.9.7777.2.1');
  mkdirSync(orphanDir, { recursive: true });
  const orphan = join(orphanDir, '1.2.826.0.1.3680043.9.7777.2.1.99.dcm');
  writeFileSync(orphan, 'left by hand');
  const dry = await runCli(['store', 'check', '--data', data, '--grace', '0', '--dry-run']);
  assert.equal(dry.code, 16, dry.stderr);
  assert.match(dry.stdout, /object without an index row: 1\.2\.826\.0\.1\.3680043\.9\.7777\.2\/.*99\.dcm: would be removed/);
  assert.match(dry.stdout, /1 finding \(dry run: nothing changed\)/);
  assert.ok(existsSync(orphan));
  const fix = await runCli(['store', 'check', '--data', data, '--grace', '0', '--json']);
  assert.equal(fix.code, 16);
  assert.deepEqual((JSON.parse(fix.stdout) as { findings: { kind: string; action: string }[] }).findings.map((f) => [f.kind, f.action]), [['orphan-object', 'removed']]);
  assert.ok(!existsSync(orphan));
  const clean = await runCli(['store', 'check', '--data', data]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /consistent: nothing to repair/);
  // A store that cannot be read: exit code 18, the typed error named.
  const unreachable = await runCli(['store', 'check', '--data', data, '--storage', 's3://dicom/x'], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', DICOM_TLS_STORAGE__ENDPOINT: 'http://127.0.0.1:1' } });
  assert.equal(unreachable.code, 18, unreachable.stderr);
  assert.match(unreachable.stderr, /ECONNREFUSED.*DICOM_ERR_STORE_BLOB_UNAVAILABLE/);
  const help = await runCli(['help', 'store', 'check']);
  assert.match(help.stdout, /Usage: dicom-tls store check/);
});
