/**
 * `dicom-tls diagnose` against real peers: openssl s_server with each certificate problem (the
 * verify array must equal, call by call, what openssl s_client prints for the same server and
 * trust), DCMTK storescp with and without TLS, and the connection failures.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioPki, type Identity } from '../helpers/pki.js';
import { startSServer, runSClient, callKey, type PeerTlsOptions } from '../helpers/openssl-peer.js';
import { runCli, oneSentenceError } from '../helpers/cli.js';
import { startListening } from '../helpers/dcmtk.js';
import { freePort } from '../helpers/free-port.js';

const pki = scenarioPki();

interface DiagnoseJson {
  tls: { handshake: string; protocol: string | null; group?: string | null; verify: { depth: number; ok: boolean; error: number; errorString: string; certificateString: string }[]; info: string[]; alert: unknown } | null;
  association: { result: string };
  echo: { status: string };
  verdict: string;
  hints: string[];
}

interface Case {
  name: string; server: Identity; chain?: string; args: string[]; theirs: PeerTlsOptions;
  /** Exit code: 10 = the normal policy would refuse; 12 = TLS fine, but s_server is no DICOM peer. */
  exit: number; hint?: RegExp;
}

const cases: Case[] = [
  { name: 'valid chain', server: pki.valid, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 12 },
  { name: 'chain with intermediate', server: pki.chain, chain: pki.intermediate.cert, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 12 },
  { name: 'missing intermediate', server: pki.missingIntermediate, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 10, hint: /trusted CA list|intermediate/ },
  { name: 'expired', server: pki.expired, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 10, hint: /expired/ },
  { name: 'wrong purpose', server: pki.wrongPurpose, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 10, hint: /serverAuth/ },
  { name: 'self-signed leaf', server: pki.selfSigned, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 10, hint: /self-signed/ },
  { name: 'unknown CA', server: pki.unknownCaLeaf, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 10, hint: /trusted CAs/ },
  { name: 'intermediate that is not a CA', server: pki.notCaIntermediate, chain: pki.notCaIntermediate.fullchain, args: ['--ca', pki.trustRoot], theirs: { CAfile: pki.trustRoot }, exit: 10, hint: /CA/ },
  { name: 'revoked (CRL)', server: pki.revoked, args: ['--ca', pki.trustRoot, '--crl', pki.root.crl, '--crl-check', 'leaf'], theirs: { CAfile: pki.trustRoot, crl: pki.root.crl, crlCheck: 'leaf' }, exit: 10, hint: /revoked/ },
  { name: 'host name mismatch', server: pki.hostMismatch, args: ['--ca', pki.trustRoot, '--verify-host', 'localhost'], theirs: { CAfile: pki.trustRoot, verifyHostname: 'localhost' }, exit: 10, hint: /subjectAltName/ },
  { name: 'no --ca at all', server: pki.valid, args: [], theirs: {}, exit: 10, hint: /trusted CA/ },
];

for (const c of cases) {
  test(`diagnose vs s_server: ${c.name}`, async () => {
    const server = await startSServer({ cert: c.server.cert, key: c.server.key, ...(c.chain !== undefined ? { chain: c.chain } : {}), naccept: 2 });
    try {
      const theirs = await runSClient({ port: server.port, ...c.theirs });
      const r = await runCli(['diagnose', `127.0.0.1:${server.port}`, '--json', '--timeout', '2', ...c.args]);
      assert.equal(r.code, c.exit, r.stdout + r.stderr);
      const doc = JSON.parse(r.stdout) as DiagnoseJson;
      assert.equal(doc.tls?.handshake, 'ok');
      // Every verify-callback call, in order, as s_client printed it.
      assert.ok(theirs.verifyCalls.length > 0, theirs.output);
      assert.deepEqual(doc.tls!.verify.map((v) => callKey({ depth: v.depth, ok: v.ok ? 1 : 0, error: v.error })), theirs.verifyCalls.map(callKey));
      for (const [i, v] of doc.tls!.verify.entries()) {
        if (!v.ok) assert.equal(v.errorString, theirs.verifyCalls[i]!.errorString);
        assert.match(v.certificateString, /^Subject Name: .*\nIssuer Name: /);
      }
      assert.ok(doc.tls!.info.some((l) => l.startsWith('SSL_connect:')));
      if (c.exit === 10) assert.match(doc.verdict, /normal policy would refuse/);
      else assert.match(doc.verdict, /speaks TLS but not DICOM/);
      if (c.hint !== undefined) assert.match(doc.hints.join('\n'), c.hint);
    } finally {
      await server.close();
    }
  });
}

