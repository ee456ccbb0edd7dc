/**
 * A development PKI made in-process (no openssl CLI at runtime): a certificate authority and node
 * certificates for DICOM TLS peers, with the extensions RFC 5280 §4.2 and BCP 195 peers expect:
 * basicConstraints, keyUsage, extendedKeyUsage serverAuth + clientAuth (a DICOM node usually both
 * accepts and initiates associations), subjectAltName, subject and authority key identifiers.
 * Output is PEM (the key optionally encrypted as PKCS#8 AES-256-CBC), PKCS#12, and CRLs.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { drainErrors } from './openssl/lib.js';
import {
  BIO_free, BIO_new, BIO_s_mem, BN_bin2bn, BN_free, BN_to_ASN1_INTEGER, EVP_PKEY_free, EVP_PKEY_Q_keygen,
  EVP_aes_256_cbc, EVP_sha256, MBSTRING_UTF8, NID, OPENSSL_sk_free, OPENSSL_sk_new_null, OPENSSL_sk_push,
  PEM_write_bio_PKCS8PrivateKey, PEM_write_bio_X509, PKCS12_create, PKCS12_free, X509_EXTENSION_free,
  X509_NAME_add_entry_by_txt, X509_NAME_free, X509_NAME_new, X509V3_CTX_SIZE, X509V3_EXT_conf_nid,
  X509V3_set_ctx, X509_add_ext, X509_free, X509_get_serialNumber, X509_get_subject_name, X509_getm_notAfter,
  X509_getm_notBefore, X509_gmtime_adj, X509_new, X509_set_issuer_name, X509_set_pubkey,
  X509_set_subject_name, X509_set_version, X509_sign, drainBio, i2d_PKCS12_bio, type Ptr,
  ASN1_INTEGER_free, ASN1_INTEGER_new, ASN1_INTEGER_set_int64, ASN1_TIME_free, ASN1_TIME_new,
  PEM_write_bio_X509_CRL, X509_CRL_add0_revoked, X509_CRL_add1_ext_i2d, X509_CRL_add_ext, X509_CRL_free,
  X509_CRL_new, X509_CRL_set1_lastUpdate, X509_CRL_set1_nextUpdate, X509_CRL_set_issuer_name,
  X509_CRL_set_version, X509_CRL_sign, X509_CRL_sort, X509_REVOKED_free, X509_REVOKED_new,
  X509_REVOKED_set_revocationDate, X509_REVOKED_set_serialNumber, X509_get0_serialNumber,
} from './openssl/x509.js';
import { readCertificates } from './x509-sources.js';
import { loadIdentity, withPasswordCallback, type PasswordCallback } from './identity.js';
import { certificateString } from './certificate-string.js';
import { InvalidOptionError } from '../../errors.js';
import { PkiError } from './x509-load-errors.js';

export { PkiError };

/** 'ec' = ECDSA P-256 (default: fast, small), 'rsa' = RSA 2048. */
export type KeyType = 'ec' | 'rsa';

/** A distinguished name: `/CN=x/O=y` (OpenSSL's -subj form) or ordered [field, value] pairs. */
export type DistinguishedName = string | ReadonlyArray<readonly [string, string]>;

/** A generated certificate with its key, in PEM. */
export interface GeneratedCertificate {
  readonly certPem: string;
  /** PKCS#8; "ENCRYPTED PRIVATE KEY" (AES-256-CBC) when a key password was given. */
  readonly keyPem: string;
  /** The seeds' certificate string, for showing what was made. */
  readonly description: string;
}

/** A CA to sign with: its certificate and key in PEM (the key may be encrypted). */
export interface SigningAuthority {
  readonly certPem: string | Buffer;
  readonly keyPem: string | Buffer;
  readonly keyPassword?: string;
}

export interface CertificateAuthorityOptions {
  subject: DistinguishedName;
  /** Validity in days from now (default 3650). */
  days?: number;
  keyType?: KeyType;
  /** Encrypt the key PEM: a password, or the seeds' callback (called with writing = true). */
  keyPassword?: string | PasswordCallback;
}

