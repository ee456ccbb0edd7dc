/**
 * The scenario certificate set, made with the `openssl` command line at test time (never committed
 * keys). One set per process, generated on first use and cached; the temp directory is removed at
 * process exit. Every certificate is issued by `openssl ca` so that validity dates can be set
 * explicitly (`-startdate`/`-enddate`) without faking the clock.
 *
 * This is deliberately independent of src/transport/tls/pki.ts: it is the oracle the library's
 * own certificate code is checked against.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Password of every encrypted key and PKCS#12 bundle in the set. */
export const PKI_PASSWORD = 'correct horse';

export interface Identity {
  /** Leaf certificate, PEM. */
  cert: string;
  /** Unencrypted private key, PEM (PKCS#8). */
  key: string;
  /** Leaf followed by the intermediates a peer should send (PEM); equals `cert` when none. */
  fullchain: string;
}

export interface CaFiles {
  cert: string;
  key: string;
  /** CRL issued by this CA (PEM), listing the certificates revoked in the set. */
  crl: string;
}

export interface ScenarioPki {
  dir: string;
  /** Trusted root of the main hierarchy. */
  root: CaFiles;
  /** Intermediate CA under `root`. */
  intermediate: CaFiles;
  /** A CA nobody trusts. */
  unknownCa: CaFiles;
  /** Two independent roots for client-certificate selection. */
  caA: CaFiles;
  caB: CaFiles;
  /** Trust file with root only (PEM). */
  trustRoot: string;
  /** root + intermediate CRLs in one file (for whole-chain checks). */
  crlAll: string;
  /**
   * Root certificate followed by both CRLs, for `openssl s_client/s_server -CAfile`: their `-CRL`
   * option reads only the first CRL of a file, a CAfile loads every certificate and CRL in it.
   */
  trustRootWithCrls: string;

  /** Leaf signed directly by root; serverAuth+clientAuth, SAN DNS:localhost IP:127.0.0.1. */
  valid: Identity;
  /** Leaf signed by the intermediate; fullchain = leaf + intermediate. */
  chain: Identity;
  /** Same leaf as chain, but fullchain holds only the leaf (intermediate not sent). */
  missingIntermediate: Identity;
  expired: Identity;
  notYetValid: Identity;
  /** EKU emailProtection only: the seeds' X509_V_ERR_INVALID_PURPOSE example. */
  wrongPurpose: Identity;
  selfSigned: Identity;
  /** Signed by unknownCa, fullchain = leaf only. */
  unknownCaLeaf: Identity;
  /** Signed by a certificate with basicConstraints CA:FALSE; fullchain = leaf + that signer. */
  notCaIntermediate: Identity;
  /** Signed by root, listed in root's CRL. */
  revoked: Identity;
  /** SAN DNS:other.example only. */
  hostMismatch: Identity;
  /** Client identities (serverAuth+clientAuth) under caA and caB. */
  clientA: Identity;
  clientB: Identity;

  /** The `valid` key encrypted in the traditional PEM form (Proc-Type: 4,ENCRYPTED, AES-256). */
  encryptedKeyTraditional: string;
  /** The `valid` key as encrypted PKCS#8 (PBES2, AES-256-CBC). */
  encryptedKeyPkcs8: string;
  /** The `valid` identity + root as a PKCS#12 bundle protected by PKI_PASSWORD. */
  pkcs12: string;
  /** The `valid` certificate in DER. */
  validDer: string;
}

