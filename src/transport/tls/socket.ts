/**
 * SecureSocket: a Node Duplex that runs one OpenSSL `SSL` over two memory BIOs on top of a
 * net.Socket. Ciphertext from the socket goes into the read BIO, OpenSSL's output is drained from
 * the write BIO into the socket. Backpressure both ways: a full readable side pauses the socket,
 * a full socket holds back the write callback.
 *
 * Rules (tls-engine.md): never re-enter the SSL from a callback; calls the user makes during a
 * callback are deferred until OpenSSL returns; a callback that throws fails the handshake with
 * that error as `cause`; the error queue is drained after every failing call; the SSL is freed
 * exactly once.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { X509Certificate } from 'node:crypto';
import { InvalidOptionError, TimeoutError } from '../../errors.js';
import { publish, channelNames } from '../../diagnostics.js';
import type { TlsInfo, TransportConnection } from '../connection.js';
import { drainErrors } from './openssl/lib.js';
import * as S from './openssl/ssl.js';
import { connectionsBySsl, derOf, type ConnectionHooks, type SecureContext, type TlsRole } from './context.js';
import type { InfoCallback } from './callbacks.js';
import { HybridGroupRequiredError, SslError, TlsError, TlsHandshakeError, type AlertInfo, type VerifyFailure } from './errors.js';
import { x509ErrorName } from './x509-errors.js';
import { subjectFromDer } from './certificate-string.js';
import { RECORD, emitRecords } from './records.js';
import { release as releaseSlab, retain as retainSlab, takeSlab } from '../../internal/buffer-pool.js';

export interface SecureSocketOptions {
  /** SNI sent by a client; defaults to the context's `servername`. */
  servername?: string;
  /** Host name or IP checked against the peer's leaf; defaults to the context's `verifyHost`. */
  verifyHost?: string;
  /** Key under which a client keeps its session for resumption (e.g. "host:port"). */
  sessionKey?: string;
  /**
   * Keep the writable side open after the peer ended (close_notify or FIN), as net.Socket's
   * option of the same name. Default false: our side then ends (close_notify) automatically.
   */
  allowHalfOpen?: boolean;
  /**
   * This connection's own handshake-information callback, called after the context's (if any)
   * for every event of this connection only. Also settable as `socket.infoCallback`.
   */
  infoCallback?: InfoCallback;
}

export interface SecureConnectOptions extends SecureSocketOptions {
  host: string;
  port: number;
  context: SecureContext;
  /** Milliseconds for TCP connect + TLS handshake together. */
  timeout?: number;
}

/** Plaintext handed to one SSL_write: large, so OpenSSL emits full 16 KB records. */
const WRITE_SLICE = 1 << 20;
/** Records gathered per SSL_write when writes do not line up with records (see records.ts). */
const STAGING_RECORDS = 4;
/**
 * Reads land in a slab; each chunk pushed is a view of it (no copy, no per-read allocation). The
 * first slab is small (most connections carry little); once one fills, the connection is moving
 * data and gets full-size ones. 1 MiB slabs (fewer P-DATA-TF PDUs straddling two slabs, which the
 * PDU reader then copies) measured no faster for 52 MB instances and 7 % slower for 100 KB ones
 * (a fresh 1 MiB allocation is mapped and faulted in page by page every few instances).
 */
const FIRST_SLAB = 2 * RECORD;
/** No slab until the first read: a connection that never reads application data allocates none. */
const NO_SLAB = Buffer.alloc(0);
/**
 * One staging buffer for every connection (it is used only within a synchronous SSL_write call,
 * see records.ts); a connection finding it in use (a write from inside an OpenSSL callback) takes
 * its own. A 64 KiB buffer per connection was garbage for every short association.
 */
let sharedStaging: Buffer | undefined;

/**
 * The ciphertext of a socket read is dead once the memory BIO has copied it: give its memory back
 * now (detaching the ArrayBuffer frees it) instead of at the next full collection. Node allocates
 * one ArrayBuffer per read, 64 KiB; V8 collects them only when their total passes its external
 * memory limit (~64 MB), so a TLS receiver piled up that much dead ciphertext: a third of a
 * storing SCP's peak RSS with 52 MB instances, and the full collections it set off were ~20 % of
 * its CPU. A net.Socket's read is its own ArrayBuffer (trimmed to the bytes read, or not when
 * little would be saved), so a chunk starting its ArrayBuffer owns it; Node's shared Buffer pool
 * is not detachable and stays as it is. Listeners on the raw socket that run after the engine's
 * see the chunk empty.
 */
const transfer = (ArrayBuffer.prototype as { transfer?: (length?: number) => ArrayBuffer }).transfer;
function release(chunk: Buffer): void {
  const ab = chunk.buffer;
  if (transfer === undefined || chunk.byteOffset !== 0 || !(ab instanceof ArrayBuffer)) return;
  try {
    transfer.call(ab, 0);
  } catch {
    // Not detachable (a pooled or untransferable buffer): left to the collector.
  }
}
let sharedStagingInUse = false;

interface Addresses { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined; readonly localAddress?: string | undefined; readonly localPort?: number | undefined }
/** Kept per connection: a destroyed socket no longer tells them. */
function addressesOf(socket: net.Socket): Addresses {
  return { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, localAddress: socket.localAddress, localPort: socket.localPort };
}
/** Largest ciphertext buffer kept for reuse between flushes (a 1 MiB slice of plaintext and its records). */
const MAX_REUSED_OUT = 2 * 1024 * 1024;
/**
 * The ciphertext buffer of connections that have not needed one of their own (see #flush): a
 * flight of the handshake, a few small PDUs, one record of 16 KiB. Used only within #flush, and
 * replaced when a socket keeps it.
 */
