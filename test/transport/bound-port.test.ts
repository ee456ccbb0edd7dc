/**
 * bindPort (src/transport/bound-port.ts): a port taken without listening. A connection to it is
 * refused until a server listens on that very socket; a port another socket listens on fails as
 * listen fails (EADDRINUSE from bind), an address not of this machine with EADDRNOTAVAIL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { bindPort } from '../../src/transport/bound-port.js';
import { freePort } from '../helpers/free-port.js';

function connect(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function listener(host: string): Promise<net.Server> {
  const s = net.createServer((c) => { c.on('error', () => undefined); c.destroy(); }).listen(0, host);
  await once(s, 'listening');
  return s;
}

test('bound, not listening: refused; then the server listens on that socket and accepts', async () => {
  // A port below the ephemeral range, which no other process is handed in the meantime.
  const port = await freePort();
  const bound = await bindPort('127.0.0.1', port);
  assert.equal(await connect(port), 'ECONNREFUSED');
  const server = net.createServer((c) => { c.on('error', () => undefined); c.end(); });
  server.listen(bound.take());
  await once(server, 'listening');
  try {
    assert.equal((server.address() as net.AddressInfo).port, port);
    assert.equal(await connect(port), 'connected');
    assert.throws(() => bound.take(), /already taken/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('a port another socket listens on: EADDRINUSE from bind, on its address and on the wildcard', async () => {
  const holder = await listener('127.0.0.1');
  const { port } = holder.address() as net.AddressInfo;
  try {
    for (const host of ['127.0.0.1', '0.0.0.0']) {
      await assert.rejects(bindPort(host, port), (e: NodeJS.ErrnoException & { port?: number }) => e.code === 'EADDRINUSE' && e.syscall === 'bind' && e.port === port, host);
    }
  } finally {
    await new Promise((r) => holder.close(r));
  }
});

test('given back: close() frees the port; a server may listen there then', async () => {
  // A port below the ephemeral range, which no other process is handed in the meantime.
  const port = await freePort();
  const bound = await bindPort('127.0.0.1', port);
  bound.close();
  const server = net.createServer().listen(port, '127.0.0.1');
  await once(server, 'listening');
  await new Promise((r) => server.close(r));
});

test('an address that is not this machine\'s: EADDRNOTAVAIL', async () => {
  await assert.rejects(bindPort('192.0.2.1', 40000), { code: 'EADDRNOTAVAIL', syscall: 'bind' });
});
