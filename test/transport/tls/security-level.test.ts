/**
 * Every profile sets its OpenSSL security level itself (issue 15, defect 9): B.9 – B.13 at level
 * 2 (RSA/DH ≥ 2048 bits, EC ≥ 224 bits, as BCP 195 asks), the legacy profiles at 0. Weak keys are
 * made at test time; real peers (`openssl s_client`, `openssl s_server`) present them.
 *
 * The build's default level differs (Node 22: 1, Node 24: 2) and an OpenSSL configuration can
 * lower it: the child-process test lowers it to 1 and checks that no profile follows.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scenarioPki } from '../../helpers/pki.js';
import { TestPki, type CertFiles } from '../../helpers/x509-openssl.js';
import { startSServer, runSClient } from '../../helpers/openssl-peer.js';
import { SecureContext, VerifyMode } from '../../../src/transport/tls/context.js';
import { profiles, type ProfileName } from '../../../src/transport/tls/profiles.js';
import { TlsConfigurationError } from '../../../src/transport/tls/errors.js';
import { assertHandshakeError, closeSocket, connectOurClient, startOurServer, within } from './scenario-helpers.js';

const pki = scenarioPki();
const tmp = new TestPki();
after(() => tmp.cleanup());

const root: CertFiles = { cert: pki.root.cert, key: pki.root.key, dir: tmp.dir };
const leafExt = ['basicConstraints = CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = serverAuth, clientAuth', 'subjectAltName = DNS:localhost, IP:127.0.0.1'];
const caExt = ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash'];

/** RSA-1024 leaf under the trusted root. */
const weakLeaf = tmp.cert('rsa1024-leaf', { subj: '/CN=localhost/O=Weak Key', issuer: root, ext: leafExt, keyType: 'rsa', rsaBits: 1024 });
/** A trusted RSA-1024 root CA and an RSA-2048 leaf under it: the CA key is what is too small. */
const weakCa = tmp.cert('rsa1024-ca', { subj: '/CN=Weak Root CA', ext: caExt, keyType: 'rsa', rsaBits: 1024, days: 30 });
const underWeakCa = tmp.cert('under-weak-ca', { subj: '/CN=localhost/O=Under Weak CA', issuer: weakCa, ext: leafExt, keyType: 'rsa' });
/** RSA-2048 leaf: what static-RSA (legacy-aes) and DHE-RSA suites need on the server. */
const rsaServer = tmp.cert('rsa2048-server', { subj: '/CN=localhost/O=RSA', issuer: root, ext: leafExt, keyType: 'rsa' });
const weakCaTrust = tmp.write('weak-ca-and-root.pem', execFileSync('cat', [weakCa.cert, pki.trustRoot]));

/** The system `openssl` may default to level 2 itself: its peers must be told to use weak keys. */
const LEVEL0 = ['-cipher', 'DEFAULT:@SECLEVEL=0'];

const nonLegacy = (Object.keys(profiles) as ProfileName[]).filter((p) => !profiles[p].legacy);

