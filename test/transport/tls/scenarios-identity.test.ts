/**
 * Own-identity scenarios against real openssl peers: encrypted private keys (traditional PEM and
 * PKCS#8) with the right / wrong / no password, in register style (option or password callback)
 * and class style (an overridden onPassword), PKCS#12 bundles, and client-certificate selection
 * from the acceptable issuer names the server sends (CertificateRequest certificate_authorities).
 */
import { describe, test } from 'node:test';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { scenarioPki, PKI_PASSWORD } from '../../helpers/pki.js';
import { startSServer, runSClient, callKey } from '../../helpers/openssl-peer.js';
import { SecureContext, VerifyMode, type ClientCertificateRequest, type IdentityOptions, type SecureContextOptions }
  from '../../../src/transport/tls/context.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { UnableToReadPrivateKeyError } from '../../../src/transport/tls/errors.js';
import { assertHandshakeError, closeSocket, connectOurClient, startOurServer, within } from './scenario-helpers.js';

const pki = scenarioPki();

/** Serves one s_client connection with `context`'s identity; true when s_client verified it. */
async function servesVerifiably(options: Partial<SecureContextOptions>): Promise<void> {
  const server = await startOurServer({ ca: [pki.trustRoot], verifyMode: VerifyMode.None, ...options }, 'none');
  try {
    const client = runSClient({ port: server.port, CAfile: pki.trustRoot, verifyReturnError: true });
    const outcome = await within(server.next(), 15_000, 'our server');
    assert.equal(outcome.error, undefined, `handshake failed: ${String(outcome.error)}`);
    await closeSocket(outcome.socket);
    const theirs = await client;
    assert.equal(theirs.verifyReturnCode, 0, theirs.output);
    assert.deepEqual(theirs.verifyCalls.map(callKey), [{ depth: 1, ok: 1 }, { depth: 0, ok: 1 }]);
    assert.equal(theirs.verifyCalls[0]!.subject, 'CN = Test Root CA, O = dicom-tls tests');
  } finally {
    await server.close();
  }
}

const encrypted = [
  ['traditional PEM (Proc-Type: 4,ENCRYPTED)', pki.encryptedKeyTraditional],
  ['PKCS#8 AES-256', pki.encryptedKeyPkcs8],
] as const;

function serverOptions(key: string, extra: Partial<SecureContextOptions> = {}): SecureContextOptions {
  const { identity, ...rest } = extra;
  return { role: 'server', identity: { cert: pki.valid.cert, key, ...identity }, ...rest };
}

// Recorded outside the instance: the password is asked while the constructor loads the key,
// before a subclass's own fields exist.
const classStyleCalls: [number, boolean][] = [];
class PasswordFromOverride extends SecureContext {
  override onPassword(maxLength: number, writing: boolean): string {
    classStyleCalls.push([maxLength, writing]);
    return PKI_PASSWORD;
  }
}

for (const [kind, key] of encrypted) {
  describe(`encrypted key, ${kind}`, () => {
    test('right password as an option: the key loads and s_client verifies our server', async () => {
      await servesVerifiably({ identity: { cert: pki.valid.cert, key, password: PKI_PASSWORD } });
    });

    test('right password from the password callback (register style), asked for reading', async () => {
      const calls: [number, boolean][] = [];
      await servesVerifiably({
        identity: { cert: pki.valid.cert, key },
        passwordCallback: (maxLength, writing) => { calls.push([maxLength, writing]); return PKI_PASSWORD; },
      });
      assert.ok(calls.length >= 1, 'the callback was asked');
      assert.ok(calls.every(([max, writing]) => max > PKI_PASSWORD.length && writing === false), JSON.stringify(calls));
    });

    test('right password from an overridden onPassword (class style)', () => {
      classStyleCalls.length = 0;
      const context = new PasswordFromOverride(serverOptions(key));
      context.dispose();
      assert.ok(classStyleCalls.length >= 1);
      assert.equal(classStyleCalls[0]![1], false);
    });

    test('wrong password (option and callback) gives UnableToReadPrivateKeyError', () => {
      for (const extra of [{ identity: { password: 'wrong' } }, { passwordCallback: () => 'wrong' }] as Partial<SecureContextOptions>[]) {
        assert.throws(() => new SecureContext(serverOptions(key, extra)), (e: unknown) => {
          assert.ok(e instanceof UnableToReadPrivateKeyError, String(e));
          assert.equal(e.code, 'DICOM_TLS_ERR_PRIVATE_KEY');
          return true;
        });
      }
    });

    test('no password at all gives UnableToReadPrivateKeyError (never a terminal prompt)', () => {
      for (const extra of [{}, { passwordCallback: () => undefined }] as Partial<SecureContextOptions>[]) {
        assert.throws(() => new SecureContext(serverOptions(key, extra)), UnableToReadPrivateKeyError);
      }
    });
  });
}

