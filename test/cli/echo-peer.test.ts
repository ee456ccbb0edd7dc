/**
 * `dicom-tls echo` over TLS names the peer's certificate subject as node:crypto's
 * X509Certificate prints it (keys in certificate order, RFC 2253 escapes, UTF-8 kept), without
 * loading node:crypto: the subject is printed by OpenSSL (TlsInfo.peerSubject). Neither echo
 * loads perf_hooks (the DIMSE deadlines use a clock of their own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DicomServer } from '../../src/ae/server.js';
import { DicomClient } from '../../src/ae/client.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { CLI, tempDir } from '../helpers/cli.js';
import { scenarioPki } from '../helpers/pki.js';

const tmp = tempDir('cli-echo-peer-');
test.after(() => tmp.cleanup());

/** A self-signed server certificate whose subject needs escaping: a comma, a '+', UTF-8, a multi-valued RDN. */
function oddSubjectIdentity(): { cert: string; key: string } {
  const key = join(tmp.dir, 'odd.key');
  const cert = join(tmp.dir, 'odd.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '30', '-utf8', '-multivalue-rdn', '-subj', '/C=FR/O=Hôpital Nord\\, Radiologie/OU=PACS+L=Lille/CN=scp "one"/emailAddress=a@b.example'], { stdio: 'ignore' });
  return { cert, key };
}

interface Probed { code: number; stdout: string; stderr: string; cryptoLoaded: boolean; perfHooksLoaded: boolean }

function runWithProbe(args: string[]): Promise<Probed> {
  const probeOut = join(tmp.dir, `probe-${Math.random().toString(36).slice(2)}.txt`);
  const preload = join(tmp.dir, 'crypto-probe.cjs');
  writeFileSync(preload, "process.on('exit', () => require('node:fs').writeFileSync(process.env.CRYPTO_PROBE_OUT, JSON.stringify(['crypto', 'perf_hooks'].map((m) => process.moduleLoadList.includes('NativeModule ' + m)))));\n");
  return new Promise((resolve) => {
    execFile(process.execPath, ['--require', preload, CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CRYPTO_PROBE_OUT: probeOut } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      const [cryptoLoaded, perfHooksLoaded] = JSON.parse(readFileSync(probeOut, 'utf8')) as [boolean, boolean];
      resolve({ code, stdout, stderr, cryptoLoaded, perfHooksLoaded });
    });
  });
}

test('echo over TLS prints the peer subject as X509Certificate.subject gives it, and never loads node:crypto', async () => {
  const pki = scenarioPki();
  const odd = oddSubjectIdentity();
  const expected = new X509Certificate(readFileSync(odd.cert)).subject;
  assert.match(expected, /\n/, 'the subject spans several lines');
  const server = new DicomServer({ aeTitle: 'ODD-SCP', tls: new SecureContext({ role: 'server', identity: odd, ca: [pki.caA.cert] }) });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const args = ['echo', `127.0.0.1:${port}`, '--call', 'ODD-SCP', '--ca', odd.cert, '--cert', pki.clientA.cert, '--key', pki.clientA.key];
    const text = await runWithProbe(args);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(`, peer ${expected.replace(/\n/g, ', ')} in `), text.stdout);
    assert.equal(text.cryptoLoaded, false, 'dicom-tls echo loaded node:crypto');
    assert.equal(text.perfHooksLoaded, false, 'dicom-tls echo loaded perf_hooks');
    const json = await runWithProbe([...args, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { tls: { peerCertificate: string } }).tls.peerCertificate, expected.replace(/\n/g, ', '));
    assert.equal(json.cryptoLoaded, false);

    // The library's TlsInfo: peerSubject equals what node:crypto reads from the same certificate.
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ODD-SCP',
      tls: new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [odd.cert] }),
    });
    try {
      assert.equal(client.tls?.peerSubject, expected);
      assert.equal(client.tls?.peerSubject, client.tls?.peerCertificate?.subject);
    } finally {
      await client.release();
    }
  } finally {
    await server.close();
  }
});

test('a plain echo loads neither node:crypto nor perf_hooks', async () => {
  const server = new DicomServer({ aeTitle: 'PLAIN-SCP' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const r = await runWithProbe(['echo', `127.0.0.1:${port}`, '--no-tls', '--call', 'PLAIN-SCP']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Success over plain DICOM/);
    assert.deepEqual([r.cryptoLoaded, r.perfHooksLoaded], [false, false]);
  } finally {
    await server.close();
  }
});
