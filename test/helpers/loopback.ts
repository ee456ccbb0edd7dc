/** Real TCP loopback sockets on 127.0.0.1 for upper-layer tests (plain TCP, no TLS). */
import net from 'node:net';
import { once } from 'node:events';
import type { TransportConnection } from '../../src/transport/connection.js';

export function plainTransport(socket: net.Socket): TransportConnection {
  return {
    stream: socket,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    tls: undefined,
  };
}

export interface Loopback {
  readonly server: net.Server;
  readonly port: number;
  /** Sockets the server accepted, in order; `nextAccepted()` waits for the next one. */
  nextAccepted(): Promise<net.Socket>;
  /** A `TransportSource` function that connects to this server. */
  connect(): Promise<TransportConnection>;
  /** Close the server and destroy every socket still open on either side. */
  close(): Promise<void>;
}

export async function loopback(): Promise<Loopback> {
  const accepted: net.Socket[] = [];
  const waiters: ((s: net.Socket) => void)[] = [];
  const all = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    all.add(s);
    s.on('close', () => all.delete(s));
  };
  const server = net.createServer((s) => {
    track(s);
    const w = waiters.shift();
    if (w !== undefined) w(s);
    else accepted.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    nextAccepted: () => {
      const s = accepted.shift();
      return s !== undefined ? Promise.resolve(s) : new Promise((resolve) => waiters.push(resolve));
    },
    connect: async () => {
      const s = net.connect(port, '127.0.0.1');
      track(s);
      await once(s, 'connect');
      return plainTransport(s);
    },
    close: async () => {
      for (const s of all) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Collect bytes from a raw socket until `n` bytes are in (or the socket ends). */
export function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (): void => {
      socket.off('data', onData).off('close', finish).off('end', finish);
      resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      total += c.length;
      if (total >= n) finish();
    };
    socket.on('data', onData).on('close', finish).on('end', finish);
  });
}
