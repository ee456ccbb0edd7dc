/**
 * Cross-check against the scenario oracle (test/helpers/pki.ts, made by a different helper with
 * `openssl ca`): for every scenario certificate, the certificate string equals the openssl
 * command's output, the identity loads, and our store's verdict equals `openssl verify`'s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { scenarioPki, PKI_PASSWORD, type Identity } from '../../helpers/pki.js';
import { certificateString } from '../../../src/transport/tls/certificate-string.js';
import { loadIdentity } from '../../../src/transport/tls/identity.js';
import { configureTrust, verifyWithStore, type TrustOptions } from '../../../src/transport/tls/trust.js';
import { X509_STORE_free, X509_STORE_new } from '../../../src/transport/tls/openssl/x509.js';
import { drainErrors } from '../../../src/transport/tls/openssl/lib.js';
import { certificateStringFromCli, opensslStatus } from '../../helpers/x509-openssl.js';

const pki = scenarioPki();
const identities = Object.entries(pki).filter((e): e is [string, Identity] =>
  typeof e[1] === 'object' && e[1] !== null && 'fullchain' in e[1]);

const cliLines = certificateStringFromCli;

test('the scenario set has the identities this test walks', () => {
  assert.ok(identities.length >= 10, identities.map(([n]) => n).join(','));
});

for (const [name, id] of identities) {
  test(`scenario ${name}: certificate string equals openssl's, identity loads, verdict equals openssl verify`, () => {
    const loaded = loadIdentity({ cert: id.fullchain, key: id.key });
    const store = X509_STORE_new();
    try {
      assert.deepEqual(certificateString(loaded.cert).split('\n'), cliLines(id.cert));
      const trust: TrustOptions = { ca: [pki.trustRoot], crl: [pki.crlAll], crlCheck: 'chain' };
      configureTrust(store, trust);
      const r = verifyWithStore(store, loaded.cert, loaded.chain, { purpose: 'sslServer' });
      const untrusted = readFileSync(id.fullchain, 'utf8').includes('BEGIN CERTIFICATE', 30) ? ['-untrusted', id.fullchain] : [];
      const cli = opensslStatus(['verify', '-CAfile', pki.trustRoot, '-crl_check_all', '-CRLfile', pki.crlAll,
        '-purpose', 'sslserver', ...untrusted, id.cert]);
      const m = /error (\d+) at (\d+) depth lookup/.exec(cli.out);
      assert.equal(r.ok ? 'OK' : `error ${r.error} at ${r.depth}`, m ? `error ${m[1]} at ${m[2]}` : 'OK', cli.out);
    } finally {
      loaded.free();
      X509_STORE_free(store);
    }
    assert.deepEqual(drainErrors(), []);
  });
}

test('scenario encrypted keys and PKCS#12 load with the scenario password', () => {
  for (const key of [pki.encryptedKeyTraditional, pki.encryptedKeyPkcs8]) {
    loadIdentity({ cert: pki.valid.cert, key }, () => PKI_PASSWORD).free();
  }
  loadIdentity({ pkcs12: pki.pkcs12, password: PKI_PASSWORD }).free();
  loadIdentity({ cert: pki.validDer, key: pki.valid.key }).free();
});
