/**
 * Connections that hold no association (a TLS handshake in progress, an A-ASSOCIATE-RQ not yet
 * sent) are bounded by `maxPendingConnections`: one more sheds the oldest, so peers that stall
 * halfway neither grow the server's memory and file descriptors without bound nor lock out a
 * peer that completes its handshake and association at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type HandshakeFailure } from '../../src/ae/server.js';
import { PendingConnectionLimitError } from '../../src/ae/errors.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { TlsHandshakeError } from '../../src/transport/tls/errors.js';
import { InvalidOptionError } from '../../src/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { scenarioPki } from '../helpers/pki.js';
import { rawAssociateRq } from '../helpers/raw-pdu.js';

const quick = { connect: 10_000, association: 10_000, dimse: 10_000 };
/** The start of a ClientHello record (its header announces 300 bytes, 6 arrive): the handshake waits for the rest. */
const HALF_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x01, 0x2c, 0x01, 0x00, 0x01, 0x28, 0x03, 0x03]);

/** Until the server counts `n` pending connections (a hang guard bounds the wait, not a timing claim). */
async function pendingReaches(server: DicomServer, n: number): Promise<void> {
  while (server.pendingConnections !== n) await tick();
}

/** A connection that sends `first` (or nothing) and then stalls; resolves once connected. */
async function stalled(port: number, first?: Buffer): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  if (first !== undefined) s.write(first);
  return s;
}

test('TLS: a connection beyond maxPendingConnections sheds the oldest stalled handshake; a real peer still associates', { timeout: 120_000 }, async () => {
  const pki = scenarioPki();
  const server = new DicomServer({
    tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }),
    maxPendingConnections: 3,
  });
  const failures: HandshakeFailure[] = [];
  server.on('handshakeError', (f) => failures.push(f));
  const published: unknown[] = [];
  const onFailed = (m: unknown): void => { published.push((m as { error: unknown }).error); };
  diagnosticsChannel.subscribe(channelNames.tlsHandshakeFailed, onFailed);
  const { port } = await server.listen(0);
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      socks.push(await stalled(port, HALF_CLIENT_HELLO));
      await pendingReaches(server, i + 1);
    }
    const firstPort = socks[0]!.localPort;
    const firstClosed = once(socks[0]!, 'close');
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', timeouts: quick,
      tls: new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] }),
    });
    await firstClosed;
    assert.equal((await client.echo()).status, 0);
    await client.release();
    // The oldest was shed, reported as a failed handshake that says why, published once.
    const shed = failures.filter((f) => f.error.cause instanceof PendingConnectionLimitError);
    assert.equal(shed.length, 1, failures.map((f) => f.error.message).join('; '));
    assert.equal(shed[0]!.peer.port, firstPort);
    assert.ok(shed[0]!.error instanceof TlsHandshakeError);
    assert.match(shed[0]!.error.message, /3 connections were waiting/);
    assert.equal(published.filter((e) => e === shed[0]!.error).length, 1);
    // The two younger stalled handshakes were left alone.
    assert.equal(socks[1]!.destroyed || socks[1]!.readyState !== 'open', false);
    assert.equal(socks[2]!.destroyed || socks[2]!.readyState !== 'open', false);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.tlsHandshakeFailed, onFailed);
    for (const s of socks) s.destroy();
    await server.close({ timeout: 1000 });
  }
});

test('plain: connections that never send their A-ASSOCIATE-RQ are bounded the same way, the oldest shed and published', { timeout: 120_000 }, async () => {
  const server = new DicomServer({ maxPendingConnections: 2 });
  const shed: unknown[] = [];
  const onServer = (m: unknown): void => { if ((m as { kind: string }).kind === 'connection-shed') shed.push(m); };
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  const { port } = await server.listen(0);
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      socks.push(await stalled(port));
      await pendingReaches(server, i + 1);
    }
    const firstPort = socks[0]!.localPort;
    const firstClosed = once(socks[0]!, 'close');
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', timeouts: quick });
    await firstClosed;
    assert.equal((await client.echo()).status, 0);
    // An established association holds no pending slot.
    assert.equal(server.pendingConnections, 1);
    await client.release();
    assert.equal(shed.length, 1);
    const e = shed[0] as { peer: { port: number }; error: PendingConnectionLimitError };
    assert.equal(e.peer.port, firstPort);
    assert.ok(e.error instanceof PendingConnectionLimitError);
    assert.equal(e.error.code, 'DICOM_ERR_PENDING_CONNECTION_LIMIT');
    assert.equal(e.error.limit, 2);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, onServer);
    for (const s of socks) s.destroy();
    await server.close({ timeout: 1000 });
  }
});