const SHARED_OUT = RECORD + 1024;
let sharedOut: Buffer | undefined;

export class SecureSocket extends Duplex implements TransportConnection, ConnectionHooks {
  readonly context: SecureContext;
  readonly role: TlsRole;
  readonly sessionKey: string | undefined;
  /** @internal ConnectionHooks: the session key with the server name and the host check. */
  readonly sessionSlot: string | undefined;
  #infoCallback: InfoCallback | undefined;
  readonly #socket: net.Socket;
  #ssl: unknown;
  #rbio: unknown;
  #sslAddr: bigint;
  #freed = false;
  #started = false;
  #handshakeDone = false;
  #handshakeFailed = false;
  #watchResumption: boolean;
  #resumedSession: unknown;
  #handshake: Promise<void> | undefined;
  #resolveHandshake: (() => void) | undefined;
  #rejectHandshake: ((e: Error) => void) | undefined;
  #verifyFailure: VerifyFailure | undefined;
  #alert: AlertInfo | undefined;
  #callbackError: { error: unknown } | undefined;
  #callbackDepth = 0;
  #inDrive = false;
  #destroyRequested = false;
  #hadError = false;
  #deferred: (() => void)[] = [];
  #pendingWrite: { chunk: Buffer; cb: (e?: Error | null) => void } | undefined;
  #pendingFinal: ((e?: Error | null) => void) | undefined;
  #readPaused = false;
  #recvEnded = false;
  #waitingDrain: ((e?: Error | null) => void) | undefined;
  #receiver: ((chunk: Uint8Array) => void) | undefined;
  /** Inside _read: the stream asked for more (see _read); what is decrypted now is pushed. */
  #inStreamRead = false;
  /** Chunks written directly while a read was being decrypted: encrypted at the end of it. */
  readonly #directOut: Uint8Array[] = [];
  /** A direct write left ciphertext in the socket: 'drain' is emitted when it is written (needsDrain). */
  #directBacklog = false;
  #slab: Buffer = NO_SLAB;
  #slabOff = 0;
  #flushScheduled = false;
  #outBuf: Buffer | undefined;
  /** Gathers small chunks into full records in #writeMany (SSL_write has consumed it when it returns). */
  #info: TlsInfo | undefined;
  #peerDer: Buffer[] = [];
  #addr: Addresses;
  /** False while the TCP connection this client started on is still connecting. */
  #tcpUp = true;

