/**
 * Opening the requestor's transport (PS3.8 9.1.1, AE-1) for DicomClient: plain TCP or TLS with a
 * SecureContext, with the failures named: connection refused, TLS handshake failed (the TLS
 * layer's TlsHandshakeError: depth, X509 error, certificate string, alert), a plain DICOM port
 * answering our ClientHello (TransportMismatchError 'dicom'), and the connect timer.
 */
import net from 'node:net';
import { TimeoutError } from '../errors.js';
import { AfterPollTimer } from '../internal/after-poll-timer.js';
import type { TransportConnection } from '../transport/connection.js';
import { tcpConnection } from '../transport/tcp.js';
import type { SecureContext } from '../transport/tls/context.js';
import { SecureSocket } from '../transport/tls/socket.js';
import { sniffTransport } from '../ul/pdu/sniff.js';
import { TransportMismatchError } from '../ul/upper-layer-errors.js';
import { ConnectionError, ConnectionRefusedError } from './errors.js';
import { TlsError, TlsHandshakeError } from '../transport/tls/errors.js';

/** How long a TLS 1.3 client waits for the server's first post-handshake record (see settleTls13). */
const TLS13_SETTLE_MS = 250;

/**
 * In TLS 1.3 the client's handshake is over before the server has checked the client
 * certificate (RFC 8446 4.4.2). A server that rejects it answers with an alert; one that accepts
 * it sends NewSessionTicket (OpenSSL servers, DCMTK's included, do by default). Waiting for that
 * first record before the A-ASSOCIATE-RQ lets the rejection be read as what it is, instead of
 * being lost to the connection reset our RQ provokes. Bounded: a server sending no ticket costs
 * at most TLS13_SETTLE_MS once per association. Only full handshakes wait (see below).
 */
export function settleTls13(secure: Pick<SecureSocket, 'protocol' | 'resumed' | 'once' | 'off' | 'destroy'>, raw: Pick<TlsClientReads, 'on' | 'off'>): Promise<void> | undefined {
  // A resumed session (PSK, RFC 8446 2.2) sends no certificates: there is nothing left for the
  // server to reject after our Finished, so the A-ASSOCIATE-RQ goes at once. Waiting for the
  // ticket cost one server round trip per association (bench: ~2-3 ms of ~5 ms with resumption).
  // Nothing to wait for is no promise: awaiting a settled one was still a microtask turn (and
  // two promises) between the handshake and the RQ of every resumed association.
  if (secure.protocol !== 'TLSv1.3' || secure.resumed) return undefined;
  return new Promise<void>((resolve, reject) => {
    const done = (error?: unknown): void => {
      clearTimeout(timer);
      raw.off('data', onData);
      secure.off('error', onError).off('close', onClose);
      if (error === undefined) resolve();
      else {
        secure.destroy();
        reject(lateTlsRejection(error) ?? error);
      }
    };
    // The engine's own 'data' listener ran first; give its error a turn to surface.
    const onData = (): void => void setImmediate(() => done());
    const onError = (e: unknown): void => done(e);
    const onClose = (): void => done(new TlsError('TLS connection closed right after the handshake'));
    const timer = setTimeout(() => done(), TLS13_SETTLE_MS);
    raw.on('data', onData);
    secure.once('error', onError).once('close', onClose);
  });
}

/** A TLS read error carrying the peer's alert right after the handshake: the handshake failed, named by the alert. */
export function lateTlsRejection(e: unknown): TlsHandshakeError | undefined {
  const cause = e instanceof Error && !(e instanceof TlsError) ? e.cause : e;
  if (!(cause instanceof TlsError) || !/alert/.test(cause.message)) return undefined;
  const what = cause.message.replace(/^TLS read failed: /, '');
  return new TlsHandshakeError({
    message: `TLS handshake failed: the peer rejected it after our side had finished (TLS 1.3): ${what}`,
    openssl: cause.openssl,
    cause,
  });
}

/** What a TLS client socket reads, it reads into this one buffer (see TlsClientReads). */
let sharedReadBuffer: Buffer | undefined;
const FIRST_BYTES = 16;

/**
 * The reads of a TLS client socket, taken with net.connect's `onread` into one buffer shared by
 * every such socket, instead of as 'data' events: the engine copies each read into its read BIO
 * before the callback returns, so nothing needs a buffer of its own. A 'data' event cost a fresh
 * 64 KiB ArrayBuffer per read and the Readable's push, emit and read-ahead tick (a few reads per
 * association). Also keeps the first bytes (for the "wrong protocol on this port" report), and
 * tells `on('data')` listeners (settleTls13) after the engine, as the socket's events did.
 */
export class TlsClientReads {
  #engine: SecureSocket | undefined;
  /** Reads before the engine was attached, copied (a peer speaking first). */
  #early: Buffer[] = [];
  readonly #first = Buffer.alloc(FIRST_BYTES);
  #firstLength = 0;
  #watchers: readonly ((chunk: Buffer) => void)[] = [];

  /**
   * The `onread` option for net.connect: the buffer itself, not a function making it (Node
   * would call that after every read and hand its result to the native side again).
   */
  readonly onread = {
    buffer: (sharedReadBuffer ??= Buffer.allocUnsafe(64 * 1024)),
    callback: (length: number, buffer: Buffer): boolean => {
      this.#take(length, buffer);
      return true;
    },
  };

