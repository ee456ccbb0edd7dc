/**
 * Symbol table for OpenSSL's certificate side: X509, names, stores, CRLs, keys, PKCS#12,
 * PEM/DER readers and writers, memory BIOs, stacks, and X509v3 extension building.
 * Prototypes follow the OpenSSL 3.0 headers (include/openssl/x509.h, x509_vfy.h, x509v3.h,
 * pem.h, pkcs12.h, evp.h, bio.h, safestack.h). Byte buffers are `void *` so a Buffer is passed
 * by address (see docs in lib.ts / tls-engine.md). Macros are expanded here with their numbers.
 */
import { koffi, lib } from './lib.js';

/** An opaque OpenSSL pointer as koffi hands it over (null when the C function returns NULL). */
export type Ptr = unknown;

// Password callback: pem.h `typedef int pem_password_cb (char *buf, int size, int rwflag, void *u)`.
export const PemPasswordCb = lib.proto('int PemPasswordCb(void *buf, int size, int rwflag, void *u)');

// ---- memory BIOs (bio.h) ----
export const BIO_s_mem = lib.func('const BIO_METHOD *BIO_s_mem()');
export const BIO_new = lib.func('BIO *BIO_new(const BIO_METHOD *type)');
export const BIO_new_mem_buf = lib.func('BIO *BIO_new_mem_buf(const void *buf, int len)');
export const BIO_free = lib.func('int BIO_free(BIO *a)');
export const BIO_read = lib.func('int BIO_read(BIO *b, void *data, int dlen)');
export const BIO_ctrl_pending = lib.func('size_t BIO_ctrl_pending(BIO *b)');

// ---- stacks (safestack.h: the typed sk_X509_* are inline wrappers over OPENSSL_sk_*) ----
export const OPENSSL_sk_num = lib.func('int OPENSSL_sk_num(const OPENSSL_STACK *st)');
export const OPENSSL_sk_value = lib.func('void *OPENSSL_sk_value(const OPENSSL_STACK *st, int i)');
export const OPENSSL_sk_new_null = lib.func('OPENSSL_STACK *OPENSSL_sk_new_null()');
export const OPENSSL_sk_push = lib.func('int OPENSSL_sk_push(OPENSSL_STACK *st, const void *data)');
export const OPENSSL_sk_pop = lib.func('void *OPENSSL_sk_pop(OPENSSL_STACK *st)');
export const OPENSSL_sk_free = lib.func('void OPENSSL_sk_free(OPENSSL_STACK *st)');

// ---- X509 (x509.h) ----
export const X509_new = lib.func('X509 *X509_new()');
export const X509_free = lib.func('void X509_free(X509 *a)');
export const X509_up_ref = lib.func('int X509_up_ref(X509 *a)');
export const i2d_X509_bio = lib.func('int i2d_X509_bio(BIO *bp, const X509 *x)');
export const X509_get_subject_name = lib.func('X509_NAME *X509_get_subject_name(const X509 *x)');
export const X509_get_issuer_name = lib.func('X509_NAME *X509_get_issuer_name(const X509 *x)');
export const X509_get0_notBefore = lib.func('const ASN1_TIME *X509_get0_notBefore(const X509 *x)');
export const X509_get0_notAfter = lib.func('const ASN1_TIME *X509_get0_notAfter(const X509 *x)');
export const X509_getm_notBefore = lib.func('ASN1_TIME *X509_getm_notBefore(const X509 *x)');
export const X509_getm_notAfter = lib.func('ASN1_TIME *X509_getm_notAfter(const X509 *x)');
export const X509_get0_serialNumber = lib.func('const ASN1_INTEGER *X509_get0_serialNumber(const X509 *x)');
export const X509_get_serialNumber = lib.func('ASN1_INTEGER *X509_get_serialNumber(X509 *x)');
export const X509_get_extension_flags = lib.func('uint32_t X509_get_extension_flags(X509 *x)');
export const X509_check_private_key = lib.func('int X509_check_private_key(const X509 *x, const EVP_PKEY *k)');
export const X509_set_version = lib.func('int X509_set_version(X509 *x, long version)');
export const X509_set_subject_name = lib.func('int X509_set_subject_name(X509 *x, const X509_NAME *name)');
export const X509_set_issuer_name = lib.func('int X509_set_issuer_name(X509 *x, const X509_NAME *name)');
export const X509_set_pubkey = lib.func('int X509_set_pubkey(X509 *x, EVP_PKEY *pkey)');
export const X509_get0_pubkey = lib.func('EVP_PKEY *X509_get0_pubkey(const X509 *x)');
export const X509_gmtime_adj = lib.func('ASN1_TIME *X509_gmtime_adj(ASN1_TIME *s, long adj)');
export const X509_add_ext = lib.func('int X509_add_ext(X509 *x, void *ex, int loc)');
export const X509_sign = lib.func('int X509_sign(X509 *x, EVP_PKEY *pkey, const void *md)');
export const X509_verify_cert_error_string = lib.func('const char *X509_verify_cert_error_string(long n)');

