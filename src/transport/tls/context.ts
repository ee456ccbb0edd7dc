/**
 * SecureContext: the shared configuration of many TLS connections, one OpenSSL SSL_CTX.
 * The seeds' four callbacks are available in both styles: a function in the options (register
 * style) or a subclass overriding onVerify / onPassword / onInfo / onClientCertificate (class
 * style). Without either, OpenSSL's default behaviour applies (verify returns `ok`).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
// node:crypto is loaded where a certificate is looked at, not with the module: importing it costs
// ~5 ms of every command's start, and a handshake that succeeds never needs it.
const crypto = (): typeof import('node:crypto') => process.getBuiltinModule('node:crypto');
import { InvalidOptionError } from '../../errors.js';
import { publish, channel, channelNames, type ChannelName } from '../../diagnostics.js';
import { drainErrors } from './openssl/lib.js';
import * as S from './openssl/ssl.js';
import { resolveProfile, type ProfileName, type ProtocolName } from './profiles.js';
import { KeyMismatchError, TlsConfigurationError, UnableToReadPrivateKeyError, alertDescriptions, type AlertInfo, type VerifyFailure } from './errors.js';
import { certificateString } from './certificate-string.js';
import { x509ErrorName } from './x509-errors.js';
import { loadIdentity, type LoadedIdentity, type IdentityOptions, type PasswordCallback } from './identity.js';
import { configureTrust } from './trust.js';
import { configureGroups, resumptionGroups } from './groups.js';
import { clientCaNames, derOf, infoAnswer, liveStacks, verifyAnswer, X509_V_ERR_CERT_REJECTED } from './callback-answers.js';
import type { Source } from './x509-sources.js';
import type { SecureSocket } from './socket.js';
import {
  VerifyMode, type VerifyContext, type VerifyCallback, type InfoEvent, type InfoCallback,
  type ClientCertificateRequest, type ClientCertificateCallback,
} from './callbacks.js';

export type { Source, IdentityOptions, PasswordCallback };
export type TlsRole = 'client' | 'server';

export { derOf } from './callback-answers.js';
export {
  VerifyMode, type VerifyContext, type VerifyCallback, type InfoEvent, type InfoCallback,
  type ClientCertificateRequest, type ClientCertificateCallback,
} from './callbacks.js';

export interface SecureContextOptions {
  role: TlsRole;
  profile?: ProfileName;
  allowLegacyProfiles?: boolean;
  minProtocol?: ProtocolName; maxProtocol?: ProtocolName;
  ciphers?: string; cipherSuites?: string;
  /**
   * Key-exchange groups, preferred first: OpenSSL's colon-separated list or an array of names.
   * Default: X25519MLKEM768 then the classical groups where the linked OpenSSL has the hybrid,
   * else OpenSSL's own default (see groups.ts).
   */
  groups?: string | readonly string[];
  /**
   * Accept only a hybrid post-quantum key exchange (X25519MLKEM768, …): TLS 1.3 only, and a peer
   * without such a group fails the handshake with HybridGroupRequiredError.
   */
  requireHybridGroup?: boolean;
  identity?: IdentityOptions;
  passwordCallback?: PasswordCallback;
  ca?: Source[]; systemRoots?: boolean;
  crl?: Source[]; crlCheck?: 'leaf' | 'chain';
  verifyMode?: number; verifyDepth?: number;
  /** Server: name the `ca` subjects in CertificateRequest (default true). */
  sendCaNames?: boolean;
  verifyHost?: string;
  alpn?: string[];
  servername?: string;
  sessionResumption?: boolean;
  /** Seconds a session stays resumable, counted from the full handshake (default 7200). */
  sessionLifetime?: number;
  keyLogFile?: string;
  verifyCallback?: VerifyCallback; infoCallback?: InfoCallback;
  clientCertificateCallback?: ClientCertificateCallback;
}

/**
 * What the context needs from a connection while OpenSSL runs a callback for it. SecureSocket
 * implements it; the map below finds it from the SSL* OpenSSL hands to the callback.
 * @internal
 */
export interface ConnectionHooks {
  readonly secureSocket: SecureSocket;
  /** Client: where the connection's session is kept (see prepareSsl); undefined keeps none. */
  readonly sessionSlot: string | undefined;
  recordVerifyFailure(f: VerifyFailure): void;
  recordAlert(a: AlertInfo): void;
  recordCallbackError(e: unknown): void;
  /** The connection's own handshake-information callback, called after the context's. */
  readonly infoCallback: InfoCallback | undefined;
  /** A callback's returned Promise rejected after the callback had returned. */
  failLater(e: unknown): void;
  enterCallback(): void;
  leaveCallback(): void;
  /** Server: the cached session this handshake resumed (a reference the caller must free). */
  takeResumedSession(): unknown;
}
/** @internal SSL* address → its connection. */
export const connectionsBySsl = new Map<bigint, ConnectionHooks>();

/** Native resources of one context, kept apart so a FinalizationRegistry can free them. */
interface NativeState {
  ctx: unknown;
  callbacks: unknown[];
  sessions: Map<string, unknown>;
  keylogFd: number | undefined;
  freed: boolean;
}

