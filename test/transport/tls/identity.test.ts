import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadIdentity, type PasswordCallback } from '../../../src/transport/tls/identity.js';
import { certificateString } from '../../../src/transport/tls/certificate-string.js';
import { x509ToDer } from '../../../src/transport/tls/openssl/x509.js';
import { drainErrors } from '../../../src/transport/tls/openssl/lib.js';
import {
  KeyMismatchError, UnableToReadCertificateError, UnableToReadPrivateKeyError,
} from '../../../src/transport/tls/x509-load-errors.js';
import { TestPki, openssl } from '../../helpers/x509-openssl.js';
import { X509Certificate } from 'node:crypto';
import { InvalidOptionError } from '../../../src/errors.js';

const pki = new TestPki();
after(() => pki.cleanup());

const ca = pki.ca('ca', '/CN=Identity CA');
const inter = pki.ca('inter', '/CN=Identity Intermediate', ca);
const leaf = pki.leaf('leaf', '/CN=node', inter);
const rsa = pki.cert('rsa', { subj: '/CN=rsa node', issuer: ca, keyType: 'rsa', ext: ['basicConstraints = CA:FALSE'] });
const PASS = 'correct horse';

// Every key format OpenSSL reads, made by the CLI.
const keys = {
  pem: leaf.key,
  pkcs8Encrypted: pki.path('leaf.p8.pem'),
  traditionalEncrypted: pki.path('rsa.trad.pem'),
  der: pki.path('leaf.key.der'),
  pkcs8EncryptedDer: pki.path('leaf.p8.der'),
};
openssl(['pkcs8', '-topk8', '-in', leaf.key, '-out', keys.pkcs8Encrypted, '-v2', 'aes-256-cbc', '-passout', `pass:${PASS}`]);
openssl(['rsa', '-in', rsa.key, '-out', keys.traditionalEncrypted, '-aes256', '-traditional', '-passout', `pass:${PASS}`]);
openssl(['pkey', '-in', leaf.key, '-outform', 'DER', '-out', keys.der]);
openssl(['pkcs8', '-topk8', '-in', leaf.key, '-outform', 'DER', '-out', keys.pkcs8EncryptedDer, '-v2', 'aes-256-cbc', '-passout', `pass:${PASS}`]);
const certDer = pki.path('leaf.der');
openssl(['x509', '-in', leaf.cert, '-outform', 'DER', '-out', certDer]);
const p12 = pki.path('leaf.p12');
openssl(['pkcs12', '-export', '-in', leaf.cert, '-inkey', leaf.key, '-certfile', inter.cert, '-out', p12, '-passout', `pass:${PASS}`]);
const p12Legacy = pki.path('leaf-legacy.p12');
openssl(['pkcs12', '-export', '-legacy', '-in', leaf.cert, '-inkey', leaf.key, '-out', p12Legacy, '-passout', `pass:${PASS}`]);
const p12NoPass = pki.path('leaf-nopass.p12');
openssl(['pkcs12', '-export', '-in', leaf.cert, '-inkey', leaf.key, '-out', p12NoPass, '-passout', 'pass:', '-keypbe', 'NONE', '-certpbe', 'NONE']);

function subjectOf(ptr: unknown): string {
  return certificateString(ptr).split('\n')[0]!;
}

function recorder(answer: string | Buffer | undefined): { cb: PasswordCallback; calls: Array<[number, boolean]> } {
  const calls: Array<[number, boolean]> = [];
  return { calls, cb: (max, writing) => { calls.push([max, writing]); return answer; } };
}

test('PEM cert + PEM key from files, with a chain, leaves no OpenSSL errors behind', () => {
  const id = loadIdentity({ cert: leaf.cert, key: leaf.key, chain: [inter.cert] });
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = node');
  assert.equal(id.chain.length, 1);
  assert.equal(subjectOf(id.chain[0]), 'Subject Name: CN = Identity Intermediate');
  assert.deepEqual(x509ToDer(id.cert), new X509Certificate(readFileSync(leaf.cert)).raw);
  id.free();
  id.free(); // idempotent
  assert.deepEqual(drainErrors(), []);
});