// EXFLAG_CA (x509v3.h): set when basicConstraints says cA = TRUE.
export const EXFLAG_CA = 0x10;

// ---- names ----
export const X509_NAME_new = lib.func('X509_NAME *X509_NAME_new()');
export const X509_NAME_free = lib.func('void X509_NAME_free(X509_NAME *a)');
export const X509_NAME_print_ex = lib.func('int X509_NAME_print_ex(BIO *out, const X509_NAME *nm, int indent, unsigned long flags)');
export const X509_NAME_add_entry_by_txt = lib.func('int X509_NAME_add_entry_by_txt(X509_NAME *name, const char *field, int type, const void *bytes, int len, int loc, int set)');
// asn1.h: ASN1_STRFLGS_RFC2253 = ESC_2253|ESC_CTRL|ESC_MSB|UTF8_CONVERT|DUMP_UNKNOWN|DUMP_DER
export const ASN1_STRFLGS_RFC2253 = 0x1 | 0x2 | 0x4 | 0x10 | 0x100 | 0x200;
// x509.h: XN_FLAG_ONELINE = ASN1_STRFLGS_RFC2253 | ASN1_STRFLGS_ESC_QUOTE (8) |
// XN_FLAG_SEP_CPLUS_SPC (2<<16) | XN_FLAG_SPC_EQ (1<<23) | XN_FLAG_FN_SN (0): "CN = x, O = y"
export const XN_FLAG_ONELINE = ASN1_STRFLGS_RFC2253 | 0x8 | (2 << 16) | (1 << 23);
// The flags node:crypto's X509Certificate prints `subject` with (kX509NameFlagsMultiline):
// ASN1_STRFLGS_ESC_2253 (1) | ESC_CTRL (2) | UTF8_CONVERT (0x10) | XN_FLAG_SEP_MULTILINE (4<<16)
// | XN_FLAG_FN_SN (0): "C=US\nO=y\nCN=x".
export const XN_FLAG_NODE_MULTILINE = 0x1 | 0x2 | 0x10 | (4 << 16);
// asn1.h: MBSTRING_UTF8 = MBSTRING_FLAG (0x1000)
export const MBSTRING_UTF8 = 0x1000;

// ---- ASN.1 time and integers ----
export const ASN1_TIME_print = lib.func('int ASN1_TIME_print(BIO *bp, const ASN1_TIME *tm)');
export const ASN1_STRING_length = lib.func('int ASN1_STRING_length(const void *x)');
export const ASN1_STRING_get0_data = lib.func('const uint8_t *ASN1_STRING_get0_data(const void *x)');
export const ASN1_INTEGER_get_int64 = lib.func('int ASN1_INTEGER_get_int64(_Out_ int64_t *pr, const ASN1_INTEGER *a)');
export const BN_bin2bn = lib.func('void *BN_bin2bn(const void *s, int len, void *ret)');
export const BN_free = lib.func('void BN_free(void *a)');
export const BN_to_ASN1_INTEGER = lib.func('ASN1_INTEGER *BN_to_ASN1_INTEGER(const void *bn, ASN1_INTEGER *ai)');

// ---- purposes (x509v3.h) ----
export const X509_PURPOSE_get_count = lib.func('int X509_PURPOSE_get_count()');
export const X509_PURPOSE_get0 = lib.func('X509_PURPOSE *X509_PURPOSE_get0(int idx)');
export const X509_PURPOSE_get_id = lib.func('int X509_PURPOSE_get_id(const X509_PURPOSE *p)');
export const X509_PURPOSE_get0_name = lib.func('const char *X509_PURPOSE_get0_name(const X509_PURPOSE *p)');
export const X509_check_purpose = lib.func('int X509_check_purpose(X509 *x, int id, int ca)');

