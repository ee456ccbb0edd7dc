/**
 * libssl symbol table: SSL_CTX, SSL, BIO and the callback prototypes the engine registers.
 * Bindings only relay; every decision lives in context.ts / socket.ts.
 *
 * Numbers below come from OpenSSL 3.0's headers (ssl.h, bio.h, x509_vfy.h as shipped with Node
 * under /usr/include/node/openssl/). Each macro over `*_ctrl` names the macro it stands for.
 *
 * Byte buffers are declared `void *` so a Buffer is passed by address (see tls-engine.md).
 */
import { koffi, lib } from './lib.js';

// ---- methods, contexts -------------------------------------------------------------------
export const TLS_client_method = lib.func('const SSL_METHOD *TLS_client_method()');
export const TLS_server_method = lib.func('const SSL_METHOD *TLS_server_method()');
export const SSL_CTX_new = lib.func('SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth)');
export const SSL_CTX_free = lib.func('void SSL_CTX_free(SSL_CTX *ctx)');
export const SSL_CTX_ctrl = lib.func('long SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg)');
export const SSL_CTX_set_options = lib.func('uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op)');
export const SSL_CTX_set_security_level = lib.func('void SSL_CTX_set_security_level(SSL_CTX *ctx, int level)');
export const SSL_CTX_get_security_level = lib.func('int SSL_CTX_get_security_level(const SSL_CTX *ctx)');
export const SSL_CTX_set_cipher_list = lib.func('int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *str)');
export const SSL_CTX_set_ciphersuites = lib.func('int SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *str)');
export const SSL_CTX_use_certificate = lib.func('int SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x)');
export const SSL_CTX_use_PrivateKey = lib.func('int SSL_CTX_use_PrivateKey(SSL_CTX *ctx, EVP_PKEY *pkey)');
export const SSL_CTX_check_private_key = lib.func('int SSL_CTX_check_private_key(const SSL_CTX *ctx)');
export const SSL_CTX_get_cert_store = lib.func('X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *ctx)');
export const SSL_CTX_set_verify_depth = lib.func('void SSL_CTX_set_verify_depth(SSL_CTX *ctx, int depth)');
export const SSL_CTX_set_num_tickets = lib.func('int SSL_CTX_set_num_tickets(SSL_CTX *ctx, size_t num_tickets)');
export const SSL_CTX_set_session_id_context = lib.func('int SSL_CTX_set_session_id_context(SSL_CTX *ctx, const void *sid, unsigned int len)');
export const SSL_CTX_set_alpn_protos = lib.func('int SSL_CTX_set_alpn_protos(SSL_CTX *ctx, const void *protos, unsigned int len)');
export const SSL_select_next_proto = lib.func('int SSL_select_next_proto(void *out, void *outlen, const void *server, unsigned int server_len, const void *client, unsigned int client_len)');

// ---- callback prototypes -----------------------------------------------------------------
/** SSL_verify_cb: `int (*)(int preverify_ok, X509_STORE_CTX *)`. */
export const VerifyCb = lib.proto('int dicomtls_VerifyCb(int ok, X509_STORE_CTX *store)');
/** SSL_CTX_set_info_callback: `void (*)(const SSL *, int where, int ret)`. */
export const InfoCb = lib.proto('void dicomtls_InfoCb(SSL *ssl, int where, int ret)');
/** SSL_CTX_set_client_cert_cb: `int (*)(SSL *, X509 **, EVP_PKEY **)`. */
export const ClientCertCb = lib.proto('int dicomtls_ClientCertCb(SSL *ssl, void *x509Out, void *pkeyOut)');
/** SSL_CTX_alpn_select_cb_func. */
export const AlpnSelectCb = lib.proto('int dicomtls_AlpnSelectCb(SSL *ssl, void *out, void *outlen, const void *in, unsigned int inlen, void *arg)');
/** SSL_CTX_keylog_cb_func: `void (*)(const SSL *, const char *line)`. */
export const KeylogCb = lib.proto('void dicomtls_KeylogCb(SSL *ssl, const char *line)');
/** SSL_CTX_sess_set_new_cb: `int (*)(SSL *, SSL_SESSION *)`; 1 = the callback keeps the reference. */
export const NewSessionCb = lib.proto('int dicomtls_NewSessionCb(SSL *ssl, SSL_SESSION *sess)');
/** SSL_CTX_generate_session_ticket_fn: `int (*)(SSL *, void *arg)`; 0 fails the handshake. */
export const GenerateTicketCb = lib.proto('int dicomtls_GenerateTicketCb(SSL *ssl, void *arg)');

