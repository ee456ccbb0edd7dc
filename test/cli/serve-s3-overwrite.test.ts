/**
 * The overwrite defect as an operator meets it: `serve --storage s3://… --duplicates overwrite`
 * on an S3 server that writes objects in place (s3rver), killed with SIGKILL while the new copy
 * of an instance it has acknowledged is half uploaded (held there by a relay, so the kill lands
 * mid-PutObject, not by timing). After the restart the acknowledged instance is there, whole and
 * retrievable, and `store check` finds the store consistent; sent again, the new version replaces it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';
import { startTcpTap, type TcpTap } from '../helpers/tcp-tap.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';

const MiB = 1024 * 1024;
const tmp = tempDir('cli-serve-s3-overwrite-');
let s3: S3Server;
let tap: TcpTap;
let env: NodeJS.ProcessEnv;

before(async () => {
  s3 = await startS3Server(['dicom']);
  tap = await startTcpTap(s3.port);
  env = { ...s3.env, DICOM_TLS_STORAGE__ENDPOINT: tap.endpoint, DICOM_TLS_STORAGE__FORCE_PATH_STYLE: 'true', DICOM_TLS_STORAGE__PART_SIZE: String(5 * MiB) };
});
after(async () => {
  await tap?.close();
  await s3?.close();
  tmp.cleanup();
});

/** The objects under `prefix`, read from s3rver directly (not through the relay). */
async function objects(prefix: string): Promise<Map<string, number>> {
  const store = await S3BlobStore.open(s3.options('dicom', prefix));
  const out = new Map<string, number>();
  for await (const o of store.list()) out.set(o.key, o.size);
  await store.close();
  return out;
}

test('serve --duplicates overwrite on S3, killed -9 half-way through the new copy\'s upload: the acknowledged instance survives, whole; store check is clean', { timeout: 300_000 }, async () => {
  const data = join(tmp.dir, 'data');
  const first = join(tmp.dir, 'v1');
  const second = join(tmp.dir, 'v2');
  mkdirSync(first);
  mkdirSync(second);
  const uid = '1.2.826.0.1.3680043.9.7777.1.1.8';
  // Under the part size: one PutObject, which s3rver writes into the object's file as it arrives.
  const v1 = await writeInstance(first, spec(8, { SOPInstanceUID: uid }), { pixels: 2_000_000 });
  const v2 = await writeInstance(second, spec(8, { SOPInstanceUID: uid, PatientName: 'TEST^NEW' }), { pixels: 2_100_000 });
  const args = ['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', data, '--storage', 's3://dicom/node', '--duplicates', 'overwrite'];
  let serve = spawnServe(args, { cwd: tmp.dir, env });
  try {
    const { plainPort } = await listening(serve);
    const stored = await runCli(['store', `127.0.0.1:${plainPort}`, first, '--call', 'DICOM-TLS', '--no-tls']);
    assert.equal(stored.code, 0, stored.stderr);
    const [[oldKey, oldSize]] = [...(await objects('node'))] as [[string, number]];

    // The new version: 64 KiB of requests pass the relay (the look-up, then the PutObject's
    // start), the rest is held; once s3rver has begun writing an object, serve is killed.
    tap.holdRequestAfter(64 * 1024);
    const sending = runCli(['store', `127.0.0.1:${plainPort}`, second, '--call', 'DICOM-TLS', '--no-tls']);
    await tap.holding();
    for (let partial = false; !partial; ) {
      for (const [key, size] of await objects('node')) if (size > 0 && size < 2_000_000 && (key !== oldKey || size !== oldSize)) partial = true;
    }
    await serve.kill();
    tap.release();
    assert.notEqual((await sending).code, 0, 'the second store was cut off');

    serve = spawnServe(args, { cwd: tmp.dir, env });
    const { port: tlsPort, plainPort: port2 } = await listening(serve);
    // Retrieving takes a verified client certificate (the development PKI serve made on its first run).
    const tls = ['--call', 'DICOM-TLS', '--ca', join(data, 'pki', 'ca.pem'), '--cert', join(data, 'pki', 'client.pem'), '--key', join(data, 'pki', 'client-key.pem')];
    const keys = ['--level', 'IMAGE', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7777.2', '-k', 'SeriesInstanceUID=1.2.826.0.1.3680043.9.7777.2.1', '-k', `SOPInstanceUID=${uid}`];
    const check = await runCli(['store', 'check', '--data', data, '--storage', 's3://dicom/node', '--grace', '0', '--json'], { env: { ...process.env, ...env } });
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    const report = JSON.parse(check.stdout) as { findings: unknown[]; counts: { objects: number; rows: number } };
    assert.deepEqual(report.findings, []);
    assert.deepEqual([report.counts.objects, report.counts.rows], [1, 1]);
    assert.deepEqual([...(await objects('node'))], [[oldKey, oldSize]]);
    // Retrievable, and the first version.
    const out = join(tmp.dir, 'got');
    const got = await runCli(['get', `127.0.0.1:${tlsPort}`, ...tls, ...keys, '--out', out]);
    assert.equal(got.code, 0, `${got.stdout}${got.stderr}`);
    const file = readdirSync(out, { recursive: true }).map(String).find((f) => f.endsWith('.dcm'))!;
    assert.equal(await datasetHash(join(out, file)), v1.hash);

    // Sent again, the new version replaces it: one object, the new one.
    const again = await runCli(['store', `127.0.0.1:${port2}`, second, '--call', 'DICOM-TLS', '--no-tls']);
    assert.equal(again.code, 0, again.stderr);
    const after = [...(await objects('node'))];
    assert.equal(after.length, 1);
    assert.notEqual(after[0]![0], oldKey);
    const out2 = join(tmp.dir, 'got2');
    assert.equal((await runCli(['get', `127.0.0.1:${tlsPort}`, ...tls, ...keys, '--out', out2])).code, 0);
    const file2 = readdirSync(out2, { recursive: true }).map(String).find((f) => f.endsWith('.dcm'))!;
    assert.equal(await datasetHash(join(out2, file2)), v2.hash);
  } finally {
    tap.release();
    await serve.kill();
  }
});
