/**
 * A TLS client socket's reads (net.connect's `onread`, one buffer shared by every such socket):
 * each read reaches the engine as it was, in order, reads made before the engine is attached
 * included, though the buffer is overwritten by the next read; the first bytes are kept for the
 * wrong-protocol report; watchers see each read after the engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TlsClientReads } from '../../src/ae/transport.js';
import type { SecureSocket } from '../../src/transport/tls/socket.js';
import { DicomClient } from '../../src/ae/client.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { TransportMismatchError } from '../../src/ul/upper-layer-errors.js';
import { scenarioPki } from '../helpers/pki.js';

function fakeEngine(log: string[]): SecureSocket {
  return { receiveCiphertext: (b: Buffer, n: number) => void log.push(`engine:${b.subarray(0, n).toString('latin1')}`) } as unknown as SecureSocket;
}

test('reads before and after the engine is attached reach it in order, each as it was read', () => {
  const reads = new TlsClientReads();
  const buffer = reads.onread.buffer;
  const read = (text: string): void => {
    const n = buffer.write(text, 'latin1');
    assert.equal(reads.onread.callback(n, buffer), true);
    buffer.fill(0x2a); // the next read overwrites the shared buffer
  };
  read('early-1;');
  read('early-2;');
  const log: string[] = [];
  reads.on('data', (chunk) => void log.push(`watch:${chunk.toString('latin1')}`));
  reads.attach(fakeEngine(log));
  assert.deepEqual(log, ['engine:early-1;', 'engine:early-2;']);
  read('late;');
  assert.deepEqual(log, ['engine:early-1;', 'engine:early-2;', 'engine:late;', 'watch:late;']);
  assert.equal(Buffer.from(reads.firstBytes()).toString('latin1'), 'early-1;early-2;');
});

test('the first 16 bytes are kept whatever the reads\' sizes', () => {
  const reads = new TlsClientReads();
  reads.attach(fakeEngine([]));
  const buffer = reads.onread.buffer;
  for (const part of ['\x07\x00', '\x00\x00\x00\x04\x00', '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00']) {
    reads.onread.callback(buffer.write(part, 'latin1'), buffer);
  }
  assert.deepEqual([...reads.firstBytes()], [7, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('a plain DICOM peer that speaks first (an A-ABORT on connect) is named as such by the TLS client', async () => {
  const abort = Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x00]);
  const server = net.createServer((s) => { s.on('error', () => undefined); s.resume(); s.end(abort); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const pki = scenarioPki();
  const tls = new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] });
  try {
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port, tls, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: { connect: 5000, association: 5000 } }),
      (e: unknown) => e instanceof TransportMismatchError && /DICOM/i.test(e.message),
    );
  } finally {
    tls.dispose();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a client that stops reading holds the server back, and then gets every byte in order', async () => {
  const { openTransport } = await import('../../src/ae/transport.js');
  const { createSecureServer } = await import('../../src/transport/tls/server.js');
  const { createHash, randomBytes } = await import('node:crypto');
  const pki = scenarioPki();
  const serverCtx = new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
  const clientCtx = new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] });
  const payload = randomBytes(8 * 1024 * 1024);
  let serverWaited = false;
  const server = createSecureServer(serverCtx, (s) => {
    s.on('error', () => undefined);
    let off = 0;
    const more = (): void => {
      while (off < payload.length) {
        const ok = s.write(payload.subarray(off, off + 65536));
        off += 65536;
        if (!ok) { serverWaited = true; s.once('drain', more); return; }
      }
      s.end();
    };
    more();
  });
  const { port } = await server.listen();
  try {
    const t = await openTransport({ host: '127.0.0.1', port, tls: clientCtx, timeout: 10_000 });
    const stream = t.stream;
    stream.pause();
    // Not reading: the server must be held back. Waited for (a hang guard), not assumed after a
    // fixed time: a loaded machine may take long to fill the buffers.
    for (const end = Date.now() + 60_000; !serverWaited && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    assert.equal(serverWaited, true, 'the server met backpressure');
    assert.ok(stream.readableLength < payload.length, 'not everything was read ahead');
    const hash = createHash('sha256');
    let total = 0;
    stream.on('data', (c: Buffer) => { hash.update(c); total += c.length; });
    await new Promise<void>((resolve, reject) => { stream.on('end', resolve); stream.on('error', reject); stream.resume(); });
    assert.equal(total, payload.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
    stream.destroy();
  } finally {
    await server.close();
    clientCtx.dispose();
    serverCtx.dispose();
  }
});
