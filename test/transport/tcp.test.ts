import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { poolStats, release } from '../../src/internal/buffer-pool.js';
import { connectTcp, listenTcp } from '../../src/transport/tcp.js';
import type { TransportConnection } from '../../src/transport/connection.js';
import { freePort } from '../helpers/free-port.js';

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
  // Below the ephemeral range: a port released by listen(0) may be given to another process's
  // listen(0) before the connect.
  const port = await freePort();
  await assert.rejects(connectTcp({ host: '127.0.0.1', port }), /ECONNREFUSED/);
});

test('receiveDirect: reads arrive whole and in order, each freed at its last release; a paused connection stops reading its socket', async () => {
  const total = 32 * 1024 * 1024;
  const sent = Buffer.alloc(total);
  for (let i = 0; i < total; i += 4) sent.writeUInt32BE(i / 4, i);
  const got: Buffer[] = [];
  let received = 0;
  let server: net.Socket | undefined;
  let accepted!: TransportConnection;
  const pausedAt = 4 * 1024 * 1024;
  let pausedOnce = false;
  let reachedPause!: () => void;
  const paused = new Promise<void>((resolve) => (reachedPause = resolve));
  const listener = await listenTcp({ port: 0 }, (c) => {
    accepted = c;
    server = c.stream as net.Socket;
    const onData = (chunk: Uint8Array): void => {
      got.push(Buffer.from(chunk)); // a copy: the read itself is given back below
      received += chunk.length;
      release(chunk); // the receiver's reference, as the upper layer gives it back
      if (received >= pausedAt && !pausedOnce) {
        pausedOnce = true;
        c.stream.pause();
        reachedPause();
      }
    };
    c.stream.on('data', onData);
    c.receiveDirect?.(onData);
  });
  const conn = await connectTcp({ host: '127.0.0.1', port: listener.address.port, timeout: 5000 });
  try {
    const adoptedBefore = poolStats().adopted;
    const freedBefore = poolStats().freed;
    conn.stream.write(sent);
    await paused;
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the socket run on if it would
    assert.equal(server!.listenerCount('data'), 1, 'still one data listener');
    // Paused: the stream reads ahead at most its high-water mark, then stops reading the socket.
    const ahead = server!.bytesRead - received;
    assert.ok(ahead <= server!.readableHighWaterMark + 65536, `read ${ahead} bytes past the paused listener`);
    assert.ok(server!.bytesRead < total, 'the whole message was read while paused');
    const done = new Promise<void>((resolve) => {
      const check = setInterval(() => { if (received >= total) { clearInterval(check); resolve(); } }, 5);
    });
    accepted.stream.resume();
    await done;
    assert.ok(Buffer.concat(got).equals(sent), 'bytes changed or reordered');
    assert.ok(poolStats().adopted > adoptedBefore, 'no read was adopted');
    assert.ok(poolStats().freed > freedBefore, 'no read was freed at its release');
  } finally {
    conn.stream.destroy();
    server?.destroy();
    await listener.close();
  }
});
