import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import {
  createCertificateAuthority, createCrl, createNodeCertificate, writePkcs12,
} from '../../../src/transport/tls/pki.js';
import { loadIdentity } from '../../../src/transport/tls/identity.js';
import { configureTrust, verifyWithStore } from '../../../src/transport/tls/trust.js';
import { X509_STORE_free, X509_STORE_new } from '../../../src/transport/tls/openssl/x509.js';
import { drainErrors } from '../../../src/transport/tls/openssl/lib.js';
import { InvalidOptionError } from '../../../src/errors.js';
import { PkiError, UnableToReadPrivateKeyError } from '../../../src/transport/tls/x509-load-errors.js';
import { TestPki, openssl, opensslStatus } from '../../helpers/x509-openssl.js';

const tmp = new TestPki();
after(() => tmp.cleanup());

const ca = createCertificateAuthority({ subject: '/CN=Dev CA/O=Hospital Zürich', days: 30 });
const ecNode = createNodeCertificate(ca, {
  commonName: 'pacs.local', subject: [['O', 'Hospital']], dnsNames: ['pacs.local', 'localhost'],
  ipAddresses: ['127.0.0.1', '::1'], days: 10,
});
const rsaCa = createCertificateAuthority({ subject: [['CN', 'RSA CA']], keyType: 'rsa', days: 30, keyPassword: 'ca-secret' });
const rsaNode = createNodeCertificate({ ...rsaCa, keyPassword: 'ca-secret' }, { commonName: 'rsa node', keyType: 'rsa' });

const caPath = tmp.write('ca.pem', ca.certPem);
const rsaCaPath = tmp.write('rsaca.pem', rsaCa.certPem);