function openssl(args: string[], cwd?: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** UTCTime/GeneralizedTime as `openssl ca -startdate` takes it (GeneralizedTime always parses). */
function genTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

const EXTENSIONS = `
[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ intermediate_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leaf_email ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = DNS:localhost, IP:127.0.0.1

[ leaf_other_host ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:other.example

[ not_a_ca ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
`;

class CaDir {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly crl: string;
  readonly #conf: string;
  readonly #ext: string;

  constructor(readonly base: string, readonly name: string) {
    this.dir = join(base, name);
    mkdirSync(join(this.dir, 'new'), { recursive: true });
    this.cert = join(this.dir, 'ca.pem');
    this.key = join(this.dir, 'ca.key');
    this.crl = join(this.dir, 'crl.pem');
    this.#conf = join(this.dir, 'ca.cnf');
    this.#ext = join(base, 'extensions.cnf');
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'crlnumber'), '01\n');
    writeFileSync(this.#conf, `
[ ca ]
default_ca = this_ca
[ this_ca ]
dir = ${this.dir}
database = $dir/index.txt
new_certs_dir = $dir/new
certificate = ${this.cert}
private_key = ${this.key}
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
`);
  }

  /** Issues a certificate for `csr` with the given extension section and validity. */
  sign(csr: string, out: string, section: string, opts: { start?: Date; end?: Date; selfSign?: boolean } = {}): void {
    // A random serial per certificate keeps serials unique across runs (serials are shown in the
    // certificate string and the CRL).
    writeFileSync(join(this.dir, 'serial'), randomSerial() + '\n');
    const start = opts.start ?? new Date(Date.now() - 3600_000);
    const end = opts.end ?? new Date(Date.now() + 3650 * 86400_000);
    const args = ['ca', '-batch', '-notext', '-config', this.#conf, '-extfile', this.#ext, '-extensions', section,
      '-startdate', genTime(start), '-enddate', genTime(end), '-in', csr, '-out', out];
    if (opts.selfSign === true) args.push('-selfsign', '-keyfile', this.key);
    openssl(args);
  }

  revoke(cert: string): void {
    openssl(['ca', '-batch', '-config', this.#conf, '-revoke', cert]);
  }

  gencrl(): void {
    openssl(['ca', '-batch', '-config', this.#conf, '-gencrl', '-out', this.crl]);
  }

  files(): CaFiles {
    return { cert: this.cert, key: this.key, crl: this.crl };
  }
}

function randomSerial(): string {
  // 8 bytes, first byte forced into 0x10..0x7f so the DER INTEGER stays positive and 8 bytes long.
  const b = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) b[i] = Math.floor(Math.random() * 256);
  b[0] = 0x10 + (b[0]! % 0x70);
  return b.toString('hex').toUpperCase();
}

function ecKey(out: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out]);
}

function csr(key: string, subject: string, out: string): void {
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', out]);
}

function makeCa(base: string, name: string, subject: string, parent?: CaDir, section = 'root_ca'): CaDir {
  const ca = new CaDir(base, name);
  ecKey(ca.key);
  const req = join(ca.dir, 'ca.csr');
  csr(ca.key, subject, req);
  if (parent === undefined) ca.sign(req, ca.cert, section, { selfSign: true });
  else parent.sign(req, ca.cert, section);
  return ca;
}

function generate(): ScenarioPki {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-pki-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'extensions.cnf'), EXTENSIONS);

  const root = makeCa(dir, 'root', '/CN=Test Root CA/O=dicom-tls tests');
  const intermediate = makeCa(dir, 'intermediate', '/CN=Test Intermediate CA/O=dicom-tls tests', root, 'intermediate_ca');
  const unknownCa = makeCa(dir, 'unknown', '/CN=Unknown CA/O=Nobody');
  const caA = makeCa(dir, 'ca-a', '/CN=CA-A/O=Hospital A');
  const caB = makeCa(dir, 'ca-b', '/CN=CA-B/O=Hospital B');
  // A certificate that is not a CA (basicConstraints CA:FALSE) but is used to sign a leaf anyway.
  const notCa = makeCa(dir, 'not-a-ca', '/CN=Not A CA/O=dicom-tls tests', root, 'not_a_ca');

  const leaves = join(dir, 'leaves');
  mkdirSync(leaves);
  const leaf = (name: string, subject: string, ca: CaDir, section: string, opts: { start?: Date; end?: Date } = {},
    chain: string[] = []): Identity => {
    const key = join(leaves, `${name}.key`);
    const cert = join(leaves, `${name}.pem`);
    const req = join(leaves, `${name}.csr`);
    ecKey(key);
    csr(key, subject, req);
    ca.sign(req, cert, section, opts);
    const fullchain = join(leaves, `${name}.fullchain.pem`);
    writeFileSync(fullchain, [cert, ...chain].map((f) => readFileSync(f, 'utf8')).join(''));
    return { cert, key, fullchain: chain.length === 0 ? cert : fullchain };
  };

  const now = Date.now();
  const day = 86400_000;
  const valid = leaf('valid', '/CN=localhost/O=dicom-tls tests', root, 'leaf');
  const chain = leaf('chain', '/CN=localhost/O=Chain', intermediate, 'leaf', {}, [intermediate.cert]);
  const missingIntermediate: Identity = { cert: chain.cert, key: chain.key, fullchain: chain.cert };
  const expired = leaf('expired', '/CN=localhost/O=Expired', root, 'leaf',
    { start: new Date(now - 400 * day), end: new Date(now - 30 * day) });
  const notYetValid = leaf('not-yet-valid', '/CN=localhost/O=Not Yet Valid', root, 'leaf',
    { start: new Date(now + 365 * day), end: new Date(now + 730 * day) });
  const wrongPurpose = leaf('wrong-purpose', '/CN=Test Client/O=Wrong Purpose', root, 'leaf_email');
  const hostMismatch = leaf('host-mismatch', '/CN=other.example/O=Host Mismatch', root, 'leaf_other_host');
  const unknownCaLeaf = leaf('unknown-ca-leaf', '/CN=localhost/O=Unknown CA Leaf', unknownCa, 'leaf');
  const notCaIntermediate = leaf('not-ca-leaf', '/CN=localhost/O=Under Not A CA', notCa, 'leaf', {}, [notCa.cert]);
  const revoked = leaf('revoked', '/CN=localhost/O=Revoked', root, 'leaf');
  const clientA = leaf('client-a', '/CN=Client A/O=Hospital A', caA, 'leaf');
  const clientB = leaf('client-b', '/CN=Client B/O=Hospital B', caB, 'leaf');

  // Self-signed leaf: req -x509 with leaf extensions (CA:FALSE), not issued by any CA.
  const selfKey = join(leaves, 'self-signed.key');
  const selfCert = join(leaves, 'self-signed.pem');
  ecKey(selfKey);
  openssl(['req', '-new', '-x509', '-key', selfKey, '-subj', '/CN=localhost/O=Self Signed', '-days', '3650',
    '-config', join(dir, 'extensions.cnf'), '-extensions', 'leaf', '-out', selfCert]);
  const selfSigned: Identity = { cert: selfCert, key: selfKey, fullchain: selfCert };

  root.revoke(revoked.cert);
  for (const ca of [root, intermediate, unknownCa, caA, caB]) ca.gencrl();
  const crlAll = join(dir, 'crl-all.pem');
  writeFileSync(crlAll, readFileSync(root.crl, 'utf8') + readFileSync(intermediate.crl, 'utf8'));
  const trustRootWithCrls = join(dir, 'root-with-crls.pem');
  writeFileSync(trustRootWithCrls, readFileSync(root.cert, 'utf8') + readFileSync(crlAll, 'utf8'));

  const encryptedKeyTraditional = join(leaves, 'valid.key.traditional.pem');
  openssl(['ec', '-in', valid.key, '-aes256', '-passout', `pass:${PKI_PASSWORD}`, '-out', encryptedKeyTraditional]);
  const encryptedKeyPkcs8 = join(leaves, 'valid.key.pkcs8.pem');
  openssl(['pkcs8', '-topk8', '-in', valid.key, '-v2', 'aes-256-cbc', '-passout', `pass:${PKI_PASSWORD}`,
    '-out', encryptedKeyPkcs8]);
  const pkcs12 = join(leaves, 'valid.p12');
  openssl(['pkcs12', '-export', '-in', valid.cert, '-inkey', valid.key, '-certfile', root.cert,
    '-passout', `pass:${PKI_PASSWORD}`, '-out', pkcs12]);
  const validDer = join(leaves, 'valid.der');
  openssl(['x509', '-in', valid.cert, '-outform', 'DER', '-out', validDer]);

  return {
    dir, root: root.files(), intermediate: intermediate.files(), unknownCa: unknownCa.files(),
    caA: caA.files(), caB: caB.files(), trustRoot: root.cert, crlAll, trustRootWithCrls,
    valid, chain, missingIntermediate, expired, notYetValid, wrongPurpose, selfSigned, unknownCaLeaf,
    notCaIntermediate, revoked, hostMismatch, clientA, clientB,
    encryptedKeyTraditional, encryptedKeyPkcs8, pkcs12, validDer,
  };
}

let cached: ScenarioPki | undefined;

/** The scenario set for this process (generated on first call, removed at exit). */
export function scenarioPki(): ScenarioPki {
  cached ??= generate();
  return cached;
}
