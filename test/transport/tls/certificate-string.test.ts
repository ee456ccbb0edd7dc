import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { certificateString, certificateStringFromDer } from '../../../src/transport/tls/certificate-string.js';
import { X509_free, x509FromDer } from '../../../src/transport/tls/openssl/x509.js';
import { UnableToReadCertificateError } from '../../../src/transport/tls/x509-load-errors.js';
import { TestPki, certificateStringFromCli, linkedOpenSslVersion, purposeNames } from '../../helpers/x509-openssl.js';

const pki = new TestPki();
after(() => pki.cleanup());

/** What the openssl command prints for the same certificate, turned into the seeds' lines. */
const expectedFromCli = certificateStringFromCli;

function derOf(path: string): Buffer {
  return new X509Certificate(readFileSync(path)).raw;
}

const ca = pki.ca('ca', '/CN=LEAD CA/L=Charlotte/ST=North Carolina/C=US/emailAddress=support@example.com/O=LEAD Technologies, Inc.');
const cases: Record<string, string> = {
  'CA': ca.cert,
  'leaf with serverAuth+clientAuth': pki.leaf('leaf', '/CN=Test Server/C=US/ST=Nebraska', ca).cert,
  'emailProtection-only EKU (the seeds INVALID_PURPOSE example)':
    pki.leaf('email', '/CN=Test Client/C=US/ST=Nebraska/L=Omaha/O=Test Client Organization', ca, 'emailProtection').cert,
  'long serial (20 bytes, high bit set)': pki.cert('longserial', {
    subj: '/CN=Long Serial', issuer: ca, serial: '0xae8a75375603c445ae8a75375603c445ae8a7537', ext: ['basicConstraints = CA:FALSE'],
  }).cert,
  'short serial': pki.cert('shortserial', { subj: '/CN=Short', issuer: ca, serial: '1', ext: [] }).cert,
  'UTF-8 subject': pki.cert('utf8', { subj: '/CN=Müller Ærø 東京/O=Krankenhaus Zürich', issuer: ca, utf8: true, ext: [] }).cert,
  'multi-valued RDN': pki.cert('multi', { subj: '/CN=Multi+UID=42/O=Org/OU=A+OU=B', issuer: ca, multivalue: true, ext: [] }).cert,
  'X.509 v1 self-signed (purposes answer "Yes (WARNING code=3)")': pki.cert('v1', { subj: '/CN=Version One', v1: true }).cert,
  'RSA self-signed without extensions': pki.cert('rsa', { subj: '/CN=Self', keyType: 'rsa', ext: [] }).cert,
  // The purpose OpenSSL 3.2 added ("Code signing"): each condition of its leaf check once.
  'code-signing leaf': pki.cert('codesign', { subj: '/CN=Signer', issuer: ca, ext: codeSign() }).cert,
  'code-signing leaf whose keyUsage is not critical': pki.cert('codesign-kunc', {
    subj: '/CN=Signer', issuer: ca, ext: codeSign({ ku: 'keyUsage = digitalSignature' }) }).cert,
  'code-signing leaf that may also sign certificates': pki.cert('codesign-kucs', {
    subj: '/CN=Signer', issuer: ca, ext: codeSign({ ku: 'keyUsage = critical, digitalSignature, keyCertSign' }) }).cert,
  'code-signing leaf that is also a TLS server': pki.cert('codesign-server', {
    subj: '/CN=Signer', issuer: ca, ext: codeSign({ eku: 'extendedKeyUsage = codeSigning, serverAuth' }) }).cert,
  'code-signing leaf with anyExtendedKeyUsage': pki.cert('codesign-any', {
    subj: '/CN=Signer', issuer: ca, ext: codeSign({ eku: 'extendedKeyUsage = codeSigning, anyExtendedKeyUsage' }) }).cert,
};

function codeSign(o: { ku?: string; eku?: string } = {}): string[] {
  return ['basicConstraints = CA:FALSE', o.ku ?? 'keyUsage = critical, digitalSignature',
    o.eku ?? 'extendedKeyUsage = codeSigning'];
}

for (const [name, path] of Object.entries(cases)) {
  test(`certificate string equals the openssl command line for line: ${name}`, () => {
    const actual = certificateStringFromDer(derOf(path)).split('\n');
    assert.deepEqual(actual, expectedFromCli(path));
  });
}

test('the purposes block is the linked OpenSSL\'s table, including the purposes the openssl command lacks', () => {
  // The oracle must not be vacuous: with a linked OpenSSL >= 3.2, "Code signing" answers Yes for
  // a proper code-signing leaf and for a CA, whatever the openssl command's version.
  const names = purposeNames(linkedOpenSslVersion);
  const codeSigning = names.includes('Code signing');
  const [major, minor] = linkedOpenSslVersion.split('.').map(Number) as [number, number];
  assert.equal(codeSigning, major > 3 || minor >= 2);
  const signer = certificateStringFromDer(derOf(cases['code-signing leaf']!));
  const caString = certificateStringFromDer(derOf(ca.cert));
  for (const s of [signer, caString]) {
    assert.equal(s.split('\n').filter((l) => / : /.test(l)).length, names.length * 2);
  }
  if (codeSigning) {
    assert.match(signer, /^ {3}Code signing : Yes$/m);
    assert.match(caString, /^ {3}Code signing CA : Yes$/m);
    assert.match(certificateStringFromDer(derOf(cases['code-signing leaf that is also a TLS server']!)), /^ {3}Code signing : No$/m);
  }
});

test('the emailProtection-only leaf shows No for SSL client and SSL server, as in the seeds', () => {
  const s = certificateStringFromDer(derOf(cases['emailProtection-only EKU (the seeds INVALID_PURPOSE example)']!));
  assert.match(s, /^Subject Name: CN = Test Client, C = US, ST = Nebraska, L = Omaha, O = Test Client Organization$/m);
  assert.match(s, /^Basic Constraints:Not a CA \(Certificate Authority\)$/m);
  assert.match(s, /^ {3}SSL client : No$/m);
  assert.match(s, /^ {3}SSL server : No$/m);
  assert.match(s, /^ {3}S\/MIME signing : Yes$/m);
});

test('the issuer name quotes the comma in "LEAD Technologies, Inc." like the seeds', () => {
  const s = certificateStringFromDer(derOf(ca.cert));
  assert.match(s, /^Issuer Name: CN = LEAD CA, L = Charlotte, ST = North Carolina, C = US, emailAddress = support@example.com, O = "LEAD Technologies, Inc."$/m);
});

test('certificateString on a pointer equals the DER form and does not free the pointer', () => {
  const der = derOf(ca.cert);
  const x = x509FromDer(der);
  assert.equal(certificateString(x), certificateStringFromDer(der));
  assert.equal(certificateString(x), certificateStringFromDer(der));
  X509_free(x);
});

test('bytes that are not a certificate give UnableToReadCertificateError', () => {
  assert.throws(() => certificateStringFromDer(Buffer.from('not a certificate')),
    (e: unknown) => e instanceof UnableToReadCertificateError && e.code === 'DICOM_TLS_ERR_CERTIFICATE');
});

test('a v1 certificate shows OpenSSL\'s "Yes (WARNING code=3)" purpose answers', () => {
  const s = certificateStringFromDer(derOf(cases['X.509 v1 self-signed (purposes answer "Yes (WARNING code=3)")']!));
  assert.match(s, /^ {3}CRL signing CA : Yes \(WARNING code=3\)$/m);
});
