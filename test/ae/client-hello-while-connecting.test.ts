/**
 * The TLS client makes its ClientHello while TCP connects: the engine starts right after
 * connect(2) is issued, and the ClientHello waits in the socket until the connection is up. A
 * connection that never comes up is still reported as such (ConnectionRefusedError, the connect
 * timeout), not as a failed TLS handshake; the connection's addresses are those of the
 * connection once it is up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { ConnectionRefusedError } from '../../src/ae/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { freePort } from '../helpers/free-port.js';
import { scenarioPki } from '../helpers/pki.js';

function contexts(): { server: SecureContext; client: SecureContext } {
  const pki = scenarioPki();
  return {
    server: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }),
    client: new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] }),
  };
}

/** Records, in order, each client socket's 'connect' and each ClientHello the TLS engine writes. */
function recordOrder(): { order: string[]; stop: () => void } {
  const order: string[] = [];
  const onSocket = (m: unknown): void => {
    const socket = (m as { socket: net.Socket }).socket;
    socket.prependOnceListener('connect', () => void order.push('connect'));
  };
  const onInfo = (m: unknown): void => {
    if (/write client hello/.test((m as { state: string }).state)) order.push('client hello');
  };
  diagnosticsChannel.subscribe('net.client.socket', onSocket);
  diagnosticsChannel.subscribe(channelNames.tlsInfo, onInfo);
  return {
    order,
    stop: () => {
      diagnosticsChannel.unsubscribe('net.client.socket', onSocket);
      diagnosticsChannel.unsubscribe(channelNames.tlsInfo, onInfo);
    },
  };
}

test('the ClientHello is made before the TCP connection is up, and sent once it is', async () => {
  const { server: serverTls, client: tls } = contexts();
  const server = new DicomServer({ tls: serverTls });
  const { port } = await server.listen(0);
  const rec = recordOrder();
  try {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, tls, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: { connect: 30_000, association: 30_000 } });
    const { remoteAddress, remotePort, localPort } = client.association.upperLayer.transport!;
    await client.echo();
    await client.release();
    // The info callback reports the state more than once (loop, exit): its first report counts.
    assert.ok(rec.order.includes('connect'), rec.order.join(', '));
    assert.ok(rec.order.indexOf('client hello') !== -1 && rec.order.indexOf('client hello') < rec.order.indexOf('connect'), rec.order.join(', '));
    // The addresses are the connection's, taken once it was up (not those of a socket still connecting).
    assert.equal(remoteAddress, '127.0.0.1');
    assert.equal(remotePort, port);
    assert.equal(typeof localPort, 'number');
  } finally {
    rec.stop();
    await server.close({ timeout: 1000 });
    serverTls.dispose();
    tls.dispose();
  }
});

test('a refused TLS connection is a ConnectionRefusedError, not a failed handshake', async () => {
  const { client: tls } = contexts();
  const port = await freePort(); // nothing listens there
  const failures: unknown[] = [];
  const onFailed = (m: unknown): void => void failures.push(m);
  diagnosticsChannel.subscribe(channelNames.tlsHandshakeFailed, onFailed);
  try {
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port, tls, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: { connect: 30_000 } }),
      (e: unknown) => e instanceof ConnectionRefusedError,
    );
    assert.deepEqual(failures, []);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.tlsHandshakeFailed, onFailed);
    tls.dispose();
  }
});
