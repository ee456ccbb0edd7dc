import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { scenarioPki, PKI_PASSWORD } from './pki.js';

/** `openssl verify` error number for a certificate (0 = OK). */
function verify(cert: string, extra: string[] = []): number {
  const pki = scenarioPki();
  try {
    execFileSync('openssl', ['verify', '-CAfile', pki.trustRoot, ...extra, cert], { stdio: 'pipe' });
    return 0;
  } catch (e) {
    const out = e as { stdout: Buffer; stderr: Buffer };
    const m = /error (\d+) at/.exec(String(out.stdout) + String(out.stderr));
    return m === null ? -1 : Number(m[1]);
  }
}

test('every scenario certificate fails `openssl verify` for exactly its reason', () => {
  const p = scenarioPki();
  const untrusted = (f: string): string[] => ['-untrusted', f];
  assert.equal(verify(p.valid.cert), 0);
  assert.equal(verify(p.chain.cert, untrusted(p.intermediate.cert)), 0);
  assert.equal(verify(p.missingIntermediate.cert), 20);
  assert.equal(verify(p.expired.cert), 10);
  assert.equal(verify(p.notYetValid.cert), 9);
  assert.equal(verify(p.wrongPurpose.cert, ['-purpose', 'sslserver']), 26);
  assert.equal(verify(p.wrongPurpose.cert), 0, 'only the purpose is wrong');
  assert.equal(verify(p.selfSigned.cert), 18);
  assert.equal(verify(p.unknownCaLeaf.cert), 20);
  assert.equal(verify(p.notCaIntermediate.cert, untrusted(p.notCaIntermediate.fullchain)), 79 /* X509_V_ERR_INVALID_CA in 3.0 */);
  assert.equal(verify(p.revoked.cert, ['-CRLfile', p.root.crl, '-crl_check']), 23);
  assert.equal(verify(p.revoked.cert), 0, 'revocation is only visible with the CRL');
  assert.equal(verify(p.chain.cert, [...untrusted(p.intermediate.cert), '-CRLfile', p.root.crl, '-crl_check']), 3);
  assert.equal(verify(p.chain.cert, [...untrusted(p.intermediate.cert), '-CRLfile', p.crlAll, '-crl_check_all']), 0);
  assert.equal(verify(p.hostMismatch.cert, ['-verify_hostname', 'localhost']), 62);
  assert.equal(verify(p.valid.cert, ['-verify_hostname', 'localhost']), 0);
  assert.equal(verify(p.valid.cert, ['-verify_ip', '127.0.0.1']), 0);
  assert.equal(verify(p.clientB.cert), 20);
});

test('encrypted keys and the PKCS#12 open with the password only', () => {
  const p = scenarioPki();
  for (const f of [p.encryptedKeyTraditional, p.encryptedKeyPkcs8]) {
    execFileSync('openssl', ['pkey', '-in', f, '-passin', `pass:${PKI_PASSWORD}`, '-noout'], { stdio: 'pipe' });
    assert.throws(() => execFileSync('openssl', ['pkey', '-in', f, '-passin', 'pass:wrong', '-noout'], { stdio: 'pipe' }));
  }
  execFileSync('openssl', ['pkcs12', '-in', p.pkcs12, '-passin', `pass:${PKI_PASSWORD}`, '-noout'], { stdio: 'pipe' });
  assert.throws(() => execFileSync('openssl', ['pkcs12', '-in', p.pkcs12, '-passin', 'pass:wrong', '-noout'], { stdio: 'pipe' }));
  assert.match(execFileSync('head', ['-2', p.encryptedKeyTraditional], { encoding: 'utf8' }), /Proc-Type: 4,ENCRYPTED/);
  assert.match(execFileSync('head', ['-1', p.encryptedKeyPkcs8], { encoding: 'utf8' }), /BEGIN ENCRYPTED PRIVATE KEY/);
  assert.ok(existsSync(p.validDer));
});