test('maxPendingConnections must be a whole number of at least 1', () => {
  for (const v of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new DicomServer({ maxPendingConnections: v }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxPendingConnections');
  }
});

/** The start of an A-ASSOCIATE-RQ announcing 1 MiB, with `n` bytes of its body: the reader buffers it until the rest comes. */
function partialRq(n: number): Buffer {
  const b = Buffer.alloc(6 + n);
  b[0] = 0x01;
  b.writeUInt32BE(1024 * 1024, 2);
  return b;
}

test('plain: the bytes of A-ASSOCIATE-RQs not yet complete are bounded by maxPendingBytes, the oldest connection shed', { timeout: 120_000 }, async () => {
  const server = new DicomServer({ maxPendingBytes: 100_000 });
  const shed: { peer: { port: number }; error: PendingConnectionLimitError }[] = [];
  const onServer = (m: unknown): void => { if ((m as { kind: string }).kind === 'connection-shed') shed.push(m as (typeof shed)[number]); };
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  const { port } = await server.listen(0);
  const socks: net.Socket[] = [];
  try {
    // Two of 40 000 bytes fit; the third takes the total past the budget.
    socks.push(await stalled(port, partialRq(40_000)));
    socks.push(await stalled(port, partialRq(40_000)));
    const firstClosed = once(socks[0]!, 'close');
    const firstPort = socks[0]!.localPort;
    socks.push(await stalled(port, partialRq(40_000)));
    await firstClosed;
    assert.equal(shed.length, 1);
    assert.equal(shed[0]!.peer.port, firstPort);
    assert.ok(shed[0]!.error instanceof PendingConnectionLimitError);
    assert.equal(shed[0]!.error.code, 'DICOM_ERR_PENDING_CONNECTION_LIMIT');
    assert.equal(shed[0]!.error.option, 'maxPendingBytes');
    assert.equal(shed[0]!.error.limit, 100_000);
    // A peer whose RQ is complete at once associates meanwhile, its bytes no longer counted.
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', timeouts: quick });
    assert.equal((await client.echo()).status, 0);
    await client.release();
    assert.equal(shed.length, 1);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, onServer);
    for (const s of socks) s.destroy();
    await server.close({ timeout: 1000 });
  }
});

test('maxPendingBytes must be a whole number, 0 for no limit', () => {
  for (const v of [-1, 1.5, Number.NaN]) {
    assert.throws(() => new DicomServer({ maxPendingBytes: v }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxPendingBytes');
  }
  assert.doesNotThrow(() => new DicomServer({ maxPendingBytes: 0 }));
});

test('associations we aborted, waiting in Sta13 for peers that keep their sockets open, count as pending connections: the oldest is closed first', { timeout: 120_000 }, async () => {
  // ARTIM far beyond the test: only the bound can close them.
  const server = new DicomServer({ maxPendingConnections: 2, timeouts: { artim: 600_000 } });
  const shed: { stage: string; error: PendingConnectionLimitError }[] = [];
  const onServer = (m: unknown): void => { if ((m as { kind: string }).kind === 'connection-shed') shed.push(m as (typeof shed)[number]); };
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  const { port } = await server.listen(0);
  const socks: net.Socket[] = [];
  const closed: Promise<unknown>[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = await stalled(port, Buffer.from(rawAssociateRq()));
      socks.push(s);
      closed.push(once(s, 'close'));
      // The A-ASSOCIATE-AC, then a PDU of no known type: our A-ABORT (AA-8), and the socket is kept open.
      const [ac] = (await once(s, 'data')) as [Buffer];
      assert.equal(ac[0], 0x02);
      const abort = once(s, 'data');
      s.write(Buffer.from([0x99, 0, 0, 0, 0, 2, 0, 0]));
      assert.equal(((await abort) as [Buffer])[0][0], 0x07);
    }
    // The third connection made one too many: the oldest aborted one is closed.
    await closed[0];
    await pendingReaches(server, 2);
    assert.equal(shed.length, 1);
    assert.equal(shed[0]!.stage, 'closing');
    assert.ok(shed[0]!.error instanceof PendingConnectionLimitError);
    // Established associations still come in.
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', timeouts: quick });
    assert.equal((await client.echo()).status, 0);
    await client.release();
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.server, onServer);
    for (const s of socks) s.destroy();
    await server.close({ timeout: 1000 });
  }
});
