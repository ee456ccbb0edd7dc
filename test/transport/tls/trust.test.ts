import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { configureTrust, verifyWithStore, type TrustOptions } from '../../../src/transport/tls/trust.js';
import { X509_STORE_free, X509_STORE_new, X509_free, type Ptr } from '../../../src/transport/tls/openssl/x509.js';
import { readCertificates } from '../../../src/transport/tls/x509-sources.js';
import { drainErrors } from '../../../src/transport/tls/openssl/lib.js';
import { TrustStoreError } from '../../../src/transport/tls/x509-load-errors.js';
import { TestPki, opensslStatus, type CertFiles } from '../../helpers/x509-openssl.js';

const pki = new TestPki();
after(() => pki.cleanup());

const root = pki.ca('root', '/CN=Trust Root');
const inter = pki.ca('inter', '/CN=Trust Intermediate', root);
const leaf = pki.leaf('leaf', '/CN=localhost', inter);
const revoked = pki.leaf('revoked', '/CN=revoked node', inter);
const otherRoot = pki.ca('other', '/CN=Other Root');
const emailOnly = pki.leaf('email', '/CN=Test Client', inter, 'emailProtection');
const selfSigned = pki.cert('self', { subj: '/CN=self', ext: ['basicConstraints = CA:FALSE'] });
const notCa = pki.cert('notca', { subj: '/CN=Not A CA', issuer: root, ext: ['basicConstraints = CA:FALSE'] });
const underNotCa = pki.leaf('undernotca', '/CN=under not ca', notCa);
const expired = pki.cert('expired', { subj: '/CN=expired', issuer: inter, ext: ['basicConstraints = CA:FALSE'],
  notBefore: '20200101000000Z', notAfter: '20210101000000Z' });
const future = pki.cert('future', { subj: '/CN=future', issuer: inter, ext: ['basicConstraints = CA:FALSE'],
  notBefore: '20900101000000Z', notAfter: '20910101000000Z' });
const interCrl = pki.crl('inter', inter, [revoked]);
const interCrlDer = pki.crl('interder', inter, [revoked], 'DER');
const rootCrl = pki.crl('root', root, []);

function certsOf(path: string): Ptr[] {
  return readCertificates(readFileSync(path)).certs;
}

/** Our verdict: configureTrust on a fresh store, then X509_verify_cert. */
function ours(trust: TrustOptions, target: CertFiles, untrusted: CertFiles[], opts: { purpose?: 'sslServer'; host?: string } = {}) {
  const store = X509_STORE_new();
  const [x] = certsOf(target.cert);
  const chain = untrusted.flatMap((u) => certsOf(u.cert));
  try {
    configureTrust(store, trust);
    const r = verifyWithStore(store, x, chain, opts);
    return r.ok ? 'OK' : `error ${r.error} at ${r.depth}`;
  } finally {
    X509_free(x);
    for (const c of chain) X509_free(c);
    X509_STORE_free(store);
  }
}

/** `openssl verify`'s verdict: its first "error N at D depth lookup" line, or OK. */
function theirs(args: string[], target: CertFiles): string {
  const { status, out } = opensslStatus(['verify', ...args, target.cert]);
  const m = /error (\d+) at (\d+) depth lookup/.exec(out);
  if (m) return `error ${m[1]} at ${m[2]}`;
  assert.equal(status, 0, out);
  return 'OK';
}

interface Case { name: string; trust: TrustOptions; target: CertFiles; untrusted?: CertFiles[]; cli: string[];
  purpose?: 'sslServer'; host?: string; expect: string }
