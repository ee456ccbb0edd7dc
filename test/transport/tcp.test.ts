import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connectTcp, listenTcp } from '../../src/transport/tcp.js';
import type { TransportConnection } from '../../src/transport/connection.js';

test('plain TCP connect/listen give TransportConnections without TLS facts', async () => {
  const accepted: TransportConnection[] = [];
  const listener = await listenTcp({ port: 0 }, (c) => { accepted.push(c); c.stream.on('data', (d: Buffer) => c.stream.end(d)); });
  try {
    const conn = await connectTcp({ host: '127.0.0.1', port: listener.address.port, timeout: 5000 });
    assert.equal(conn.tls, undefined);
    assert.equal(conn.remotePort, listener.address.port);
    const got = once(conn.stream, 'data');
    conn.stream.write('echo');
    assert.equal(((await got) as [Buffer])[0].toString(), 'echo');
    assert.equal(accepted.length, 1);
    assert.equal(accepted[0]!.tls, undefined);
    assert.equal(accepted[0]!.remotePort, conn.localPort);
    conn.stream.destroy();
  } finally {
    await listener.close();
  }
});

test('connect to a closed port rejects', async () => {
  const l = await listenTcp({ port: 0 }, () => undefined);
  const port = l.address.port;
  await l.close();
  await assert.rejects(connectTcp({ host: '127.0.0.1', port }), /ECONNREFUSED/);
});
