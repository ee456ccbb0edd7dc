// Edge cases: TLS against a plain peer, silent peers, writes before the handshake, diagnostics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { SecureContext, VerifyMode } from '../../../src/transport/tls/context.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { TlsHandshakeError } from '../../../src/transport/tls/errors.js';
import { TimeoutError } from '../../../src/errors.js';
import { channelNames } from '../../../src/diagnostics.js';
import { makeEngineCerts, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

async function plainServer(onConn: (s: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); onConn(s); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }),
  };
}

test('a TLS client talking to a plain (non-TLS) peer fails fast with a typed error', async () => {
  const plain = await plainServer((s) => s.end('this is not TLS at all, just bytes\r\n'));
  const ctx = new SecureContext({ role: 'client', ca: [c.caCert] });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port: plain.port, context: ctx }),
      (e: TlsHandshakeError) => e instanceof TlsHandshakeError && e.openssl.length > 0 && /wrong version number|packet length|record/i.test(e.message));
  } finally { await plain.close(); ctx.dispose(); }
});

test('a TLS server receiving plain bytes reports a handshake error with the peer address', async () => {
  const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey } });
  const server = createSecureServer(ctx);
  const { port } = await server.listen();
  try {
    const failed = once(server, 'handshakeError');
    const sock = net.connect(port, '127.0.0.1', () => sock.write('A-ASSOCIATE-RQ over plain TCP'));
    sock.on('error', () => undefined);
    const [err, peer] = (await failed) as [TlsHandshakeError, { address: string; port: number }];
    assert.ok(err instanceof TlsHandshakeError);
    assert.equal(peer.address, '127.0.0.1');
    assert.equal(peer.port, sock.localPort);
    sock.destroy();
  } finally { await server.close(); ctx.dispose(); }
});

test('a silent peer: connect timeout gives a TimeoutError and frees the connection', async () => {
  const silent = await plainServer(() => undefined);
  const ctx = new SecureContext({ role: 'client', ca: [c.caCert] });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port: silent.port, context: ctx, timeout: 100 }), TimeoutError);
  } finally { await silent.close(); ctx.dispose(); }
});

test('writes queued before the handshake are sent after it; diagnostics channels publish', async () => {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert], verifyCallback: (ok) => ok });
  const server = createSecureServer(sctx);
  const { port } = await server.listen();
  const seen: string[] = [];
  const onHs = (m: unknown): void => { seen.push(`handshake:${(m as { protocol: string }).protocol}`); };
  const onVerify = (m: unknown): void => { seen.push(`verify:${(m as { depth: number }).depth}`); };
  diagnosticsChannel.subscribe(channelNames.tlsHandshake, onHs);
  diagnosticsChannel.subscribe(channelNames.tlsVerify, onVerify);
  try {
    const accepted = once(server, 'secureConnection');
    const raw = net.connect(port, '127.0.0.1');
    await once(raw, 'connect');
    const s = new SecureSocket(raw, cctx, { servername: 'localhost' });
    s.write('queued before the handshake');
    const [a] = (await accepted) as [SecureSocket];
    const [d] = (await once(a, 'data')) as [Buffer];
    assert.equal(d.toString(), 'queued before the handshake');
    assert.ok(s.handshakeComplete);
    assert.ok(seen.includes('verify:0') && seen.includes('verify:1'), seen.join(','));
    assert.ok(seen.includes('handshake:TLSv1.3'), seen.join(','));
    s.destroy();
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.tlsHandshake, onHs);
    diagnosticsChannel.unsubscribe(channelNames.tlsVerify, onVerify);
    await server.close(); cctx.dispose(); sctx.dispose();
  }
});