test('buffers work the same, and a PEM bundle gives leaf first then its chain', () => {
  const bundle = Buffer.concat([readFileSync(leaf.cert), readFileSync(inter.cert), readFileSync(ca.cert)]);
  const id = loadIdentity({ cert: bundle, key: readFileSync(leaf.key) });
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = node');
  assert.deepEqual(id.chain.map(subjectOf), ['Subject Name: CN = Identity Intermediate', 'Subject Name: CN = Identity CA']);
  id.free();
});

test('a combined PEM (key and certificate in one file) needs no separate key', () => {
  const combined = Buffer.concat([readFileSync(leaf.key), readFileSync(leaf.cert)]);
  const id = loadIdentity({ cert: combined });
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = node');
  id.free();
});

test('DER certificate and DER key are sniffed', () => {
  const id = loadIdentity({ cert: readFileSync(certDer), key: keys.der });
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = node');
  id.free();
});

for (const [name, keyPath] of [['PKCS#8 PEM', keys.pkcs8Encrypted], ['PKCS#8 DER', keys.pkcs8EncryptedDer]] as const) {
  test(`encrypted ${name}: the callback gets OpenSSL's buffer size and reading flag; right password loads`, () => {
    const r = recorder(PASS);
    const id = loadIdentity({ cert: leaf.cert, key: keyPath }, r.cb);
    assert.deepEqual(r.calls, [[1024, false]]);
    id.free();
  });

  test(`encrypted ${name}: wrong password → UnableToReadPrivateKeyError naming it`, () => {
    assert.throws(() => loadIdentity({ cert: leaf.cert, key: keyPath }, () => 'wrong'), (e: unknown) =>
      e instanceof UnableToReadPrivateKeyError && e.code === 'DICOM_TLS_ERR_PRIVATE_KEY' &&
      e.reason === 'wrong-password' && /wrong password/.test(e.message));
    assert.deepEqual(drainErrors(), []);
  });

  test(`encrypted ${name}: no password → missing-password, and never a terminal prompt`, () => {
    assert.throws(() => loadIdentity({ cert: leaf.cert, key: keyPath }), (e: unknown) =>
      e instanceof UnableToReadPrivateKeyError && e.reason === 'missing-password' && /no password/.test(e.message));
  });
}

test('traditional encrypted PEM (Proc-Type header) uses the password string option', () => {
  const id = loadIdentity({ cert: rsa.cert, key: keys.traditionalEncrypted, password: PASS }, () => { throw new Error('not asked'); });
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = rsa node');
  id.free();
});

