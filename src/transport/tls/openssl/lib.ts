/**
 * The one place that loads koffi. Node links OpenSSL statically and exports its symbols, so the
 * running process itself is the library: `koffi.load(null)`. Loading a system libssl instead
 * would put two OpenSSL copies in one process, which interpose each other.
 *
 * Symbol tables for each area live beside this file (ssl.ts, x509.ts, …) and bind through
 * `lib`. Nothing outside src/transport/tls/openssl/ imports koffi.
 */
import { createRequire } from 'node:module';

// Required, not imported: in the bundled executable (dist/cli/) an import of a package is
// hoisted to the top and loaded by every command, `--version` too; this loads with the module.
const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');

export { koffi };
export const lib = koffi.load(null);

// Opaque OpenSSL handles. Declared once here so every symbol table shares the same types.
export const SSL_CTX = koffi.opaque('SSL_CTX');
export const SSL = koffi.opaque('SSL');
export const SSL_METHOD = koffi.opaque('SSL_METHOD');
export const SSL_SESSION = koffi.opaque('SSL_SESSION');
export const SSL_CIPHER = koffi.opaque('SSL_CIPHER');
export const BIO = koffi.opaque('BIO');
export const BIO_METHOD = koffi.opaque('BIO_METHOD');
export const X509 = koffi.opaque('X509');
export const X509_NAME = koffi.opaque('X509_NAME');
export const X509_STORE = koffi.opaque('X509_STORE');
export const X509_STORE_CTX = koffi.opaque('X509_STORE_CTX');
export const X509_CRL = koffi.opaque('X509_CRL');
export const X509_VERIFY_PARAM = koffi.opaque('X509_VERIFY_PARAM');
export const X509_LOOKUP = koffi.opaque('X509_LOOKUP');
export const X509_LOOKUP_METHOD = koffi.opaque('X509_LOOKUP_METHOD');
export const X509_PURPOSE = koffi.opaque('X509_PURPOSE');
export const ASN1_TIME = koffi.opaque('ASN1_TIME');
export const ASN1_INTEGER = koffi.opaque('ASN1_INTEGER');
export const EVP_PKEY = koffi.opaque('EVP_PKEY');
export const PKCS12 = koffi.opaque('PKCS12');
export const STACK = koffi.opaque('OPENSSL_STACK');

const OpenSSL_version = lib.func('const char *OpenSSL_version(int type)');
const ERR_get_error = lib.func('unsigned long ERR_get_error()');
const ERR_error_string_n = lib.func('void ERR_error_string_n(unsigned long e, _Out_ char *buf, size_t len)');
const ERR_reason_error_string = lib.func('const char *ERR_reason_error_string(unsigned long e)');
const ERR_lib_error_string = lib.func('const char *ERR_lib_error_string(unsigned long e)');

/** The OpenSSL linked into this Node, e.g. "OpenSSL 3.0.19 27 Jan 2026". */
export function opensslVersion(): string {
  return OpenSSL_version(0) as string;
}

/** One entry of OpenSSL's thread-local error queue. */
export interface OpenSslErrorEntry {
  readonly code: number;
  readonly library: string | undefined;
  readonly reason: string | undefined;
  /** ERR_error_string_n's full line, e.g. "error:1C800064:Provider routines::bad decrypt". */
  readonly text: string;
}

/**
 * Empty the error queue and return what was on it, oldest first. Called after every failing
 * OpenSSL call: Node's own TLS shares this queue, so nothing may be left behind.
 */
export function drainErrors(): OpenSslErrorEntry[] {
  const out: OpenSslErrorEntry[] = [];
  const buf = Buffer.alloc(256);
  for (;;) {
    const code = Number(ERR_get_error());
    if (code === 0) return out;
    ERR_error_string_n(code, buf, buf.length);
    const end = buf.indexOf(0);
    out.push({
      code,
      library: (ERR_lib_error_string(code) as string | null) ?? undefined,
      reason: (ERR_reason_error_string(code) as string | null) ?? undefined,
      text: buf.toString('latin1', 0, end < 0 ? buf.length : end),
    });
  }
}