describe('identity and trust from buffers, DER and directories', () => {
  test('DER certificate buffer + encrypted PKCS#8 key buffer with its password: s_client verifies our server', async () => {
    await servesVerifiably({ identity: { cert: readFileSync(pki.validDer), key: readFileSync(pki.encryptedKeyPkcs8), password: PKI_PASSWORD } });
  });

  test('trust anchors as a buffer and as a plain directory give the same verify calls as s_client -CAfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-ca-dir-'));
    try {
      copyFileSync(pki.trustRoot, join(dir, 'root.pem'));
      for (const ca of [[readFileSync(pki.trustRoot)], [dir]]) {
        const server = await startSServer({ cert: pki.wrongPurpose.cert, key: pki.wrongPurpose.key, naccept: 2 });
        try {
          const theirs = await runSClient({ port: server.port, CAfile: pki.trustRoot });
          const { calls, socket, error } = await connectOurClient(server.port, { ca }, 1);
          assert.equal(error, undefined, String(error));
          await closeSocket(socket);
          assert.deepEqual(calls.map(callKey), theirs.verifyCalls.map(callKey));
          assert.deepEqual(calls.map(callKey), [{ depth: 0, ok: 0, error: 26 }, { depth: 1, ok: 1 }, { depth: 0, ok: 1 }]);
        } finally {
          await server.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PKCS#12 identity', () => {
  test('with its password: our server is verified by s_client', async () => {
    await servesVerifiably({ identity: { pkcs12: pki.pkcs12, password: PKI_PASSWORD } });
  });

  test('with a wrong or no password: UnableToReadPrivateKeyError', () => {
    assert.throws(() => new SecureContext({ role: 'server', identity: { pkcs12: pki.pkcs12, password: 'wrong' } }), UnableToReadPrivateKeyError);
    assert.throws(() => new SecureContext({ role: 'server', identity: { pkcs12: pki.pkcs12 } }), UnableToReadPrivateKeyError);
  });

  test('as a client identity, s_server -Verify accepts it', async () => {
    const server = await startSServer({ cert: pki.valid.cert, key: pki.valid.key, CAfile: pki.trustRoot, Verify: 2, verifyReturnError: true });
    try {
      const { socket, error } = await connectOurClient(server.port,
        { ca: [pki.trustRoot], identity: { pkcs12: pki.pkcs12, password: PKI_PASSWORD } }, 'ok');
      assert.equal(error, undefined, String(error));
      await closeSocket(socket);
      await within(server.exited, 10_000, 's_server exit');
      assert.deepEqual(server.verifyCalls().map(callKey), [{ depth: 1, ok: 1 }, { depth: 0, ok: 1 }]);
      assert.equal(server.verifyCalls()[1]!.subject, 'CN = localhost, O = dicom-tls tests');
    } finally {
      await server.close();
    }
  });
});

describe('client-certificate selection from the acceptable issuer names', () => {
  const identities: Record<string, IdentityOptions> = {
    'CN = CA-A, O = Hospital A': { cert: pki.clientA.cert, key: pki.clientA.key },
    'CN = CA-B, O = Hospital B': { cert: pki.clientB.cert, key: pki.clientB.key },
  };
  function pick(requests: ClientCertificateRequest[]) {
    return (req: ClientCertificateRequest): IdentityOptions | undefined => {
      requests.push(req);
      const issuer = req.acceptableIssuers.find((name) => identities[name] !== undefined);
      return issuer === undefined ? undefined : identities[issuer];
    };
  }

  test('against openssl s_server trusting only CA-B: the callback sees CA-B, picks B, handshake succeeds', async () => {
    const server = await startSServer({ cert: pki.valid.cert, key: pki.valid.key, CAfile: pki.caB.cert, Verify: 2,
      verifyReturnError: true, naccept: 2 });
    try {
      const theirs = await runSClient({ port: server.port, CAfile: pki.trustRoot });
      assert.deepEqual(theirs.acceptableCaNames, ['CN = CA-B, O = Hospital B'], 'oracle: s_server names CA-B only');
      const requests: ClientCertificateRequest[] = [];
      const { socket, error } = await connectOurClient(server.port,
        { ca: [pki.trustRoot], clientCertificateCallback: pick(requests) }, 'ok');
      assert.equal(error, undefined, String(error));
      assert.equal(requests.length, 1);
      assert.deepEqual(requests[0]!.acceptableIssuers, theirs.acceptableCaNames);
      assert.equal(requests[0]!.acceptableIssuersDer.length, 1);
      await closeSocket(socket);
      await within(server.exited, 10_000, 's_server exit');
      // s_server verified client B's chain with no error.
      const calls = server.verifyCalls();
      assert.deepEqual(calls.map(callKey), [{ depth: 1, ok: 1 }, { depth: 0, ok: 1 }]);
      assert.deepEqual(calls.map((c) => c.subject), ['CN = CA-B, O = Hospital B', 'CN = Client B, O = Hospital B']);
    } finally {
      await server.close();
    }
  });

  test('against our own server trusting only CA-B: the same choice, and the server sees client B', async () => {
    const server = await startOurServer({ identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.caB.cert],
      verifyMode: VerifyMode.Peer | VerifyMode.FailIfNoPeerCert }, 'ok');
    try {
      // Oracle: what s_client reads from our CertificateRequest.
      const theirs = await runSClient({ port: server.port, CAfile: pki.trustRoot, keepStdinOpen: true });
      assert.deepEqual(theirs.acceptableCaNames, ['CN = CA-B, O = Hospital B'], 'our server names CA-B in its CertificateRequest');
      assertHandshakeError((await server.next()).error);
      const requests: ClientCertificateRequest[] = [];
      const context = new SecureContext({ role: 'client', ca: [pki.trustRoot], clientCertificateCallback: pick(requests) });
      try {
        const client = await SecureSocket.connect({ host: '127.0.0.1', port: server.port, context });
        const outcome = await within(server.next(), 15_000, 'our server');
        assert.equal(outcome.error, undefined, String(outcome.error));
        assert.deepEqual(requests.map((r) => r.acceptableIssuers), [['CN = CA-B, O = Hospital B']]);
        assert.deepEqual(outcome.calls.map((c) => [c.depth, c.ok]), [[1, 1], [0, 1]]);
        assert.match(outcome.socket!.peerCertificateChain[0]!.subject, /CN=Client B/);
        // Both ends at once: each waits for the other's close, so one after the other would sit
        // out closeSocket's hang guard.
        await Promise.all([closeSocket(outcome.socket), closeSocket(client)]);
      } finally {
        context.dispose();
      }
    } finally {
      await server.close();
    }
  });

  test('class style: an overridden onClientCertificate makes the same choice', async () => {
    const server = await startSServer({ cert: pki.valid.cert, key: pki.valid.key, CAfile: pki.caB.cert, Verify: 2, verifyReturnError: true });
    const seen: string[][] = [];
    class Chooser extends SecureContext {
      override onClientCertificate(req: ClientCertificateRequest): IdentityOptions | undefined {
        seen.push(req.acceptableIssuers);
        return pick([])(req);
      }
    }
    const context = new Chooser({ role: 'client', ca: [pki.trustRoot] });
    try {
      const socket = await SecureSocket.connect({ host: '127.0.0.1', port: server.port, context });
      assert.deepEqual(seen, [['CN = CA-B, O = Hospital B']]);
      await closeSocket(socket);
      await within(server.exited, 10_000, 's_server exit');
      assert.deepEqual(server.verifyCalls().map((c) => c.subject), ['CN = CA-B, O = Hospital B', 'CN = Client B, O = Hospital B']);
    } finally {
      context.dispose();
      await server.close();
    }
  });
});
