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

test('readMemBio reads a memory BIO to its end whatever its length (around its scratch buffer and past it) and leaves it empty', async () => {
  const S = await import('../../../../src/transport/tls/openssl/ssl.js');
  const bio = S.BIO_new(S.BIO_s_mem());
  try {
    for (const length of [0, 1, 1500, 8191, 8192, 8193, 16384, 70_000]) {
      const bytes = Buffer.alloc(length);
      for (let i = 0; i < length; i++) bytes[i] = (i * 131 + length) & 0xff;
      if (length > 0) assert.equal(S.BIO_write(bio, bytes, length), length);
      const first = S.readMemBio(bio);
      assert.equal(first.length, length, `length ${length}`);
      assert.ok(first.equals(bytes), `bytes of ${length}`);
      assert.equal(S.BIO_pending(bio), 0);
      // The next read of the same length must not change what the first returned (no shared memory).
      const copy = Buffer.from(first);
      if (length > 0) S.BIO_write(bio, Buffer.alloc(length, 0xee), length);
      S.readMemBio(bio);
      assert.ok(first.equals(copy), `kept ${length}`);
    }
    assert.deepEqual(drainErrors(), []);
  } finally {
    S.BIO_free(bio);
  }
});
