/**
 * Client-certificate scenarios: our server against a real `openssl s_client -cert`.
 *
 * The oracle is `openssl s_server -Verify 2` with the same trust, facing the same s_client: it
 * prints the verify calls OpenSSL makes on the client's chain. Our server's recording callback
 * returning 1 must see the same calls; returning `ok` (or no callback) must behave like
 * `s_server -verify_return_error`; returning 0 stops the handshake and the client gets the alert.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioPki, type Identity } from '../../helpers/pki.js';
import { startSServer, runSClient, callKey, type SClientResult, type VerifyCall } from '../../helpers/openssl-peer.js';
import { VerifyMode } from '../../../src/transport/tls/context.js';
import { assertHandshakeError, closeSocket, startOurServer, subjectOf, within, type Policy, type ServerOutcome } from './scenario-helpers.js';

const pki = scenarioPki();

interface ClientScenario {
  name: string;
  client?: Identity;
  clientChain?: string;
  /** Certificate required (-Verify / Peer|FailIfNoPeerCert) or only requested (-verify / Peer). */
  required: boolean;
  fails?: { depth: number; error: number; errorName: string };
  /** Failure without a verify call (no certificate sent although required). */
  failsWithoutVerify?: boolean;
  /** CRL checking on the server: ours takes `crl`, s_server `-CRL` (one CRL per file). */
  crl?: { file: string; check: 'leaf' | 'chain' };
}