export const SSL_CTX_set_verify = lib.func('void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, dicomtls_VerifyCb *cb)');
export const SSL_CTX_set_info_callback = lib.func('void SSL_CTX_set_info_callback(SSL_CTX *ctx, dicomtls_InfoCb *cb)');
export const SSL_CTX_set_client_cert_cb = lib.func('void SSL_CTX_set_client_cert_cb(SSL_CTX *ctx, dicomtls_ClientCertCb *cb)');
export const SSL_CTX_set_alpn_select_cb = lib.func('void SSL_CTX_set_alpn_select_cb(SSL_CTX *ctx, dicomtls_AlpnSelectCb *cb, void *arg)');
export const SSL_CTX_set_keylog_callback = lib.func('void SSL_CTX_set_keylog_callback(SSL_CTX *ctx, dicomtls_KeylogCb *cb)');
export const SSL_CTX_sess_set_new_cb = lib.func('void SSL_CTX_sess_set_new_cb(SSL_CTX *ctx, dicomtls_NewSessionCb *cb)');

// ---- connections -------------------------------------------------------------------------
export const SSL_new = lib.func('SSL *SSL_new(SSL_CTX *ctx)');
export const SSL_free = lib.func('void SSL_free(SSL *ssl)');
export const SSL_ctrl = lib.func('long SSL_ctrl(SSL *ssl, int cmd, long larg, void *parg)');
const SSL_ctrl_str = lib.func('SSL_ctrl', 'long', ['SSL *', 'int', 'long', 'const char *']);
export const SSL_set_bio = lib.func('void SSL_set_bio(SSL *ssl, BIO *rbio, BIO *wbio)');
export const SSL_set_connect_state = lib.func('void SSL_set_connect_state(SSL *ssl)');
export const SSL_set_accept_state = lib.func('void SSL_set_accept_state(SSL *ssl)');
export const SSL_do_handshake = lib.func('int SSL_do_handshake(SSL *ssl)');
export const SSL_read = lib.func('int SSL_read(SSL *ssl, void *buf, int num)');
export const SSL_write = lib.func('int SSL_write(SSL *ssl, const void *buf, int num)');
export const SSL_shutdown = lib.func('int SSL_shutdown(SSL *ssl)');
export const SSL_set_shutdown = lib.func('void SSL_set_shutdown(SSL *ssl, int mode)');
export const SSL_get_shutdown = lib.func('int SSL_get_shutdown(const SSL *ssl)');
export const SSL_get_error = lib.func('int SSL_get_error(const SSL *ssl, int ret)');
export const SSL_is_init_finished = lib.func('int SSL_is_init_finished(const SSL *ssl)');
export const SSL_pending = lib.func('int SSL_pending(const SSL *ssl)');
export const SSL_get_version = lib.func('const char *SSL_get_version(const SSL *ssl)');
export const SSL_get_current_cipher = lib.func('const SSL_CIPHER *SSL_get_current_cipher(const SSL *ssl)');
export const SSL_CIPHER_get_name = lib.func('const char *SSL_CIPHER_get_name(const SSL_CIPHER *c)');
export const SSL_get0_alpn_selected = lib.func('void SSL_get0_alpn_selected(const SSL *ssl, _Out_ void **data, _Out_ unsigned int *len)');
export const SSL_session_reused = lib.func('int SSL_session_reused(const SSL *ssl)');
export const SSL_get_verify_result = lib.func('long SSL_get_verify_result(const SSL *ssl)');
export const SSL_get0_peer_certificate = lib.func('X509 *SSL_get0_peer_certificate(const SSL *ssl)');
export const SSL_get_peer_cert_chain = lib.func('OPENSSL_STACK *SSL_get_peer_cert_chain(const SSL *ssl)');
export const SSL_get0_param = lib.func('X509_VERIFY_PARAM *SSL_get0_param(SSL *ssl)');
export const SSL_get_client_CA_list = lib.func('OPENSSL_STACK *SSL_get_client_CA_list(const SSL *ssl)');
export const SSL_state_string_long = lib.func('const char *SSL_state_string_long(const SSL *ssl)');
export const SSL_alert_desc_string_long = lib.func('const char *SSL_alert_desc_string_long(int value)');
export const SSL_alert_type_string_long = lib.func('const char *SSL_alert_type_string_long(int value)');
export const SSL_get_ex_data_X509_STORE_CTX_idx = lib.func('int SSL_get_ex_data_X509_STORE_CTX_idx()');
export const SSL_use_certificate = lib.func('int SSL_use_certificate(SSL *ssl, X509 *x)');
export const SSL_use_PrivateKey = lib.func('int SSL_use_PrivateKey(SSL *ssl, EVP_PKEY *pkey)');
export const SSL_set_session = lib.func('int SSL_set_session(SSL *ssl, SSL_SESSION *session)');
export const SSL_SESSION_free = lib.func('void SSL_SESSION_free(SSL_SESSION *session)');
export const SSL_SESSION_is_resumable = lib.func('int SSL_SESSION_is_resumable(const SSL_SESSION *s)');
export const SSL_get_session = lib.func('SSL_SESSION *SSL_get_session(const SSL *ssl)');
export const SSL_get1_session = lib.func('SSL_SESSION *SSL_get1_session(SSL *ssl)');
export const SSL_SESSION_get_time = lib.func('long SSL_SESSION_get_time(const SSL_SESSION *s)');
export const SSL_SESSION_get_timeout = lib.func('long SSL_SESSION_get_timeout(const SSL_SESSION *s)');
export const SSL_SESSION_set_timeout = lib.func('long SSL_SESSION_set_timeout(SSL_SESSION *s, long t)');
export const SSL_CTX_set_timeout = lib.func('long SSL_CTX_set_timeout(SSL_CTX *ctx, long t)');
export const SSL_CTX_remove_session = lib.func('int SSL_CTX_remove_session(SSL_CTX *ctx, SSL_SESSION *s)');
export const SSL_CTX_set_session_ticket_cb = lib.func('int SSL_CTX_set_session_ticket_cb(SSL_CTX *ctx, dicomtls_GenerateTicketCb *gen, void *dec, void *arg)');

