import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509_V_ERR_NAMES, X509VerifyError, x509ErrorHint, x509ErrorName, x509ErrorText } from '../../../src/transport/tls/x509-errors.js';
import { TestPki, opensslStatus } from '../../helpers/x509-openssl.js';

test('the table holds every OpenSSL 3.0 code 0..94 exactly once', () => {
  for (let code = 0; code <= 94; code++) assert.match(x509ErrorName(code), /^X509_V_(OK|ERR_[A-Z0-9_]+)$/, String(code));
  assert.equal(new Set(Object.values(X509_V_ERR_NAMES)).size, 95);
  assert.equal(x509ErrorName(26), 'X509_V_ERR_INVALID_PURPOSE');
  assert.equal(x509ErrorName(3), 'X509_V_ERR_UNABLE_TO_GET_CRL');
  assert.equal(X509VerifyError['X509_V_ERR_CERT_REVOKED'], 23);
  assert.equal(x509ErrorName(9999), 'X509_V_ERR_UNKNOWN_9999');
});

test('texts are OpenSSL\'s own', () => {
  assert.equal(x509ErrorText(0), 'ok');
  assert.equal(x509ErrorText(26), 'unsuitable certificate purpose');
  assert.equal(x509ErrorText(3), 'unable to get certificate CRL');
  assert.equal(x509ErrorText(20), 'unable to get local issuer certificate');
});

test('hints exist for the common deployment errors and speak plainly', () => {
  for (const code of [2, 3, 9, 10, 18, 19, 20, 21, 23, 26, 37, 62, 64, 79]) assert.ok(x509ErrorHint(code), String(code));
  assert.match(x509ErrorHint(26)!, /serverAuth\/clientAuth/);
  assert.equal(x509ErrorHint(0), undefined);
});

const pki = new TestPki();
after(() => pki.cleanup());

test('code and text equal what `openssl verify` prints for real failures', () => {
  const root = pki.ca('root', '/CN=Errors Root');
  const other = pki.ca('other', '/CN=Errors Other');
  const leaf = pki.leaf('leaf', '/CN=leaf', root, 'emailProtection');
  const self = pki.cert('self', { subj: '/CN=self', ext: [] });
  const runs = [
    ['-CAfile', other.cert, leaf.cert],
    ['-CAfile', root.cert, '-purpose', 'sslclient', leaf.cert],
    ['-CAfile', root.cert, '-crl_check', leaf.cert],
    ['-CAfile', root.cert, self.cert],
  ];
  const seen: number[] = [];
  for (const args of runs) {
    const { out } = opensslStatus(['verify', ...args]);
    const m = /error (\d+) at \d+ depth lookup: (.*)/.exec(out);
    assert.ok(m, out);
    const code = Number(m[1]);
    seen.push(code);
    assert.equal(x509ErrorText(code), m[2]);
  }
  assert.deepEqual(seen, [20, 26, 3, 18]);
});