// ---- X509v3 extensions (x509v3.h) ----
// X509V3_CTX is `struct v3_ext_ctx` (8 pointer-sized fields in 3.0); callers allocate it zeroed,
// which is also what the X509V3_set_ctx_nodb macro (db = NULL) asks for.
export const X509V3_CTX_SIZE = 128;
export const X509V3_set_ctx = lib.func('void X509V3_set_ctx(void *ctx, X509 *issuer, X509 *subject, void *req, void *crl, int flags)');
export const X509V3_EXT_conf_nid = lib.func('void *X509V3_EXT_conf_nid(void *conf, void *ctx, int ext_nid, const char *value)');
export const X509_EXTENSION_free = lib.func('void X509_EXTENSION_free(void *a)');
// obj_mac.h NIDs of the extensions pki.ts builds.
export const NID = {
  basic_constraints: 87, key_usage: 83, ext_key_usage: 126, subject_key_identifier: 82,
  authority_key_identifier: 90, subject_alt_name: 85, crl_number: 88,
} as const;

// ---- stores and verification (x509_vfy.h) ----
export const X509_STORE_new = lib.func('X509_STORE *X509_STORE_new()');
export const X509_STORE_free = lib.func('void X509_STORE_free(X509_STORE *s)');
export const X509_STORE_add_cert = lib.func('int X509_STORE_add_cert(X509_STORE *s, X509 *x)');
export const X509_STORE_add_crl = lib.func('int X509_STORE_add_crl(X509_STORE *s, X509_CRL *x)');
export const X509_STORE_set_flags = lib.func('int X509_STORE_set_flags(X509_STORE *s, unsigned long flags)');
export const X509_STORE_set_default_paths = lib.func('int X509_STORE_set_default_paths(X509_STORE *s)');
export const X509_STORE_CTX_new = lib.func('X509_STORE_CTX *X509_STORE_CTX_new()');
export const X509_STORE_CTX_free = lib.func('void X509_STORE_CTX_free(X509_STORE_CTX *c)');
export const X509_STORE_CTX_init = lib.func('int X509_STORE_CTX_init(X509_STORE_CTX *c, X509_STORE *s, X509 *x, OPENSSL_STACK *chain)');
export const X509_STORE_CTX_get_error = lib.func('int X509_STORE_CTX_get_error(const X509_STORE_CTX *c)');
export const X509_STORE_CTX_get_error_depth = lib.func('int X509_STORE_CTX_get_error_depth(const X509_STORE_CTX *c)');
export const X509_STORE_CTX_get_current_cert = lib.func('X509 *X509_STORE_CTX_get_current_cert(const X509_STORE_CTX *c)');
export const X509_STORE_CTX_get0_chain = lib.func('OPENSSL_STACK *X509_STORE_CTX_get0_chain(const X509_STORE_CTX *c)');
export const X509_STORE_CTX_set_purpose = lib.func('int X509_STORE_CTX_set_purpose(X509_STORE_CTX *c, int purpose)');
export const X509_STORE_CTX_get0_param = lib.func('X509_VERIFY_PARAM *X509_STORE_CTX_get0_param(const X509_STORE_CTX *c)');
export const X509_verify_cert = lib.func('int X509_verify_cert(X509_STORE_CTX *c)');
export const X509_STORE_get0_param = lib.func('X509_VERIFY_PARAM *X509_STORE_get0_param(const X509_STORE *s)');
export const X509_VERIFY_PARAM_set_flags = lib.func('int X509_VERIFY_PARAM_set_flags(X509_VERIFY_PARAM *p, unsigned long flags)');
export const X509_VERIFY_PARAM_set1_host = lib.func('int X509_VERIFY_PARAM_set1_host(X509_VERIFY_PARAM *p, const char *name, size_t namelen)');
export const X509_VERIFY_PARAM_set1_ip_asc = lib.func('int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *p, const char *ipasc)');
export const X509_VERIFY_PARAM_set_depth = lib.func('void X509_VERIFY_PARAM_set_depth(X509_VERIFY_PARAM *p, int depth)');
// x509_vfy.h verification flags.
export const X509_V_FLAG_CRL_CHECK = 0x4;
export const X509_V_FLAG_CRL_CHECK_ALL = 0x8;