export interface NodeCertificateOptions {
  commonName: string;
  /** Further subject fields after CN, e.g. [['O', 'Hospital']]. */
  subject?: ReadonlyArray<readonly [string, string]>;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Validity in days from now (default 825). */
  days?: number;
  serverAuth?: boolean;
  clientAuth?: boolean;
  keyType?: KeyType;
  keyPassword?: string | PasswordCallback;
}

/** Clock skew allowance: certificates start five minutes in the past. */
const BACKDATE_SECONDS = 300;

function check(ok: unknown, what: string): void {
  if (ok !== 1) throw new PkiError(`${what} failed`, drainErrors());
}

function generateKey(keyType: KeyType): Ptr {
  const key = keyType === 'rsa'
    ? EVP_PKEY_Q_keygen(null, null, 'RSA', 'size_t', 2048)
    : EVP_PKEY_Q_keygen(null, null, 'EC', 'const char *', 'P-256');
  if (key === null) throw new PkiError(`generating a ${keyType} key`, drainErrors());
  return key;
}

function parseName(name: DistinguishedName): Array<readonly [string, string]> {
  if (typeof name !== 'string') return [...name];
  if (!name.startsWith('/')) return [['CN', name]];
  // OpenSSL's -subj form; '\/' escapes a slash inside a value.
  return name.slice(1).split(/(?<!\\)\//).filter((p) => p.length > 0).map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InvalidOptionError('subject', `"${part}" is not FIELD=value`);
    return [part.slice(0, eq), part.slice(eq + 1).replace(/\\\//g, '/')] as const;
  });
}

function buildName(fields: ReadonlyArray<readonly [string, string]>): Ptr {
  const name = X509_NAME_new();
  for (const [field, value] of fields) {
    const bytes = Buffer.from(value, 'utf8');
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, bytes.length, -1, 0) !== 1) {
      X509_NAME_free(name);
      const reasons = drainErrors().map((e) => e.reason).filter(Boolean).join('; ');
      throw new InvalidOptionError('subject', `OpenSSL refuses the name field ${field}=${value} (${reasons})`);
    }
  }
  return name;
}

function addExtension(x509: Ptr, ctx: Buffer, nid: number, value: string): void {
  const ext = X509V3_EXT_conf_nid(null, ctx, nid, value);
  if (ext === null) throw new PkiError(`extension ${nid} = ${value}`, drainErrors());
  const ok = X509_add_ext(x509, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, `adding extension ${nid}`);
}

function toPem(write: (bio: Ptr) => unknown, what: string): string {
  const bio = BIO_new(BIO_s_mem());
  try {
    check(write(bio), what);
    return drainBio(bio).toString('latin1');
  } finally {
    BIO_free(bio);
  }
}

/** PKCS#8 PEM of `key`, encrypted with AES-256-CBC when a password or callback is given. */
function keyToPem(key: Ptr, password: string | PasswordCallback | undefined): string {
  if (password === undefined) {
    return toPem((bio) => PEM_write_bio_PKCS8PrivateKey(bio, key, null, null, 0, null, null), 'writing the key');
  }
  if (typeof password === 'string') {
    const pass = Buffer.from(password, 'utf8');
    return toPem((bio) => PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), pass, pass.length, null, null),
      'writing the encrypted key');
  }
  const { value, use } = withPasswordCallback(password, (cb) => {
    try {
      return toPem((bio) => PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), null, 0, cb, null), 'writing the encrypted key');
    } catch (err) {
      return err as PkiError;
    }
  });
  if (use.error !== undefined) throw new PkiError(`the password callback failed: ${String(use.error)}`, drainErrors());
  if (!use.given) throw new PkiError('the password callback gave no password for the key being written', drainErrors());
  if (typeof value !== 'string') throw value;
  return value;
}

function validDays(days: number, option: string): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new InvalidOptionError(option, 'must be a whole number of days, 1..36500');
  return days;
}

