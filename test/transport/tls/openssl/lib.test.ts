import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arityOf, drainErrors, opensslVersion, lib } from '../../../../src/transport/tls/openssl/lib.js';

test('binds the OpenSSL that Node itself links', () => {
  assert.match(opensslVersion(), /^OpenSSL \d+\.\d+\.\d+/);
  assert.ok(opensslVersion().includes(process.versions.openssl.replace(/\+.*$/, '')));
});

test('drainErrors empties the queue and names the failure', () => {
  const PEM_read_bio_X509 = lib.func('void *PEM_read_bio_X509(void *bp, void *x, void *cb, void *u)');
  const BIO_new_mem_buf = lib.func('void *BIO_new_mem_buf(const void *buf, int len)');
  const BIO_free = lib.func('int BIO_free(void *a)');
  const bad = Buffer.from('-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  const bio = BIO_new_mem_buf(bad, bad.length);
  assert.equal(PEM_read_bio_X509(bio, null, null, null), null);
  BIO_free(bio);
  const errors = drainErrors();
  assert.ok(errors.length > 0);
  assert.match(errors[0]!.text, /^error:[0-9A-F]+:/);
  assert.deepEqual(drainErrors(), []);
});

test('a declaration\'s parameter count, read from either form; variadic ones have none', () => {
  assert.equal(arityOf(['const SSL_METHOD *TLS_client_method()']), 0);
  assert.equal(arityOf(['unsigned long ERR_get_error(void)']), 0);
  assert.equal(arityOf(['int SSL_read(SSL *ssl, void *buf, int num)']), 3);
  assert.equal(arityOf(['void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, dicomtls_VerifyCb *cb)']), 3);
  assert.equal(arityOf(['SSL_ctrl', 'long', ['SSL *', 'int', 'long', 'const char *']]), 4);
  assert.equal(arityOf(['EVP_PKEY *EVP_PKEY_Q_keygen(void *libctx, const char *propq, const char *type, ...)']), undefined);
});

test('a bound function takes its arguments as declared, whatever its parameter count', () => {
  const BIO_new = lib.func('void *BIO_new(const void *type)');
  const BIO_s_mem = lib.func('const void *BIO_s_mem()');
  const BIO_write = lib.func('int BIO_write(void *b, const void *data, int dlen)');
  const BIO_read = lib.func('int BIO_read(void *b, void *data, int dlen)');
  const BIO_free = lib.func('int BIO_free(void *a)');
  const bio = BIO_new(BIO_s_mem());
  assert.equal(BIO_write(bio, Buffer.from('abcdef'), 4), 4);
  const out = Buffer.alloc(8);
  assert.equal(BIO_read(bio, out, 8), 4);
  assert.equal(out.subarray(0, 4).toString(), 'abcd');
  assert.equal(BIO_free(bio), 1);
});