test('a password callback that throws becomes the cause', () => {
  const boom = new Error('vault offline');
  assert.throws(() => loadIdentity({ cert: leaf.cert, key: keys.pkcs8Encrypted }, () => { throw boom; }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.cause === boom);
});

test('a password longer than OpenSSL\'s buffer is refused as too long, not truncated, for PEM, DER and PKCS#12 alike', () => {
  for (const id of [{ cert: leaf.cert, key: keys.pkcs8Encrypted }, { cert: rsa.cert, key: keys.traditionalEncrypted },
    { cert: leaf.cert, key: keys.pkcs8EncryptedDer }, { pkcs12: p12 }]) {
    const r = recorder('x'.repeat(1024));
    assert.throws(() => loadIdentity(id, r.cb), (e: unknown) => e instanceof UnableToReadPrivateKeyError
      && e.reason === 'password-too-long' && /is 1024 bytes; at most 1023 fit/.test(e.message), JSON.stringify(id));
    assert.deepEqual(r.calls, [[1024, false]], JSON.stringify(id));
  }
  // 1023 bytes plus the NUL fit: it is tried (and is wrong).
  assert.throws(() => loadIdentity({ pkcs12: p12 }, () => 'x'.repeat(1023)),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'wrong-password');
  assert.deepEqual(drainErrors(), []);
});

test('a failed read asks the password callback once (no password, a refused answer)', () => {
  for (const key of [keys.pkcs8Encrypted, keys.traditionalEncrypted, keys.pkcs8EncryptedDer]) {
    for (const answer of [undefined, 'wrong']) {
      const r = recorder(answer);
      assert.throws(() => loadIdentity({ cert: key === keys.traditionalEncrypted ? rsa.cert : leaf.cert, key }, r.cb), UnableToReadPrivateKeyError);
      assert.equal(r.calls.length, 1, `${key} ${String(answer)}`);
    }
  }
});

test('password callback answers that are not a string, a Buffer or undefined are refused, naming them', () => {
  for (const [answer, text] of [[Promise.resolve(PASS), /returned a Promise/], [42, /not number/], [null, /not null/], [true, /not boolean/]] as const) {
    for (const id of [{ cert: leaf.cert, key: keys.pkcs8Encrypted }, { pkcs12: p12 }]) {
      assert.throws(() => loadIdentity(id, () => answer as unknown as string), (e: unknown) => e instanceof UnableToReadPrivateKeyError
        && e.reason === 'missing-password' && e.cause instanceof InvalidOptionError && text.test(e.message), String(answer));
    }
  }
  assert.deepEqual(drainErrors(), []);
});

test('PKCS#12 with password: key, certificate and chain; wrong and missing password are named', () => {
  const r = recorder(PASS);
  const id = loadIdentity({ pkcs12: p12 }, r.cb);
  assert.deepEqual(r.calls, [[1024, false]]);
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = node');
  assert.deepEqual(id.chain.map(subjectOf), ['Subject Name: CN = Identity Intermediate']);
  id.free();
  assert.throws(() => loadIdentity({ pkcs12: readFileSync(p12), password: 'nope' }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'wrong-password');
  assert.throws(() => loadIdentity({ pkcs12: p12 }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'missing-password');
  assert.deepEqual(drainErrors(), []);
});

test('PKCS#12 without a password opens without asking', () => {
  const id = loadIdentity({ pkcs12: p12NoPass }, () => { throw new Error('not asked'); });
  assert.equal(subjectOf(id.cert), 'Subject Name: CN = node');
  id.free();
});

test('a key of another certificate → KeyMismatchError', () => {
  assert.throws(() => loadIdentity({ cert: leaf.cert, key: rsa.key }),
    (e: unknown) => e instanceof KeyMismatchError && e.code === 'DICOM_TLS_ERR_KEY_MISMATCH');
  assert.deepEqual(drainErrors(), []);
});

test('unreadable certificate and key sources give typed errors', () => {
  assert.throws(() => loadIdentity({ cert: pki.path('missing.pem'), key: leaf.key }),
    (e: unknown) => e instanceof UnableToReadCertificateError && e.code === 'DICOM_TLS_ERR_CERTIFICATE');
  assert.throws(() => loadIdentity({ cert: Buffer.from('garbage'), key: leaf.key }),
    (e: unknown) => e instanceof UnableToReadCertificateError);
  assert.throws(() => loadIdentity({ cert: leaf.cert, key: Buffer.from('garbage') }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'not-a-key');
  assert.throws(() => loadIdentity({ cert: leaf.cert, key: pki.path('missing.key') }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'unreadable');
  assert.throws(() => loadIdentity({ pkcs12: Buffer.from('garbage') }),
    (e: unknown) => e instanceof UnableToReadCertificateError);
  assert.deepEqual(drainErrors(), []);
});

test('a legacy (RC2/3DES) PKCS#12 is named as such, with the way out', () => {
  assert.throws(() => loadIdentity({ pkcs12: p12Legacy, password: PASS }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && /legacy cipher/.test(e.message));
  assert.deepEqual(drainErrors(), []);
});

test('the password callback may answer a Buffer', () => {
  const id = loadIdentity({ cert: leaf.cert, key: keys.pkcs8Encrypted }, () => Buffer.from(PASS));
  id.free();
});

test('traditional encrypted PEM: wrong password is named, and the callback sees OpenSSL\'s buffer size', () => {
  const r = recorder('wrong');
  assert.throws(() => loadIdentity({ cert: rsa.cert, key: keys.traditionalEncrypted }, r.cb),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'wrong-password');
  assert.equal(r.calls[0]![0], 1024);
  assert.equal(r.calls[0]![1], false);
  assert.deepEqual(drainErrors(), []);
});

test('cert/key together with pkcs12 is refused naming the option', () => {
  assert.throws(() => loadIdentity({ pkcs12: p12, cert: leaf.cert, password: PASS }),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'identity');
});