interface BuildOptions {
  subject: Array<readonly [string, string]>; days: number; key: Ptr;
  issuer?: { cert: Ptr; key: Ptr }; extensions: Array<[number, string]>;
}

/** Assemble, extend and sign one X.509 v3 certificate; returns the X509 (caller frees). */
function buildCertificate(o: BuildOptions): Ptr {
  const x509 = X509_new();
  try {
    check(X509_set_version(x509, 2), 'X509_set_version'); // 2 = v3
    // RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes with the top bit clear.
    const serialBytes = randomBytes(16);
    serialBytes[0] = serialBytes[0]! & 0x7f | 0x10;
    const bn = BN_bin2bn(serialBytes, serialBytes.length, null);
    const serialOk = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) !== null;
    BN_free(bn);
    if (!serialOk) throw new PkiError('setting the serial number', drainErrors());
    if (X509_gmtime_adj(X509_getm_notBefore(x509), -BACKDATE_SECONDS) === null) throw new PkiError('notBefore', drainErrors());
    if (X509_gmtime_adj(X509_getm_notAfter(x509), o.days * 86400) === null) throw new PkiError('notAfter', drainErrors());
    const name = buildName(o.subject);
    try {
      check(X509_set_subject_name(x509, name), 'X509_set_subject_name');
      if (!o.issuer) check(X509_set_issuer_name(x509, name), 'X509_set_issuer_name');
    } finally {
      X509_NAME_free(name);
    }
    if (o.issuer) check(X509_set_issuer_name(x509, X509_get_subject_name(o.issuer.cert)), 'X509_set_issuer_name');
    check(X509_set_pubkey(x509, o.key), 'X509_set_pubkey');
    // X509V3_CTX: issuer and subject certificates, no config database (X509V3_set_ctx_nodb).
    const ctx = Buffer.alloc(X509V3_CTX_SIZE);
    X509V3_set_ctx(ctx, o.issuer ? o.issuer.cert : x509, x509, null, null, 0);
    for (const [nid, value] of o.extensions) addExtension(x509, ctx, nid, value);
    if ((X509_sign(x509, o.issuer ? o.issuer.key : o.key, EVP_sha256()) as number) <= 0) throw new PkiError('signing', drainErrors());
    return x509;
  } catch (err) {
    X509_free(x509);
    throw err;
  }
}

/** The certificate just built and its key as PEM, with its description; `x509` is freed here. */
function finish(x509: Ptr, key: Ptr, keyPassword: string | PasswordCallback | undefined): GeneratedCertificate {
  try {
    return {
      certPem: toPem((bio) => PEM_write_bio_X509(bio, x509), 'writing the certificate'),
      keyPem: keyToPem(key, keyPassword),
      description: certificateString(x509),
    };
  } finally {
    drainErrors();
    X509_free(x509);
  }
}

/** A self-signed root CA (basicConstraints critical CA:TRUE, keyUsage keyCertSign + cRLSign). */
export function createCertificateAuthority(options: CertificateAuthorityOptions): GeneratedCertificate {
  const key = generateKey(options.keyType ?? 'ec');
  try {
    const x509 = buildCertificate({
      subject: parseName(options.subject), days: validDays(options.days ?? 3650, 'days'), key,
      // SKID before AKID: for a self-signed CA the AKID repeats the SKID.
      extensions: [
        [NID.basic_constraints, 'critical,CA:TRUE'],
        [NID.key_usage, 'critical,keyCertSign,cRLSign'],
        [NID.subject_key_identifier, 'hash'],
        [NID.authority_key_identifier, 'keyid:always'],
      ],
    });
    return finish(x509, key, options.keyPassword);
  } finally {
    EVP_PKEY_free(key);
  }
}

