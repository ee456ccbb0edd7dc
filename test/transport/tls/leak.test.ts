// No leak: thousands of handshakes (our client and our server on loopback) opened and closed in
// one process. Every SSL / SSL_CTX / session / registered callback is counted when created and
// when freed; the counters must return to where they started, and RSS must stay flat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SecureContext, VerifyMode } from '../../../src/transport/tls/context.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { live } from '../../../src/transport/tls/openssl/ssl.js';
import { makeEngineCerts, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function settle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().rss;
}

test('thousands of handshakes keep memory flat and free every OpenSSL object and callback', async () => {
  const start = live.snapshot();
  const sctx = new SecureContext({
    role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert],
    verifyMode: VerifyMode.Peer, alpn: ['dicom'], infoCallback: () => undefined, verifyCallback: (ok) => ok,
  });
  const cctx = new SecureContext({
    role: 'client', ca: [c.caCert], alpn: ['dicom'], identity: { cert: c.clientCert, key: c.clientKey },
    verifyCallback: (ok) => ok, infoCallback: () => undefined,
  });
  const server = createSecureServer(sctx, (s) => {
    s.on('data', (d: Buffer) => s.end(d)); // echo once, then close_notify
    s.on('error', () => undefined);
  });
  const { port } = await server.listen();
  let failures = 0;
  const one = async (i: number): Promise<void> => {
    // Alternate: fresh sessions and resumed ones, clean close and abrupt destroy.
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, sessionKey: i % 2 === 0 ? 'a' : `k${i % 7}` });
    if (i % 3 === 0) { s.destroy(); return; }
    const closed = once(s, 'close');
    s.resume();
    s.end('ping');
    await closed;
  };
  const round = async (n: number, offset: number): Promise<void> => {
    const batch = 16;
    for (let i = 0; i < n; i += batch) {
      const jobs: Promise<void>[] = [];
      for (let j = i; j < Math.min(n, i + batch); j++) jobs.push(one(offset + j).catch(() => { failures++; }));
      await Promise.all(jobs);
    }
  };
  try {
    // Warm-up: JIT, allocator pools and the server's session cache reach their steady state (RSS
    // still rose by ~20 MB over the first 2000 handshakes after a 400-handshake warm-up, leak or not).
    await round(1600, 0);
    // Two equal rounds after it: a leak grows RSS in both, the allocator's settling (which a
    // loaded machine can stretch past the warm-up) in one at most.
    const grew: number[] = [];
    let rss = await settle();
    for (const offset of [1600, 3600]) {
      await round(2000, offset);
      // wait for the server side of the last connections to finish closing
      while (server.connections.size > 0) await new Promise((r) => setTimeout(r, 10));
      const next = await settle();
      grew.push((next - rss) / (1024 * 1024));
      rss = next;
    }
    assert.equal(failures, 0, 'every handshake succeeded');
    // A leaked SSL (with its buffers) is tens of KB: 2000 of them would be far above this bound.
    assert.ok(Math.min(...grew) < 24, `RSS grew by ${grew.map((g) => g.toFixed(1)).join(' and ')} MB over two rounds of 2000 handshakes`);
    const mid = live.snapshot();
    assert.equal(mid.ssl, start.ssl, 'every SSL freed');
  } finally {
    await server.close();
    cctx.dispose();
    sctx.dispose();
  }
  assert.deepEqual(live.snapshot(), start, 'SSL, SSL_CTX, cached sessions and registered callbacks all back to zero');
});

test('contexts created and disposed in a loop release their SSL_CTX and callbacks', () => {
  const start = live.snapshot();
  for (let i = 0; i < 300; i++) {
    const ctx = new SecureContext({
      role: i % 2 === 0 ? 'client' : 'server', identity: { cert: c.serverCert, key: c.serverKey },
      ca: [c.caCert], alpn: ['dicom'], verifyCallback: (ok) => ok,
    });
    ctx.dispose();
    ctx.dispose(); // idempotent
  }
  assert.deepEqual(live.snapshot(), start);
});

test('dispose while a connection is open is deferred until the connection is gone', async () => {
  const start = live.snapshot();
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert] });
  const server = createSecureServer(sctx);
  const { port } = await server.listen();
  const accepted = once(server, 'secureConnection');
  const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
  const [a] = (await accepted) as [SecureSocket];
  cctx.dispose();
  sctx.dispose();
  assert.equal(live.snapshot().sslCtx, start.sslCtx + 2, 'contexts stay while their connections live');
  const got = once(a, 'data');
  s.write('still works');
  assert.equal(((await got) as [Buffer])[0].toString(), 'still works');
  s.destroy();
  a.destroy();
  await server.close();
  assert.deepEqual(live.snapshot(), start);
  assert.throws(() => new SecureSocket(s.socket, cctx), /disposed/);
});

test('an undisposed context that becomes unreachable is freed by the FinalizationRegistry', async () => {
  const start = live.snapshot();
  for (let i = 0; i < 50; i++) {
    // eslint-disable-next-line no-new
    new SecureContext({ role: 'client', ca: [c.caCert], verifyCallback: (ok) => ok, alpn: ['dicom'] });
  }
  assert.ok(live.snapshot().sslCtx >= start.sslCtx + 1);
  for (let i = 0; i < 50 && live.snapshot().sslCtx !== start.sslCtx; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(live.snapshot(), start);
});