  /** Connect over TCP and complete the handshake. */
  static async connect(opts: SecureConnectOptions): Promise<SecureSocket> {
    const sock = net.connect({ host: opts.host, port: opts.port, allowHalfOpen: true });
    let timer: NodeJS.Timeout | undefined;
    let secure: SecureSocket | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (opts.timeout !== undefined) {
        timer = setTimeout(() => {
          const e = new TimeoutError('connect', `TLS connect to ${opts.host}:${opts.port} took longer than ${opts.timeout} ms`);
          reject(e); // first, so the race settles with the timeout, not the handshake it aborts
          if (secure !== undefined) secure.destroy(); else sock.destroy();
        }, opts.timeout);
      }
    });
    try {
      await Promise.race([new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      }), timeout]);
      secure = new SecureSocket(sock, opts.context, {
        servername: opts.servername ?? opts.context.options.servername ?? opts.host,
        sessionKey: opts.sessionKey ?? `${opts.host}:${opts.port}`,
        ...(opts.allowHalfOpen !== undefined ? { allowHalfOpen: opts.allowHalfOpen } : {}),
        ...(opts.verifyHost !== undefined ? { verifyHost: opts.verifyHost } : {}),
        ...(opts.infoCallback !== undefined ? { infoCallback: opts.infoCallback } : {}),
      });
      await Promise.race([secure.handshake(), timeout]);
      return secure;
    } catch (e) {
      if (secure !== undefined) secure.destroy(); else sock.destroy();
      throw e;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  constructor(socket: net.Socket, context: SecureContext, options: SecureSocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen === true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.context = context;
    this.role = context.role;
    if (options.infoCallback !== undefined && typeof options.infoCallback !== 'function') throw new InvalidOptionError('infoCallback', 'must be a function');
    if (options.infoCallback !== undefined) this.infoCallback = options.infoCallback;
    this.sessionKey = context.role === 'client' && context.options.sessionResumption !== false ? options.sessionKey : undefined;
    this.#watchResumption = context.role === 'server' && context.options.sessionResumption !== false;
    this.#socket = socket;
    // A client may start on a socket still connecting (its ClientHello then waits in the socket):
    // the addresses are known once it is up (asked before, the local one would cost a system
    // call that Node forgets at connect), and a failure to connect is no failed handshake.
    this.#addr = socket.connecting ? {} : addressesOf(socket);
    if (socket.connecting) {
      this.#tcpUp = false;
      socket.once('connect', () => {
        this.#tcpUp = true;
        this.#addr = addressesOf(socket);
      });
    }
    context.acquire();
    const ssl = S.SSL_new(context.nativeHandle);
    if (ssl === null) {
      context.release();
      throw new TlsError('SSL_new failed', { openssl: drainErrors() });
    }
    S.live.add('ssl');
    this.#ssl = ssl;
    this.#sslAddr = S.addressOf(ssl);
    const rbio = S.BIO_new(S.BIO_s_mem());
    const wbio = S.BIO_new(S.BIO_s_mem());
    S.SSL_set_bio(ssl, rbio, wbio); // the SSL owns both BIOs from here on
    this.#rbio = rbio;
    this.#wbio = wbio;
    connectionsBySsl.set(this.#sslAddr, this);
    try {
      this.sessionSlot = context.prepareSsl(ssl, {
        servername: options.servername ?? context.options.servername,
        verifyHost: options.verifyHost ?? context.options.verifyHost,
        sessionKey: this.sessionKey,
      });
    } catch (e) {
      this.#free();
      throw e;
    }
    if (this.role === 'client') S.SSL_set_connect_state(ssl); else S.SSL_set_accept_state(ssl);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onSocketEnd());
    socket.on('error', (e) => this.#onSocketError(e));
    socket.on('close', () => this.#onSocketClose());
    socket.on('drain', () => {
      const cb = this.#waitingDrain;
      this.#waitingDrain = undefined;
      cb?.();
      if (this.#directBacklog) {
        this.#directBacklog = false;
        this.emit('drain');
      }
    });
  }
  #wbio: unknown;

  /** This connection's own handshake-information callback (after the context's). */
  get infoCallback(): InfoCallback | undefined { return this.#infoCallback; }
  set infoCallback(fn: InfoCallback | undefined) {
    // The context counts the live connections that have one: without any (and without its own
    // hook or a subscriber), it skips the events that only an observer would see.
    const had = this.#infoCallback !== undefined;
    this.#infoCallback = fn;
    if (!this.#freed && had !== (fn !== undefined)) this.context.countSocketInfoCallback(had ? -1 : 1);
  }

  // ---- TransportConnection ---------------------------------------------------------------------
  get stream(): Duplex { return this; }
  get remoteAddress(): string | undefined { return this.#addr.remoteAddress; }
  get remotePort(): number | undefined { return this.#addr.remotePort; }
  get localAddress(): string | undefined { return this.#addr.localAddress; }
  get localPort(): number | undefined { return this.#addr.localPort; }
  get tls(): TlsInfo | undefined { return this.#info; }
  /** Same as `tls`: the facts of the completed handshake. */
  get tlsInfo(): TlsInfo | undefined { return this.#info; }
  /** The underlying TCP socket. */
  get socket(): net.Socket { return this.#socket; }
  /** @internal ConnectionHooks: the object handed to user callbacks. */
  get secureSocket(): SecureSocket { return this; }

  get protocol(): string | undefined { return this.#info?.protocol; }
  get cipher(): string | undefined { return this.#info?.cipher; }
  get alpnProtocol(): string | undefined { return this.#info?.alpn; }
  /** The key-exchange group, e.g. 'X25519MLKEM768' (hybrid post-quantum) or 'X25519'. */
  get group(): string | undefined { return this.#info?.group; }
  get resumed(): boolean { return this.#info?.resumed ?? false; }
  get peerCertificateChain(): readonly X509Certificate[] { return this.#info?.peerCertificateChain ?? []; }
  get peerCertificate(): X509Certificate | undefined { return this.#info?.peerCertificate; }
  get peerSubject(): string | undefined { return this.#info?.peerSubject; }
  /** DER of the peer's chain, leaf first. */
  get peerCertificateChainDer(): readonly Buffer[] { return this.#peerDer; }
  get verifyResult(): TlsInfo['verifyResult'] | undefined { return this.#info?.verifyResult; }
  get handshakeComplete(): boolean { return this.#handshakeDone; }

  /** Start (if needed) and await the handshake. Rejects with TlsHandshakeError. */
  handshake(): Promise<void> {
    if (this.#handshake === undefined) {
      this.#handshake = new Promise<void>((resolve, reject) => {
        this.#resolveHandshake = resolve;
        this.#rejectHandshake = reject;
      });
      if (this.#handshakeDone) this.#resolveHandshake?.();
      else if (this.#freed) this.#rejectHandshake?.(new TlsHandshakeError({ message: 'TLS handshake failed: the connection was closed' }));
    }
    if (!this.#started) {
      this.#started = true;
      this.#drive();
    }
    return this.#handshake;
  }

  // ---- ConnectionHooks (called by the context's trampolines inside OpenSSL) ----------------
  /** @internal */ recordVerifyFailure(f: VerifyFailure): void { this.#verifyFailure ??= f; }
  /** @internal */ recordAlert(a: AlertInfo): void { this.#alert ??= a; }
  /** @internal */ recordCallbackError(e: unknown): void { this.#callbackError ??= { error: e }; }
  /** @internal a callback's Promise rejected: fail the handshake, or end the connection after it. */
  failLater(e: unknown): void {
    if (this.#freed) return;
    if (this.#handshakeDone) { this.destroy(e instanceof Error ? e : new TlsError(String(e), { cause: e })); return; }
    this.#fatal(e);
  }
  /** @internal */ enterCallback(): void { this.#callbackDepth++; }
  /** @internal */ leaveCallback(): void { this.#callbackDepth--; }

  /** Run now, or after OpenSSL returns when called from inside a callback. */
  #whenSafe(fn: () => void): boolean {
    if (this.#callbackDepth > 0 || this.#inDrive) {
      this.#deferred.push(fn);
      return true;
    }
    return false;
  }

  /**
   * @internal Bytes already read from the socket before this engine was attached (a server that
   * looked at them to tell TLS from plain DICOM): taken as if the socket had just delivered them.
   */
  takeFirstBytes(chunk: Buffer): void {
    this.#onData(chunk);
  }

  /**
   * @internal Ciphertext the socket's owner read itself (a client socket reading into a buffer of
   * its own, net.connect's `onread`): the first `length` bytes of `buffer` are copied into the
   * engine before this returns, so the buffer may be reused at once. The socket then emits no
   * 'data'; its 'end', 'error' and 'close' still reach the engine as usual.
   */
  receiveCiphertext(buffer: Buffer, length: number): void {
    if (this.#freed) return;
    if (!this.#intoReadBio(buffer, length)) return;
    if (this.#started) this.#drive();
  }

  // ---- the engine --------------------------------------------------------------------------
  #onData(chunk: Buffer): void {
    if (this.#freed) return;
    if (!this.#intoReadBio(chunk, chunk.length)) return;
    release(chunk);
    if (this.#started) this.#drive();
  }

  #intoReadBio(chunk: Buffer, length: number): boolean {
    let off = 0;
    while (off < length) {
      const n = S.BIO_write(this.#rbio, off === 0 ? chunk : chunk.subarray(off), length - off) as number;
      if (n <= 0) { this.#fatal(new TlsError('BIO_write failed', { openssl: drainErrors() })); return false; }
      off += n;
    }
    return true;
  }

  #drive(): void {
    if (this.#freed || this.#inDrive) return;
    this.#inDrive = true;
    let awaitingPeer = false;
    try {
      if (!this.#handshakeDone) {
        const r = S.SSL_do_handshake(this.#ssl) as number;
        if (this.#destroyRequested) {
          // the user destroyed the socket from a callback: the deferred destroy rejects the handshake
        } else if (r === 1 && this.#callbackError === undefined) {
          this.#completeHandshake();
        } else {
          const err = r === 1 ? SslError.Ssl : (S.SSL_get_error(this.#ssl, r) as number);
          if (this.#callbackError !== undefined || (err !== SslError.WantRead && err !== SslError.WantWrite)) {
            this.#flush();
            this.#failHandshake(err);
            return;
          }
          if (this.#watchResumption) this.#keepResumedSession();
          awaitingPeer = err === SslError.WantRead;
        }
      }
      if (this.#handshakeDone) this.#readLoop();
    } finally {
      this.#inDrive = false;
      if (this.#directOut.length > 0) {
        const out = this.#directOut.splice(0);
        if (!this.#freed) this.#writeDirectNow(out);
      }
      // A destroy (or other work) deferred from inside OpenSSL runs next: what OpenSSL has to
      // say (an alert) goes out first, as before.
      // A flight OpenSSL wrote while it now waits for the peer (the ClientHello, the server's
      // ServerHello … Finished) is complete: nothing of ours can join it, so it goes out now
      // rather than after this turn of the event loop, while the peer sits waiting for it.
      if (!this.#freed) {
        if (this.#deferred.length > 0 || this.#destroyRequested || awaitingPeer) this.#flush();
        else this.#flushSoon();
      }
      this.#runDeferred();
    }
  }

  /**
   * What a read produced (a session ticket, the client's Finished) goes out once the
   * records the application writes in answer have joined it, at the latest after this turn of the
   * event loop (setImmediate: after the promise and nextTick callbacks that answer): the client's
   * Finished leaves with its A-ASSOCIATE-RQ, the server's ticket with its A-ASSOCIATE-AC, one
   * socket write (and one wake-up of the peer) fewer each per association.
   */
  #flushSoon(): void {
    if (this.#flushScheduled || (S.BIO_pending(this.#wbio) as number) <= 0) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#freed) this.#flush();
    });
  }

  /**
   * Server: once OpenSSL has chosen to resume (known after the ClientHello), hold the cached
   * session, so the ticket the context makes next can inherit its lifetime (context.ts, #ticket).
   */
  #keepResumedSession(): void {
    if (S.SSL_session_reused(this.#ssl) !== 1) return;
    this.#watchResumption = false;
    const session = S.SSL_get1_session(this.#ssl);
    if (session === null) return;
    this.#resumedSession = session;
    S.live.add('sessions');
  }

  /** @internal ConnectionHooks */
  takeResumedSession(): unknown {
    const s = this.#resumedSession;
    this.#resumedSession = undefined;
    return s;
  }

  #runDeferred(): void {
    while (this.#deferred.length > 0 && this.#callbackDepth === 0 && !this.#inDrive) {
      const fn = this.#deferred.shift()!;
      fn();
    }
  }

  #readLoop(): void {
    const ssl = this.#ssl;
    // Records decrypted in one go land side by side in the slab and are pushed as ONE chunk:
    // fewer pushes, and a PDU spanning several 16 KiB records stays one contiguous view that the
    // PDU reader takes without copying (it copied every P-DATA-TF larger than a record).
    let start = this.#slabOff;
    // Full-size slabs come from the pool (internal/buffer-pool.ts): each chunk pushed carries one
    // reference for its receiver, and the slab is reused only once every holder has released it.
    const pushPending = (): void => {
      if (this.#slabOff > start) {
        const chunk = this.#slab.subarray(start, this.#slabOff);
        retainSlab(chunk);
        const receiver = this.#receiver;
        if (receiver !== undefined && !this.#inStreamRead && this.readableFlowing === true && this.readableLength === 0 && this.listenerCount('data') === 1) receiver(chunk);
        else if (!this.push(chunk)) this.#readPaused = true;
      }
      start = this.#slabOff;
    };
    while (!this.#readPaused && !this.#recvEnded && !this.#freed) {
      if (this.#slab.length - this.#slabOff < RECORD) {
        pushPending();
        if (this.#readPaused) break;
        const first = this.#slab === NO_SLAB;
        releaseSlab(this.#slab); // our own hold: the receivers' go on until they release theirs
        this.#slab = first ? Buffer.allocUnsafe(FIRST_SLAB) : takeSlab();
        this.#slabOff = 0;
        start = 0;
      }
      // A plain Uint8Array view for OpenSSL alone: Buffer's subarray is three JavaScript calls
      // (and this runs once per record, seven times per 100 KB received).
      const slab = this.#slab;
      const view = this.#slabOff === 0 ? slab : new Uint8Array(slab.buffer, slab.byteOffset + this.#slabOff, slab.length - this.#slabOff);
      const n = S.SSL_read(ssl, view, this.#slab.length - this.#slabOff) as number;
      if (n > 0) {
        this.#slabOff += n;
        continue;
      }
      pushPending();
      const err = S.SSL_get_error(ssl, n) as number;
      if (err === SslError.WantRead || err === SslError.WantWrite) break;
      if (err === SslError.ZeroReturn) { // close_notify received
        this.#recvEnded = true;
        this.push(null);
        break;
      }
      if (this.#callbackError !== undefined) { this.#fatal(this.#callbackError.error); return; }
      this.#fatal(new TlsError(`TLS read failed: ${this.#describeFailure(err)}`, { sslError: err, openssl: drainErrors(), alert: this.#alert }));
      return;
    }
    if (!this.#freed) pushPending();
    if (this.#readPaused && !this.#socket.isPaused()) this.#socket.pause();
  }

  #describeFailure(err: number): string {
    if (this.#alert !== undefined) return `${this.#alert.direction === 'read' ? 'the peer sent' : 'we sent'} the alert "${this.#alert.description}"`;
    return err === SslError.Syscall ? 'the connection ended unexpectedly' : 'protocol error';
  }

  /**
   * Move everything OpenSSL produced into the socket. Returns false if the socket is full. The
   * ciphertext buffer is reused while the kernel takes each write whole at once (nothing left in
   * the socket's queue, so nothing refers to it): a fresh buffer per flush was ~1 byte of garbage
   * per byte sent. The write BIO is read straight into that buffer (a connection's own once it
   * has sent more than SHARED_OUT at once, else one shared by all): a memory BIO hands out what
   * it holds up to the length asked, so a read short of the buffer has emptied it, and
   * BIO_pending is asked only when the read filled the buffer. Asking it before every read and
   * again after it was two of a resumed association's ~75 OpenSSL calls per flush, five flushes
   * per side.
   */
  #flush(): boolean {
    const wbio = this.#wbio;
    let own = this.#outBuf;
    this.#outBuf = undefined;
    let buf = own ?? (sharedOut ??= Buffer.allocUnsafe(SHARED_OUT));
    let n = S.BIO_read(wbio, buf, buf.length) as number;
    if (n <= 0) { // nothing was waiting (an empty memory BIO says so without an error)
      this.#outBuf = own;
      return true;
    }
    if (n === buf.length) { // the buffer is full: more may wait
      const whole = S.readMemBioRest(wbio, buf);
      if (whole !== buf) {
        if (whole.length === n) drainErrors(); // pending, yet nothing read
        n = whole.length;
        buf = whole;
        own = whole;
      }
    }
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) {
      this.#outBuf = own;
      return true;
    }
    const bytes = n === buf.length ? buf : buf.subarray(0, n);
    // A client's ClientHello is written while TCP still connects: the socket keeps it until then.
    const ok = socket.write(buf === sharedOut && socket.connecting ? Buffer.from(bytes) : bytes);
    if (socket.writableLength === 0) {
      if (buf !== sharedOut && buf.length <= MAX_REUSED_OUT) this.#outBuf = buf;
    } else if (buf === sharedOut) {
      sharedOut = undefined; // the socket holds it: the next flush takes a new one
    }
    return ok;
  }

  #completeHandshake(): void {
    this.#handshakeDone = true;
    const ssl = this.#ssl;
    const cipher = S.SSL_get_current_cipher(ssl);
    const dataOut: unknown[] = [null];
    const lenOut: number[] = [0];
    S.SSL_get0_alpn_selected(ssl, dataOut, lenOut);
    const alpnLen = Number(lenOut[0]);
    const alpn = alpnLen > 0 && dataOut[0] !== null
      ? Buffer.from(S.koffi.view(dataOut[0] as never, alpnLen) as ArrayBuffer).toString('latin1') : undefined;
    // Peer chain as sent, leaf first. On a server SSL_get_peer_cert_chain omits the leaf.
    const der: Buffer[] = [];
    const leaf = S.SSL_get0_peer_certificate(ssl);
    const stack = S.SSL_get_peer_cert_chain(ssl);
    const n = stack === null ? 0 : (S.OPENSSL_sk_num(stack) as number);
    // Leaf first; the stack may or may not repeat it (client side always does), so skip a repeat:
    // the same X509 object (a client's stack holds the leaf itself) without encoding it twice.
    if (leaf !== null) der.push(derOf(leaf));
    for (let i = 0; i < n; i++) {
      const x = S.OPENSSL_sk_value(stack, i);
      if (i === 0 && leaf !== null && S.addressOf(x) === S.addressOf(leaf)) continue;
      const d = derOf(x);
      if (i === 0 && der.length === 1 && d.equals(der[0]!)) continue;
      der.push(d);
    }
    this.#peerDer = der;
    const code = Number(S.SSL_get_verify_result(ssl));
    let chain: X509Certificate[] | undefined;
    let subject: string | undefined;
    this.#info = Object.freeze({
      protocol: S.SSL_get_version(ssl) as string,
      cipher: cipher === null ? '' : (S.SSL_CIPHER_get_name(cipher) as string),
      alpn,
      resumed: S.SSL_session_reused(ssl) === 1,
      group: S.negotiatedGroup(ssl),
      get peerCertificateChain(): readonly X509Certificate[] { return (chain ??= der.map((d) => new (process.getBuiltinModule('node:crypto').X509Certificate)(d))); },
      get peerCertificate(): X509Certificate | undefined { return this.peerCertificateChain[0]; },
      get peerSubject(): string | undefined { return der.length === 0 ? undefined : (subject ??= subjectFromDer(der[0]!)); },
      verifyResult: { code, name: x509ErrorName(code), text: S.X509_verify_cert_error_string(code) as string },
    });
    publish(channelNames.tlsHandshake, () => ({ connection: this, protocol: this.#info!.protocol, cipher: this.#info!.cipher, group: this.#info!.group, alpn, resumed: this.#info!.resumed }));
    this.#resolveHandshake?.();
    const w = this.#pendingWrite;
    if (w !== undefined) {
      this.#pendingWrite = undefined;
      this.#deferred.push(() => this.#writeNow(w.chunk, w.cb));
    }
    const f = this.#pendingFinal;
    if (f !== undefined) {
      this.#pendingFinal = undefined;
      this.#deferred.push(() => this._final(f));
    }
    const owner = this.#onHandshakeDone;
    this.#onHandshakeDone = undefined;
    if (owner !== undefined) {
      try {
        owner();
      } catch (e) {
        queueMicrotask(() => { throw e; }); // the owner's failure, not the engine's: as a listener's would surface
      }
    }
  }

  /**
   * @internal Call `fn` once, synchronously, when the handshake completes: before the
   * application data that came with the peer's last flight (a client's Finished and its first
   * request arrive together) is decrypted, so an owner that attaches its reader here receives it
   * directly. Through the handshake promise the owner came a microtask later, and that data had
   * meanwhile been pushed into the stream's buffer, to be read back out in a tick of its own.
   */
  onHandshakeDone(fn: () => void): void {
    if (this.#handshakeDone) fn();
    else this.#onHandshakeDone = fn;
  }
  #onHandshakeDone: (() => void) | undefined;

  /**
   * @internal End a handshake that has not completed, for a reason of the owner's (a server's
   * handshake timeout, a connection shed under a limit): reported as any failed handshake, a
   * TlsHandshakeError whose cause is `cause`, published on `tlsHandshakeFailed`, so that a log
   * and an audit trail see it once instead of a silent close. After the handshake: a destroy.
   */
  abortHandshake(cause: Error): void {
    if (this.#handshakeDone || this.#handshakeFailed || this.#freed) { this.destroy(); return; }
    if (this.#whenSafe(() => this.abortHandshake(cause))) return;
    this.#failHandshakeWith(cause);
  }

  /** A handshake failed by something other than OpenSSL (a timeout, a reset): one report, then destroy. */
  #failHandshakeWith(cause: Error): void {
    this.#handshakeFailed = true;
    drainErrors();
    const err = new TlsHandshakeError({ message: `TLS handshake failed: ${cause.message}`, cause, alert: this.#alert });
    publish(channelNames.tlsHandshakeFailed, { connection: this, error: err });
    this.#rejectHandshake?.(err);
    this.#failPending(err);
    this.destroy();
  }

  #failHandshake(sslError: number): void {
    if (this.#handshakeFailed) return;
    this.#handshakeFailed = true;
    const openssl = drainErrors();
    const init = {
      verifyFailure: this.#verifyFailure, alert: this.#alert, openssl, sslError, peerVersion: this.#refusedVersion(openssl),
      ...(this.#callbackError !== undefined ? { cause: this.#callbackError.error } : {}),
    };
    const err = this.#lacksHybridGroup(init) ? new HybridGroupRequiredError(init, (this.context.groups ?? '').split(':').map((g) => g.replace(/^[*?]+/, ''))) : new TlsHandshakeError(init);
    publish(channelNames.tlsHandshakeFailed, { connection: this, error: err });
    this.#rejectHandshake?.(err);
    this.#failPending(err);
    // The alert (if any) is already flushed; end TCP after it and free the SSL.
    this.#socket.end();
    this.destroy();
  }

  /**
   * A server refusing the client's version: OpenSSL then answers in the client's record version
   * (RFC 8446 D.2), so SSL_get_version names the highest version the client offered.
   */
  #refusedVersion(openssl: readonly { reason?: string | undefined }[]): { offered: string; minimum: string } | undefined {
    if (this.role !== 'server' || openssl[0]?.reason !== 'unsupported protocol') return undefined;
    const offered = S.SSL_get_version(this.#ssl) as string;
    return offered === 'unknown' ? undefined : { offered, minimum: this.context.minProtocol };
  }

  /**
   * With requireHybridGroup, a peer without a hybrid group fails the handshake with no common
   * group (handshake_failure, "no suitable key share") or, TLS 1.2 only, protocol_version.
   */
  #lacksHybridGroup(init: { verifyFailure: VerifyFailure | undefined; alert: AlertInfo | undefined; cause?: unknown }): boolean {
    if (!this.context.requiresHybridGroup || init.verifyFailure !== undefined || init.cause !== undefined) return false;
    const code = init.alert?.code;
    return code === 40 || code === 70; // handshake_failure, protocol_version
  }

  #failPending(error: Error | (() => Error)): void {
    if (this.#pendingWrite === undefined && this.#pendingFinal === undefined && this.#waitingDrain === undefined) return;
    // Built only when someone waits: an Error's stack trace cost ~20 us on every clean close.
    const err = typeof error === 'function' ? error() : error;
    const w = this.#pendingWrite;
    this.#pendingWrite = undefined;
    w?.cb(err);
    const f = this.#pendingFinal;
    this.#pendingFinal = undefined;
    f?.(err);
    const d = this.#waitingDrain;
    this.#waitingDrain = undefined;
    d?.(err);
  }

  #fatal(e: unknown): void {
    const err = e instanceof Error ? e : new TlsError(String(e), { cause: e });
    if (!this.#handshakeDone) {
      this.#callbackError ??= { error: err };
      this.#failHandshake(SslError.Ssl);
      return;
    }
    this.destroy(err);
  }

  // ---- Duplex ------------------------------------------------------------------------------
  override _read(): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    if (this.#socket.isPaused()) this.#socket.resume();
    if (!this.#handshakeDone || this.#inDrive) return;
    // The stream calls _read() from inside its own machinery, where it may hold a chunk it has
    // taken off its buffer and not emitted yet while readableLength already reads 0 (Node 26's
    // flowing loop asks for the next chunk before emitting the current one). Nothing decrypted
    // here may overtake that chunk: it is pushed, and the stream emits it in its place. Direct
    // delivery happens only from the socket's events, outside any stream call.
    this.#inStreamRead = true;
    try {
      this.#drive();
    } finally {
      this.#inStreamRead = false;
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.#whenSafe(() => this._write(chunk, _enc, cb))) return;
    if (this.#freed) { cb(new TlsError('write after the TLS connection was closed')); return; }
    if (!this.#handshakeDone) {
      this.#pendingWrite = { chunk, cb };
      if (!this.#started) this.handshake().catch(() => undefined);
      return;
    }
    this.#writeNow(chunk, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    // Corked or queued writes (PDU header + PDV header + fragment, several PDUs) arrive here
    // together: encrypted as one stream of full records and flushed into one socket write,
    // instead of a record and a socket write (a syscall, a TCP segment with TCP_NODELAY) per chunk.
    // A batch of one record or less goes out as one record too (records.ts gathers it).
    if (chunks.length === 1) { this._write(chunks[0]!.chunk, 'binary', cb); return; }
    const list = chunks.map((c) => c.chunk);
    if (this.#whenSafe(() => this.#writeMany(list, cb))) return;
    this.#writeMany(list, cb);
  }

  /** Encrypt `list` as one byte stream of full records (records.ts) and flush it in one socket write. */
  #writeMany(list: Buffer[], cb: (e?: Error | null) => void): void {
    if (this.#freed) { cb(new TlsError('write after the TLS connection was closed')); return; }
    if (!this.#handshakeDone) { this._write(Buffer.concat(list), 'binary', cb); return; }
    const shared = !sharedStagingInUse;
    const staging = shared ? (sharedStaging ??= Buffer.allocUnsafe(STAGING_RECORDS * RECORD)) : Buffer.allocUnsafe(STAGING_RECORDS * RECORD);
    if (shared) sharedStagingInUse = true;
    let ok: boolean;
    try {
      ok = emitRecords(list, staging, (piece) => this.#encrypt(piece as Buffer, cb));
    } finally {
      if (shared) sharedStagingInUse = false;
    }
    if (!ok) return;
    if (this.#flush() || this.#socket.destroyed) cb();
    else this.#waitingDrain = cb;
  }

  /** SSL_write all of `chunk` (records land in the write BIO; nothing is flushed). False after a failure (cb called). */
  #encrypt(chunk: Buffer, cb: (e?: Error | null) => void): boolean {
    const ssl = this.#ssl;
    let off = 0;
    while (off < chunk.length) {
      const len = Math.min(WRITE_SLICE, chunk.length - off);
      const n = S.SSL_write(ssl, off === 0 && len === chunk.length ? chunk : chunk.subarray(off, off + len), len) as number;
      if (n <= 0) {
        const err = S.SSL_get_error(ssl, n) as number;
        const e = new TlsError(`TLS write failed: ${this.#describeFailure(err)}`, { sslError: err, openssl: drainErrors() });
        cb(e);
        this.destroy(e);
        return false;
      }
      off += n;
      // Bound what sits in the memory BIO (one slice at a time) for very large writes.
      if (off < chunk.length) this.#flush();
    }
    return true;
  }

  /**
   * TransportConnection.receiveDirect: plaintext goes straight to `listener` (the one 'data'
   * listener) when the stream would emit it to it at once anyway; otherwise (paused, something
   * buffered, other listeners, or decrypted inside _read, where the stream may hold a chunk not
   * yet emitted) it is pushed as before, so the order and flow control hold.
   */
  receiveDirect(listener: (chunk: Uint8Array) => void): void {
    this.#receiver = listener;
  }

  /**
   * TransportConnection.writeDirect: encrypt `chunks` as one stream of records and flush them in
   * one socket write, without the Writable machinery (write, _write or _writev, a callback, the
   * stream's buffer state and, for a batch above its high-water mark, a 'drain' a tick later).
   * Only when nothing waits in the stream or the socket, so the order holds. A batch of any size:
   * its plaintext is encrypted at once (the caller may reuse its buffers), and what the kernel
   * does not take at once waits in the socket as ciphertext, as a stream write's would; then
   * `needsDrain` is true until the socket drains, when this stream emits 'drain' (and refuses
   * direct writes meanwhile, so later bytes queue behind them in the stream). Called while a read
   * is being decrypted (an answer sent by the receiver of the data it pushed), the records wait
   * for the end of that read, where the deferred stream writes went out too; SSL_write is never
   * called from inside OpenSSL; only small batches are taken there (at most the high-water mark).
   */
  writeDirect(chunks: readonly Uint8Array[]): boolean {
    if (!this.#handshakeDone || this.#freed || this.destroyed || this.writableEnded || this.writableLength > 0 || this.writableCorked > 0) return false;
    if (this.#pendingWrite !== undefined || this.#waitingDrain !== undefined || this.#callbackDepth > 0 || this.#deferred.length > 0) return false;
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable || socket.writableNeedDrain) return false;
    if (this.#inDrive) {
      let bytes = 0;
      for (const c of chunks) bytes += c.length;
      if (bytes > this.writableHighWaterMark) return false;
      for (const c of chunks) this.#directOut.push(c);
      return true;
    }
    this.#writeDirectNow(chunks);
    return true;
  }

  #writeDirectNow(chunks: readonly Uint8Array[]): void {
    const shared = !sharedStagingInUse;
    const staging = shared ? (sharedStaging ??= Buffer.allocUnsafe(STAGING_RECORDS * RECORD)) : Buffer.allocUnsafe(STAGING_RECORDS * RECORD);
    if (shared) sharedStagingInUse = true;
    let failed: Error | undefined;
    try {
      emitRecords(chunks, staging, (piece) => this.#encrypt(piece as Buffer, (e) => (failed = e ?? undefined)));
    } finally {
      if (shared) sharedStagingInUse = false;
    }
    if (failed === undefined && !this.#flush() && !this.#socket.destroyed) this.#directBacklog = true;
  }

  /**
   * TransportConnection.needsDrain: bytes taken by writeDirect wait in the socket (the kernel did
   * not take them at once); this stream emits 'drain' when they are written.
   */
  get needsDrain(): boolean {
    return this.#directBacklog;
  }

  #writeNow(chunk: Buffer, cb: (e?: Error | null) => void): void {
    if (this.#freed) { cb(new TlsError('write after the TLS connection was closed')); return; }
    if (!this.#encrypt(chunk, cb)) return;
    if (this.#flush() || this.#socket.destroyed) cb();
    else this.#waitingDrain = cb;
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.#whenSafe(() => this._final(cb))) return;
    if (this.#freed) { cb(); return; }
    if (!this.#handshakeDone) {
      this.#pendingFinal = cb;
      if (!this.#started) this.handshake().catch(() => undefined);
      return;
    }
    // Send close_notify, then half-close TCP; we can still read what the peer sends.
    const r = S.SSL_shutdown(this.#ssl) as number;
    if (r < 0) drainErrors();
    this.#flush();
    this.#socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.#whenSafe(() => this._destroy(err, cb))) { this.#destroyRequested = true; return; }
    if (err !== null) this.#hadError = true;
    if (!this.#handshakeDone && !this.#handshakeFailed) {
      this.#handshakeFailed = true;
      this.#rejectHandshake?.(new TlsHandshakeError({
        message: 'TLS handshake failed: the connection was closed before it completed',
        ...(err !== null ? { cause: err } : {}),
      }));
    }
    this.#failPending(err ?? (() => new TlsError('the TLS connection was closed')));
    this.#free();
    if (!this.#socket.destroyed) {
      if (this.#socket.writableEnded || err === null) this.#socket.destroySoon(); else this.#socket.destroy();
    }
    cb(err);
  }

  #free(): void {
    if (this.#freed) return;
    this.#freed = true;
    if (this.#infoCallback !== undefined) this.context.countSocketInfoCallback(-1);
    connectionsBySsl.delete(this.#sslAddr);
    const resumed = this.takeResumedSession();
    if (resumed !== undefined) S.freeCountedSession(resumed);
    // An SSL freed without shutdown makes OpenSSL invalidate its session (ssl_clear_bad_session).
    // A clean close or a plain destroy after a good handshake keeps it resumable; errors do not.
    if (this.#handshakeDone && !this.#hadError) S.SSL_set_shutdown(this.#ssl, S.SSL_SENT_SHUTDOWN | S.SSL_RECEIVED_SHUTDOWN);
    S.SSL_free(this.#ssl); // also frees both memory BIOs
    releaseSlab(this.#slab);
    this.#slab = NO_SLAB;
    this.#slabOff = 0;
    drainErrors();
    S.live.add('ssl', -1);
    this.#ssl = null;
    this.context.release();
  }

  // ---- socket events -----------------------------------------------------------------------
  #onSocketEnd(): void {
    if (this.#freed) return;
    if (!this.#handshakeDone) {
      if (this.#started) { this.#drive(); if (!this.#handshakeDone) this.#failHandshake(SslError.Syscall); }
      else this.destroy();
      return;
    }
    this.#drive(); // decrypt what is still buffered (close_notify may be in it)
    if (!this.#recvEnded) { // TCP FIN without close_notify: end the readable side anyway
      this.#recvEnded = true;
      this.push(null);
    }
  }

  #onSocketError(e: Error): void {
    // The connection never came up (refused, unreachable): whoever connected reports that; the
    // handshake just ends, as it does for a close before it completed.
    if (!this.#tcpUp) { this.destroy(); return; }
    if (!this.#handshakeDone) {
      this.#callbackError ??= { error: e };
      // A reset in the middle of the handshake is a failed handshake as a FIN there is (#onSocketEnd).
      if (!this.#handshakeFailed) this.#failHandshakeWith(e);
      else this.destroy();
      return;
    }
    this.destroy(e);
  }

  #onSocketClose(): void {
    if (!this.destroyed) {
      if (!this.#recvEnded && this.#handshakeDone) { this.#recvEnded = true; this.push(null); }
      this.destroy();
    }
  }
}
