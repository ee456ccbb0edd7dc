/**
 * Server-certificate scenarios: our client against a real `openssl s_server`.
 *
 * The oracle is `openssl s_client` against the same s_server with the same trust settings: its
 * verify callback prints every call OpenSSL makes (depth, ok, error) and returns 1, so our
 * recording callback that also returns 1 must see exactly the same calls, in the same order.
 * With `-verify_return_error`, s_client's callback returns `ok`, which is what our policy `ok`
 * (and no callback at all) must reproduce, alert included. The seeds' outcomes: 0 stops the
 * handshake (alert sent), 1 continues to an established connection, `ok` is OpenSSL's default.
 */
import { describe, test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import assert from 'node:assert/strict';
import { scenarioPki, type Identity } from '../../helpers/pki.js';
import { startSServer, runSClient, callKey, type PeerTlsOptions, type SClientResult } from '../../helpers/openssl-peer.js';
import { SecureContext, VerifyMode, type SecureContextOptions, type VerifyContext } from '../../../src/transport/tls/context.js';
import {
  connectOurClient, closeSocket, handshakeOutcome, assertHandshakeError, subjectOf, within, certificateStringFromCli, type Policy, type ClientOutcome,
} from './scenario-helpers.js';

const pki = scenarioPki();

interface Scenario {
  name: string;
  server: Identity;
  /** Extra certificates s_server sends after the leaf. */
  serverChain?: string;
  /** Our client's trust/CRL/host settings … */
  ours: Partial<SecureContextOptions>;
  /** … and the same settings for s_client. */
  theirs: PeerTlsOptions;
  /** The first failure OpenSSL reports, or undefined when the chain verifies. */
  fails?: { depth: number; error: number; errorName: string };
  /**
   * s_client's own callback returns 0 on this error whatever -verify_return_error says (its
   * `-verify_depth` limit), so with policy 1 only the calls up to that error are comparable.
   */
  appStops?: boolean;
}

type Protocol = 'tls1_3' | 'tls1_2';
const ourProtocol = (p: Protocol): Partial<SecureContextOptions> => (p === 'tls1_2' ? { maxProtocol: 'TLSv1.2' } : {});

const trust = { ours: { ca: [pki.trustRoot] }, theirs: { CAfile: pki.trustRoot } };

export const serverScenarios: Scenario[] = [
  { name: 'valid chain', server: pki.valid, ...trust },
  { name: 'chain with intermediate', server: pki.chain, serverChain: pki.intermediate.cert, ...trust },
  { name: 'missing intermediate', server: pki.missingIntermediate, ...trust,
    fails: { depth: 0, error: 20, errorName: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY' } },
  { name: 'expired', server: pki.expired, ...trust, fails: { depth: 0, error: 10, errorName: 'X509_V_ERR_CERT_HAS_EXPIRED' } },
  { name: 'not yet valid', server: pki.notYetValid, ...trust, fails: { depth: 0, error: 9, errorName: 'X509_V_ERR_CERT_NOT_YET_VALID' } },
  { name: 'wrong purpose (seeds\' INVALID_PURPOSE)', server: pki.wrongPurpose, ...trust,
    fails: { depth: 0, error: 26, errorName: 'X509_V_ERR_INVALID_PURPOSE' } },
  { name: 'self-signed leaf', server: pki.selfSigned, ...trust,
    fails: { depth: 0, error: 18, errorName: 'X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT' } },
  { name: 'unknown CA', server: pki.unknownCaLeaf, ...trust,
    fails: { depth: 0, error: 20, errorName: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY' } },
  { name: 'unknown CA sending its root', server: pki.unknownCaLeaf, serverChain: pki.unknownCa.cert, ...trust,
    fails: { depth: 1, error: 19, errorName: 'X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN' } },
  { name: 'intermediate that is not a CA', server: pki.notCaIntermediate, serverChain: pki.notCaIntermediate.fullchain, ...trust,
    fails: { depth: 1, error: 79, errorName: 'X509_V_ERR_INVALID_CA' } },
  { name: 'revoked (CRL, leaf check)', server: pki.revoked,
    ours: { ca: [pki.trustRoot], crl: [pki.root.crl], crlCheck: 'leaf' },
    theirs: { CAfile: pki.trustRoot, crl: pki.root.crl, crlCheck: 'leaf' },
    fails: { depth: 0, error: 23, errorName: 'X509_V_ERR_CERT_REVOKED' } },
  { name: 'revoked (CRL, whole chain)', server: pki.revoked,
    ours: { ca: [pki.trustRoot], crl: [pki.crlAll], crlCheck: 'chain' },
    theirs: { CAfile: pki.trustRootWithCrls, crlCheck: 'chain' },
    fails: { depth: 0, error: 23, errorName: 'X509_V_ERR_CERT_REVOKED' } },
  { name: 'CRL missing for the issuing CA', server: pki.chain, serverChain: pki.intermediate.cert,
    ours: { ca: [pki.trustRoot], crl: [pki.root.crl], crlCheck: 'leaf' },
    theirs: { CAfile: pki.trustRoot, crl: pki.root.crl, crlCheck: 'leaf' },
    fails: { depth: 0, error: 3, errorName: 'X509_V_ERR_UNABLE_TO_GET_CRL' } },
  { name: 'CRLs present for the whole chain', server: pki.chain, serverChain: pki.intermediate.cert,
    ours: { ca: [pki.trustRoot], crl: [pki.crlAll], crlCheck: 'chain' },
    theirs: { CAfile: pki.trustRootWithCrls, crlCheck: 'chain' } },
  { name: 'host name mismatch', server: pki.hostMismatch,
    ours: { ca: [pki.trustRoot], verifyHost: 'localhost' },
    theirs: { CAfile: pki.trustRoot, verifyHostname: 'localhost' },
    fails: { depth: 0, error: 62, errorName: 'X509_V_ERR_HOSTNAME_MISMATCH' } },
  { name: 'host name matches', server: pki.valid,
    ours: { ca: [pki.trustRoot], verifyHost: 'localhost' },
    theirs: { CAfile: pki.trustRoot, verifyHostname: 'localhost' } },
  // The identity check runs before the chain walk: the mismatch is the first call, at depth 0.
  { name: 'IP address mismatch', server: pki.hostMismatch,
    ours: { ca: [pki.trustRoot], verifyHost: '127.0.0.1' },
    theirs: { CAfile: pki.trustRoot, extraArgs: ['-verify_ip', '127.0.0.1'] },
    fails: { depth: 0, error: 64, errorName: 'X509_V_ERR_IP_ADDRESS_MISMATCH' } },
  { name: 'IP address matches', server: pki.valid,
    ours: { ca: [pki.trustRoot], verifyHost: '127.0.0.1' },
    theirs: { CAfile: pki.trustRoot, extraArgs: ['-verify_ip', '127.0.0.1'] } },
  { name: 'verify depth exceeded', server: pki.chain, serverChain: pki.intermediate.cert,
    ours: { ca: [pki.trustRoot], verifyDepth: 0 },
    theirs: { CAfile: pki.trustRoot, extraArgs: ['-verify_depth', '0'] },
    fails: { depth: 1, error: 22, errorName: 'X509_V_ERR_CERT_CHAIN_TOO_LONG' }, appStops: true },
];

/** One s_server for one connection; returns what the connection produced and the alerts s_server received. */
async function againstSServer<T>(s: Scenario, connect: (port: number) => Promise<T>, protocol?: Protocol): Promise<{ result: T; serverAlerts: number[]; serverOutput: string }> {
  const server = await startSServer({ cert: s.server.cert, key: s.server.key, ...(s.serverChain === undefined ? {} : { chain: s.serverChain }),
    ...(protocol === undefined ? {} : { protocol }) });
  try {
    const result = await connect(server.port);
    await within(server.exited, 10_000, 's_server exit after the connection').catch(() => undefined);
    return { result, serverAlerts: server.alerts(), serverOutput: server.output };
  } finally {
    await server.close();
  }
}

async function oracle(s: Scenario, returnError: boolean, protocol: Protocol = 'tls1_3'): Promise<{ result: SClientResult; serverAlerts: number[] }> {
  return againstSServer(s, (port) => runSClient({ port, ...s.theirs, verifyReturnError: returnError }), protocol);
}

async function ours(s: Scenario, policy: Policy, protocol: Protocol = 'tls1_3'): Promise<{ result: ClientOutcome; serverAlerts: number[]; serverOutput: string }> {
  return againstSServer(s, async (port) => {
    const outcome = await connectOurClient(port, { ...s.ours, ...ourProtocol(protocol) }, policy);
    if (outcome.socket !== undefined) assert.equal(outcome.socket.protocol, protocol === 'tls1_2' ? 'TLSv1.2' : 'TLSv1.3');
    await closeSocket(outcome.socket);
    return outcome;
  }, protocol);
}

for (const s of serverScenarios) {
  describe(`server scenario: ${s.name}`, () => {
    for (const protocol of ['tls1_3', 'tls1_2'] as const) {
      test(`${protocol}: callback returning 1: the same verify calls as openssl s_client prints, and the connection is established`, async () => {
        const { result: theirs } = await oracle(s, false, protocol);
        assert.ok(theirs.verifyCalls.length > 0, `no verify trace parsed from s_client:\n${theirs.output}`);
        const first = theirs.verifyCalls.find((c) => c.ok === 0);
        // The oracle itself must show the scenario's failure, or the certificate set is wrong.
        assert.deepEqual(first === undefined ? undefined : { depth: first.depth, error: first.error },
          s.fails === undefined ? undefined : { depth: s.fails.depth, error: s.fails.error });

        const { result } = await ours(s, 1, protocol);
        assert.equal(result.error, undefined, `handshake failed: ${String(result.error)}`);
        // When s_client's own callback stops at the error, only the calls up to it are comparable.
        const comparable = s.appStops === true ? result.calls.slice(0, theirs.verifyCalls.length) : result.calls;
        assert.deepEqual(comparable.map(callKey), theirs.verifyCalls.map(callKey));
        assert.deepEqual(comparable.map((c) => subjectOf(c.certificateString)), theirs.verifyCalls.map((c) => c.subject));
        for (const [i, c] of comparable.entries()) {
          if (c.ok === 0) {
            assert.equal(c.errorString, theirs.verifyCalls[i]!.errorString, 'errorString is X509_verify_cert_error_string');
            if (s.fails !== undefined && c.error === s.fails.error) assert.equal(c.errorName, s.fails.errorName);
          }
          assert.equal(c.role, 'client');
          assert.equal(subjectOf(c.certificateString).replace(/ = /g, '=').replace(/, /g, '\n'), c.der.length > 0
            ? new X509Certificate(c.der).subject : '', 'context.der is the certificate of the call');
        }
        if (s.appStops !== true) {
          assert.equal(result.socket!.verifyResult?.code, theirs.verifyReturnCode, 'SSL_get_verify_result as s_client reports it');
        }
      });

      for (const policy of ['ok', 'none'] as const) {
        if (policy === 'none' && protocol === 'tls1_2') continue;
        test(`${protocol}: callback returning ${policy === 'ok' ? '`ok`' : 'nothing (no callback)'}: OpenSSL's default, as s_client -verify_return_error`, async () => {
          const { result: theirs, serverAlerts: theirAlerts } = await oracle(s, true, protocol);
          const { result, serverAlerts } = await ours(s, policy, protocol);
          if (policy === 'ok') assert.deepEqual(result.calls.map(callKey), theirs.verifyCalls.map(callKey));
          if (s.fails === undefined) {
            assert.equal(result.error, undefined, `handshake failed: ${String(result.error)}`);
            assert.equal(result.socket!.verifyResult?.code, 0);
            return;
          }
          const e = assertHandshakeError(result.error);
          assert.equal(e.code, 'DICOM_TLS_ERR_HANDSHAKE');
          assert.ok(e.verifyFailure, 'the handshake error names the verify failure');
          assert.equal(e.verifyFailure.depth, s.fails.depth);
          assert.equal(e.verifyFailure.error, s.fails.error);
          assert.equal(e.verifyFailure.errorName, s.fails.errorName);
          assert.equal(e.verifyFailure.errorString, theirs.verifyCalls.at(-1)!.errorString);
          assert.equal(subjectOf(e.verifyFailure.certificateString), theirs.verifyCalls.at(-1)!.subject);
          assert.match(e.message, new RegExp(`depth ${s.fails.depth}.*${s.fails.errorName}`));
          assert.ok(theirAlerts.length > 0, 's_server saw the alert s_client sent');
          assert.deepEqual(serverAlerts, theirAlerts, 's_server received the same alert from us');
        });
      }
    }

    test('callback returning 0: the handshake stops at the first call and the server sees the alert', async () => {
      const { result, serverAlerts } = await ours(s, 0);
      assert.equal(result.calls.length, 1, 'OpenSSL stops calling after a 0');
      const e = assertHandshakeError(result.error);
      assert.ok(e.verifyFailure);
      assert.equal(e.verifyFailure.depth, result.calls[0]!.depth);
      assert.equal(e.verifyFailure.certificateString, result.calls[0]!.certificateString);
      assert.ok(serverAlerts.length === 1, `s_server received one alert (got ${JSON.stringify(serverAlerts)})`);
    });
  });
}

test('certificate string of the verify callback equals, line for line, what the openssl command prints', async () => {
  const s = serverScenarios.find((x) => x.name === 'chain with intermediate')!;
  const { result } = await ours(s, 1);
  assert.equal(result.error, undefined);
  const byDepth = new Map(result.calls.map((c) => [c.depth, c.certificateString]));
  assert.deepEqual(byDepth.get(0)!.split('\n').map((l) => l.trimEnd()), certificateStringFromCli(pki.chain.cert));
  assert.deepEqual(byDepth.get(1)!.split('\n').map((l) => l.trimEnd()), certificateStringFromCli(pki.intermediate.cert));
  assert.deepEqual(byDepth.get(2)!.split('\n').map((l) => l.trimEnd()), certificateStringFromCli(pki.root.cert));
  const wrong = serverScenarios.find((x) => x.name.startsWith('wrong purpose'))!;
  const { result: w } = await ours(wrong, 1);
  const failing = w.calls.find((c) => c.ok === 0)!;
  assert.equal(failing.error, 26);
  const lines = failing.certificateString.split('\n').map((l) => l.trimEnd());
  assert.deepEqual(lines, certificateStringFromCli(pki.wrongPurpose.cert));
  assert.ok(lines.includes('   SSL server : No'), 'the purposes table shows the problem (seeds)');
});

test('class style: an overridden onVerify sees the same calls and its answer decides, like the registered function', async () => {
  const s = serverScenarios.find((x) => x.name.startsWith('wrong purpose'))!;
  const { result: theirs } = await oracle(s, false);
  for (const answer of [1, 0] as const) {
    const seen: { depth: number; ok: number; error: number }[] = [];
    class Verifier extends SecureContext {
      override onVerify(ok: 0 | 1, _certificateString: string, error: number, _errorString: string, context: VerifyContext): number {
        seen.push({ depth: context.depth, ok, error });
        return answer;
      }
    }
    const { result } = await againstSServer(s, (port) => handshakeOutcome(port, new Verifier({ role: 'client', ca: [pki.trustRoot] })));
    if (answer === 1) {
      assert.equal(result, undefined, String(result));
      assert.deepEqual(seen.map(callKey), theirs.verifyCalls.map(callKey));
    } else {
      assert.equal(assertHandshakeError(result).verifyFailure?.error, 26);
      assert.deepEqual(seen.map(callKey), [{ depth: 0, ok: 0, error: 26 }]);
    }
  }
});

test('a verify callback that throws fails the handshake with that error as the cause; s_server sees the alert', async () => {
  const s = serverScenarios.find((x) => x.name === 'valid chain')!;
  const boom = new Error('policy database unavailable');
  const { result, serverAlerts } = await againstSServer(s, (port) =>
    handshakeOutcome(port, new SecureContext({ role: 'client', ca: [pki.trustRoot], verifyCallback: () => { throw boom; } })));
  const e = assertHandshakeError(result);
  assert.equal(e.cause, boom);
  assert.equal(serverAlerts.length, 1, 'the server was told');
});

test('seeds: returning 0 sends the alert only with VERIFY_PEER; with verifyMode None the handshake goes on', async () => {
  const s = serverScenarios.find((x) => x.name.startsWith('wrong purpose'))!;
  const { result, serverAlerts } = await againstSServer(s, async (port) => {
    const outcome = await connectOurClient(port, { ca: [pki.trustRoot], verifyMode: VerifyMode.None }, 0);
    const verifyResult = outcome.socket?.verifyResult?.code;
    await closeSocket(outcome.socket);
    return { ...outcome, verifyResult };
  });
  assert.equal(result.error, undefined, String(result.error));
  // OpenSSL still ran the chain check and stopped at the 0, but VERIFY_NONE ignores the verdict.
  assert.deepEqual(result.calls.map(callKey), [{ depth: 0, ok: 0, error: 26 }]);
  assert.equal(result.verifyResult, 26);
  assert.deepEqual(serverAlerts, []);
});