// ---- verify store context (used from inside the verify callback) ------------------------
export const X509_STORE_CTX_get_ex_data = lib.func('SSL *X509_STORE_CTX_get_ex_data(const X509_STORE_CTX *ctx, int idx)');
export const X509_STORE_CTX_get_current_cert = lib.func('X509 *X509_STORE_CTX_get_current_cert(const X509_STORE_CTX *ctx)');
export const X509_STORE_CTX_get_error = lib.func('int X509_STORE_CTX_get_error(const X509_STORE_CTX *ctx)');
export const X509_STORE_CTX_get_error_depth = lib.func('int X509_STORE_CTX_get_error_depth(const X509_STORE_CTX *ctx)');
export const X509_verify_cert_error_string = lib.func('const char *X509_verify_cert_error_string(long n)');
export const X509_STORE_CTX_set_error = lib.func('void X509_STORE_CTX_set_error(X509_STORE_CTX *ctx, int s)');
export const X509_STORE_CTX_get0_chain = lib.func('OPENSSL_STACK *X509_STORE_CTX_get0_chain(const X509_STORE_CTX *ctx)');
/** The certificates the peer sent (leaf first), as handed to X509_STORE_CTX_init by libssl. */
export const X509_STORE_CTX_get0_untrusted = lib.func('OPENSSL_STACK *X509_STORE_CTX_get0_untrusted(const X509_STORE_CTX *ctx)');
export const X509_VERIFY_PARAM_set1_host = lib.func('int X509_VERIFY_PARAM_set1_host(X509_VERIFY_PARAM *p, const char *name, size_t len)');
export const X509_VERIFY_PARAM_set1_ip_asc = lib.func('int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *p, const char *ipasc)');
export const X509_free = lib.func('void X509_free(X509 *x)');
export const X509_up_ref = lib.func('int X509_up_ref(X509 *x)');
export const EVP_PKEY_up_ref = lib.func('int EVP_PKEY_up_ref(EVP_PKEY *k)');
export const EVP_PKEY_free = lib.func('void EVP_PKEY_free(EVP_PKEY *k)');
export const i2d_X509_bio = lib.func('int i2d_X509_bio(BIO *bp, X509 *x)');
export const X509_NAME_print_ex = lib.func('int X509_NAME_print_ex(BIO *out, const X509_NAME *nm, int indent, unsigned long flags)');

// ---- stacks -------------------------------------------------------------------------------
export const OPENSSL_sk_num = lib.func('int OPENSSL_sk_num(const OPENSSL_STACK *st)');
export const OPENSSL_sk_value = lib.func('void *OPENSSL_sk_value(const OPENSSL_STACK *st, int i)');

