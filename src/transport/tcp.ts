/**
 * Plain TCP (no TLS): connect and listen, giving the upper layer the same TransportConnection
 * shape a SecureSocket has, with `tls` undefined.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsInfo, TransportConnection } from './connection.js';
import { TimeoutError } from '../errors.js';
import { adopt } from '../internal/buffer-pool.js';

class TcpConnection implements TransportConnection {
  readonly stream: Duplex;
  readonly #socket: net.Socket;
  readonly tls: TlsInfo | undefined = undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  constructor(socket: net.Socket) {
    this.stream = socket;
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
  }

  /**
   * TransportConnection.receiveDirect: each socket read reaches `listener` adopted by the receive
   * buffer pool (internal/buffer-pool.ts), so its memory is freed as soon as the upper layer and
   * the store have released it, not at the collector's next full collection. Node gives every
   * read on an accepted socket a fresh 64 KiB ArrayBuffer and offers no way to read into a buffer
   * of our own there (the `onread` option is for client sockets only), and V8 collects such
   * external memory only at full collections: a plain-TCP SCP receiving 52 MB instances held
   * 60-100 MB of dead reads and ran a full collection every ~50 ms. The listener is re-registered
   * (same calls, same order as the 'data' events); with other 'data' listeners on the socket the
   * upper layer pins each chunk instead, and it is left to the collector as before.
   */
  receiveDirect(listener: (chunk: Uint8Array) => void): void {
    const socket = this.#socket;
    if (!socket.listeners('data').includes(listener)) return;
    socket.off('data', listener);
    socket.on('data', (chunk: Buffer) => {
      adopt(chunk);
      listener(chunk);
    });
  }
}

/** Wrap an already connected net.Socket. */
export function tcpConnection(socket: net.Socket): TransportConnection {
  return new TcpConnection(socket);
}

export function connectTcp(opts: { host: string; port: number; timeout?: number }): Promise<TransportConnection> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: opts.host, port: opts.port });
    sock.setNoDelay(true);
    const timer = opts.timeout === undefined ? undefined : setTimeout(() => {
      sock.destroy();
      reject(new TimeoutError('connect', `TCP connect to ${opts.host}:${opts.port} took longer than ${opts.timeout} ms`));
    }, opts.timeout);
    sock.once('error', (e) => { if (timer) clearTimeout(timer); reject(e); });
    sock.once('connect', () => {
      if (timer) clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(new TcpConnection(sock));
    });
  });
}

export interface TcpListener {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export function listenTcp(opts: { port?: number; host?: string }, onConnection: (c: TransportConnection) => void): Promise<TcpListener> {
  const server = net.createServer((sock) => { sock.setNoDelay(true); onConnection(new TcpConnection(sock)); });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        address: server.address() as AddressInfo,
        close: () => new Promise<void>((res) => server.close(() => res())),
      });
    });
  });
}