for (const [name, node, root] of [['EC P-256', ecNode, caPath], ['RSA 2048 (CA key encrypted)', rsaNode, rsaCaPath]] as const) {
  test(`${name}: openssl verify accepts the chain for SSL server and client, strictly`, () => {
    const leaf = tmp.write(`${name.slice(0, 2)}-leaf.pem`, node.certPem);
    for (const purpose of ['sslserver', 'sslclient']) {
      assert.equal(openssl(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', root, leaf]).trim(), `${leaf}: OK`);
    }
    const purposes = openssl(['x509', '-in', leaf, '-noout', '-purpose']);
    assert.match(purposes, /^SSL client : Yes$/m);
    assert.match(purposes, /^SSL server : Yes$/m);
    assert.match(purposes, /^SSL server CA : No$/m);
    const caPurposes = openssl(['x509', '-in', root, '-noout', '-purpose']);
    assert.match(caPurposes, /^SSL server CA : Yes$/m);
  });
}

test('the node certificate carries the requested names and identifiers', () => {
  const leaf = tmp.write('ec-text.pem', ecNode.certPem);
  const text = openssl(['x509', '-in', leaf, '-noout', '-text', '-nameopt', 'utf8,sep_comma_plus_space,space_eq']);
  assert.match(text, /Subject: CN = pacs\.local, O = Hospital/);
  assert.match(text, /Issuer: CN = Dev CA, O = Hospital Zürich/);
  assert.match(text, /DNS:pacs\.local, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
  assert.match(text, /X509v3 Subject Key Identifier/);
  assert.match(text, /X509v3 Authority Key Identifier/);
  assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(ecNode.description, /^Basic Constraints:Not a CA \(Certificate Authority\)$/m);
  assert.match(ca.description, /^Basic Constraints:CA \(Certificate Authority\)$/m);
  const dates = openssl(['x509', '-in', leaf, '-noout', '-startdate', '-enddate']);
  const [, start, end] = /notBefore=(.*)\nnotAfter=(.*)/.exec(dates)!;
  const days = (Date.parse(end!) - Date.parse(start!)) / 86400_000;
  assert.ok(Math.abs(days - 10) < 0.01, String(days)); // 10 days plus the 5 minute backdate
});

test('our own store verifies the chain, including host name and IP checks', () => {
  const store = X509_STORE_new();
  const id = loadIdentity({ cert: Buffer.from(ecNode.certPem), key: Buffer.from(ecNode.keyPem) });
  try {
    configureTrust(store, { ca: [Buffer.from(ca.certPem)] });
    for (const host of ['pacs.local', 'localhost', '127.0.0.1', '::1']) {
      assert.equal(verifyWithStore(store, id.cert, [], { purpose: 'sslServer', host }).ok, true, host);
    }
    assert.equal(verifyWithStore(store, id.cert, [], { host: 'other.local' }).errorName, 'X509_V_ERR_HOSTNAME_MISMATCH');
    assert.equal(verifyWithStore(store, id.cert, [], { host: '10.0.0.1' }).errorName, 'X509_V_ERR_IP_ADDRESS_MISMATCH');
  } finally {
    id.free();
    X509_STORE_free(store);
  }
});

test('serverAuth only: openssl says SSL client : No', () => {
  const only = createNodeCertificate(ca, { commonName: 'server only', clientAuth: false });
  const purposes = openssl(['x509', '-noout', '-purpose'], only.certPem);
  assert.match(purposes, /^SSL client : No$/m);
  assert.match(purposes, /^SSL server : Yes$/m);
});

test('an encrypted key opens with openssl pkey -passin and with loadIdentity, not with a wrong password', () => {
  const calls: boolean[] = [];
  const node = createNodeCertificate(ca, {
    commonName: 'encrypted', keyPassword: (max, writing) => { calls.push(writing); assert.equal(max, 1024); return 'k3y pass'; },
  });
  assert.deepEqual(calls, [true]); // the seeds' callback, called for writing
  assert.match(node.keyPem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  const keyPath = tmp.write('enc.key', node.keyPem);
  const info = openssl(['pkcs8', '-in', keyPath, '-passin', 'pass:k3y pass', '-topk8', '-nocrypt']);
  assert.match(info, /BEGIN PRIVATE KEY/);
  assert.notEqual(opensslStatus(['pkey', '-in', keyPath, '-passin', 'pass:wrong', '-noout']).status, 0);
  const asn1 = openssl(['asn1parse', '-in', keyPath]);
  assert.match(asn1, /aes-256-cbc/);
  loadIdentity({ cert: Buffer.from(node.certPem), key: Buffer.from(node.keyPem), password: 'k3y pass' }).free();
  assert.throws(() => loadIdentity({ cert: Buffer.from(node.certPem), key: Buffer.from(node.keyPem), password: 'nope' }),
    UnableToReadPrivateKeyError);
});

test('PKCS#12 opens with openssl pkcs12 and round-trips through loadIdentity', () => {
  const p12 = writePkcs12({ certPem: rsaNode.certPem, keyPem: rsaNode.keyPem, chainPem: [rsaCa.certPem],
    password: 'p12 pass', friendlyName: 'rsa node' });
  const path = tmp.path('node.p12');
  writeFileSync(path, p12);
  const out = openssl(['pkcs12', '-in', path, '-passin', 'pass:p12 pass', '-nodes']);
  assert.match(out, /friendlyName: rsa node/);
  assert.match(out, /subject=CN = rsa node/);
  assert.match(out, /subject=CN = RSA CA/);
  assert.match(out, /BEGIN PRIVATE KEY/);
  assert.notEqual(opensslStatus(['pkcs12', '-in', path, '-passin', 'pass:bad', '-noout']).status, 0);
  const id = loadIdentity({ pkcs12: readFileSync(path), password: 'p12 pass' });
  assert.equal(id.chain.length, 1);
  id.free();
  assert.deepEqual(drainErrors(), []);
});

test('PKCS#12 algorithms are the same on OpenSSL 3.0 and 3.5: PBES2/PBKDF2 AES-256-CBC bags, an HMAC-SHA256 MAC', () => {
  // writePkcs12 takes the linked OpenSSL's defaults (PKCS12_create with 0s); 3.0 and 3.5 agree
  // on them, and an OpenSSL 3.0 reader (the openssl command here) opens the result without the
  // legacy provider. A future default a 3.0 peer cannot read would fail here.
  const path = tmp.write('algorithms.p12', writePkcs12({ certPem: ecNode.certPem, keyPem: ecNode.keyPem, chainPem: [ca.certPem], password: 'pw' }));
  // `-info` writes the algorithms on stderr.
  const r = spawnSync('openssl', ['pkcs12', '-in', path, '-passin', 'pass:pw', '-info', '-noout'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const info = `${r.stdout}${r.stderr}`;
  assert.match(info, /^MAC: sha256, Iteration \d+$/m);
  assert.match(info, /^PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration \d+, PRF hmacWithSHA256$/m);
  assert.match(info, /^Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration \d+, PRF hmacWithSHA256$/m);
});

test('invalid options are refused naming the option', () => {
  assert.throws(() => createNodeCertificate(ca, { commonName: '' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'commonName');
  assert.throws(() => createNodeCertificate(ca, { commonName: 'x', ipAddresses: ['999.1.1.1'] }),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'ipAddresses');
  assert.throws(() => createNodeCertificate(ca, { commonName: 'x', dnsNames: ['bad name'] }),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'dnsNames');
  assert.throws(() => createNodeCertificate(ca, { commonName: 'x', serverAuth: false, clientAuth: false }), InvalidOptionError);
  assert.throws(() => createCertificateAuthority({ subject: '/CN=x', days: 0 }), InvalidOptionError);
  assert.throws(() => createCertificateAuthority({ subject: '/NOPE' }), InvalidOptionError);
  assert.throws(() => createCertificateAuthority({ subject: '/CN=x/NOTAFIELD=y' }), /NOTAFIELD=y/);
  assert.throws(() => createNodeCertificate({ certPem: ca.certPem, keyPem: rsaCa.keyPem, keyPassword: 'ca-secret' }, { commonName: 'x' }),
    (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'DICOM_TLS_ERR_KEY_MISMATCH');
  assert.deepEqual(drainErrors(), []);
  assert.throws(() => createCertificateAuthority({ subject: '/CN=x', keyPassword: () => undefined }),
    (e: unknown) => e instanceof PkiError && /gave no password/.test(e.message));
  assert.throws(() => createCertificateAuthority({ subject: '/CN=x', keyPassword: () => { throw new Error('no vault'); } }),
    (e: unknown) => e instanceof PkiError && /no vault/.test(e.message));
  assert.deepEqual(drainErrors(), []);
});

test('createCrl: openssl verifies its signature and reports the listed certificate as revoked', () => {
  const good = createNodeCertificate(ca, { commonName: 'still good' });
  const bad = createNodeCertificate(ca, { commonName: 'revoked one' });
  const crlPem = createCrl(ca, { revoked: [bad.certPem], crlNumber: 7, days: 3 });
  const crlPath = tmp.write('dev.crl.pem', crlPem);
  const info = openssl(['crl', '-in', crlPath, '-CAfile', caPath, '-noout', '-text']);
  assert.match(info, /X509v3 CRL Number: \n\s+7/);
  assert.match(info, /X509v3 Authority Key Identifier/);
  assert.match(info, /Version 2 \(0x1\)/);
  // `openssl crl -CAfile` checks the CRL's signature and says so on stderr.
  const check = spawnSync('openssl', ['crl', '-in', crlPath, '-CAfile', caPath, '-noout'], { encoding: 'utf8' });
  assert.equal(check.status, 0);
  assert.match(check.stderr, /verify OK/);
  const badPath = tmp.write('revoked-one.pem', bad.certPem);
  const goodPath = tmp.write('still-good.pem', good.certPem);
  const verdict = (p: string) => opensslStatus(['verify', '-crl_check', '-CAfile', caPath, '-CRLfile', crlPath, p]).out;
  assert.match(verdict(badPath), /error 23 at 0 depth lookup: certificate revoked/);
  assert.match(verdict(goodPath), /: OK/);
  // And our own store agrees.
  const store = X509_STORE_new();
  const id = loadIdentity({ cert: Buffer.from(bad.certPem), key: Buffer.from(bad.keyPem) });
  try {
    configureTrust(store, { ca: [Buffer.from(ca.certPem)], crl: [Buffer.from(crlPem)] });
    assert.equal(verifyWithStore(store, id.cert).errorName, 'X509_V_ERR_CERT_REVOKED');
  } finally {
    id.free();
    X509_STORE_free(store);
  }
  assert.throws(() => createCrl(ca, { revoked: ['not a certificate'] }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'revoked');
  assert.deepEqual(drainErrors(), []);
});