test('diagnose: the server requires a client certificate and none is given', async () => {
  const server = await startSServer({ cert: pki.valid.cert, key: pki.valid.key, Verify: 1, CAfile: pki.caB.cert, naccept: 1 });
  try {
    const r = await runCli(['diagnose', `127.0.0.1:${server.port}`, '--json', '--timeout', '3', '--ca', pki.trustRoot]);
    assert.equal(r.code, 11, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as DiagnoseJson;
    assert.equal(doc.tls?.handshake, 'failed');
    assert.match(doc.hints.join('\n'), /requires a client certificate.*--cert/);
  } finally {
    await server.close();
  }
});

test('diagnose: refused port and unknown host are one-sentence errors with their own exit codes', async () => {
  // Below the ephemeral range: a port released by listen(0) may be handed to another process's
  // listen(0) while the CLI starts.
  const port = await freePort();
  const refused = await runCli(['diagnose', `127.0.0.1:${port}`, '--ca', pki.trustRoot]);
  assert.equal(refused.code, 7);
  assert.equal(oneSentenceError(refused).code, 'DICOM_ERR_CONNECTION_REFUSED');
  const unknown = await runCli(['diagnose', 'no-such-host.invalid:2762', '--ca', pki.trustRoot]);
  assert.equal(unknown.code, 6);
  assert.equal(oneSentenceError(unknown).code, 'DICOM_ERR_UNKNOWN_HOST');
});

/** A DCMTK storescp on a free port (the shared start: a port no other process is handed, readiness polled); TLS when `tls` names its key, certificate and CA. */
async function startStorescp(tls?: { key: string; cert: string; ca: string }): Promise<{ port: number; stop: () => Promise<void> }> {
  return startListening('storescp', [...(tls ? ['+tls', tls.key, tls.cert, '+cf', tls.ca] : []), '--ignore']);
}

test('diagnose vs DCMTK storescp without TLS: "DICOM without TLS", exit 12; with --no-tls: no problem', async () => {
  const scp = await startStorescp();
  try {
    const r = await runCli(['diagnose', `127.0.0.1:${scp.port}`, '--ca', pki.trustRoot, '--json', '--timeout', '5']);
    assert.equal(r.code, 12, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as DiagnoseJson;
    assert.equal(doc.tls?.handshake, 'failed');
    assert.match(doc.verdict, /speaks DICOM without TLS/);
    const plain = await runCli(['diagnose', `127.0.0.1:${scp.port}`, '--no-tls', '--json']);
    assert.equal(plain.code, 0, plain.stdout);
    const p = JSON.parse(plain.stdout) as DiagnoseJson;
    assert.equal(p.association.result, 'accepted');
    assert.equal(p.echo.status, 'Success');
  } finally {
    await scp.stop();
  }
});

test('diagnose vs DCMTK storescp with TLS and mutual authentication: no problem found', async () => {
  const scp = await startStorescp({ key: pki.valid.key, cert: pki.valid.cert, ca: pki.trustRoot });
  try {
    const r = await runCli(['diagnose', `127.0.0.1:${scp.port}`, '--ca', pki.trustRoot, '--cert', pki.valid.cert, '--key', pki.valid.key, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as DiagnoseJson;
    assert.equal(doc.tls?.handshake, 'ok');
    assert.equal(doc.association.result, 'accepted');
    assert.equal(doc.echo.status, 'Success');
    // DCMTK here is built on the system's OpenSSL 3.0: no hybrid group, the classical fallback.
    // (DCMTK prefers secp256r1 as a server.)
    assert.match(String(doc.tls?.group), /^(x25519|secp256r1|secp384r1|secp521r1|x448)$/i);
    const text = await runCli(['diagnose', `127.0.0.1:${scp.port}`, '--ca', pki.trustRoot, '--cert', pki.valid.cert, '--key', pki.valid.key]);
    assert.match(text.stdout, /TLS: handshake ok, TLSv1\.3, \S+, key exchange (x25519|secp256r1|secp384r1|secp521r1|x448), ALPN none/i);
    // Requiring the hybrid against it: the handshake fails and says why.
    const pq = await runCli(['diagnose', `127.0.0.1:${scp.port}`, '--ca', pki.trustRoot, '--cert', pki.valid.cert, '--key', pki.valid.key, '--require-hybrid-group', '--json']);
    const pqDoc = JSON.parse(pq.stdout) as DiagnoseJson & { tls: { failure?: string } };
    assert.equal(pqDoc.tls?.handshake, 'failed');
    assert.match(pq.stdout, /the peer has no hybrid post-quantum key exchange/);
  } finally {
    await scp.stop();
  }
});

test('diagnose --json has exactly the keys the issue specifies', async () => {
  const server = await startSServer({ cert: pki.wrongPurpose.cert, key: pki.wrongPurpose.key, naccept: 1 });
  try {
    const r = await runCli(['diagnose', `127.0.0.1:${server.port}`, '--json', '--timeout', '2', '--ca', pki.trustRoot]);
    const doc = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(doc), ['tls', 'association', 'echo', 'verdict', 'hints']);
    assert.deepEqual(Object.keys(doc.tls!), ['handshake', 'protocol', 'cipher', 'group', 'alpn', 'verify', 'info', 'alert']);
    for (const v of doc.tls!.verify as object[]) assert.deepEqual(Object.keys(v), ['depth', 'ok', 'error', 'errorString', 'certificateString']);
    assert.ok('result' in doc.association!);
    assert.deepEqual(Object.keys(doc.echo!), ['status']);
  } finally {
    await server.close();
  }
});