const cases: Case[] = [
  { name: 'valid chain with intermediate', trust: { ca: [root.cert] }, target: leaf, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert], expect: 'OK' },
  { name: 'missing intermediate', trust: { ca: [root.cert] }, target: leaf, cli: ['-CAfile', root.cert], expect: 'error 20 at 0' },
  { name: 'unknown CA', trust: { ca: [otherRoot.cert] }, target: leaf, untrusted: [inter],
    cli: ['-CAfile', otherRoot.cert, '-untrusted', inter.cert], expect: 'error 20 at 1' },
  { name: 'expired', trust: { ca: [root.cert] }, target: expired, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert], expect: 'error 10 at 0' },
  { name: 'not yet valid', trust: { ca: [root.cert] }, target: future, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert], expect: 'error 9 at 0' },
  { name: 'self-signed leaf', trust: { ca: [root.cert] }, target: selfSigned,
    cli: ['-CAfile', root.cert], expect: 'error 18 at 0' },
  { name: 'intermediate that is not a CA', trust: { ca: [root.cert] }, target: underNotCa, untrusted: [notCa],
    cli: ['-CAfile', root.cert, '-untrusted', notCa.cert], expect: 'error 79 at 1' },
  { name: 'wrong purpose (emailProtection only) as a TLS server', trust: { ca: [root.cert] }, target: emailOnly,
    untrusted: [inter], purpose: 'sslServer', cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-purpose', 'sslserver'],
    expect: 'error 26 at 0' },
  { name: 'host name mismatch', trust: { ca: [root.cert] }, target: leaf, untrusted: [inter], host: 'dicom.example.org',
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-verify_hostname', 'dicom.example.org'], expect: 'error 62 at 0' },
  { name: 'host name match', trust: { ca: [root.cert] }, target: leaf, untrusted: [inter], host: 'localhost',
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-verify_hostname', 'localhost'], expect: 'OK' },
  { name: 'revoked (PEM CRL, leaf check)', trust: { ca: [root.cert], crl: [interCrl] }, target: revoked, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-crl_check', '-CRLfile', interCrl], expect: 'error 23 at 0' },
  { name: 'revoked (DER CRL buffer)', trust: { ca: [root.cert], crl: [readFileSync(interCrlDer)] }, target: revoked,
    untrusted: [inter], cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-crl_check', '-CRLfile', interCrl],
    expect: 'error 23 at 0' },
  { name: 'not revoked, leaf check', trust: { ca: [root.cert], crl: [interCrl] }, target: leaf, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-crl_check', '-CRLfile', interCrl], expect: 'OK' },
  { name: 'CRL missing (leaf check, no CRL)', trust: { ca: [root.cert], crlCheck: 'leaf' }, target: leaf, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-crl_check'], expect: 'error 3 at 0' },
  { name: 'CRL missing for the intermediate (chain check)', trust: { ca: [root.cert], crl: [interCrl], crlCheck: 'chain' },
    target: leaf, untrusted: [inter],
    cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-crl_check_all', '-CRLfile', interCrl], expect: 'error 3 at 1' },
  { name: 'whole chain with both CRLs', trust: { ca: [root.cert], crl: [interCrl, rootCrl], crlCheck: 'chain' },
    target: leaf, untrusted: [inter], cli: ['-CAfile', root.cert, '-untrusted', inter.cert, '-crl_check_all',
      '-CRLfile', interCrl, '-CRLfile', rootCrl], expect: 'OK' },
];

for (const c of cases) {
  test(`verify like openssl verify: ${c.name}`, () => {
    const mine = ours(c.trust, c.target, c.untrusted ?? [], { ...(c.purpose ? { purpose: c.purpose } : {}), ...(c.host ? { host: c.host } : {}) });
    assert.equal(mine, theirs(c.cli, c.target));
    assert.equal(mine, c.expect);
    assert.deepEqual(drainErrors(), []);
  });
}

test('a directory of plain-named certificate files is loaded whole (not only hashed names)', () => {
  const dir = pki.path('cadir');
  mkdirSync(dir);
  copyFileSync(otherRoot.cert, `${dir}/a-other.pem`);
  copyFileSync(root.cert, `${dir}/b-root.crt`);
  writeFileSync(`${dir}/README`, 'not a certificate');
  copyFileSync(interCrl, `${dir}/some.crl`);
  assert.equal(ours({ ca: [dir] }, leaf, [inter]), 'OK');
});

test('DER and PEM buffers and a PEM bundle work as CA sources', () => {
  const der = new X509Certificate(readFileSync(root.cert)).raw;
  assert.equal(ours({ ca: [der] }, leaf, [inter]), 'OK');
  const bundle = Buffer.concat([readFileSync(otherRoot.cert), readFileSync(root.cert), readFileSync(inter.cert)]);
  assert.equal(ours({ ca: [bundle] }, leaf, []), 'OK');
});

// A public root the system trusts (Debian's ca-certificates); OpenSSL's default paths in Node's
// build are /etc/ssl/cert.pem and /etc/ssl/certs.
const systemRoot = ['/etc/ssl/certs/ISRG_Root_X1.pem', '/etc/ssl/certs/DigiCert_Global_Root_G2.pem'].find((p) => existsSync(p));

test('system roots are off unless asked for', { skip: systemRoot === undefined ? 'no ca-certificates on this machine' : false }, () => {
  const target = { cert: systemRoot!, key: '', dir: '' };
  assert.equal(ours({ ca: [otherRoot.cert] }, target, []), 'error 18 at 0');
  assert.equal(ours({ ca: [otherRoot.cert], systemRoots: true }, target, []), 'OK');
});

test('unreadable CA and CRL sources give TrustStoreError naming the source', () => {
  const store = X509_STORE_new();
  try {
    assert.throws(() => configureTrust(store, { ca: [pki.path('nope.pem')] }),
      (e: unknown) => e instanceof TrustStoreError && e.code === 'DICOM_TLS_ERR_TRUST' && e.source === 'ca' && /nope\.pem/.test(e.message));
    assert.throws(() => configureTrust(store, { ca: [Buffer.from('junk')] }),
      (e: unknown) => e instanceof TrustStoreError && e.source === 'ca');
    assert.throws(() => configureTrust(store, { crl: [root.cert] }),
      (e: unknown) => e instanceof TrustStoreError && e.source === 'crl');
    const emptyDir = pki.path('emptydir');
    mkdirSync(emptyDir);
    assert.throws(() => configureTrust(store, { ca: [emptyDir] }),
      (e: unknown) => e instanceof TrustStoreError && /holds no certificate/.test(e.message));
  } finally {
    X509_STORE_free(store);
  }
  assert.deepEqual(drainErrors(), []);
});
