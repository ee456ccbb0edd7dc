/**
 * serve's health and metrics port keeps at most MAX_HTTP_CONNECTIONS open: one more closes the
 * oldest (without an answer), so idle or slow (slowloris) connections cannot pile up file
 * descriptors for Node's header timeout, and a probe arriving meanwhile is answered.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Registry } from 'prom-client';
import { startHttp, MAX_HTTP_CONNECTIONS } from '../../src/cli/serve-http.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir('cli-serve-http-conns-');
after(() => tmp.cleanup());

test('health port: one connection beyond the limit closes the oldest (a stalled request gets no answer); the probe is answered', { timeout: 150_000 }, async () => {
  const { server, address } = await startHttp(0, '127.0.0.1', new Registry(), { storeRoot: tmp.dir, indexQuery: async () => undefined, stopping: () => false });
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < MAX_HTTP_CONNECTIONS; i++) {
      const s = net.connect(address.port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      socks.push(s);
    }
    // The oldest is a slowloris: a request line it never finishes.
    const oldest = socks[0]!;
    oldest.write('GET /heal');
    let answered = '';
    oldest.on('data', (d: Buffer) => { answered += d.toString('latin1'); });
    const closed = new Promise((resolve) => oldest.once('close', resolve));
    const r = await fetch(`http://127.0.0.1:${address.port}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ok' });
    await closed;
    // Closed to make room, not timed out (Node answers a header timeout with 408).
    assert.equal(answered, '');
  } finally {
    for (const s of socks) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
