// Server handshakes a peer abandons halfway: a stall ended by the handshake timeout and a reset
// are failed handshakes like any other: one TlsHandshakeError saying why, published once on
// tlsHandshakeFailed (what the audit trail records), not a silent close.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { SecureContext } from '../../../src/transport/tls/context.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { TlsHandshakeError } from '../../../src/transport/tls/errors.js';
import { TimeoutError } from '../../../src/errors.js';
import { channelNames } from '../../../src/diagnostics.js';
import { makeEngineCerts, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

/** The start of a ClientHello record (header announces 300 bytes, 6 arrive): OpenSSL waits for the rest. */
const HALF_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x01, 0x2c, 0x01, 0x00, 0x01, 0x28, 0x03, 0x03]);

function published(): { failures: { error: TlsHandshakeError }[]; stop(): void } {
  const failures: { error: TlsHandshakeError }[] = [];
  const on = (m: unknown): void => { failures.push(m as { error: TlsHandshakeError }); };
  diagnosticsChannel.subscribe(channelNames.tlsHandshakeFailed, on);
  return { failures, stop: () => diagnosticsChannel.unsubscribe(channelNames.tlsHandshakeFailed, on) };
}

test('a handshake the peer stalls halfway ends at the handshake timeout, reported as such and published once', async () => {
  const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey } });
  // The peer never completes, so the outcome does not depend on how soon the timer fires.
  const server = createSecureServer(ctx, undefined, { handshakeTimeout: 300 });
  const { port } = await server.listen();
  const seen = published();
  try {
    const failed = once(server, 'handshakeError');
    const sock = net.connect(port, '127.0.0.1', () => sock.write(HALF_CLIENT_HELLO));
    sock.on('error', () => undefined);
    const [err] = (await failed) as [TlsHandshakeError];
    assert.ok(err instanceof TlsHandshakeError);
    assert.ok(err.cause instanceof TimeoutError, String(err.cause));
    assert.equal((err.cause as TimeoutError).timer, 'handshake');
    assert.match(err.message, /did not complete the TLS handshake within 300 ms/);
    await once(sock, 'close');
    assert.equal(seen.failures.length, 1);
    assert.equal(seen.failures[0]!.error, err);
  } finally { seen.stop(); await server.close(); ctx.dispose(); }
});

test('a peer that resets the connection halfway through the handshake is a failed handshake, published once', async () => {
  const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey } });
  const server = createSecureServer(ctx);
  const { port } = await server.listen();
  const seen = published();
  try {
    const started = once(server, 'connection');
    const failed = once(server, 'handshakeError');
    const sock = net.connect(port, '127.0.0.1', () => sock.write(HALF_CLIENT_HELLO));
    sock.on('error', () => undefined);
    await started;
    // The server has the connection: a reset now reaches its handshake.
    sock.resetAndDestroy();
    const [err] = (await failed) as [TlsHandshakeError];
    assert.ok(err instanceof TlsHandshakeError);
    assert.equal(seen.failures.length, 1);
    assert.equal(seen.failures[0]!.error, err);
  } finally { seen.stop(); await server.close(); ctx.dispose(); }
});