const scenarios: ClientScenario[] = [
  { name: 'valid client certificate', client: pki.valid, required: true },
  { name: 'client chain with intermediate', client: pki.chain, clientChain: pki.intermediate.cert, required: true },
  { name: 'client missing intermediate', client: pki.missingIntermediate, required: true,
    fails: { depth: 0, error: 20, errorName: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY' } },
  { name: 'client certificate with the wrong purpose', client: pki.wrongPurpose, required: true,
    fails: { depth: 0, error: 26, errorName: 'X509_V_ERR_INVALID_PURPOSE' } },
  { name: 'untrusted client (unknown CA)', client: pki.unknownCaLeaf, required: true,
    fails: { depth: 0, error: 20, errorName: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY' } },
  { name: 'expired client certificate', client: pki.expired, required: true,
    fails: { depth: 0, error: 10, errorName: 'X509_V_ERR_CERT_HAS_EXPIRED' } },
  { name: 'self-signed client certificate', client: pki.selfSigned, required: true,
    fails: { depth: 0, error: 18, errorName: 'X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT' } },
  { name: 'revoked client certificate (CRL)', client: pki.revoked, required: true, crl: { file: pki.root.crl, check: 'leaf' },
    fails: { depth: 0, error: 23, errorName: 'X509_V_ERR_CERT_REVOKED' } },
  { name: 'no client certificate when one is required (FAIL_IF_NO_PEER_CERT)', required: true, failsWithoutVerify: true },
  { name: 'no client certificate when one is only requested (PEER)', required: false },
];

function clientArgs(s: ClientScenario): { cert?: string; key?: string; chain?: string } {
  if (s.client === undefined) return {};
  return { cert: s.client.cert, key: s.client.key, ...(s.clientChain === undefined ? {} : { chain: s.clientChain }) };
}

const expectsFailure = (s: ClientScenario): boolean => s.fails !== undefined || s.failsWithoutVerify === true;

/** s_server as the oracle: the verify calls it printed and what s_client saw. */
type Protocol = 'tls1_3' | 'tls1_2';

async function oracle(s: ClientScenario, returnError: boolean, protocol: Protocol = 'tls1_3'): Promise<{ calls: VerifyCall[]; client: SClientResult }> {
  const server = await startSServer({
    cert: pki.valid.cert, key: pki.valid.key, CAfile: pki.trustRoot, verifyReturnError: returnError,
    ...(s.required ? { Verify: 2 } : { verify: 2 }),
    ...(s.crl === undefined ? {} : { crl: s.crl.file, crlCheck: s.crl.check }),
  });
  try {
    const client = await runSClient({ port: server.port, CAfile: pki.trustRoot, ...clientArgs(s), protocol,
      keepStdinOpen: returnError && expectsFailure(s) });
    await within(server.exited, 10_000, 's_server exit').catch(() => undefined);
    return { calls: server.verifyCalls(), client };
  } finally {
    await server.close();
  }
}

async function ours(s: ClientScenario, policy: Policy, protocol: Protocol = 'tls1_3'): Promise<{ outcome: ServerOutcome; client: SClientResult }> {
  const server = await startOurServer({
    identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.trustRoot],
    ...(s.crl === undefined ? {} : { crl: [s.crl.file], crlCheck: s.crl.check }),
    verifyMode: s.required ? VerifyMode.Peer | VerifyMode.FailIfNoPeerCert : VerifyMode.Peer,
  }, policy);
  try {
    const failing = policy === 0 || (expectsFailure(s) && policy !== 1);
    const clientDone = runSClient({ port: server.port, CAfile: pki.trustRoot, ...clientArgs(s), protocol, keepStdinOpen: failing });
    const outcome = await within(server.next(), 15_000, 'our server: connection outcome');
    if (outcome.socket !== undefined) assert.equal(outcome.socket.protocol, protocol === 'tls1_2' ? 'TLSv1.2' : 'TLSv1.3');
    // On success, our side closes: s_client sees close_notify and exits.
    await closeSocket(outcome.socket);
    return { outcome, client: await clientDone };
  } finally {
    await server.close();
  }
}

for (const s of scenarios) {
  describe(`client scenario: ${s.name}`, () => {
    for (const protocol of ['tls1_3', 'tls1_2'] as const) {
      if (s.failsWithoutVerify !== true) {
        test(`${protocol}: server callback returning 1: the same verify calls as openssl s_server -Verify prints; established`, async () => {
          const theirs = await oracle(s, false, protocol);
          const first = theirs.calls.find((c) => c.ok === 0);
          assert.deepEqual(first === undefined ? undefined : { depth: first.depth, error: first.error },
            s.fails === undefined ? undefined : { depth: s.fails.depth, error: s.fails.error });
          const { outcome } = await ours(s, 1, protocol);
          assert.equal(outcome.error, undefined, `handshake failed: ${String(outcome.error)}`);
          assert.deepEqual(outcome.calls.map(callKey), theirs.calls.map(callKey));
          assert.deepEqual(outcome.calls.map((c) => subjectOf(c.certificateString)), theirs.calls.map((c) => c.subject));
          assert.ok(outcome.calls.every((c) => c.role === 'server'));
          if (s.client !== undefined) {
            assert.ok(outcome.socket!.peerCertificateChain.length > 0, 'the peer chain is exposed');
          }
        });
      }

      for (const policy of ['ok', 'none'] as const) {
        if (policy === 'none' && protocol === 'tls1_2') continue;
        test(`${protocol}: server callback returning ${policy === 'ok' ? '`ok`' : 'nothing (no callback)'}: as s_server -verify_return_error`, async () => {
          const theirs = await oracle(s, true, protocol);
          const { outcome, client } = await ours(s, policy, protocol);
          if (policy === 'ok') assert.deepEqual(outcome.calls.map(callKey), theirs.calls.map(callKey));
          if (!expectsFailure(s)) {
            assert.equal(outcome.error, undefined, `handshake failed: ${String(outcome.error)}`);
            return;
          }
          const e = assertHandshakeError(outcome.error);
          if (s.fails !== undefined) {
            assert.ok(e.verifyFailure);
            assert.deepEqual({ depth: e.verifyFailure.depth, error: e.verifyFailure.error, errorName: e.verifyFailure.errorName }, s.fails);
            assert.equal(subjectOf(e.verifyFailure.certificateString), theirs.calls.at(-1)!.subject);
          } else {
            assert.equal(e.verifyFailure, undefined, 'no certificate: nothing was verified');
            assert.equal(outcome.calls.length, 0);
          }
          assert.ok(theirs.client.alerts.length > 0, 's_client received an alert from s_server');
          assert.deepEqual(client.alerts, theirs.client.alerts, 's_client received the same alert from our server');
        });
      }
    }

    if (s.client !== undefined) {
      test('server callback returning 0: stops at the first call; the client gets an alert', async () => {
        const { outcome, client } = await ours(s, 0);
        assert.equal(outcome.calls.length, 1);
        const e = assertHandshakeError(outcome.error);
        assert.ok(e.verifyFailure);
        assert.equal(e.verifyFailure.depth, outcome.calls[0]!.depth);
        assert.equal(client.alerts.length, 1, `s_client output:\n${client.output}`);
      });
    }
  });
}