/** A node (end-entity) certificate signed by `ca`, usable as TLS server and/or client. */
export function createNodeCertificate(ca: SigningAuthority, options: NodeCertificateOptions): GeneratedCertificate {
  if (!options.commonName) throw new InvalidOptionError('commonName', 'is required');
  const serverAuth = options.serverAuth ?? true;
  const clientAuth = options.clientAuth ?? true;
  if (!serverAuth && !clientAuth) throw new InvalidOptionError('serverAuth', 'a TLS node certificate needs serverAuth or clientAuth');
  for (const ip of options.ipAddresses ?? []) if (isIP(ip) === 0) throw new InvalidOptionError('ipAddresses', `"${ip}" is not an IP address`);
  for (const dns of options.dnsNames ?? []) if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(dns)) {
    throw new InvalidOptionError('dnsNames', `"${dns}" is not a DNS name`);
  }
  const keyType = options.keyType ?? 'ec';
  const signer = loadIdentity({ cert: Buffer.from(ca.certPem), key: Buffer.from(ca.keyPem),
    ...(ca.keyPassword !== undefined ? { password: ca.keyPassword } : {}) });
  const key = generateKey(keyType);
  try {
    const san = [...(options.dnsNames ?? []).map((d) => `DNS:${d}`), ...(options.ipAddresses ?? []).map((i) => `IP:${i}`)];
    const eku = [...(serverAuth ? ['serverAuth'] : []), ...(clientAuth ? ['clientAuth'] : [])];
    const extensions: Array<[number, string]> = [
      [NID.basic_constraints, 'critical,CA:FALSE'],
      // RSA keys may also be used for TLS 1.2 RSA key transport; EC keys only sign.
      [NID.key_usage, keyType === 'rsa' ? 'critical,digitalSignature,keyEncipherment' : 'critical,digitalSignature'],
      [NID.ext_key_usage, eku.join(',')],
      [NID.subject_key_identifier, 'hash'],
      [NID.authority_key_identifier, 'keyid:always'],
    ];
    if (san.length > 0) extensions.push([NID.subject_alt_name, san.join(',')]);
    const x509 = buildCertificate({
      subject: [['CN', options.commonName], ...(options.subject ?? [])],
      days: validDays(options.days ?? 825, 'days'), key, issuer: { cert: signer.cert, key: signer.key }, extensions,
    });
    return finish(x509, key, options.keyPassword);
  } finally {
    EVP_PKEY_free(key);
    signer.free();
  }
}

export interface Pkcs12Options {
  certPem: string | Buffer;
  keyPem: string | Buffer;
  /** Password of keyPem when it is encrypted. */
  keyPassword?: string;
  /** CA / intermediate certificates to include (PEM, one or several each). */
  chainPem?: ReadonlyArray<string | Buffer>;
  /** Password protecting the PKCS#12 (OpenSSL 3.0 defaults: AES-256-CBC, PBKDF2, SHA-256 MAC). */
  password: string;
  friendlyName?: string;
}

/** A PKCS#12 (DER bytes) holding the key, the certificate and its chain. */
export function writePkcs12(options: Pkcs12Options): Buffer {
  const identity = loadIdentity({
    cert: Buffer.from(options.certPem), key: Buffer.from(options.keyPem),
    chain: (options.chainPem ?? []).map((c) => Buffer.from(c)),
    ...(options.keyPassword !== undefined ? { password: options.keyPassword } : {}),
  });
  const stack = OPENSSL_sk_new_null();
  try {
    for (const c of identity.chain) OPENSSL_sk_push(stack, c);
    const p12 = PKCS12_create(options.password, options.friendlyName ?? null, identity.key, identity.cert, stack, 0, 0, 0, 0, 0);
    if (p12 === null) throw new PkiError('PKCS12_create', drainErrors());
    try {
      const bio = BIO_new(BIO_s_mem());
      try {
        check(i2d_PKCS12_bio(bio, p12), 'i2d_PKCS12_bio');
        return drainBio(bio);
      } finally {
        BIO_free(bio);
      }
    } finally {
      PKCS12_free(p12);
    }
  } finally {
    OPENSSL_sk_free(stack);
    identity.free();
    drainErrors();
  }
}

