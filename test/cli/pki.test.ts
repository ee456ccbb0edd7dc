import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, oneSentenceError, tempDir } from '../helpers/cli.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { certificateStringFromCli } from '../helpers/x509-openssl.js';

const tmp = tempDir('cli-pki-');
after(() => tmp.cleanup());

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
}
function opensslOk(args: string[]): boolean {
  return spawnSync('openssl', args, { stdio: 'ignore' }).status === 0;
}

/** What `openssl x509` prints for a certificate, in the seeds' certificate-string lines (the oracle). */
function expectedString(certPath: string): string {
  return certificateStringFromCli(certPath).join('\n');
}

test('pki init makes a CA and server/client certificates openssl accepts for DICOM TLS', async () => {
  const r = await runCli(['pki', 'init', 'p', '--host', 'pacs.example.test', '--host', 'localhost', '--ip', '10.1.2.3'], { cwd: tmp.dir });
  assert.equal(r.code, 0, r.stderr);
  const p = join(tmp.dir, 'p');
  for (const who of ['server', 'client']) {
    const cert = join(p, `${who}.pem`);
    // Both purposes on both certificates: a DICOM node accepts and initiates associations.
    assert.ok(opensslOk(['verify', '-x509_strict', '-CAfile', join(p, 'ca.pem'), '-purpose', 'sslserver', cert]), `${who} as server`);
    assert.ok(opensslOk(['verify', '-x509_strict', '-CAfile', join(p, 'ca.pem'), '-purpose', 'sslclient', cert]), `${who} as client`);
    const ext = openssl(['x509', '-in', cert, '-noout', '-ext', 'subjectAltName,extendedKeyUsage']);
    assert.match(ext, /DNS:pacs\.example\.test, DNS:localhost, IP Address:10\.1\.2\.3/);
    assert.match(ext, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.equal(statSync(join(p, `${who}-key.pem`)).mode & 0o777, 0o600);
    // The key belongs to the certificate.
    assert.equal(openssl(['pkey', '-in', join(p, `${who}-key.pem`), '-pubout']), openssl(['x509', '-in', cert, '-noout', '-pubkey']));
  }
  assert.match(openssl(['x509', '-in', join(p, 'ca.pem'), '-noout', '-text']), /CA:TRUE/);
});

test('pki init keys satisfy the strictest profile: B.13 loads them, openssl verifies them at its security level', async () => {
  for (const keyType of ['ec', 'rsa'] as const) {
    const dir = `strict-${keyType}`;
    const r = await runCli(['pki', 'init', dir, '--key-type', keyType], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    const p = join(tmp.dir, dir);
    for (const who of ['server', 'client']) {
      const cert = join(p, `${who}.pem`);
      // Level 2 for RSA (2048 bits); EC P-256 also passes level 3 (EC of 256 bits or more, SHA-256).
      const level = keyType === 'ec' ? '3' : '2';
      assert.ok(opensslOk(['verify', '-auth_level', level, '-x509_strict', '-CAfile', join(p, 'ca.pem'), cert]), `${keyType} ${who} at level ${level}`);
      const text = openssl(['x509', '-in', cert, '-noout', '-text']);
      assert.match(text, keyType === 'ec' ? /Public-Key: \(256 bit\)/ : /Public-Key: \(2048 bit\)/);
      assert.match(text, /Signature Algorithm: (ecdsa-with-SHA256|sha256WithRSAEncryption)/);
      for (const profile of ['bcp195-rfc8996-modified', 'bcp195-rfc8996'] as const) {
        const ctx = new SecureContext({ role: 'server', profile, identity: { cert, key: join(p, `${who}-key.pem`) }, ca: [join(p, 'ca.pem')] });
        assert.ok(ctx.securityLevel >= 2);
        ctx.dispose();
      }
    }
  }
});

/** The certificate string equals the oracle's (the openssl command, purposes as the linked OpenSSL lists them). */
function assertSameCertificateString(actual: string, expected: string): void {
  assert.equal(actual, expected);
}

/** What the summary lines must say, from openssl x509 itself. */
function expectedSummary(certPath: string): RegExp[] {
  const fp = openssl(['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256']).trim().replace(/^.*=/, '');
  const san = /X509v3 Subject Alternative Name:.*\n\s*(.*)/.exec(openssl(['x509', '-in', certPath, '-noout', '-text']))?.[1]?.trim();
  const days = Math.floor((Date.parse(openssl(['x509', '-in', certPath, '-noout', '-enddate']).trim().replace('notAfter=', '')) - Date.now()) / 86_400_000);
  return [new RegExp(`^SHA-256 Fingerprint: ${fp}$`, 'm'), /^Key: EC P-256$/m, new RegExp(`^Expires: in (${days}|${days - 1}) days \\(`, 'm'),
    san === undefined ? /^Subject Alt Name: \(none\)$/m : new RegExp(`^Subject Alt Name: ${san.replace(/[.]/g, '\\.').replace(/IP Address:0:0:0:0:0:0:0:1/, 'IP Address:(0:0:0:0:0:0:0:1|::1)')}`, 'm')];
}

test('pki inspect shows names, SAN, SHA-256 fingerprint, key and expiry as openssl x509 does; purposes only with --purposes', async () => {
  const p = join(tmp.dir, 'p');
  for (const f of ['ca.pem', 'server.pem', 'client.pem']) {
    const r = await runCli(['pki', 'inspect', join(p, f)]);
    assert.equal(r.code, 0, r.stderr);
    const expected = expectedString(join(p, f));
    assert.ok(r.stdout.startsWith(expected.slice(0, expected.indexOf('Certificate purposes:'))), r.stdout);
    assert.doesNotMatch(r.stdout, /Certificate purposes|SSL client CA/);
    for (const re of expectedSummary(join(p, f))) assert.match(r.stdout, re);
    const full = await runCli(['pki', 'inspect', join(p, f), '--purposes']);
    assertSameCertificateString(full.stdout.trimEnd().split('\nSubject Alt Name:')[0]!, expected);
  }
  const bundle = join(tmp.dir, 'bundle.pem');
  writeFileSync(bundle, readFileSync(join(p, 'server.pem'), 'utf8') + readFileSync(join(p, 'ca.pem'), 'utf8'));
  const r = await runCli(['pki', 'inspect', bundle, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { certificates: { certificateString: string; sha256Fingerprint: string; subjectAltName: string[]; key: string; daysToExpiry: number }[] };
  assertSameCertificateString(doc.certificates[0]!.certificateString, expectedString(join(p, 'server.pem')));
  assertSameCertificateString(doc.certificates[1]!.certificateString, expectedString(join(p, 'ca.pem')));
  assert.equal(doc.certificates[0]!.sha256Fingerprint, openssl(['x509', '-in', join(p, 'server.pem'), '-noout', '-fingerprint', '-sha256']).trim().replace(/^.*=/, ''));
  assert.deepEqual(doc.certificates[0]!.subjectAltName, ['DNS:pacs.example.test', 'DNS:localhost', 'IP Address:10.1.2.3']);
  assert.equal(doc.certificates[0]!.key, 'EC P-256');
  assert.ok(doc.certificates[0]!.daysToExpiry > 800 && doc.certificates[0]!.daysToExpiry <= 825, String(doc.certificates[0]!.daysToExpiry));
  // DER too.
  const der = join(tmp.dir, 'server.der');
  openssl(['x509', '-in', join(p, 'server.pem'), '-outform', 'DER', '-out', der]);
  const d = await runCli(['pki', 'inspect', der, '--purposes']);
  assertSameCertificateString(d.stdout.trimEnd().split('\nSubject Alt Name:')[0]!, expectedString(join(p, 'server.pem')));
});

test('pki init refuses to overwrite: one sentence, exit 3 (file)', async () => {
  const r = await runCli(['pki', 'init', 'p'], { cwd: tmp.dir });
  assert.equal(r.code, 3);
  assert.equal(oneSentenceError(r).code, 'DICOM_ERR_FILE');
});

test('pki init --encrypt --pkcs12: keys and bundles open with the password and only with it', async () => {
  const pw = join(tmp.dir, 'pw.txt');
  writeFileSync(pw, 'correct horse\n');
  const r = await runCli(['pki', 'init', 'enc', '--encrypt', '--pkcs12', '--password-file', pw], { cwd: tmp.dir });
  assert.equal(r.code, 0, r.stderr);
  const e = join(tmp.dir, 'enc');
  assert.match(readFileSync(join(e, 'server-key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  assert.ok(opensslOk(['pkey', '-in', join(e, 'server-key.pem'), '-passin', 'pass:correct horse', '-noout']));
  assert.ok(!opensslOk(['pkey', '-in', join(e, 'server-key.pem'), '-passin', 'pass:wrong', '-noout']));
  assert.ok(opensslOk(['pkcs12', '-in', join(e, 'client.p12'), '-passin', 'pass:correct horse', '-nokeys', '-out', '/dev/null']));
  // inspect a PKCS#12: leaf then CA, the password from the environment.
  const ok = await runCli(['pki', 'inspect', join(e, 'client.p12'), '--password-env', 'P12PASS', '--purposes'], { env: { P12PASS: 'correct horse' } });
  assert.equal(ok.code, 0, ok.stderr);
  const [leaf, ca] = ok.stdout.trimEnd().split('\n\n').map((c) => c.split('\nSubject Alt Name:')[0]!);
  assertSameCertificateString(leaf!, expectedString(join(e, 'client.pem')));
  assertSameCertificateString(ca!, expectedString(join(e, 'ca.pem')));
  // Wrong password: one sentence, exit 4.
  const bad = await runCli(['pki', 'inspect', join(e, 'client.p12'), '--password-env', 'P12PASS'], { env: { P12PASS: 'nope' } });
  assert.equal(bad.code, 4);
  assert.equal(oneSentenceError(bad).code, 'DICOM_TLS_ERR_PRIVATE_KEY');
  // --encrypt without a password source.
  const none = await runCli(['pki', 'init', 'enc2', '--encrypt'], { cwd: tmp.dir });
  assert.equal(none.code, 4);
  assert.match(oneSentenceError(none).sentence, /--password-file/);
  // --ask-password without a terminal says what to use instead.
  const tty = await runCli(['pki', 'init', 'enc3', '--encrypt', '--ask-password'], { cwd: tmp.dir });
  assert.equal(tty.code, 4);
  assert.match(oneSentenceError(tty).sentence, /needs a terminal/);
});

test('pki issue adds a client-only certificate from an encrypted CA', async () => {
  const e = join(tmp.dir, 'enc');
  const pw = join(tmp.dir, 'pw.txt');
  const r = await runCli(['pki', 'issue', 'modality1', '--dir', e, '--client-only', '--host', 'ct1.example.test', '--password-file', pw]);
  assert.equal(r.code, 0, r.stderr);
  const cert = join(e, 'modality1.pem');
  assert.ok(opensslOk(['verify', '-CAfile', join(e, 'ca.pem'), '-purpose', 'sslclient', cert]));
  assert.ok(!opensslOk(['verify', '-CAfile', join(e, 'ca.pem'), '-purpose', 'sslserver', cert]));
  assert.match(openssl(['x509', '-in', cert, '-noout', '-subject']), /CN = modality1/);
  // The CA key is encrypted: without the password the key cannot be read (exit 4).
  const bad = await runCli(['pki', 'issue', 'modality2', '--dir', e]);
  assert.equal(bad.code, 4);
  assert.equal(oneSentenceError(bad).code, 'DICOM_TLS_ERR_PRIVATE_KEY');
});

test('--ask-password prompts on a terminal without echoing what is typed', async (t) => {
  if (spawnSync('script', ['--version'], { stdio: 'ignore' }).status !== 0) { t.skip('util-linux script (a pseudo-terminal) is not installed'); return; }
  const { spawn } = await import('node:child_process');
  const { CLI } = await import('../helpers/cli.js');
  // `script` gives the CLI a pseudo-terminal; the password is typed only once the prompt shows (raw mode is on then).
  const child = spawn('script', ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} pki init tty --encrypt --ask-password`, '/dev/null'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let typed = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (!typed && out.includes('PKI password: ')) { typed = true; child.stdin.write('typed-secret\r'); }
  });
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 0, out);
  assert.ok(!out.includes('typed-secret'), `the password was echoed:\n${out}`);
  assert.ok(opensslOk(['pkey', '-in', join(tmp.dir, 'tty', 'client-key.pem'), '-passin', 'pass:typed-secret', '-noout']));
});
