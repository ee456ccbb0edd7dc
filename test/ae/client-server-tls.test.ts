/** Our DicomClient against our DicomServer over TLS (mutual authentication), certificates made at test time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type HandshakeFailure } from '../../src/ae/server.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { TlsHandshakeError } from '../../src/transport/tls/errors.js';
import { TransportMismatchError } from '../../src/ul/upper-layer-errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { scenarioPki } from '../helpers/pki.js';

const quick = { connect: 5000, association: 5000, dimse: 5000 };

function serverContext(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] });
}
function clientContext(identity = scenarioPki().clientA, ca = scenarioPki().root.cert): SecureContext {
  // clientA is issued by caA: the server trusts root and caA for client certificates in the tests that accept it.
  return new SecureContext({ role: 'client', identity: { cert: identity.cert, key: identity.key }, ca: [ca] });
}

test('echo over TLS with mutual authentication: both sides see the peer certificate and the protocol', async () => {
  const pki = scenarioPki();
  const server = new DicomServer({
    tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }),
  });
  const { port } = await server.listen(0);
  try {
    const accepted = new Promise<import('../../src/ae/association.js').Association>((resolve) => server.once('association', resolve));
    const client = await DicomClient.associate({ host: '127.0.0.1', port, tls: clientContext(), callingAeTitle: 'TLS-SCU', calledAeTitle: 'TLS-SCP', timeouts: quick });
    assert.match(client.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.match(client.tls?.peerCertificate?.subject ?? '', /CN=/);
    assert.equal(client.tls?.verifyResult.code, 0);
    const assoc = await accepted;
    assert.ok(assoc.tls !== undefined);
    assert.equal(assoc.tls.peerCertificate?.fingerprint256, new (await import('node:crypto')).X509Certificate(await (await import('node:fs/promises')).readFile(pki.clientA.cert)).fingerprint256);
    assert.equal((await client.echo()).status, 0);
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('the server rejects a client certificate from an unknown CA: reported with peer, depth, code and certificate string', async () => {
  const pki = scenarioPki();
  const server = new DicomServer({ tls: serverContext() });
  const { port } = await server.listen(0);
  const published: unknown[] = [];
  const onServer = (m: unknown): void => void published.push(m);
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  try {
    const failed = new Promise<HandshakeFailure>((resolve) => server.once('handshakeError', resolve));
    const attempt = DicomClient.associate({ host: '127.0.0.1', port, tls: clientContext(pki.unknownCaLeaf), callingAeTitle: 'A', calledAeTitle: 'B', timeouts: quick });
    await assert.rejects(attempt, (e: unknown) => {
      // TLS 1.3: our handshake is over before the server checks our certificate; its alert comes after.
      assert.ok(e instanceof TlsHandshakeError, String(e));
      assert.match(e.message, /alert "unknown CA"/);
      return true;
    });
    const f = await failed;
    assert.equal(f.peer.address, '127.0.0.1');
    assert.equal(f.depth, 0);
    assert.equal(f.errorName, 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.equal(f.code, 20);
    assert.match(f.certificateString ?? '', /^Subject Name: .*\nIssuer Name: /);
    assert.ok(f.error instanceof TlsHandshakeError);
    const p = published.find((m) => (m as { kind?: string }).kind === 'tls-handshake-failed') as HandshakeFailure | undefined;
    assert.equal(p?.depth, 0);
    assert.equal(p?.peer.address, '127.0.0.1');
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, onServer);
    await server.close({ timeout: 1000 });
  }
});

test('the client rejects a server certificate it cannot verify: TlsHandshakeError with depth and X509 error', async () => {
  const pki = scenarioPki();
  const server = new DicomServer({ tls: serverContext() });
  const { port } = await server.listen(0);
  try {
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port, tls: clientContext(pki.valid, pki.unknownCa.cert), callingAeTitle: 'A', calledAeTitle: 'B', timeouts: quick }),
      (e: unknown) => {
        assert.ok(e instanceof TlsHandshakeError, String(e));
        // The server sends its leaf without the root (RFC 8446 4.4.2), and the leaf's issuer is
        // not among the CAs this client trusts: depth 0.
        assert.equal(e.verifyFailure?.depth, 0);
        assert.equal(e.verifyFailure?.errorName, 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
        assert.match(e.verifyFailure?.certificateString ?? '', /^Subject Name: CN = localhost.*\nIssuer Name: CN = Test Root CA/);
        return true;
      },
    );
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('TLS client to a plain port and plain client to a TLS port: TransportMismatchError on both sides, no hang', async () => {
  const plain = new DicomServer({ timeouts: { artim: 60_000 } });
  const { port: plainPort } = await plain.listen(0);
  const secure = new DicomServer({ tls: serverContext(), timeouts: { artim: 60_000 } });
  const { port: tlsPort } = await secure.listen(0);
  // Generous timers: a hang would show as a TimeoutError instead of the mismatch.
  const slow = { connect: 60_000, association: 60_000, dimse: 60_000 };
  try {
    const plainSaw = new Promise<Error>((resolve) => plain.once('connectionError', resolve));
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port: plainPort, tls: clientContext(scenarioPki().valid), callingAeTitle: 'A', calledAeTitle: 'B', timeouts: slow }),
      (e: unknown) => e instanceof TransportMismatchError && e.detected === 'dicom' && e.role === 'requestor' && /plain \(non-TLS\) port/.test(e.message),
    );
    const p = await plainSaw;
    assert.ok(p instanceof TransportMismatchError && p.detected === 'tls' && p.role === 'acceptor');

    const tlsSaw = new Promise<HandshakeFailure>((resolve) => secure.once('handshakeError', resolve));
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port: tlsPort, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: slow }),
      (e: unknown) => e instanceof TransportMismatchError && e.detected === 'tls' && e.role === 'requestor',
    );
    const f = await tlsSaw;
    assert.ok(f.error instanceof TransportMismatchError && f.error.detected === 'dicom' && f.error.role === 'acceptor', String(f.error));
  } finally {
    await plain.close({ timeout: 1000 });
    await secure.close({ timeout: 1000 });
  }
});

test('the seeds\' TLS callbacks through the SecureContext: a class-style server onVerify and a register-style client verifyCallback', async () => {
  const pki = scenarioPki();
  const serverCalls: string[] = [];
  // Class style: this server accepts client certificates from the unknown CA too, and says so.
  class LenientContext extends SecureContext {
    override onVerify(ok: 0 | 1, certificateString: string, error: number, _s: string, context: { depth: number; errorName: string }): number {
      serverCalls.push(`${context.depth}:${ok}:${ok === 1 ? 'OK' : context.errorName}:${certificateString.split('\n')[0]}`);
      return 1;
    }
  }
  const clientCalls: number[] = [];
  const server = new DicomServer({ tls: new LenientContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) });
  const { port } = await server.listen(0);
  try {
    const tls = new SecureContext({
      role: 'client',
      identity: { cert: pki.unknownCaLeaf.cert, key: pki.unknownCaLeaf.key },
      ca: [pki.root.cert],
      verifyCallback: (ok, _c, _e, _s, context) => {
        clientCalls.push(context.depth);
        return ok;
      },
    });
    const client = await DicomClient.associate({ host: '127.0.0.1', port, tls, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: quick });
    assert.equal((await client.echo()).status, 0);
    await client.release();
    assert.ok(clientCalls.includes(0), 'the client callback saw the server leaf');
    assert.ok(serverCalls.some((c) => c.startsWith('0:0:X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:Subject Name:')), serverCalls.join('\n'));
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('the TLS port hands the read it looked at to the engine: the server flight is written inside that same read', async () => {
  // The port reads the first bytes to tell plain DICOM from TLS. The engine takes that read as
  // its own (no unshift and resume, a stream round and a tick later): by the time the socket's
  // first 'data' event has been handled, ServerHello … Finished is written.
  const created: net.Server[] = [];
  const createServer = net.createServer;
  (net as { createServer: typeof net.createServer }).createServer = ((...args: Parameters<typeof net.createServer>) => {
    const s = createServer(...args);
    created.push(s);
    return s;
  }) as typeof net.createServer;
  const pki = scenarioPki();
  const server = new DicomServer({ tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }) });
  let port: number;
  try {
    ({ port } = await server.listen(0));
  } finally {
    (net as { createServer: typeof net.createServer }).createServer = createServer;
  }
  const writesAtFirstRead: number[] = [];
  assert.equal(created.length, 1);
  created[0]!.on('connection', (raw: net.Socket) => {
    // After the server's own listeners: the sniffing 'data' listener comes first.
    let writes = 0;
    const write = raw.write.bind(raw) as (...args: unknown[]) => boolean;
    raw.write = ((...args: unknown[]) => (writes++, write(...args))) as typeof raw.write;
    raw.once('data', () => writesAtFirstRead.push(writes));
  });
  try {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, tls: clientContext(), callingAeTitle: 'TLS-SCU', calledAeTitle: 'TLS-SCP', timeouts: quick });
    assert.equal((await client.echo()).status, 0);
    await client.release();
    assert.deepEqual(writesAtFirstRead, [1]);
  } finally {
    await server.close({ timeout: 1000 });
  }
});