export interface CrlOptions {
  /** Certificates (PEM or DER, one or several each) to list as revoked. */
  revoked?: ReadonlyArray<string | Buffer>;
  /** Days until nextUpdate (default 30). */
  days?: number;
  /** The cRLNumber extension (RFC 5280 §5.2.3), increasing with each CRL the CA issues. */
  crlNumber?: number;
}

/**
 * A v2 CRL (RFC 5280 §5) signed by `ca`, listing the given certificates as revoked now, with the
 * authority key identifier and cRLNumber extensions. Returns PEM.
 */
export function createCrl(ca: SigningAuthority, options: CrlOptions = {}): string {
  const days = validDays(options.days ?? 30, 'days');
  const crlNumber = options.crlNumber ?? 1;
  if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) throw new InvalidOptionError('crlNumber', 'must be a non-negative integer');
  const revoked = (options.revoked ?? []).flatMap((r) => {
    const { certs, failed } = readCertificates(Buffer.from(r));
    if (failed || certs.length === 0) {
      for (const c of certs) X509_free(c);
      drainErrors();
      throw new InvalidOptionError('revoked', 'holds an entry that is not a certificate');
    }
    return certs;
  });
  const signer = loadIdentity({ cert: Buffer.from(ca.certPem), key: Buffer.from(ca.keyPem),
    ...(ca.keyPassword !== undefined ? { password: ca.keyPassword } : {}) });
  const crl = X509_CRL_new();
  const now = ASN1_TIME_new();
  const next = ASN1_TIME_new();
  const number = ASN1_INTEGER_new();
  try {
    check(X509_CRL_set_version(crl, 1), 'X509_CRL_set_version'); // 1 = v2
    check(X509_CRL_set_issuer_name(crl, X509_get_subject_name(signer.cert)), 'X509_CRL_set_issuer_name');
    if (X509_gmtime_adj(now, 0) === null || X509_gmtime_adj(next, days * 86400) === null) throw new PkiError('CRL times', drainErrors());
    check(X509_CRL_set1_lastUpdate(crl, now), 'X509_CRL_set1_lastUpdate');
    check(X509_CRL_set1_nextUpdate(crl, next), 'X509_CRL_set1_nextUpdate');
    for (const cert of revoked) {
      const entry = X509_REVOKED_new();
      if (X509_REVOKED_set_serialNumber(entry, X509_get0_serialNumber(cert)) !== 1 ||
        X509_REVOKED_set_revocationDate(entry, now) !== 1 || X509_CRL_add0_revoked(crl, entry) !== 1) {
        X509_REVOKED_free(entry);
        throw new PkiError('adding a revoked entry', drainErrors());
      }
    }
    check(X509_CRL_sort(crl), 'X509_CRL_sort');
    const ctx = Buffer.alloc(X509V3_CTX_SIZE);
    X509V3_set_ctx(ctx, signer.cert, null, null, crl, 0);
    const akid = X509V3_EXT_conf_nid(null, ctx, NID.authority_key_identifier, 'keyid:always');
    if (akid === null) throw new PkiError('CRL authority key identifier', drainErrors());
    const added = X509_CRL_add_ext(crl, akid, -1);
    X509_EXTENSION_free(akid);
    check(added, 'X509_CRL_add_ext');
    check(ASN1_INTEGER_set_int64(number, crlNumber), 'ASN1_INTEGER_set_int64');
    check(X509_CRL_add1_ext_i2d(crl, NID.crl_number, number, 0, 0), 'cRLNumber');
    if ((X509_CRL_sign(crl, signer.key, EVP_sha256()) as number) <= 0) throw new PkiError('signing the CRL', drainErrors());
    return toPem((bio) => PEM_write_bio_X509_CRL(bio, crl), 'writing the CRL');
  } finally {
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(next);
    ASN1_TIME_free(now);
    X509_CRL_free(crl);
    for (const c of revoked) X509_free(c);
    signer.free();
    drainErrors();
  }
}