// ---- memory BIOs -------------------------------------------------------------------------
export const BIO_s_mem = lib.func('const BIO_METHOD *BIO_s_mem()');
export const BIO_new = lib.func('BIO *BIO_new(const BIO_METHOD *type)');
export const BIO_new_mem_buf = lib.func('BIO *BIO_new_mem_buf(const void *buf, int len)');
export const BIO_free = lib.func('int BIO_free(BIO *a)');
export const BIO_read = lib.func('int BIO_read(BIO *b, void *data, int dlen)');
export const BIO_write = lib.func('int BIO_write(BIO *b, const void *data, int dlen)');
export const BIO_ctrl = lib.func('long BIO_ctrl(BIO *bp, int cmd, long larg, void *parg)');

// ---- key-exchange groups ------------------------------------------------------------------
/** SSL_group_to_name (3.0): a group's name from the NID SSL_CTRL_GET_NEGOTIATED_GROUP returns. */
export const SSL_group_to_name = lib.func('const char *SSL_group_to_name(SSL *ssl, int id)');
/**
 * SSL_get0_group_name exists from OpenSSL 3.2 on (Node 22.20+ link 3.5); the 3.0 of Node
 * 22.15–22.19 lacks it, so it is optional here (bound on first use, undefined where missing) and
 * negotiatedGroup() falls back to the 3.0 pair.
 */
export const SSL_get0_group_name = lib.optional('const char *SSL_get0_group_name(SSL *ssl)');
const SSL_CTX_ctrl_str = lib.func('SSL_CTX_ctrl', 'long', ['SSL_CTX *', 'int', 'long', 'const char *']);

// ---- constants (ssl.h / bio.h / x509_vfy.h / prov_ssl.h, OpenSSL 3.0) --------------------
export const SSL_CTRL_MODE = 33; // SSL_CTX_set_mode(ctx, m) = SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, m, NULL)
export const SSL_CTRL_SESS_NUMBER = 20; // SSL_CTX_sess_number
export const SSL_CTRL_SET_SESS_CACHE_SIZE = 42; // SSL_CTX_sess_set_cache_size
export const SSL_CTRL_SET_SESS_CACHE_MODE = 44; // SSL_CTX_set_session_cache_mode
export const SSL_CTRL_SET_TLSEXT_HOSTNAME = 55; // SSL_set_tlsext_host_name(s, name)
export const SSL_CTRL_CHAIN_CERT = 89; // SSL_add1_chain_cert(s, x) = SSL_ctrl(s, 89, 1, x)
export const SSL_CTRL_BUILD_CERT_CHAIN = 105; // SSL_CTX_build_cert_chain(ctx, flags)
export const SSL_CTRL_SET_GROUPS_LIST = 92; // SSL_CTX_set1_groups_list(ctx, s) = SSL_CTX_ctrl(ctx, 92, 0, s)
export const SSL_CTRL_GET_NEGOTIATED_GROUP = 134; // SSL_get_negotiated_group(s) = SSL_ctrl(s, 134, 0, NULL)
export const SSL_CTRL_SET_MIN_PROTO_VERSION = 123; // SSL_CTX_set_min_proto_version
export const SSL_CTRL_SET_MAX_PROTO_VERSION = 124; // SSL_CTX_set_max_proto_version
export const BIO_CTRL_PENDING = 10; // BIO_pending(b) = BIO_ctrl(b, BIO_CTRL_PENDING, 0, NULL)
export const TLSEXT_NAMETYPE_host_name = 0;
export const SSL_FILETYPE_PEM = 1;
export const SSL_MODE_ENABLE_PARTIAL_WRITE = 0x1;
export const SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = 0x2;
export const SSL_MODE_AUTO_RETRY = 0x4;
export const SSL_MODE_RELEASE_BUFFERS = 0x10;
export const SSL_SESS_CACHE_CLIENT = 0x1;
export const SSL_SESS_CACHE_SERVER = 0x2;
export const SSL_SESS_CACHE_NO_INTERNAL_STORE = 0x200;
export const SSL_OP_NO_TICKET = 1n << 14n;
export const SSL_BUILD_CHAIN_FLAG_NO_ROOT = 0x2;
export const SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR = 0x8;
export const SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR = 0x10;
export const SSL_OP_NO_COMPRESSION = 1n << 17n;
export const SSL_OP_CIPHER_SERVER_PREFERENCE = 1n << 22n;
export const SSL_OP_NO_RENEGOTIATION = 1n << 30n;
/** OpenSSL 3.2+ (RFC 8879): do not send our certificate compressed; an older OpenSSL ignores the bit. */
export const SSL_OP_NO_TX_CERTIFICATE_COMPRESSION = 1n << 32n;
export const SSL_SENT_SHUTDOWN = 1;
export const SSL_RECEIVED_SHUTDOWN = 2;
export const SSL_TLSEXT_ERR_OK = 0;
export const SSL_TLSEXT_ERR_ALERT_FATAL = 2;
export const SSL_TLSEXT_ERR_NOACK = 3;
export const OPENSSL_NPN_NEGOTIATED = 1;
// XN_FLAG_ONELINE (x509.h) = ASN1_STRFLGS_RFC2253 (0x317) | ASN1_STRFLGS_ESC_QUOTE (8)
//   | XN_FLAG_SEP_CPLUS_SPC (2<<16) | XN_FLAG_SPC_EQ (1<<23) | XN_FLAG_FN_SN (0)
export const XN_FLAG_ONELINE = 0x82031f;

