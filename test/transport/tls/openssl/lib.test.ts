import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drainErrors, opensslVersion, lib } from '../../../../src/transport/tls/openssl/lib.js';

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