function freeNative(n: NativeState): void {
  if (n.freed) return;
  n.freed = true;
  for (const s of n.sessions.values()) S.freeCountedSession(s);
  n.sessions.clear();
  S.SSL_CTX_free(n.ctx);
  S.live.add('sslCtx', -1);
  // Unregister only after SSL_CTX_free: no SSL of this context is alive (see #release).
  for (const cb of n.callbacks) S.unregisterCallback(cb);
  n.callbacks.length = 0;
  if (n.keylogFd !== undefined) closeSync(n.keylogFd);
}
const finalizer = new FinalizationRegistry<NativeState>(freeNative);

/** Sessions a server keeps for resumption (each ~25 KB of memory with the client's certificate). */
const SERVER_SESSION_CACHE_SIZE = 256;

let storeIdx: number | undefined;

export class SecureContext {
  readonly role: TlsRole;
  readonly profile: ProfileName;
  readonly options: Readonly<SecureContextOptions>;
  /** The key-exchange groups set on the context, or undefined for OpenSSL's default. */
  get groups(): string | undefined { return this.#groups; }
  #groups: string | undefined;
  #minProtocol = 'TLSv1.2';
  /** True when the context accepts only a hybrid post-quantum key exchange. */
  get requiresHybridGroup(): boolean { return this.options.requireHybridGroup === true; }
  /** The lowest protocol version this context accepts (its profile's, `minProtocol`, or TLSv1.3 with `requireHybridGroup`). */
  get minProtocol(): string { return this.#minProtocol; }
  readonly #native: NativeState;
  #alpnWire: Buffer | undefined;
  #active = 0;
  #disposed = false;
  /** Client: the key-exchange group each kept session's handshake agreed on (TLS 1.3), by slot. */
  readonly #sessionGroups = new Map<string, string>();
  /** Client: the list a resumption offers for each group (resumptionGroups), null for the context's own. */
  readonly #resumptionLists = new Map<string, string | null>();
  #socketInfoCallbacks = 0;

  constructor(options: SecureContextOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'must be an object');
    if (options.role !== 'client' && options.role !== 'server') {
      throw new InvalidOptionError('role', `must be 'client' or 'server', got ${String(options.role)}`);
    }
    this.role = options.role;
    this.options = Object.freeze({ ...options });
    const profile = resolveProfile(options.profile, options.allowLegacyProfiles === true);
    this.profile = profile.name;
    // onPassword runs inside this constructor, before a subclass's fields exist: an override
    // written as a class field, or assigned later, could never be used for the identity. Both are
    // refused here (a field fails the subclass's construction) instead of being ignored.
    Object.defineProperty(this, 'onPassword', {
      configurable: false, enumerable: false,
      get: (): SecureContext['onPassword'] => Reflect.get(Object.getPrototypeOf(this) as object, 'onPassword', this) as SecureContext['onPassword'],
      set: () => {
        throw new InvalidOptionError('onPassword', 'the password hook runs inside the SecureContext constructor; override it as a method (onPassword(maxLength, writing) { … }), not as a class field or by assignment, or give passwordCallback / identity.password');
      },
    });

    const ctx = S.SSL_CTX_new(this.role === 'client' ? S.TLS_client_method() : S.TLS_server_method());
    if (ctx === null) throw new TlsConfigurationError('role', 'SSL_CTX_new failed', { openssl: drainErrors() });
    S.live.add('sslCtx');
    this.#native = { ctx, callbacks: [], sessions: new Map(), keylogFd: undefined, freed: false };
    finalizer.register(this, this.#native, this);
    try {
      this.#configure(options, profile);
    } catch (e) {
      drainErrors();
      this.dispose();
      throw e;
    }
  }

  /** @internal the SSL_CTX pointer. */
  get nativeHandle(): unknown { return this.#native.ctx; }

  /** The OpenSSL security level in force (the profile's, see security-profiles.md). */
  get securityLevel(): number { return S.SSL_CTX_get_security_level(this.#native.ctx) as number; }

  // ---- class-style hooks: override in a subclass -------------------------------------------
  /** Seeds' verify callback. Default: the registered function, else OpenSSL's default (`ok`). */
  onVerify(ok: 0 | 1, certificateString: string, error: number, errorString: string, context: VerifyContext): number {
    const f = this.options.verifyCallback;
    return f === undefined ? ok : f(ok, certificateString, error, errorString, context);
  }
  /** Private-key password (an `identity.password` wins). Default: the registered function. */
  onPassword(maxLength: number, writing: boolean): string | Buffer | undefined {
    return this.options.passwordCallback?.(maxLength, writing);
  }
  /** Handshake information. Default: the registered function, else nothing. */
  onInfo(event: InfoEvent, socket: SecureSocket): void {
    // Returned, not dropped: an async callback's Promise is watched for a rejection (infoAnswer).
    return this.options.infoCallback?.(event, socket);
  }
  /** A server asked for a client certificate and none is configured. Default: the registered function. */
  onClientCertificate(request: ClientCertificateRequest): IdentityOptions | undefined {
    return this.options.clientCertificateCallback?.(request);
  }

  /** Free the SSL_CTX and unregister callbacks; deferred until the last connection is gone. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#active === 0) this.#releaseNative();
  }
  get disposed(): boolean { return this.#disposed; }

  #releaseNative(): void {
    finalizer.unregister(this);
    freeNative(this.#native);
  }

  /** @internal a connection starts using the context. */
  acquire(): void {
    if (this.#disposed) throw new InvalidOptionError('context', 'this SecureContext has been disposed');
    this.#active++;
  }
  /** @internal a connection freed its SSL. */
  release(): void {
    this.#active--;
    if (this.#active === 0 && this.#disposed) this.#releaseNative();
  }

  /**
   * @internal set up a new SSL object for a connection (SNI, host check, session reuse). Returns
   * the slot its session is kept in: the session key with the server name sent and the host
   * checked. A resumed handshake verifies no certificate, so a session verified for one host
   * name must never be offered where another is expected.
   */
  prepareSsl(ssl: unknown, conn: { servername: string | undefined; verifyHost: string | undefined; sessionKey: string | undefined }): string | undefined {
    let slot: string | undefined;
    if (this.role === 'client') {
      const sni = conn.servername;
      const sendSni = sni !== undefined && sni !== '' && isIP(sni) === 0;
      if (sendSni) S.SSL_set_tlsext_host_name(ssl, sni);
      if (conn.sessionKey !== undefined) {
        slot = JSON.stringify([conn.sessionKey, sendSni ? sni : '', conn.verifyHost ?? '']);
        const sess = this.#native.sessions.get(slot);
        if (sess !== undefined) {
          S.SSL_set_session(ssl, sess);
          const group = this.#sessionGroups.get(slot);
          if (group !== undefined) this.#offerSessionGroup(ssl, group);
        }
      }
    }
    const host = conn.verifyHost;
    if (host !== undefined && host !== '') {
      const param = S.SSL_get0_param(ssl);
      const ok = isIP(host) !== 0 ? S.X509_VERIFY_PARAM_set1_ip_asc(param, host) : S.X509_VERIFY_PARAM_set1_host(param, host, 0);
      if (ok !== 1) throw new TlsConfigurationError('verifyHost', `OpenSSL refused "${host}"`, { openssl: drainErrors() });
    }
    return slot;
  }

  /** Client, resuming: key shares for the session's group and the list's first only (groups.ts, resumptionGroups). */
  #offerSessionGroup(ssl: unknown, group: string): void {
    let list = this.#resumptionLists.get(group);
    if (list === undefined) {
      list = resumptionGroups(this.#groups, group) ?? null;
      this.#resumptionLists.set(group, list);
    }
    // Refused, the context's list stays: the handshake is what it was without this.
    if (list !== null && S.SSL_set1_groups_list(ssl, list) !== 1) {
      this.#resumptionLists.set(group, null);
      drainErrors();
    }
  }

  #register(fn: (...args: never[]) => unknown, proto: unknown): unknown {
    const p = S.registerCallback(fn, proto);
    this.#native.callbacks.push(p);
    return p;
  }

  #configure(o: SecureContextOptions, profile: ReturnType<typeof resolveProfile>): void {
    const ctx = this.#native.ctx;
    // Registered callbacks live as long as koffi keeps them; through a WeakRef they do not keep
    // the context alive, so an undisposed, unreachable context is freed by the FinalizationRegistry
    // (a live connection holds its context strongly, so no callback outlives its SSL_CTX).
    const self = new WeakRef(this);
    const fail = (option: string, message: string): never => {
      throw new TlsConfigurationError(option, message, { openssl: drainErrors() });
    };
    // Renegotiation refused (issue 2); no TLS compression (CRIME); server picks the cipher.
    // A client sends its certificate uncompressed (RFC 8879): OpenSSL compresses a client
    // certificate afresh at every full handshake, with Brotli at its highest quality, which
    // measured ~0.9 ms of CPU per handshake (a fifth of a full mutual-auth handshake's client
    // side) to save a few hundred bytes once per connection. Compressed certificates from the
    // peer are still accepted; a server sends its own as OpenSSL decides (it never compresses
    // one per connection).
    S.SSL_CTX_set_options(ctx, S.SSL_OP_NO_RENEGOTIATION | S.SSL_OP_NO_COMPRESSION
      | (this.role === 'server' ? S.SSL_OP_CIPHER_SERVER_PREFERENCE : S.SSL_OP_NO_TX_CERTIFICATE_COMPRESSION));
    S.SSL_CTX_set_mode(ctx, S.SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | S.SSL_MODE_AUTO_RETRY);
    // Always set, never left to the build's default (see profiles.ts): before the identity is
    // loaded, which OpenSSL checks against it.
    S.SSL_CTX_set_security_level(ctx, profile.securityLevel);

    const requireHybrid = o.requireHybridGroup === true;
    if (o.requireHybridGroup !== undefined && typeof o.requireHybridGroup !== 'boolean') throw new InvalidOptionError('requireHybridGroup', 'must be true or false');
    // Hybrid groups exist only in TLS 1.3: requiring one raises the floor to TLS 1.3.
    const minP = requireHybrid ? 'TLSv1.3' : o.minProtocol ?? profile.minProtocol;
    const maxP = o.maxProtocol ?? profile.maxProtocol;
    for (const [name, v] of [['minProtocol', minP], ['maxProtocol', maxP]] as const) {
      if (!Object.hasOwn(S.PROTOCOL_VERSION, v)) throw new InvalidOptionError(name, `unknown protocol "${v}"`);
    }
    if (S.SSL_CTX_set_min_proto_version(ctx, S.PROTOCOL_VERSION[minP]) !== 1) fail('minProtocol', `cannot set ${minP}`);
    this.#minProtocol = minP;
    if (S.SSL_CTX_set_max_proto_version(ctx, S.PROTOCOL_VERSION[maxP]) !== 1) fail('maxProtocol', `cannot set ${maxP}`);
    const ciphers = o.ciphers ?? profile.ciphers;
    if (S.SSL_CTX_set_cipher_list(ctx, ciphers) !== 1) fail('ciphers', `OpenSSL accepts none of "${ciphers}"`);
    const suites = o.cipherSuites ?? profile.cipherSuites;
    if (S.SSL_CTX_set_ciphersuites(ctx, suites) !== 1) fail('cipherSuites', `OpenSSL refused "${suites}"`);
    this.#groups = configureGroups(ctx, o.groups, requireHybrid, maxP);

    let buildChain = false;
    if (o.identity !== undefined) {
      const id = this.loadIdentity(o.identity);
      buildChain = id.chain.length === 0;
      try {
        if (S.SSL_CTX_use_certificate(ctx, id.cert) !== 1) refusedCertificate('identity.cert', 'the certificate', id.cert, profile);
        for (const c of id.chain) if (S.SSL_CTX_add1_chain_cert(ctx, c) !== 1) refusedCertificate('identity.chain', 'a chain certificate', c, profile);
        if (S.SSL_CTX_use_PrivateKey(ctx, id.key) !== 1 || S.SSL_CTX_check_private_key(ctx) !== 1) {
          throw new KeyMismatchError('the private key does not match the certificate', drainErrors());
        }
      } finally {
        id.free();
      }
    }

    const store = S.SSL_CTX_get_cert_store(ctx);
    configureTrust(store, {
      ca: o.ca ?? [], crl: o.crl ?? [], systemRoots: o.systemRoots === true,
      ...(o.crlCheck !== undefined ? { crlCheck: o.crlCheck } : {}),
    });

    // A certificate given without its chain goes out with the chain found in the trust store,
    // as OpenSSL's auto-chaining would send it, but built once here rather than verified again
    // at every handshake, and without the self-signed root, which the peer must hold anyway
    // (RFC 8446 4.4.2): one certificate less for every peer to parse. No issuer found: the
    // certificate alone, as before.
    if (buildChain) {
      S.SSL_CTX_build_cert_chain(ctx, S.SSL_BUILD_CHAIN_FLAG_NO_ROOT | S.SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR | S.SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR);
      drainErrors();
    }

    // A server names its trust anchors in CertificateRequest, as `openssl s_server -CAfile`
    // does, so a client holding several identities can pick (the client-certificate callback).
    if (this.role === 'server' && o.sendCaNames !== false) {
      const objs = S.X509_STORE_get0_objects(store);
      const count = objs === null ? 0 : (S.OPENSSL_sk_num(objs) as number);
      if (count > 0) {
        const names = S.OPENSSL_sk_new_null();
        for (let i = 0; i < count; i++) {
          const x = S.X509_OBJECT_get0_X509(S.OPENSSL_sk_value(objs, i));
          if (x !== null) S.OPENSSL_sk_push(names, S.X509_NAME_dup(S.X509_get_subject_name(x)));
        }
        S.SSL_CTX_set_client_CA_list(ctx, names);
      }
    }

    const mode = o.verifyMode ?? (this.role === 'client' ? VerifyMode.Peer : VerifyMode.Peer | VerifyMode.FailIfNoPeerCert);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0x0f) throw new InvalidOptionError('verifyMode', 'must be a combination of VerifyMode flags');
    const verifyCb = this.#register((ok: number, st: unknown): number => { const me = self.deref(); return me === undefined ? ok : me.#verify(ok, st); }, S.VerifyCb);
    S.SSL_CTX_set_verify(ctx, mode, verifyCb);
    if (o.verifyDepth !== undefined) S.SSL_CTX_set_verify_depth(ctx, o.verifyDepth);

    // The info callback is always on: it records the alerts a handshake error reports.
    S.SSL_CTX_set_info_callback(ctx, this.#register((ssl: unknown, where: number, ret: number): void => { const me = self.deref(); if (me !== undefined) me.#info(ssl, where, ret); }, S.InfoCb));
    // Registered on every client: an override may be a class field or be assigned after
    // construction (see #hasHook). Returning 0 is what OpenSSL does without a callback.
    if (this.role === 'client') {
      S.SSL_CTX_set_client_cert_cb(ctx, this.#register(
        (ssl: unknown, x: unknown, k: unknown): number => { const me = self.deref(); return me === undefined ? 0 : me.#clientCert(ssl, x, k); }, S.ClientCertCb));
    }

    if (o.alpn !== undefined && o.alpn.length > 0) {
      const parts = o.alpn.map((p) => {
        const b = Buffer.from(p, 'latin1');
        if (b.length === 0 || b.length > 255) throw new InvalidOptionError('alpn', `protocol names are 1..255 bytes ("${p}")`);
        return Buffer.concat([Buffer.from([b.length]), b]);
      });
      const wire = Buffer.concat(parts);
      this.#alpnWire = wire;
      if (this.role === 'client') {
        if (S.SSL_CTX_set_alpn_protos(ctx, wire, wire.length) !== 0) fail('alpn', 'OpenSSL refused the list'); // 0 = success here
      } else {
        S.SSL_CTX_set_alpn_select_cb(ctx, this.#register((_ssl: unknown, out: unknown, outlen: unknown, inp: unknown, inlen: number): number => {
          const r = S.SSL_select_next_proto(out, outlen, wire, wire.length, inp, inlen);
          // No overlap: fatal no_application_protocol alert, as DCMTK does for 'dicom'.
          return r === S.OPENSSL_NPN_NEGOTIATED ? S.SSL_TLSEXT_ERR_OK : S.SSL_TLSEXT_ERR_ALERT_FATAL;
        }, S.AlpnSelectCb), null);
      }
    }

    const resume = o.sessionResumption !== false;
    if (this.role === 'client') {
      if (resume) {
        // Client sessions live in our per host:port map, not in OpenSSL's internal cache.
        S.SSL_CTX_set_session_cache_mode(ctx, S.SSL_SESS_CACHE_CLIENT | S.SSL_SESS_CACHE_NO_INTERNAL_STORE);
        S.SSL_CTX_sess_set_new_cb(ctx, this.#register((ssl: unknown, sess: unknown): number => { const me = self.deref(); return me === undefined ? 0 : me.#newSession(ssl, sess); }, S.NewSessionCb));
      } else S.SSL_CTX_set_session_cache_mode(ctx, 0);
    } else {
      const sid = Buffer.from('dicom-tls');
      S.SSL_CTX_set_session_id_context(ctx, sid, sid.length);
      if (!resume) {
        S.SSL_CTX_set_session_cache_mode(ctx, 0);
        S.SSL_CTX_set_options(ctx, S.SSL_OP_NO_TICKET);
        // TLS 1.3: no tickets at all. OpenSSL would still send two per handshake, naming sessions
        // it does not keep, which a client would store and offer in vain.
        S.SSL_CTX_set_num_tickets(ctx, 0);
      } else {
        // Sessions stay in the server's cache and a ticket only names one (stateful tickets,
        // SSL_OP_NO_TICKET under TLS 1.3; session ids under TLS 1.2). A stateless ticket is the
        // session, client certificate included, serialized, parsed back and encrypted at every
        // handshake, then decrypted and parsed again at every resumption: measured, resumed
        // associations ran ~25 % faster without. The price is memory, ~25 KB a session, hence
        // the bound (OpenSSL's default is 20 480); the oldest session goes first.
        S.SSL_CTX_set_session_cache_mode(ctx, S.SSL_SESS_CACHE_SERVER);
        S.SSL_CTX_set_options(ctx, S.SSL_OP_NO_TICKET);
        S.SSL_CTX_sess_set_cache_size(ctx, SERVER_SESSION_CACHE_SIZE);
        // TLS 1.3: one NewSessionTicket per handshake, not OpenSSL's default two: a DICOM client
        // resumes one session per peer at a time.
        S.SSL_CTX_set_num_tickets(ctx, 1);
        S.SSL_CTX_set_session_ticket_cb(ctx, this.#register((ssl: unknown): number => { const me = self.deref(); if (me !== undefined) me.#ticket(ssl); return 1; }, S.GenerateTicketCb), null, null);
      }
    }
    if (o.sessionLifetime !== undefined) {
      // RFC 8446 4.6.1: a TLS 1.3 ticket lives at most 7 days.
      if (!Number.isInteger(o.sessionLifetime) || o.sessionLifetime < 1 || o.sessionLifetime > 604_800) {
        throw new InvalidOptionError('sessionLifetime', `a whole number of seconds, 1–604800 (7 days), got ${o.sessionLifetime}`);
      }
      S.SSL_CTX_set_timeout(ctx, o.sessionLifetime);
    }

    if (o.keyLogFile !== undefined) {
      const fd = openSync(o.keyLogFile, 'a', 0o600);
      this.#native.keylogFd = fd;
      S.SSL_CTX_set_keylog_callback(ctx, this.#register((_ssl: unknown, line: string): void => {
        writeSync(fd, `${line}\n`);
      }, S.KeylogCb));
    }
    drainErrors();
  }

  /** @internal load an identity with this context's password hook; typed errors on failure. */
  loadIdentity(id: IdentityOptions): LoadedIdentity {
    try {
      return loadIdentity(id, (max, writing) => this.onPassword(max, writing));
    } catch (e) {
      // A subclass whose onPassword is a class field: the field does not exist yet while this
      // constructor runs (and is refused once it would be). Say so instead of a bare "no password".
      if (e instanceof UnableToReadPrivateKeyError && e.reason === 'missing-password' && e.cause === undefined
        && this.options.passwordCallback === undefined && id.password === undefined
        && Object.getPrototypeOf(this) !== SecureContext.prototype && this.onPassword === SecureContext.prototype.onPassword) {
        throw new UnableToReadPrivateKeyError('missing-password', `${e.message.replace(/^unable to read private key: /, '')}; a subclass must override onPassword as a method (a class field is set only after the constructor has read the key), or give passwordCallback / identity.password`, e.openssl);
      }
      throw e;
    }
  }

  /**
   * Whether a hook is set, looked up at each call: a registered function, a subclass method, or
   * (honoured too) an override written as a class field or assigned after construction.
   */
  #hasHook(name: 'onVerify' | 'onInfo' | 'onClientCertificate', option: 'verifyCallback' | 'infoCallback' | 'clientCertificateCallback'): boolean {
    return this.options[option] !== undefined || this[name] !== SecureContext.prototype[name];
  }

  // ---- trampolines: run inside OpenSSL; never throw into native code -----------------------
  #verify(ok: number, store: unknown): number {
    storeIdx ??= S.SSL_get_ex_data_X509_STORE_CTX_idx() as number;
    const conn = connectionsBySsl.get(S.addressOf(S.X509_STORE_CTX_get_ex_data(store, storeIdx)));
    if (conn === undefined) return ok;
    conn.enterCallback();
    try {
      const error = S.X509_STORE_CTX_get_error(store) as number;
      const depth = S.X509_STORE_CTX_get_error_depth(store) as number;
      const hook = this.#hasHook('onVerify', 'verifyCallback');
      const detailed = hook || ok === 0;
      let result = ok;
      let certString = '';
      let errorString = '';
      const cert = S.X509_STORE_CTX_get_current_cert(store);
      if (detailed || hasSubscribers(channelNames.tlsVerify)) {
        certString = cert === null ? '' : certificateString(cert);
        errorString = S.X509_verify_cert_error_string(error) as string;
      }
      if (hook) {
        const der = cert === null ? Buffer.alloc(0) : derOf(cert);
        const stacks = liveStacks(store);
        const context: VerifyContext = {
          depth, errorName: x509ErrorName(error), role: this.role,
          get certificate() { return new (crypto().X509Certificate)(der); }, der, socket: conn.secureSocket,
          get chainDer() { return stacks.der('chain'); },
          get chain() { return stacks.certs('chain'); },
          get peerCertificatesDer() { return stacks.der('peer'); },
          get peerCertificates() { return stacks.certs('peer'); },
        };
        try {
          result = verifyAnswer(this.onVerify(ok as 0 | 1, certString, error, errorString, context));
        } finally {
          stacks.close();
        }
        if (ok === 1 && result === 0) {
          // OpenSSL had accepted this certificate, so the store holds X509_V_OK (or an error an
          // earlier call accepted): refusing it would fail with "unspecified" and an
          // internal_error alert. A certificate refusal instead: X509_V_ERR_CERT_REJECTED, which
          // OpenSSL answers with the bad_certificate alert.
          S.X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
          publish(channelNames.tlsVerify, () => ({ connection: conn.secureSocket, depth, ok, error, errorString, certificateString: certString, result }));
          conn.recordVerifyFailure({
            depth, error: X509_V_ERR_CERT_REJECTED, errorName: x509ErrorName(X509_V_ERR_CERT_REJECTED),
            errorString: S.X509_verify_cert_error_string(X509_V_ERR_CERT_REJECTED) as string,
            certificateString: certString, refusedByCallback: true, fingerprint256: fingerprint256(cert),
          });
          return 0;
        }
      }
      publish(channelNames.tlsVerify, () => ({ connection: conn.secureSocket, depth, ok, error, errorString, certificateString: certString, result }));
      if (result === 0) {
        const detail = error === X509_V_ERR_EE_KEY_TOO_SMALL || error === X509_V_ERR_CA_KEY_TOO_SMALL
          ? keyTooSmallDetail(cert === null ? undefined : derOf(cert), this.profile, this.securityLevel) : undefined;
        conn.recordVerifyFailure({ depth, error, errorName: x509ErrorName(error), errorString, certificateString: certString, fingerprint256: fingerprint256(cert), ...(detail === undefined ? {} : { detail }) });
      }
      return result;
    } catch (e) {
      conn.recordCallbackError(e);
      return 0;
    } finally {
      conn.leaveCallback();
    }
  }

  /** @internal live connections of this context with their own info callback (socket.ts keeps it). */
  countSocketInfoCallback(delta: 1 | -1): void {
    this.#socketInfoCallbacks += delta;
  }

  #info(ssl: unknown, where: number, ret: number): void {
    const isAlert = (where & S.SSL_CB.ALERT) !== 0;
    // ~17 events a handshake, and a close_notify at each end; only a fatal alert matters when
    // nobody observes them (it is recorded for the error report): the rest return before the
    // connection is even looked up (and a warning's description is not asked of OpenSSL).
    // The cheapest checks first: this runs ~20 times per connection, in OpenSSL's callback.
    if ((!isAlert || (ret >> 8) !== 2) && this.#socketInfoCallbacks === 0 && !tlsInfoChannel.hasSubscribers && !this.#hasHook('onInfo', 'infoCallback')) return;
    const conn = connectionsBySsl.get(S.addressOf(ssl));
    if (conn === undefined) return;
    let alertInfo: AlertInfo | undefined;
    if (isAlert) {
      alertInfo = {
        level: (ret >> 8) === 2 ? 'fatal' : 'warning',
        description: alertDescription(ret & 0xff, S.SSL_alert_desc_string_long(ret) as string),
        code: ret & 0xff,
        direction: (where & S.SSL_CB.READ) !== 0 ? 'read' : 'write',
      };
      if (alertInfo.level === 'fatal') conn.recordAlert(alertInfo);
    }
    const contextHook = this.#hasHook('onInfo', 'infoCallback');
    const socketHook = conn.infoCallback;
    if (!contextHook && socketHook === undefined && !hasSubscribers(channelNames.tlsInfo)) return;
    const event: InfoEvent = {
      where, ret, state: S.SSL_state_string_long(ssl) as string,
      loop: (where & S.SSL_CB.LOOP) !== 0, exit: (where & S.SSL_CB.EXIT) !== 0,
      read: (where & S.SSL_CB.READ) !== 0, write: (where & S.SSL_CB.WRITE) !== 0, alert: isAlert,
      handshakeStart: (where & S.SSL_CB.HANDSHAKE_START) !== 0, handshakeDone: (where & S.SSL_CB.HANDSHAKE_DONE) !== 0,
      side: (where & S.SSL_CB.ST_CONNECT) !== 0 ? 'connect' : (where & S.SSL_CB.ST_ACCEPT) !== 0 ? 'accept' : undefined,
      group: S.negotiatedGroup(ssl),
      ...(alertInfo !== undefined ? { alertInfo } : {}),
    };
    publish(channelNames.tlsInfo, () => ({ connection: conn.secureSocket, where, state: event.state, group: event.group, alert: alertInfo }));
    if (!contextHook && socketHook === undefined) return;
    conn.enterCallback();
    try {
      // The context's callback first, then the connection's own.
      if (contextHook) infoAnswer(this.onInfo(event, conn.secureSocket), conn);
      if (socketHook !== undefined) infoAnswer(socketHook(event, conn.secureSocket), conn);
    } catch (e) {
      conn.recordCallbackError(e);
    } finally {
      conn.leaveCallback();
    }
  }

  #clientCert(ssl: unknown, x509Out: unknown, pkeyOut: unknown): number {
    const conn = connectionsBySsl.get(S.addressOf(ssl));
    if (conn === undefined || !this.#hasHook('onClientCertificate', 'clientCertificateCallback')) return 0;
    conn.enterCallback();
    try {
      const { acceptableIssuers, acceptableIssuersDer } = clientCaNames(ssl);
      const chosen: unknown = this.onClientCertificate({ acceptableIssuers, acceptableIssuersDer, socket: conn.secureSocket });
      if (chosen === undefined) return 0;
      if (typeof (chosen as { then?: unknown } | null)?.then === 'function') {
        (chosen as Promise<unknown>).then(undefined, () => undefined);
        throw new InvalidOptionError('clientCertificateCallback', 'returned a Promise: it runs inside the handshake and must answer synchronously (an identity or undefined); load the candidate identities beforehand');
      }
      if (chosen === null || typeof chosen !== 'object') {
        throw new InvalidOptionError('clientCertificateCallback', `must return identity options ({ cert, key } or { pkcs12 }) or undefined, not ${chosen === null ? 'null' : typeof chosen}`);
      }
      const id = this.loadIdentity(chosen as IdentityOptions);
      try {
        for (const c of id.chain) S.SSL_add1_chain_cert(ssl, c);
        // OpenSSL takes ownership of what we hand out: give it references of its own.
        S.X509_up_ref(id.cert);
        S.EVP_PKEY_up_ref(id.key);
        S.koffi.encode(x509Out as never, 'void *', id.cert);
        S.koffi.encode(pkeyOut as never, 'void *', id.key);
        return 1;
      } finally {
        id.free();
      }
    } catch (e) {
      conn.recordCallbackError(e);
      return 0;
    } finally {
      conn.leaveCallback();
    }
  }

  #newSession(ssl: unknown, sess: unknown): number {
    const conn = connectionsBySsl.get(S.addressOf(ssl));
    const key = conn?.sessionSlot;
    if (key === undefined || this.#disposed) return 0;
    const old = this.#native.sessions.get(key);
    if (old !== undefined) S.SSL_SESSION_free(old);
    else S.live.add('sessions');
    this.#native.sessions.set(key, sess);
    // A TLS 1.3 ticket comes after the handshake, whose group the connection knows by then.
    const group = conn!.secureSocket.group;
    if (group === undefined) this.#sessionGroups.delete(key);
    else this.#sessionGroups.set(key, group);
    return 1; // we keep the reference OpenSSL handed us
  }

  /**
   * Server, TLS 1.3: OpenSSL is making the ticket for a handshake. After a resumption the ticket
   * names a copy of the session that OpenSSL dated now, which would make a session resumable for
   * ever by a client that comes back within its lifetime, its certificate never verified again.
   * The copy gets what was left of the old session's lifetime instead (the ticket tells the
   * client so), and the old session leaves the cache: an OpenSSL client uses a TLS 1.3 ticket
   * once, so it would only have taken the place of another client's session.
   */
  #ticket(ssl: unknown): void {
    const old = connectionsBySsl.get(S.addressOf(ssl))?.takeResumedSession();
    if (old === undefined) return;
    const left = Number(S.SSL_SESSION_get_time(old)) + Number(S.SSL_SESSION_get_timeout(old)) - Math.floor(Date.now() / 1000);
    S.SSL_SESSION_set_timeout(S.SSL_get_session(ssl), Math.max(0, left));
    S.SSL_CTX_remove_session(this.#native.ctx, old);
    S.freeCountedSession(old);
  }

  /** @internal number of cached sessions: a client's own, a server's in OpenSSL's cache (tests). */
  get cachedSessions(): number { return this.role === 'client' ? this.#native.sessions.size : S.SSL_CTX_sess_number(this.#native.ctx); }
}

const X509_V_ERR_EE_KEY_TOO_SMALL = 66;
const X509_V_ERR_CA_KEY_TOO_SMALL = 67;

/** What a security level asks of keys (SSL_CTX_set_security_level(3)), for messages. */
const LEVEL_FLOORS: Readonly<Record<number, string>> = {
  0: 'no minimum', 1: 'RSA/DSA/DH of 1024 bits and EC of 160 bits or more',
  2: 'RSA/DSA/DH of 2048 bits and EC of 224 bits or more', 3: 'RSA/DSA/DH of 3072 bits and EC of 256 bits or more',
  4: 'RSA/DSA/DH of 7680 bits and EC of 384 bits or more', 5: 'RSA/DSA/DH of 15360 bits and EC of 512 bits or more',
};

/** "RSA 1024-bit" / "EC prime256v1 (256-bit)" from a certificate's DER; undefined if unreadable. */
function keyDescription(der: Buffer): string | undefined {
  try {
    const key = new (crypto().X509Certificate)(der).publicKey;
    const d = key.asymmetricKeyDetails;
    if (d?.modulusLength !== undefined) return `${(key.asymmetricKeyType ?? 'RSA').toUpperCase()} ${d.modulusLength}-bit`;
    if (d?.namedCurve !== undefined) return `EC ${d.namedCurve}`;
    return key.asymmetricKeyType?.toUpperCase();
  } catch {
    return undefined;
  }
}

/** The why of X509_V_ERR_EE/CA_KEY_TOO_SMALL: the key, the profile and its level's floor. */
function keyTooSmallDetail(der: Buffer | undefined, profile: ProfileName, level: number): string {
  const key = der === undefined ? undefined : keyDescription(der);
  return `${key === undefined ? 'the key' : `an ${key} key`} is below OpenSSL security level ${level} of profile ${profile} (${LEVEL_FLOORS[level] ?? 'see SSL_CTX_set_security_level'})`;
}

/** OpenSSL refused one of our own certificates: say why, the key size when the level was the reason. */
function refusedCertificate(option: string, what: string, x509: unknown, profile: { name: ProfileName; securityLevel: number }): never {
  const openssl = drainErrors();
  const weak = openssl.some((e) => /key too small/.test(e.reason ?? ''));
  const why = weak ? `: ${keyTooSmallDetail(derOf(x509), profile.name, profile.securityLevel)}` : openssl[0]?.reason !== undefined ? ` (${openssl[0].reason})` : '';
  throw new TlsConfigurationError(option, `OpenSSL refused ${what}${why}`, { openssl });
}

function alertDescription(code: number, openssl: string): string {
  return openssl === 'unknown' ? alertDescriptions[code] ?? openssl : openssl;
}

/** Held, so the info callback reads `hasSubscribers` without looking the channel up at each event. */
const tlsInfoChannel = channel(channelNames.tlsInfo);

function hasSubscribers(name: ChannelName): boolean {
  return channel(name).hasSubscribers;
}

/** SHA-256 of a refused certificate's DER, colon-separated upper-case hex (as `openssl x509 -fingerprint -sha256`). */
function fingerprint256(cert: unknown): string | undefined {
  if (cert === null || cert === undefined) return undefined;
  return crypto().createHash('sha256').update(derOf(cert)).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