/** SSL_CB_* bits of the info callback's `where` (ssl.h). */
export const SSL_CB = {
  LOOP: 0x01, EXIT: 0x02, READ: 0x04, WRITE: 0x08, ALERT: 0x4000,
  HANDSHAKE_START: 0x10, HANDSHAKE_DONE: 0x20, ST_CONNECT: 0x1000, ST_ACCEPT: 0x2000,
} as const;

/** Protocol version numbers (prov_ssl.h). */
export const PROTOCOL_VERSION = {
  'TLSv1': 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304,
} as const;

// ---- macro helpers -------------------------------------------------------------------------
export function BIO_pending(b: unknown): number {
  return Number(BIO_ctrl(b, BIO_CTRL_PENDING, 0, null));
}
export function SSL_set_tlsext_host_name(ssl: unknown, name: string): number {
  return Number(SSL_ctrl_str(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name));
}
/** SSL_CTX_set1_groups_list: 1 when OpenSSL knows every group in the colon-separated list. */
export function SSL_CTX_set1_groups_list(ctx: unknown, list: string): number {
  return Number(SSL_CTX_ctrl_str(ctx, SSL_CTRL_SET_GROUPS_LIST, 0, list));
}
/** SSL_set1_groups_list: the connection's own groups (and key shares), replacing its context's. */
export function SSL_set1_groups_list(ssl: unknown, list: string): number {
  return Number(SSL_ctrl_str(ssl, SSL_CTRL_SET_GROUPS_LIST, 0, list));
}
/** The key-exchange group of the handshake (TLS 1.3, or ECDHE in TLS 1.2), or undefined. */
export function negotiatedGroup(ssl: unknown): string | undefined {
  // SSL_get0_group_name reads the session's group: before the first hello there is no session
  // and OpenSSL would dereference NULL.
  if (SSL_get_session(ssl) === null) return undefined;
  const get0GroupName = SSL_get0_group_name();
  if (get0GroupName !== undefined) return (get0GroupName(ssl) as string | null) ?? undefined;
  const nid = Number(SSL_ctrl(ssl, SSL_CTRL_GET_NEGOTIATED_GROUP, 0, null));
  if (nid === 0) return undefined; // NID_undef: no group (RSA or DHE key exchange, or not yet known)
  return (SSL_group_to_name(ssl, nid) as string | null) ?? undefined;
}
export function SSL_add1_chain_cert(ssl: unknown, x509: unknown): number {
  return Number(SSL_ctrl(ssl, SSL_CTRL_CHAIN_CERT, 1, x509));
}

/** What readMemBio reads into first; a certificate's DER fits, the peer's is read at every handshake. */
const MEM_SCRATCH = 8192;
let memScratch: Buffer | undefined;
/**
 * Read a memory BIO to its end (small objects only: names, DER of one certificate). Read into a
 * scratch buffer first: a memory BIO hands out what it holds up to the length asked, so only
 * a read that fills it needs BIO_pending for the rest (one OpenSSL call instead of two).
 */
export function readMemBio(bio: unknown): Buffer {
  const scratch = (memScratch ??= Buffer.allocUnsafe(MEM_SCRATCH));
  const got = BIO_read(bio, scratch, scratch.length) as number;
  if (got <= 0) return Buffer.alloc(0);
  if (got < scratch.length) return Buffer.from(scratch.subarray(0, got));
  const whole = readMemBioRest(bio, scratch);
  return whole === scratch ? Buffer.from(scratch) : whole;
}

