import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { certificateStringFromDer } from '../../../src/transport/tls/certificate-string.js';
import { loadIdentity } from '../../../src/transport/tls/identity.js';
import { configureTrust } from '../../../src/transport/tls/trust.js';
import { X509_STORE_free, X509_STORE_new } from '../../../src/transport/tls/openssl/x509.js';
import { drainErrors } from '../../../src/transport/tls/openssl/lib.js';
import { DicomError } from '../../../src/errors.js';
import { TestPki } from '../../helpers/x509-openssl.js';

const pki = new TestPki();
after(() => pki.cleanup());
const ca = pki.ca('ca', '/CN=Fuzz CA');
const leaf = pki.leaf('leaf', '/CN=fuzz', ca);
const der = new X509Certificate(readFileSync(leaf.cert)).raw;
const crl = readFileSync(pki.crl('ca', ca, [leaf]));
const keyPem = readFileSync(leaf.key);

/** Flip, overwrite or truncate: the kinds of damage a wire or a disk does. */
const damaged = (good: Buffer) => fc.record({
  edits: fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  cut: fc.option(fc.nat({ max: good.length }), { nil: undefined }),
}).map(({ edits, cut }) => {
  const b = Buffer.from(good);
  for (const [i, v] of edits) b[i] = v;
  return cut === undefined ? b : b.subarray(0, cut);
});

const pemOf = (label: string, body: Buffer) =>
  Buffer.from(`-----BEGIN ${label}-----\n${body.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`);

function onlyTypedErrors(run: () => void, codes: string[]): void {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof DicomError, `untyped error: ${String(e)}`);
    assert.ok(codes.includes(e.code), e.code);
  }
  assert.deepEqual(drainErrors(), []);
}

test('certificateStringFromDer: any bytes give a string or UnableToReadCertificateError, never a crash', () => {
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)), damaged(der)), (bytes) => {
    onlyTypedErrors(() => { certificateStringFromDer(bytes); }, ['DICOM_TLS_ERR_CERTIFICATE']);
  }), { numRuns: 400 });
});

test('loadIdentity: damaged certificates and keys (PEM and DER) give only typed errors', () => {
  fc.assert(fc.property(damaged(der), damaged(keyPem), fc.boolean(), (cert, key, armour) => {
    onlyTypedErrors(() => loadIdentity({ cert: armour ? pemOf('CERTIFICATE', cert) : cert, key }).free(),
      ['DICOM_TLS_ERR_CERTIFICATE', 'DICOM_TLS_ERR_PRIVATE_KEY', 'DICOM_TLS_ERR_KEY_MISMATCH']);
  }), { numRuns: 200 });
});

test('loadIdentity: random PKCS#12 bytes give only typed errors', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
    onlyTypedErrors(() => loadIdentity({ pkcs12: Buffer.from(bytes), password: 'x' }).free(),
      ['DICOM_TLS_ERR_CERTIFICATE', 'DICOM_TLS_ERR_PRIVATE_KEY', 'DICOM_TLS_ERR_KEY_MISMATCH']);
  }), { numRuns: 200 });
});

test('configureTrust: damaged CA and CRL bytes give only TrustStoreError', () => {
  const store = X509_STORE_new();
  try {
    fc.assert(fc.property(damaged(der), damaged(crl), fc.boolean(), (caBytes, crlBytes, armour) => {
      onlyTypedErrors(() => configureTrust(store, {
        ca: [armour ? pemOf('CERTIFICATE', caBytes) : caBytes], crl: [armour ? pemOf('X509 CRL', crlBytes) : crlBytes],
      }), ['DICOM_TLS_ERR_TRUST']);
    }), { numRuns: 200 });
  } finally {
    X509_STORE_free(store);
  }
});
