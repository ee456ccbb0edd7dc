/**
 * serve's health and metrics port: /healthz, /readyz (store writable, index answering; 503 with the
 * failing check), /metrics in the Prometheus text format with the counts of what happened.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnServe, listening, type ServeProcess } from '../helpers/serve-process.js';
import { writeServePki, type ServePki } from '../helpers/serve-pki.js';

const tmp = tempDir('cli-serve-http-');
let p: ServeProcess;
let ports: { port: number; plainPort: number | undefined; httpPort: number | undefined };
let pki: ServePki;
let stranger: ServePki;
const data = join(tmp.dir, 'data');

const get = async (path: string): Promise<{ status: number; body: string; type: string }> => {
  const r = await fetch(`http://127.0.0.1:${ports.httpPort}${path}`);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
};

/** The value of one sample line of the exposition text, e.g. `dicom_tls_associations_total{outcome="accepted"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

before(async () => {
  pki = writeServePki(join(tmp.dir, 'pki'), 'metrics', { serverDays: 100, crlDays: 7 });
  stranger = writeServePki(join(tmp.dir, 'stranger'), 'stranger');
  p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--http-port', '0', '--data', data,
    '--cert', pki.server, '--key', pki.serverKey, '--ca', pki.ca, '--crl', pki.crl], { cwd: tmp.dir });
  ports = await listening(p, true);
});

after(async () => { await p.kill(); tmp.cleanup(); });

test('/healthz answers; /readyz checks the store and the index', async () => {
  const h = await get('/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
  const r = await get('/readyz');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { status: 'ready', checks: [{ name: 'store', ok: true }, { name: 'index', ok: true }] });
  assert.equal((await get('/nothing')).status, 404);
});

test('/readyz is 503 and names the check when the store directory cannot take a file', async () => {
  const files = join(data, 'files');
  rmSync(files, { recursive: true, force: true });
  writeFileSync(files, 'not a directory'); // (root ignores permissions: a file in the way fails for everyone)
  try {
    const r = await get('/readyz');
    assert.equal(r.status, 503);
    const doc = JSON.parse(r.body) as { status: string; checks: { name: string; ok: boolean; error?: string }[] };
    assert.equal(doc.status, 'not ready');
    assert.match(doc.checks.find((c) => c.name === 'store')!.error!, /is not writable \(E[A-Z]+\)/);
    assert.equal(doc.checks.find((c) => c.name === 'index')!.ok, true);
  } finally {
    rmSync(files, { force: true });
    mkdirSync(files);
  }
  assert.equal((await get('/readyz')).status, 200);
});

test('/metrics counts associations, stored instances and bytes, handshake failures by X509 error, PDU errors, store latency, days to expiry', async () => {
  // One association released, one instance stored (plain port, DCMTK).
  writeFileSync(join(tmp.dir, 'm.dump'), ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.8.1]',
    '(0010,0020) LO [M]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.8]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.8.2]', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', 'm.dump', 'm.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  execFileSync('storescu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(ports.plainPort), 'm.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  await p.waitFor(/association from STORESCU \(127\.0\.0\.1:\d+\) released/);
  // A client certificate from a CA the server does not trust.
  const bad = await runCli(['echo', `127.0.0.1:${ports.port}`, '--call', 'DICOM-TLS', '--ca', pki.ca, '--cert', stranger.client, '--key', stranger.clientKey]);
  assert.notEqual(bad.code, 0);
  await p.waitFor(/TLS handshake from 127\.0\.0\.1:\d+ failed, certificate at depth 0/);
  // Bytes that are no PDU (type 0x09) on the plain port: the server answers A-ABORT (Evt19).
  const abort = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(ports.plainPort!, '127.0.0.1', () => s.write(Buffer.from([0x09, 0, 0, 0, 0, 4, 1, 2, 3, 4])));
    s.once('data', (d: Buffer) => { s.destroy(); resolve(d); }).on('error', reject);
  });
  assert.equal(abort[0], 0x07, 'A-ABORT');
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  const t = m.body;
  assert.equal(sample(t, 'dicom_tls_associations_total', { outcome: 'accepted' }), 1, t);
  assert.equal(sample(t, 'dicom_tls_associations_total', { outcome: 'released' }), 1, t);
  assert.equal(sample(t, 'dicom_tls_instances_stored_total'), 1);
  assert.ok(sample(t, 'dicom_tls_stored_bytes_total')! > 100);
  assert.equal(sample(t, 'dicom_tls_handshake_failures_total', { error: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }), 1, t);
  assert.equal(sample(t, 'dicom_tls_pdu_errors_total'), 1, t);
  assert.equal(sample(t, 'dicom_tls_store_duration_seconds_count'), 1);
  assert.equal(sample(t, 'dicom_tls_associations_running'), 0);
  const server = sample(t, 'dicom_tls_certificate_expiry_days', { kind: 'certificate', subject: 'CN=metrics server', file: pki.server })!;
  assert.ok(server > 98 && server <= 100, String(server));
  const ca = sample(t, 'dicom_tls_certificate_expiry_days', { kind: 'ca', subject: 'CN=metrics CA', file: pki.ca })!;
  assert.ok(ca > 3000, String(ca));
  const crl = sample(t, 'dicom_tls_crl_next_update_days', { file: pki.crl })!;
  assert.ok(crl > 6 && crl <= 7, String(crl));
  // The CRL runs out within the 30-day warning period: warned at start-up.
  assert.match(p.output(), /warning: the CRL \S+ca\.crl is due for its next update in [67] days/);
});

test('without --http-port there is no HTTP port', async () => {
  const q = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'nohttp')], { cwd: tmp.dir });
  try {
    await listening(q);
    assert.doesNotMatch(q.output(), /health and metrics/);
  } finally { await q.kill(); }
});

test('/readyz is 503 naming the index when it cannot answer, and while stopping', async () => {
  const { startHttp } = await import('../../src/cli/serve-http.js');
  const { Registry } = await import('prom-client');
  let stopping = false;
  const h = await startHttp(0, '127.0.0.1', new Registry(), {
    storeRoot: join(tmp.dir, 'unit-store'), indexQuery: () => { throw new Error('database is locked'); }, stopping: () => stopping,
  });
  try {
    const r = await fetch(`http://127.0.0.1:${h.address.port}/readyz`);
    assert.equal(r.status, 503);
    const doc = await r.json() as { checks: { name: string; ok: boolean; error?: string }[] };
    assert.deepEqual(doc.checks.find((c) => c.name === 'index'), { name: 'index', ok: false, error: 'database is locked' });
    stopping = true;
    const s = await (await fetch(`http://127.0.0.1:${h.address.port}/readyz`)).json() as { checks: { name: string }[] };
    assert.ok(s.checks.some((c) => c.name === 'stopping'));
  } finally {
    h.server.closeAllConnections();
    await new Promise<void>((r) => h.server.close(() => r()));
  }
});