/**
 * After a read of a memory BIO that filled `head`: `head`'s bytes followed by everything the BIO
 * still holds (BIO_pending), in a new buffer, or `head` itself when it holds nothing more. A
 * shorter result than head plus the pending bytes means the BIO returned less than it said.
 */
export function readMemBioRest(bio: unknown, head: Buffer): Buffer {
  const more = BIO_pending(bio);
  if (more <= 0) return head;
  const out = Buffer.allocUnsafe(head.length + more);
  head.copy(out);
  const rest = BIO_read(bio, out.subarray(head.length), more) as number;
  return rest === more ? out : out.subarray(0, head.length + Math.max(0, rest));
}

// ---- live-object accounting (leak test) -------------------------------------------------
const counters = { sslCtx: 0, ssl: 0, callbacks: 0, sessions: 0 };
export const live = {
  add(kind: keyof typeof counters, n = 1): void { counters[kind] += n; },
  snapshot(): Readonly<typeof counters> { return { ...counters }; },
};

/** SSL_SESSION_free for a reference we counted when we took it. */
export function freeCountedSession(session: unknown): void {
  SSL_SESSION_free(session);
  counters.sessions--;
}

type RegisteredCallback = unknown;
/** koffi.register with accounting; pair every call with `unregisterCallback`. */
export function registerCallback(fn: (...args: never[]) => unknown, proto: unknown): RegisteredCallback {
  const p = koffi.register(fn as (...a: unknown[]) => unknown, koffi.pointer(proto as never));
  counters.callbacks++;
  return p;
}
export function unregisterCallback(p: RegisteredCallback): void {
  koffi.unregister(p as never);
  counters.callbacks--;
}

/** Numeric identity of a native pointer, for maps from SSL* to its socket. */
export function addressOf(p: unknown): bigint {
  return koffi.address(p as never) as bigint;
}
export { koffi };

// ---- chains, modes, protocol range (macros over SSL_CTX_ctrl) ----------------------------
export const X509_NAME_get0_der = lib.func('int X509_NAME_get0_der(const X509_NAME *nm, _Out_ void **pder, _Out_ size_t *pderlen)');
export const SSL_CTX_add1_chain_cert = (ctx: unknown, x509: unknown): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 1, x509)); // SSL_CTX_add1_chain_cert
export const SSL_CTX_set_mode = (ctx: unknown, mode: number): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, mode, null)); // SSL_CTX_set_mode
export const SSL_CTX_build_cert_chain = (ctx: unknown, flags: number): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_BUILD_CERT_CHAIN, flags, null)); // SSL_CTX_build_cert_chain
export const SSL_CTX_sess_set_cache_size = (ctx: unknown, size: number): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_SIZE, size, null)); // SSL_CTX_sess_set_cache_size
export const SSL_CTX_sess_number = (ctx: unknown): number => Number(SSL_CTX_ctrl(ctx, SSL_CTRL_SESS_NUMBER, 0, null));
export const SSL_CTX_set_session_cache_mode = (ctx: unknown, mode: number): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, mode, null)); // SSL_CTX_set_session_cache_mode
export const SSL_CTX_set_min_proto_version = (ctx: unknown, v: number): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, v, null)); // SSL_CTX_set_min_proto_version
export const SSL_CTX_set_max_proto_version = (ctx: unknown, v: number): number =>
  Number(SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, v, null)); // SSL_CTX_set_max_proto_version

// ---- acceptable CA names a server sends in CertificateRequest ----------------------------
export const X509_STORE_get0_objects = lib.func('OPENSSL_STACK *X509_STORE_get0_objects(X509_STORE *st)');
export const X509_OBJECT_get0_X509 = lib.func('X509 *X509_OBJECT_get0_X509(const void *obj)');
export const X509_get_subject_name = lib.func('X509_NAME *X509_get_subject_name(const X509 *x)');
export const X509_NAME_dup = lib.func('X509_NAME *X509_NAME_dup(const X509_NAME *n)');
export const OPENSSL_sk_new_null = lib.func('OPENSSL_STACK *OPENSSL_sk_new_null()');
export const OPENSSL_sk_push = lib.func('int OPENSSL_sk_push(OPENSSL_STACK *st, const void *data)');
/** Takes ownership of the stack of X509_NAME. */
export const SSL_CTX_set_client_CA_list = lib.func('void SSL_CTX_set_client_CA_list(SSL_CTX *ctx, OPENSSL_STACK *names)');