// ---- CRLs ----
export const X509_CRL_free = lib.func('void X509_CRL_free(X509_CRL *a)');
export const X509_CRL_new = lib.func('X509_CRL *X509_CRL_new()');
export const X509_CRL_set_version = lib.func('int X509_CRL_set_version(X509_CRL *x, long version)');
export const X509_CRL_set_issuer_name = lib.func('int X509_CRL_set_issuer_name(X509_CRL *x, const X509_NAME *name)');
export const X509_CRL_set1_lastUpdate = lib.func('int X509_CRL_set1_lastUpdate(X509_CRL *x, const ASN1_TIME *tm)');
export const X509_CRL_set1_nextUpdate = lib.func('int X509_CRL_set1_nextUpdate(X509_CRL *x, const ASN1_TIME *tm)');
export const X509_CRL_add0_revoked = lib.func('int X509_CRL_add0_revoked(X509_CRL *crl, void *rev)');
export const X509_CRL_sort = lib.func('int X509_CRL_sort(X509_CRL *crl)');
export const X509_CRL_add_ext = lib.func('int X509_CRL_add_ext(X509_CRL *x, void *ex, int loc)');
export const X509_CRL_add1_ext_i2d = lib.func('int X509_CRL_add1_ext_i2d(X509_CRL *x, int nid, void *value, int crit, unsigned long flags)');
export const X509_CRL_sign = lib.func('int X509_CRL_sign(X509_CRL *x, EVP_PKEY *pkey, const void *md)');
export const PEM_write_bio_X509_CRL = lib.func('int PEM_write_bio_X509_CRL(BIO *bp, const X509_CRL *x)');
export const X509_REVOKED_new = lib.func('void *X509_REVOKED_new()');
export const X509_REVOKED_free = lib.func('void X509_REVOKED_free(void *r)');
export const X509_REVOKED_set_serialNumber = lib.func('int X509_REVOKED_set_serialNumber(void *r, const ASN1_INTEGER *serial)');
export const X509_REVOKED_set_revocationDate = lib.func('int X509_REVOKED_set_revocationDate(void *r, ASN1_TIME *tm)');
export const ASN1_TIME_new = lib.func('ASN1_TIME *ASN1_TIME_new()');
export const ASN1_TIME_free = lib.func('void ASN1_TIME_free(ASN1_TIME *t)');
export const ASN1_INTEGER_new = lib.func('ASN1_INTEGER *ASN1_INTEGER_new()');
export const ASN1_INTEGER_free = lib.func('void ASN1_INTEGER_free(ASN1_INTEGER *a)');
export const ASN1_INTEGER_set_int64 = lib.func('int ASN1_INTEGER_set_int64(ASN1_INTEGER *a, int64_t r)');
export const PEM_read_bio_X509_CRL = lib.func('X509_CRL *PEM_read_bio_X509_CRL(BIO *bp, void *x, void *cb, void *u)');
export const d2i_X509_CRL_bio = lib.func('X509_CRL *d2i_X509_CRL_bio(BIO *bp, void *crl)');

// ---- keys (evp.h) ----
export const EVP_PKEY_free = lib.func('void EVP_PKEY_free(EVP_PKEY *k)');
export const EVP_PKEY_up_ref = lib.func('int EVP_PKEY_up_ref(EVP_PKEY *k)');
// EVP_PKEY_Q_keygen(libctx, propq, type, ...): "EC" takes a curve name, "RSA" a size_t bit count.
export const EVP_PKEY_Q_keygen = lib.func('EVP_PKEY *EVP_PKEY_Q_keygen(void *libctx, const char *propq, const char *type, ...)');
export const EVP_sha256 = lib.func('const void *EVP_sha256()');
export const EVP_aes_256_cbc = lib.func('const void *EVP_aes_256_cbc()');
export const EVP_PKEY_eq = lib.func('int EVP_PKEY_eq(const EVP_PKEY *a, const EVP_PKEY *b)');

// ---- PEM / DER readers and writers (pem.h, x509.h) ----
export const PEM_read_bio_X509 = lib.func('X509 *PEM_read_bio_X509(BIO *bp, void *x, void *cb, void *u)');
export const PEM_read_bio_PrivateKey = lib.func('EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, void *x, PemPasswordCb *cb, void *u)');
export const d2i_X509_bio = lib.func('X509 *d2i_X509_bio(BIO *bp, void *x)');
export const d2i_PrivateKey_bio = lib.func('EVP_PKEY *d2i_PrivateKey_bio(BIO *bp, void *a)');
export const d2i_PKCS8PrivateKey_bio = lib.func('EVP_PKEY *d2i_PKCS8PrivateKey_bio(BIO *bp, void *x, PemPasswordCb *cb, void *u)');
export const PEM_write_bio_X509 = lib.func('int PEM_write_bio_X509(BIO *bp, const X509 *x)');
export const PEM_write_bio_PKCS8PrivateKey = lib.func('int PEM_write_bio_PKCS8PrivateKey(BIO *bp, const EVP_PKEY *x, const void *enc, const void *kstr, int klen, PemPasswordCb *cb, void *u)');

