/**
 * Trust anchors and CRLs into an X509_STORE. CA sources are files (PEM bundles or DER),
 * directories (every certificate file in them, not only OpenSSL's hashed names) and buffers.
 * System roots only on request (X509_STORE_set_default_paths). CRLs turn on
 * X509_V_FLAG_CRL_CHECK (leaf only) or additionally X509_V_FLAG_CRL_CHECK_ALL (whole chain).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { drainErrors } from './openssl/lib.js';
import {
  OPENSSL_sk_free, OPENSSL_sk_new_null, OPENSSL_sk_push, X509_CRL_free, X509_STORE_add_cert,
  X509_STORE_add_crl, X509_STORE_CTX_free, X509_STORE_CTX_get_error, X509_STORE_CTX_get_error_depth,
  X509_STORE_CTX_init, X509_STORE_CTX_new, X509_STORE_CTX_set_purpose, X509_STORE_CTX_get0_param,
  X509_STORE_set_default_paths, X509_STORE_set_flags, X509_V_FLAG_CRL_CHECK, X509_V_FLAG_CRL_CHECK_ALL,
  X509_VERIFY_PARAM_set1_host, X509_VERIFY_PARAM_set1_ip_asc, X509_free, X509_verify_cert, type Ptr,
} from './openssl/x509.js';
import { describeSource, readCertificates, readCrls, sourceBytes, type Source } from './x509-sources.js';
import { TrustStoreError } from './x509-load-errors.js';
import { x509ErrorName, x509ErrorText } from './x509-errors.js';
import { isIP } from 'node:net';

export interface TrustOptions {
  /** CA certificates: file paths (PEM bundle or DER), directories, or buffers. */
  ca?: readonly Source[];
  /** Also trust the system's default roots (OpenSSL's default paths). Default false. */
  systemRoots?: boolean;
  /** CRLs: file paths or buffers, PEM (several per file allowed) or DER. */
  crl?: readonly Source[];
  /** 'leaf' = CRL_CHECK, 'chain' = CRL_CHECK | CRL_CHECK_ALL. Defaults to 'leaf' when crl given. */
  crlCheck?: 'leaf' | 'chain';
}

function readOrThrow(kind: 'ca' | 'crl', source: Source): Buffer {
  try {
    return sourceBytes(source);
  } catch (err) {
    throw new TrustStoreError(kind, `cannot read ${kind === 'ca' ? 'CA' : 'CRL'} source ${describeSource(source)}`, [], { cause: err });
  }
}

function addCertificates(store: Ptr, certs: Ptr[]): void {
  for (const cert of certs) {
    const ok = X509_STORE_add_cert(store, cert);
    X509_free(cert); // the store keeps its own reference
    if (ok !== 1) throw new TrustStoreError('ca', 'X509_STORE_add_cert failed', drainErrors());
  }
}

/** Every file in `dir` that holds at least one certificate; other files are skipped. */
function loadDirectory(store: Ptr, dir: string): number {
  let count = 0;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    let isFile = false;
    try { isFile = statSync(path).isFile(); } catch { isFile = false; }
    if (!isFile) continue;
    let bytes: Buffer;
    try { bytes = sourceBytes(path); } catch { continue; }
    const { certs, failed } = readCertificates(bytes);
    drainErrors();
    if (failed) continue; // a CRL, a key, a README: not a trust anchor
    addCertificates(store, certs);
    count += certs.length;
  }
  return count;
}

function loadCa(store: Ptr, source: Source): void {
  if (typeof source === 'string') {
    let directory = false;
    try { directory = statSync(source).isDirectory(); } catch { directory = false; }
    if (directory) {
      if (loadDirectory(store, source) === 0) {
        throw new TrustStoreError('ca', `CA directory ${source} holds no certificate`);
      }
      return;
    }
  }
  const { certs, failed } = readCertificates(readOrThrow('ca', source));
  if (failed || certs.length === 0) {
    for (const c of certs) X509_free(c);
    throw new TrustStoreError('ca', `${describeSource(source)} holds no readable CA certificate`, drainErrors());
  }
  addCertificates(store, certs);
}

function loadCrl(store: Ptr, source: Source): void {
  const { crls, failed } = readCrls(readOrThrow('crl', source));
  if (failed || crls.length === 0) {
    for (const c of crls) X509_CRL_free(c);
    throw new TrustStoreError('crl', `${describeSource(source)} holds no readable CRL`, drainErrors());
  }
  for (const crl of crls) {
    const ok = X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    if (ok !== 1) throw new TrustStoreError('crl', 'X509_STORE_add_crl failed', drainErrors());
  }
}

/** Fill `store` (an X509_STORE, e.g. SSL_CTX_get_cert_store) with trust anchors and CRLs. */
export function configureTrust(store: Ptr, options: TrustOptions): void {
  for (const source of options.ca ?? []) loadCa(store, source);
  if (options.systemRoots === true && X509_STORE_set_default_paths(store) !== 1) {
    throw new TrustStoreError('systemRoots', 'cannot load the system\'s default CA paths', drainErrors());
  }
  for (const source of options.crl ?? []) loadCrl(store, source);
  const crlCheck = options.crlCheck ?? ((options.crl?.length ?? 0) > 0 ? 'leaf' : undefined);
  if (crlCheck !== undefined) {
    const flags = crlCheck === 'chain' ? X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL : X509_V_FLAG_CRL_CHECK;
    X509_STORE_set_flags(store, flags);
  }
  drainErrors();
}

/** X509_PURPOSE ids (x509v3.h) for the checks a TLS peer gets. */
const PURPOSE = { sslClient: 1, sslServer: 2 } as const;

export interface VerifyOutcome {
  readonly ok: boolean;
  readonly error: number;
  readonly errorName: string;
  readonly errorText: string;
  readonly depth: number;
}

/**
 * Verify `leaf` (with `untrusted` intermediates) against `store` the way a TLS peer would,
 * stopping at the first error (no callback): X509_verify_cert on a fresh X509_STORE_CTX.
 * `purpose` sets the role check ('sslServer' = the peer is a server); `host` an expected name/IP.
 */
export function verifyWithStore(store: Ptr, leaf: Ptr, untrusted: readonly Ptr[] = [],
  options: { purpose?: keyof typeof PURPOSE; host?: string } = {}): VerifyOutcome {
  const ctx = X509_STORE_CTX_new();
  const stack = OPENSSL_sk_new_null();
  try {
    for (const c of untrusted) OPENSSL_sk_push(stack, c);
    if (X509_STORE_CTX_init(ctx, store, leaf, stack) !== 1) {
      throw new TrustStoreError('ca', 'X509_STORE_CTX_init failed', drainErrors());
    }
    if (options.purpose !== undefined) X509_STORE_CTX_set_purpose(ctx, PURPOSE[options.purpose]);
    if (options.host !== undefined) {
      // On the context's own copy of the parameters, so the name never leaks into the store.
      const param = X509_STORE_CTX_get0_param(ctx);
      if (isIP(options.host)) X509_VERIFY_PARAM_set1_ip_asc(param, options.host);
      else X509_VERIFY_PARAM_set1_host(param, options.host, 0);
    }
    const ok = X509_verify_cert(ctx) === 1;
    const error = X509_STORE_CTX_get_error(ctx) as number;
    const depth = X509_STORE_CTX_get_error_depth(ctx) as number;
    drainErrors();
    return { ok, error, errorName: x509ErrorName(error), errorText: x509ErrorText(error), depth };
  } finally {
    OPENSSL_sk_free(stack); // the certificates stay owned by the caller
    X509_STORE_CTX_free(ctx);
  }
}
