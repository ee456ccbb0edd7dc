/**
 * Minimal PEM identity/trust loading used by the engine until branch `x509` (identity.ts,
 * trust.ts) lands. Same shapes as the agreed `loadIdentity` / `configureTrust`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { drainErrors } from './openssl/lib.js';
import {
  BIO_free, BIO_new_mem_buf, EVP_PKEY_free, PEM_read_bio_PrivateKey, PEM_read_bio_X509,
  PEM_read_bio_X509_CRL, X509_CRL_free, X509_STORE_add_cert, X509_STORE_add_crl, X509_STORE_set_flags,
  X509_V_FLAG_CRL_CHECK, X509_V_FLAG_CRL_CHECK_ALL, X509_free,
} from './openssl/ssl.js';
import { UnableToReadCertificateError, UnableToReadPrivateKeyError, TlsConfigurationError } from './errors.js';

type Source = string | Buffer;
export interface LoadedIdentity { cert: unknown; key: unknown; chain: unknown[]; free(): void }

function bytes(src: Source, what: string, Err: new (m: string, i?: { cause?: unknown }) => Error): Buffer {
  if (Buffer.isBuffer(src)) return src;
  try { return readFileSync(src); } catch (e) { throw new Err(`cannot read ${what} file ${src}`, { cause: e }); }
}

function readCerts(data: Buffer): unknown[] {
  const bio = BIO_new_mem_buf(data, data.length);
  const out: unknown[] = [];
  try {
    for (;;) {
      const x = PEM_read_bio_X509(bio, null, null, null);
      if (x === null) break;
      out.push(x);
    }
  } finally { BIO_free(bio); }
  drainErrors(); // the loop always ends with "no start line"
  return out;
}

/** Load cert + key (+ chain) from PEM. `passwordCb` is the registered pem_password_cb. */
export function loadIdentity(opts: { cert?: Source; key?: Source; chain?: Source[]; pkcs12?: Source; password?: string },
  passwordCb: unknown): LoadedIdentity {
  if (opts.pkcs12 !== undefined) {
    throw new TlsConfigurationError('identity.pkcs12', 'PKCS#12 needs the certificate module (branch x509)');
  }
  if (opts.cert === undefined || opts.key === undefined) {
    throw new TlsConfigurationError('identity', 'give cert and key, or pkcs12');
  }
  const certs = readCerts(bytes(opts.cert, 'certificate', UnableToReadCertificateError));
  if (certs.length === 0) throw new UnableToReadCertificateError(`no PEM certificate in ${describe(opts.cert)}`);
  const chain = certs.slice(1);
  for (const c of opts.chain ?? []) chain.push(...readCerts(bytes(c, 'chain', UnableToReadCertificateError)));
  const keyBytes = bytes(opts.key, 'private key', UnableToReadPrivateKeyError);
  const bio = BIO_new_mem_buf(keyBytes, keyBytes.length);
  const key = PEM_read_bio_PrivateKey(bio, null, passwordCb, null);
  BIO_free(bio);
  const free = (): void => { X509_free(certs[0]); for (const c of chain) X509_free(c); };
  if (key === null) {
    const openssl = drainErrors();
    free();
    throw new UnableToReadPrivateKeyError(
      `unable to read the private key ${describe(opts.key)}: ${openssl[openssl.length - 1]?.reason ?? 'unknown reason'}`, { openssl });
  }
  return {
    cert: certs[0], key, chain,
    free: () => { free(); EVP_PKEY_free(key); },
  };
}

function describe(src: Source): string { return Buffer.isBuffer(src) ? '(buffer)' : src; }

/** Add CA certificates and CRLs to an X509_STORE. */
export function configureTrust(store: unknown, opts: { ca?: Source[]; crl?: Source[]; crlCheck?: 'leaf' | 'chain' }): void {
  for (const src of opts.ca ?? []) {
    const list: Buffer[] = [];
    if (!Buffer.isBuffer(src) && statSafe(src)?.isDirectory()) {
      for (const f of readdirSync(src)) { const p = join(src, f); if (statSafe(p)?.isFile()) list.push(readFileSync(p)); }
    } else list.push(bytes(src, 'CA', UnableToReadCertificateError));
    for (const data of list) {
      const certs = readCerts(data);
      for (const c of certs) { X509_STORE_add_cert(store, c); X509_free(c); }
    }
    drainErrors();
  }
  if (opts.crl !== undefined && opts.crl.length > 0) {
    for (const src of opts.crl) {
      const data = bytes(src, 'CRL', UnableToReadCertificateError);
      const bio = BIO_new_mem_buf(data, data.length);
      for (;;) {
        const crl = PEM_read_bio_X509_CRL(bio, null, null, null);
        if (crl === null) break;
        X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
      }
      BIO_free(bio);
      drainErrors();
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | (opts.crlCheck === 'chain' ? X509_V_FLAG_CRL_CHECK_ALL : 0));
  }
}

function statSafe(p: string): ReturnType<typeof statSync> | undefined {
  try { return statSync(p); } catch { return undefined; }
}