// ---- PKCS#12 (pkcs12.h) ----
export const d2i_PKCS12_bio = lib.func('PKCS12 *d2i_PKCS12_bio(BIO *bp, void *p12)');
export const i2d_PKCS12_bio = lib.func('int i2d_PKCS12_bio(BIO *bp, const PKCS12 *p12)');
export const PKCS12_free = lib.func('void PKCS12_free(PKCS12 *a)');
export const PKCS12_verify_mac = lib.func('int PKCS12_verify_mac(PKCS12 *p12, const char *pass, int passlen)');
export const PKCS12_parse = lib.func('int PKCS12_parse(PKCS12 *p12, const char *pass, _Out_ EVP_PKEY **pkey, _Out_ X509 **cert, _Inout_ OPENSSL_STACK **ca)');
export const PKCS12_create = lib.func('PKCS12 *PKCS12_create(const char *pass, const char *name, EVP_PKEY *pkey, X509 *cert, OPENSSL_STACK *ca, int nid_key, int nid_cert, int iter, int mac_iter, int keytype)');

// ---- errors (err.h) ----
export const ERR_peek_last_error = lib.func('unsigned long ERR_peek_last_error()');
// err.h: ERR_GET_LIB(e) = (e >> 23) & 0xff, ERR_GET_REASON(e) = e & 0x7fffff (non-system errors).
export function errLib(e: number): number { return (e >>> 23) & 0xff; }
export function errReason(e: number): number { return e & 0x7fffff; }
export const ERR_LIB_PEM = 9;
export const PEM_R_NO_START_LINE = 108;

/** Make a read-only memory BIO over `data`; the Buffer must outlive the BIO (caller keeps it). */
export function memBioOf(data: Buffer): Ptr {
  return BIO_new_mem_buf(data, data.length);
}

/** Everything written into a memory BIO so far. */
export function drainBio(bio: Ptr): Buffer {
  const n = Number(BIO_ctrl_pending(bio));
  const out = Buffer.alloc(n);
  if (n > 0) BIO_read(bio, out, n);
  return out;
}

/** Run `write(bio)` against a fresh memory BIO and return what it wrote, as text. */
export function printToString(write: (bio: Ptr) => unknown): string {
  const bio = BIO_new(BIO_s_mem());
  try {
    write(bio);
    return drainBio(bio).toString('utf8');
  } finally {
    BIO_free(bio);
  }
}

/** DER bytes of a certificate, through a memory BIO (no pointer-to-pointer juggling). */
export function x509ToDer(x509: Ptr): Buffer {
  const bio = BIO_new(BIO_s_mem());
  try {
    i2d_X509_bio(bio, x509);
    return drainBio(bio);
  } finally {
    BIO_free(bio);
  }
}

/** Parse one DER certificate; null when the bytes are not a certificate. */
export function x509FromDer(der: Buffer): Ptr {
  const bio = memBioOf(der);
  try {
    return d2i_X509_bio(bio, null);
  } finally {
    BIO_free(bio);
  }
}

/** Copy `len` bytes that OpenSSL owns at `ptr` into a Buffer (valid only while the owner lives). */
export function copyBytes(ptr: Ptr, len: number): Buffer {
  if (len <= 0 || ptr === null) return Buffer.alloc(0);
  const arr = koffi.decode(ptr, koffi.array('uint8_t', len)) as ArrayLike<number>;
  return Buffer.from(arr as Uint8Array);
}

/**
 * Run `use(cb)` with a registered pem_password_cb (pem.h) for the duration of the call only.
 * `answer(size, rwflag)` returns the password bytes to copy into OpenSSL's buffer, or undefined
 * to fail the read (-1). The caller has checked the length fits `size`.
 */
export function withPemPasswordCb<T>(answer: (size: number, rwflag: number) => Buffer | undefined,
  use: (cb: Ptr) => T): T {
  const cb = koffi.register((buf: Ptr, size: number, rwflag: number) => {
    const bytes = answer(size, rwflag);
    if (bytes === undefined) return -1;
    if (bytes.length > 0) koffi.encode(buf, koffi.array('uint8_t', bytes.length), [...bytes]);
    return bytes.length;
  }, koffi.pointer(PemPasswordCb));
  try {
    return use(cb);
  } finally {
    koffi.unregister(cb);
  }
}
