/**
 * SecureServer: accepts TCP connections on a listening net.Server and runs the TLS handshake on
 * each. Established connections are announced with 'secureConnection'; failed handshakes with
 * 'handshakeError' (the TlsHandshakeError and the peer's address), never with 'error', so a bad
 * peer cannot take the server down.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { SecureContext } from './context.js';
import { SecureSocket } from './socket.js';
import type { TlsHandshakeError } from './errors.js';
import { InvalidOptionError, TimeoutError } from '../../errors.js';
import { AfterPollTimer } from '../../internal/after-poll-timer.js';

export interface SecureServerOptions {
  /** Use this (possibly already listening) net.Server instead of creating one. */
  server?: net.Server;
  /** Milliseconds a peer has to complete the handshake (default 30 000). */
  handshakeTimeout?: number;
  /** Passed to each SecureSocket: keep writing after the peer ended (default false). */
  allowHalfOpen?: boolean;
}

export interface SecureServerEvents {
  /** A TCP connection arrived; its handshake starts right after (set `socket.infoCallback` here). */
  connection: [socket: SecureSocket];
  secureConnection: [socket: SecureSocket];
  handshakeError: [error: TlsHandshakeError, peer: { address: string | undefined; port: number | undefined }];
  error: [error: Error];
  close: [];
}

export class SecureServer extends EventEmitter<SecureServerEvents> {
  #context: SecureContext;
  readonly #server: net.Server;
  readonly #connections = new Set<SecureSocket>();
  readonly #handshakeTimeout: number;
  readonly #allowHalfOpen: boolean;

  constructor(context: SecureContext, options: SecureServerOptions = {}) {
    super();
    if (context.role !== 'server') throw new InvalidOptionError('context', 'a SecureServer needs a server-role SecureContext');
    this.#context = context;
    this.#handshakeTimeout = options.handshakeTimeout ?? 30_000;
    this.#allowHalfOpen = options.allowHalfOpen === true;
    this.#server = options.server ?? net.createServer({ allowHalfOpen: true });
    this.#server.on('connection', (sock) => this.#accept(sock));
    this.#server.on('error', (e) => this.emit('error', e));
    this.#server.on('close', () => this.emit('close'));
  }

  /**
   * The context new connections get. Setting it (a certificate reload) changes only the
   * connections accepted afterwards: each connection keeps the context it started with, so the
   * old one must stay undisposed until they have closed.
   */
  get context(): SecureContext { return this.#context; }
  set context(context: SecureContext) {
    if (context.role !== 'server') throw new InvalidOptionError('context', 'a SecureServer needs a server-role SecureContext');
    this.#context = context;
  }

  get netServer(): net.Server { return this.#server; }
  /** Connections that are handshaking or established. */
  get connections(): ReadonlySet<SecureSocket> { return this.#connections; }

  listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | undefined {
    return (this.#server.address() as AddressInfo | null) ?? undefined;
  }

  /** Stop accepting, destroy every open connection, resolve when the listener has closed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      for (const c of this.#connections) c.destroy();
      if (!this.#server.listening) { resolve(); return; }
      this.#server.close(() => resolve());
    });
  }

  /**
   * @internal Run the handshake on `sock`, whose first bytes a listener has already read (and
   * looked at): they go to the engine directly. Putting them back into the socket instead
   * (`unshift`, then `resume`) cost a stream round and a tick on every connection.
   */
  acceptWithFirstBytes(sock: net.Socket, firstBytes: Buffer): void {
    this.#accept(sock, firstBytes);
  }

  #accept(sock: net.Socket, firstBytes?: Buffer): void {
    const peer = { address: sock.remoteAddress, port: sock.remotePort };
    let secure: SecureSocket;
    try {
      secure = new SecureSocket(sock, this.#context, { allowHalfOpen: this.#allowHalfOpen });
    } catch (e) {
      sock.destroy();
      this.emit('handshakeError', e as TlsHandshakeError, peer);
      return;
    }
    // Into the read BIO only: the handshake reads them once it starts, below.
    if (firstBytes !== undefined) secure.takeFirstBytes(firstBytes);
    this.#connections.add(secure);
    secure.once('close', () => this.#connections.delete(secure));
    // A record that fails right after the handshake (a bad MAC in the flight that carries the
    // client's Finished) errors the socket before 'secureConnection' gives it an owner: without a
    // listener of our own that 'error' would end the process. Owners add theirs; the socket still
    // closes and says why to them.
    secure.on('error', () => undefined);
    this.emit('connection', secure);
    if (secure.destroyed) return;
    // Decided after the loop's next read: the client's last flight may be in the socket already.
    const timer = new AfterPollTimer(this.#handshakeTimeout, () => secure.abortHandshake(new TimeoutError('handshake', `the peer did not complete the TLS handshake within ${this.#handshakeTimeout} ms`)));
    timer.start();
    // Announced as the handshake completes, not a microtask later: the owner's reader is then in
    // place before the request that came with the client's Finished is decrypted (see
    // SecureSocket.onHandshakeDone), as Node's tls.Server announces its connections.
    secure.onHandshakeDone(() => {
      timer.dispose();
      this.emit('secureConnection', secure);
    });
    secure.handshake().then(undefined, (e: TlsHandshakeError) => {
      timer.dispose();
      this.emit('handshakeError', e, peer);
    });
  }
}

export function createSecureServer(context: SecureContext, onConnection?: (s: SecureSocket) => void,
  options?: SecureServerOptions): SecureServer {
  const server = new SecureServer(context, options);
  if (onConnection !== undefined) server.on('secureConnection', onConnection);
  return server;
}