  #take(length: number, buffer: Buffer): void {
    if (this.#firstLength < FIRST_BYTES) {
      const n = Math.min(length, FIRST_BYTES - this.#firstLength);
      buffer.copy(this.#first, this.#firstLength, 0, n);
      this.#firstLength += n;
    }
    if (this.#engine !== undefined) this.#engine.receiveCiphertext(buffer, length);
    else this.#early.push(Buffer.from(buffer.subarray(0, length)));
    const watchers = this.#watchers;
    for (let i = 0; i < watchers.length; i++) watchers[i]!(buffer.subarray(0, length));
  }

  /** From now on reads go to `engine`, those already made first. */
  attach(engine: SecureSocket): void {
    this.#engine = engine;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) engine.receiveCiphertext(chunk, chunk.length);
  }

  /** The first bytes received (up to 16), a copy. */
  firstBytes(): Uint8Array {
    return Buffer.from(this.#first.subarray(0, this.#firstLength));
  }

  /** Called for every read after the engine has taken it; 'data' only (settleTls13's raw socket). */
  on(_event: 'data', listener: (chunk: Buffer) => void): this {
    this.#watchers = [...this.#watchers, listener];
    return this;
  }

  off(_event: 'data', listener: (chunk: Buffer) => void): this {
    this.#watchers = this.#watchers.filter((l) => l !== listener);
    return this;
  }
}

/**
 * Starts a TCP connection: the socket at once (before it is connected) and, settling once it is
 * up or has failed (or the deadline passed: then the socket is destroyed), its outcome with the
 * failure named.
 */
function startConnect(host: string, port: number, deadline: Promise<never>, reads?: TlsClientReads): { socket: net.Socket; connected: Promise<net.Socket> } {
  // As an option, applied once the connection is up; setNoDelay() here would set it on the
  // connecting socket and Node would set it again after connect: one system call fewer.
  const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true, ...(reads === undefined ? {} : { onread: reads.onread }) });
  const connected = new Promise<net.Socket>((resolve, reject) => {
    // Only our own listener goes: a TLS engine attached while connecting has one of its own.
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(e.code === 'ECONNREFUSED' ? new ConnectionRefusedError(host, port, { cause: e }) : new ConnectionError(host, port, e.message, { cause: e }));
    };
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    socket.once('error', onError);
  });
  return {
    socket,
    connected: Promise.race([connected, deadline]).catch((e: unknown) => {
      socket.destroy();
      throw e;
    }),
  };
}

/** Resolves after the callbacks already queued with process.nextTick (net.connect's connect(2) for an address). */
const afterQueuedTicks = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

export interface OpenTransportOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: SecureContext | undefined;
  /** SNI / host name to verify; default `host`. */
  readonly servername?: string | undefined;
  /** Milliseconds for TCP connect plus TLS handshake. */
  readonly timeout?: number | undefined;
}

export async function openTransport(options: OpenTransportOptions): Promise<TransportConnection> {
  const { host, port } = options;
  let timer: AfterPollTimer | undefined;
  const deadline = new Promise<never>((_, reject) => {
    if (options.timeout !== undefined && options.timeout > 0) {
      // Decided after the loop's next read: the connection or the server's flight may be there.
      timer = new AfterPollTimer(options.timeout, () =>
        reject(new TimeoutError('connect', `connecting to ${host}:${port}${options.tls ? ' (TCP + TLS handshake)' : ''} took longer than ${options.timeout} ms`)),
      );
      timer.start();
    }
  });
  deadline.catch(() => undefined);
  try {
    if (options.tls === undefined) return tcpConnection(await startConnect(host, port, deadline).connected);
    const reads = new TlsClientReads();
    const { socket, connected } = startConnect(host, port, deadline, reads);
    connected.catch(() => undefined); // awaited below, unless the engine cannot even be made
    // The ClientHello is made while TCP connects, not after: its key shares (ML-KEM-768 and
    // X25519 key generation) are the largest piece of the client's first flight, and the
    // connection takes an event-loop turn to come up even on loopback. net.connect issues
    // connect(2) from a tick of its own (queued with nextTick for an address): that goes first,
    // then the engine starts, and its ClientHello waits in the socket until the connection is up.
    await afterQueuedTicks();
    let secure: SecureSocket;
    try {
      secure = new SecureSocket(socket, options.tls, { servername: options.servername ?? options.tls.options.servername ?? host, sessionKey: `${host}:${port}` });
    } catch (e) {
      socket.destroy();
      throw e;
    }
    reads.attach(secure);
    const handshake = secure.handshake();
    handshake.catch(() => undefined); // a connection that never came up is reported as such, below
    try {
      await connected;
    } catch (e) {
      secure.destroy();
      throw e;
    }
    try {
      await Promise.race([handshake, deadline]);
    } catch (e) {
      secure.destroy();
      const bytes = reads.firstBytes();
      if (sniffTransport(bytes) === 'dicom') throw new TransportMismatchError('dicom', 'requestor', bytes, { cause: e });
      throw e;
    }
    const settling = settleTls13(secure, reads);
    if (settling !== undefined) await settling;
    return secure;
  } finally {
    timer?.dispose();
  }
}
