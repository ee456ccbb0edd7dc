/**
 * Certificates shown where they matter: diagnose prints subjectAltName, SHA-256 fingerprint, key
 * and expiry (no purposes table), names the names a certificate carries on a host-name mismatch,
 * and says "same name, different key" when the trusted CA only shares the issuer's name; pki init
 * makes CAs with distinct names.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { scenarioPki } from '../helpers/pki.js';
import { startSServer } from '../helpers/openssl-peer.js';
import { runCli, oneSentenceError, tempDir } from '../helpers/cli.js';

const pki = scenarioPki();
const tmp = tempDir('cli-certs-');
after(() => tmp.cleanup());

const subjectOf = (cert: string): string => execFileSync('openssl', ['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253']).toString().trim();
const fingerprintOf = (cert: string): string => execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']).toString().trim().replace(/^.*=/, '');

test('pki init: every CA gets its own name (directory, host, a unique suffix), or --name with the suffix', async () => {
  for (const d of ['site-a', 'site-b', 'named']) {
    const r = await runCli(['pki', 'init', d, ...(d === 'named' ? ['--name', 'Radiology'] : [])], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
  }
  const a = subjectOf(join(tmp.dir, 'site-a', 'ca.pem'));
  const b = subjectOf(join(tmp.dir, 'site-b', 'ca.pem'));
  assert.match(a, /CN=dicom-tls CA .*\/site-a on \S+ [0-9a-f]{6}/);
  assert.match(b, /CN=dicom-tls CA .*\/site-b on \S+ [0-9a-f]{6}/);
  assert.notEqual(a, b);
  assert.match(subjectOf(join(tmp.dir, 'named', 'ca.pem')), /CN=dicom-tls CA Radiology [0-9a-f]{6}/);
});

test('diagnose: a trusted CA of the same name but another key is called that, with its fingerprint', async () => {
  for (const d of ['twin-1', 'twin-2']) {
    const r = await runCli(['pki', 'init', d, '--cn', 'Twin CA'], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal(subjectOf(join(tmp.dir, 'twin-1', 'ca.pem')), subjectOf(join(tmp.dir, 'twin-2', 'ca.pem')));
  const server = await startSServer({ cert: join(tmp.dir, 'twin-1', 'server.pem'), key: join(tmp.dir, 'twin-1', 'server-key.pem'), naccept: 1 });
  try {
    const r = await runCli(['diagnose', `127.0.0.1:${server.port}`, '--ca', join(tmp.dir, 'twin-2', 'ca.pem'), '--json', '--timeout', '2']);
    assert.equal(r.code, 10, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as { hints: string[] };
    const hint = doc.hints.find((h) => /same name/.test(h));
    assert.ok(hint !== undefined, doc.hints.join('\n'));
    assert.match(hint, /CN=Twin CA.*different key/);
    assert.ok(hint.includes(fingerprintOf(join(tmp.dir, 'twin-2', 'ca.pem'))), hint);
  } finally {
    await server.close();
  }
});

test('diagnose shows SAN, fingerprint, key and expiry of each certificate, no purposes table; a name mismatch names the names', async () => {
  const server = await startSServer({ cert: pki.hostMismatch.cert, key: pki.hostMismatch.key, naccept: 1 });
  try {
    const r = await runCli(['diagnose', `127.0.0.1:${server.port}`, '--ca', pki.trustRoot, '--verify-host', 'localhost', '--timeout', '2']);
    assert.equal(r.code, 10, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`SHA-256 Fingerprint: ${fingerprintOf(pki.hostMismatch.cert)}`), r.stdout);
    assert.match(r.stdout, /Subject Alt Name: DNS:other\.example/);
    assert.match(r.stdout, /Key: (EC P-256|RSA \d+ bits)/);
    assert.match(r.stdout, /Expires: in \d+ days/);
    assert.doesNotMatch(r.stdout, /Certificate purposes|SSL client CA/);
    assert.match(r.stdout, /the certificate names DNS:other\.example.*, not localhost/);
  } finally {
    await server.close();
  }
});

test('echo with a host-name mismatch: one sentence naming the names the certificate carries, exit 10', async () => {
  const server = await startSServer({ cert: pki.hostMismatch.cert, key: pki.hostMismatch.key, naccept: 1 });
  try {
    const r = await runCli(['echo', `127.0.0.1:${server.port}`, '--ca', pki.trustRoot, '--verify-host', 'localhost', '--timeout', '5']);
    assert.equal(r.code, 10, r.stdout + r.stderr);
    const { sentence, code } = oneSentenceError(r);
    assert.equal(code, 'DICOM_TLS_ERR_HANDSHAKE');
    assert.match(sentence, /X509_V_ERR_HOSTNAME_MISMATCH.*the certificate names DNS:other\.example, not localhost/);
  } finally {
    await server.close();
  }
});