describe('security level per profile', () => {
  test('every profile states a level; B.9 – B.13 are at 2 or above, the legacy ones at 0', () => {
    for (const name of Object.keys(profiles) as ProfileName[]) {
      const p = profiles[name];
      assert.equal(typeof p.securityLevel, 'number', name);
      if (p.legacy) assert.equal(p.securityLevel, 0, name);
      else assert.ok(p.securityLevel >= 2, `${name} (${p.section}) at level ${p.securityLevel}`);
    }
  });

  test('a context runs at its profile\'s level, read back from OpenSSL', () => {
    for (const name of Object.keys(profiles) as ProfileName[]) {
      for (const role of ['client', 'server'] as const) {
        const ctx = new SecureContext({ role, profile: name, allowLegacyProfiles: true });
        try {
          assert.equal(ctx.securityLevel, profiles[name].securityLevel, `${role} ${name}`);
        } finally {
          ctx.dispose();
        }
      }
    }
  });

  test('an OpenSSL configuration lowering the default to level 1 does not lower a profile', () => {
    const conf = tmp.write('level1.cnf', [
      'nodejs_conf = init', '[init]', 'ssl_conf = ssl', '[ssl]', 'system_default = sys', '[sys]', 'CipherString = DEFAULT:@SECLEVEL=1', ''].join('\n'));
    const contextModule = fileURLToPath(new URL('../../../src/transport/tls/context.js', import.meta.url));
    const script = tmp.write('levels.mjs', `
      import { SecureContext } from ${JSON.stringify(contextModule)};
      const out = {};
      for (const profile of ${JSON.stringify(nonLegacy)}) {
        const ctx = new SecureContext({ role: 'server', profile });
        out[profile] = ctx.securityLevel;
        ctx.dispose();
      }
      console.log(JSON.stringify(out));
    `);
    const r = spawnSync(process.execPath, [`--openssl-config=${conf}`, script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const levels = JSON.parse(r.stdout) as Record<string, number>;
    for (const name of nonLegacy) assert.equal(levels[name], profiles[name].securityLevel, name);
  });
});

describe('our server refuses an RSA-1024 client certificate under B.12', () => {
  const serverOptions = { identity: { cert: pki.valid.cert, key: pki.valid.key }, verifyMode: VerifyMode.Peer | VerifyMode.FailIfNoPeerCert };

  for (const [what, client, trust, depth, errorName] of [
    ['end-entity key', weakLeaf, pki.trustRoot, 0, 'X509_V_ERR_EE_KEY_TOO_SMALL'],
    ['CA key', underWeakCa, weakCaTrust, 1, 'X509_V_ERR_CA_KEY_TOO_SMALL'],
  ] as const) {
    test(`${what}: refused with ${errorName}, the message names the key size and the level`, async () => {
      const server = await startOurServer({ ...serverOptions, ca: [trust] }, 'ok');
      try {
        const sclient = runSClient({ port: server.port, CAfile: pki.trustRoot, cert: client.cert, key: client.key, keepStdinOpen: true, extraArgs: LEVEL0 });
        const outcome = await within(server.next(), 15_000, 'our server: outcome');
        await closeSocket(outcome.socket);
        await sclient;
        const e = assertHandshakeError(outcome.error);
        assert.equal(e.verifyFailure?.errorName, errorName);
        assert.equal(e.verifyFailure?.depth, depth);
        // The verify callback saw the same error OpenSSL reports.
        assert.deepEqual(outcome.calls.filter((c) => c.ok === 0).map((c) => [c.depth, c.errorName]), [[depth, errorName]]);
        assert.match(e.message, /RSA 1024-bit key is below OpenSSL security level 2 of profile bcp195-rfc8996 \(RSA\/DSA\/DH of 2048 bits/);
      } finally {
        await server.close();
      }
    });
  }

  test('accepted under the explicitly chosen legacy profile (legacy-aes, allowLegacyProfiles)', async () => {
    // legacy-aes is static RSA key exchange: the server needs an RSA certificate.
    const server = await startOurServer({ ...serverOptions, identity: { cert: rsaServer.cert, key: rsaServer.key }, ca: [pki.trustRoot],
      profile: 'legacy-aes', allowLegacyProfiles: true }, 'ok');
    try {
      const sclient = runSClient({ port: server.port, CAfile: pki.trustRoot, cert: weakLeaf.cert, key: weakLeaf.key, keepStdinOpen: true,
        protocol: 'tls1_2', extraArgs: ['-cipher', 'AES128-SHA:@SECLEVEL=0'] });
      const outcome = await within(server.next(), 15_000, 'our server: outcome');
      assert.equal(outcome.error, undefined, String(outcome.error));
      assert.equal(outcome.socket?.peerCertificate?.publicKey.asymmetricKeyDetails?.modulusLength, 1024);
      await closeSocket(outcome.socket);
      await sclient;
    } finally {
      await server.close();
    }
  });
});

describe('our client refuses an openssl s_server with an RSA-1024 key under B.12', () => {
  test('refused: X509_V_ERR_EE_KEY_TOO_SMALL at depth 0, named in the message', async () => {
    const server = await startSServer({ cert: weakLeaf.cert, key: weakLeaf.key, extraArgs: LEVEL0 });
    try {
      const out = await connectOurClient(server.port, { ca: [pki.trustRoot] }, 'ok');
      await closeSocket(out.socket);
      const e = assertHandshakeError(out.error);
      assert.equal(e.verifyFailure?.errorName, 'X509_V_ERR_EE_KEY_TOO_SMALL');
      assert.equal(e.verifyFailure?.depth, 0);
      assert.match(e.message, /RSA 1024-bit key is below OpenSSL security level 2/);
    } finally {
      await server.close();
    }
  });

  test('accepted under legacy-aes with allowLegacyProfiles', async () => {
    const server = await startSServer({ cert: weakLeaf.cert, key: weakLeaf.key, protocol: 'tls1_2', extraArgs: ['-cipher', 'AES128-SHA:@SECLEVEL=0'] });
    try {
      const out = await connectOurClient(server.port, { ca: [pki.trustRoot], profile: 'legacy-aes', allowLegacyProfiles: true }, 'ok');
      assert.equal(out.error, undefined, String(out.error));
      assert.equal(out.socket?.cipher, 'AES128-SHA');
      await closeSocket(out.socket);
    } finally {
      await server.close();
    }
  });

  test('DHE with a 1024-bit group is refused (B.10 profile, TLS 1.2, DHE suites only)', async () => {
    const dh = tmp.path('dh1024.pem');
    // Safe-prime parameters (`-dsaparam` ones are X9.42, which s_server does not load).
    execFileSync('openssl', ['dhparam', '-out', dh, '1024'], { stdio: 'ignore' });
    const dheServer = await startSServer({ cert: rsaServer.cert, key: rsaServer.key, protocol: 'tls1_2',
      extraArgs: ['-dhparam', dh, '-cipher', 'DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0'] });
    try {
      const out = await connectOurClient(dheServer.port, { ca: [pki.trustRoot], profile: 'bcp195-nd', maxProtocol: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256' }, 'ok');
      await closeSocket(out.socket);
      const e = assertHandshakeError(out.error);
      assert.ok(e.openssl.some((x) => /dh key too small/.test(x.reason ?? '')), `${e.message} ${JSON.stringify(e.openssl)}`);
    } finally {
      await dheServer.close();
    }
  });
});

describe('our own identity below the level', () => {
  test('an RSA-1024 certificate is refused when the context is built, naming the key and the level', () => {
    assert.throws(() => new SecureContext({ role: 'server', identity: { cert: weakLeaf.cert, key: weakLeaf.key } }), (e: unknown) => {
      assert.ok(e instanceof TlsConfigurationError);
      assert.equal(e.option, 'identity.cert');
      assert.match(e.message, /RSA 1024-bit key is below OpenSSL security level 2 of profile bcp195-rfc8996/);
      return true;
    });
    // The legacy profile takes it.
    new SecureContext({ role: 'server', identity: { cert: weakLeaf.cert, key: weakLeaf.key }, profile: 'legacy-aes', allowLegacyProfiles: true }).dispose();
  });
});
