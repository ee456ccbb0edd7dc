/**
 * DicomServer: the association acceptor (SCP). Listens on plain TCP or, given a server-role
 * SecureContext, on TLS (the TLS layer's SecureServer runs each handshake); negotiates every
 * A-ASSOCIATE-RQ with the acceptor policy of acse/negotiate.ts; answers requests with the one
 * handler registered per DIMSE command (C-ECHO: Success by default).
 *
 * Limits: `maxAssociations` (one more is answered A-ASSOCIATE-RJ 2/3/2 local-limit-exceeded,
 * PS3.8 Table 9-21), our Maximum Length, ARTIM for a connection that never sends its RQ, an idle
 * timer per association. `close()` stops listening, answers late RQs 2/3/1 temporary-congestion,
 * waits for associations to be released and aborts the rest after a grace period.
 *
 * A failed TLS handshake is reported with the peer's address, the failing depth, the X509 error
 * and the peer certificate as the seeds' certificate string: as the `handshakeError` event and on
 * the `server` diagnostics channel (kind 'tls-handshake-failed').
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { channelNames, publish } from '../diagnostics.js';
import { InvalidOptionError, TimeoutError, type DicomError } from '../errors.js';
import { checkServerOptions } from './server-options.js';
import {
  DEFAULT_MAXIMUM_LENGTH,
  checkAeTitle,
  checkMinPeerMaximumLength,
  isRejected,
  negotiateAssociation,
  unencodableAcceptRejection,
  type RejectedAssociation,
  temporaryCongestionRejection,
  tooManyAssociationsRejection,
  negotiationTimeoutRejection,
  type AcceptorPolicy,
} from '../acse/negotiate.js';
import { checkAsynchronousOperationsWindow } from '../acse/asynchronous-operations.js';
import type { PresentationContextPolicy } from '../acse/presentation-context.js';
import { VerificationSopClass } from '../dictionary/uids.js';
import type { TransportConnection } from '../transport/connection.js';
import { tcpConnection } from '../transport/tcp.js';
import type { BoundPort } from '../transport/bound-port.js';
import type { SecureContext } from '../transport/tls/context.js';
import type { TlsHandshakeError, AlertInfo } from '../transport/tls/errors.js';
import { SecureServer } from '../transport/tls/server.js';
import { sniffTransport } from '../ul/pdu/sniff.js';
import type { AAssociateRjPdu, AAssociateRqPdu } from '../ul/pdu/types.js';
import { InvalidAssociateRequestError } from '../acse/errors.js';
import { failAssociation } from './guard.js';
import { UpperLayer } from '../ul/upper-layer.js';
import { TypedEmitter } from '../ul/upper-layer-events.js';
import { TransportMismatchError } from '../ul/upper-layer-errors.js';
import { PduEncodeError } from '../ul/errors.js';
import { HandlerRegistry } from '../services/scp/registry.js';
import { Association, DEFAULT_MAX_BUFFERED_BYTES } from './association.js';
import { BufferBudget } from './buffer-budget.js';
import { DEFAULT_MAX_PENDING_BYTES, PendingConnections, type ShedConnection } from './pending-connections.js';
import { AfterPollTimer } from '../internal/after-poll-timer.js';

export interface ServerTimeouts {
  /** ARTIM (PS3.8 9.1.5): wait for the A-ASSOCIATE-RQ after connect, and for the close after RJ/release. Default 30 000. */
  readonly artim?: number;
  /** TLS handshake, ms. Default: the ARTIM value. */
  readonly handshake?: number;
  /**
   * The acceptor policy's answer to an A-ASSOCIATE-RQ (its callbacks: `userIdentity`,
   * `authorize`, `callingAeTitles`, extended negotiation), ms. A policy that has not answered by
   * then is refused A-ASSOCIATE-RJ 2/1/1 (rejected-transient, service-user, no-reason-given) and
   * its slot freed; what it answers later is dropped. Default: the ARTIM value.
   */
  readonly negotiation?: number;
  /** Abort an association when nothing is exchanged for this long, ms (not while we pause its reading for room in a buffer budget). Default: never. */
  readonly idle?: number;
  /** Wait for each response to a request the server sends (C-GET sub-operations, N-EVENT-REPORT), ms. Default 30 000. */
  readonly dimse?: number;
  /**
   * A request data set arriving into memory that gets no fragment for this long, ms, while it is
   * the one allowed beyond `maxBufferedBytes` and others wait for room: its association is
   * aborted (`DatasetStalledError`) and the next one goes on. Default 30 000; 0 = never.
   */
  readonly datasetStall?: number;
}

export interface DicomServerOptions extends Omit<AcceptorPolicy, 'presentationContexts' | 'maximumLength'> {
  /**
   * Accepted abstract and transfer syntaxes; default: Verification only. Verification is accepted
   * whatever this lists (every DICOM AE answers C-ECHO, and the registry answers it by default)
   * unless `verification` is false.
   */
  readonly presentationContexts?: PresentationContextPolicy;
  /** Accept the Verification SOP Class besides `presentationContexts`. Default true. */
  readonly verification?: boolean;
  /** A server-role SecureContext: listen for DICOM over TLS. Absent: plain TCP. */
  readonly tls?: SecureContext | undefined;
  /** Concurrent associations (negotiating or established). Default 64. */
  readonly maxAssociations?: number;
  /**
   * Connections holding no association (TLS handshake in progress, A-ASSOCIATE-RQ not yet
   * received, rejected and closing): one more sheds the one that has waited longest
   * (`PendingConnectionLimitError`). Default 256.
   */
  readonly maxPendingConnections?: number;
  /**
   * Bytes those connections may have sent between them before their A-ASSOCIATE-RQs were
   * complete (each RQ may be up to 1 MiB): past it the one that has waited longest is shed, as
   * for `maxPendingConnections`. Default 16 MiB; 0 = no limit.
   */
  readonly maxPendingBytes?: number;
  /** Our Maximum Length (0x51): the largest P-DATA-TF we accept. Default 16384; 0 = no limit. */
  readonly maxPduLength?: number;
  readonly timeouts?: ServerTimeouts;
  /**
   * Request data sets (identifiers, N-service data sets) held in memory across all associations,
   * counted from their first fragment until their handlers are done; past it, associations stop
   * reading from their sockets. The data set that started arriving first may go beyond it, the
   * others wait, so the most held is this plus one data set. Default 256 MiB; 0 = no limit.
   */
  readonly maxBufferedBytes?: number;
  /** The same per association. Default 64 MiB; 0 = no limit. */
  readonly maxBufferedBytesPerAssociation?: number;
  /** Handlers by DIMSE request; default: a registry answering C-ECHO. Also reachable as `server.handlers`. */
  readonly handlers?: HandlerRegistry;
}

/** A TLS handshake that failed on the server, with what DCMTK and Orthanc do not tell. */
export interface HandshakeFailure {
  readonly peer: { readonly address: string | undefined; readonly port: number | undefined };
  /** Depth in the peer's chain where verification failed (0 = its own certificate). */
  readonly depth: number | undefined;
  /** X509_V_ERR code, its name and OpenSSL's text. */
  readonly code: number | undefined;
  readonly errorName: string | undefined;
  readonly errorString: string | undefined;
  /** The failing certificate as the seeds' certificate string. */
  readonly certificateString: string | undefined;
  /** The TLS alert sent or received, if any. */
  readonly alert: AlertInfo | undefined;
  /** TlsHandshakeError, or TransportMismatchError when plain DICOM arrived on the TLS port. */
  readonly error: DicomError;
}

export interface AssociationRejection {
  readonly reject: AAssociateRjPdu;
  /** Why, in words (never sent to the peer). */
  readonly why: string;
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly remoteAddress: string | undefined;
  /** The node-authentication check that refused (certificate binding, user identity), if one did. */
  readonly check?: 'certificate-binding' | 'user-identity' | undefined;
  /** The user identity's username (types 1 and 2) when the identity was refused; never the passcode. */
  readonly username?: string | undefined;
  /** The peer's certificate, when TLS. */
  readonly peerCertificate?: X509Certificate | undefined;
  /** What refused it when no policy decision did (a `TimeoutError` with `timer: 'negotiation'`, an `IdentityChecksBusyError`). */
  readonly error?: DicomError | undefined;
}

export interface DicomServerEvents {
  /** An association was accepted (its `tls` holds the peer's TLS facts). */
  association: (association: Association) => void;
  /** An A-ASSOCIATE-RQ was rejected. */
  rejected: (rejection: AssociationRejection) => void;
  handshakeError: (failure: HandshakeFailure) => void;
  /** A connection ended in a protocol error (another protocol on the port, a malformed PDU). */
  connectionError: (error: DicomError, peer: { readonly address: string | undefined; readonly port: number | undefined }) => void;
}

const DEFAULT_ARTIM_MS = 30_000;
/** Default of `maxPendingConnections`: a burst of peers connecting at once fits, ~15 MB of handshakes at most. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 256;
/** Default of `timeouts.datasetStall`: as long as a requestor is given for a response (the DIMSE timeout's usual 30 s). */
const DEFAULT_DATASET_STALL_MS = 30_000;
/** Default of `maxBufferedBytes` (all associations of a server). */
export const DEFAULT_SERVER_BUFFERED_BYTES = 256 * 1024 * 1024;
/** TLS record: alert (21), TLS 1.2 record version, length 2, fatal (2), protocol_version (70). */
const TLS_PROTOCOL_VERSION_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);

function positive(option: string, v: number | undefined, fallback: number, allowZero = false): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new InvalidOptionError(option, `must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(v)}`);
  return v;
}

export class DicomServer extends TypedEmitter<DicomServerEvents> {
  readonly handlers: HandlerRegistry;
  readonly #policy: AcceptorPolicy;
  #tls: SecureContext | undefined;
  readonly #maxAssociations: number;
  readonly #maxPdu: number;
  readonly #artimMs: number;
  readonly #handshakeMs: number;
  readonly #negotiationMs: number;
  readonly #idleMs: number;
  readonly #dimseMs: number;
  readonly #budget: BufferBudget;
  readonly #perAssociationBytes: number;
  readonly #associations = new Set<Association>();
  readonly #upperLayers = new Set<UpperLayer>();
  readonly #sockets = new Set<net.Socket>();
  readonly #pending: PendingConnections;
  #negotiating = 0;
  #net: net.Server | undefined;
  #secure: SecureServer | undefined;
  #closing = false;

  constructor(options: DicomServerOptions = {}) {
    super((event, error) => publish(channelNames.server, { kind: 'listener-error', event, error }));
    checkServerOptions(options);
    if (options.tls !== undefined && options.tls.role !== 'server') throw new InvalidOptionError('tls', 'needs a SecureContext with role "server"');
    const { tls, maxAssociations, maxPendingConnections, maxPendingBytes, maxPduLength, timeouts, handlers, presentationContexts, maxBufferedBytes, maxBufferedBytesPerAssociation, verification, ...policy } = options;
    if (verification !== undefined && typeof verification !== 'boolean') throw new InvalidOptionError('verification', 'must be a boolean');
    // An empty or overlong title would refuse every association 1/1/7 without saying why.
    const titles = typeof policy.aeTitle === 'string' ? [policy.aeTitle] : Array.isArray(policy.aeTitle) ? policy.aeTitle : [];
    for (const t of titles) checkAeTitle('aeTitle', t);
    checkAsynchronousOperationsWindow('asynchronousOperations', policy.asynchronousOperations);
    checkMinPeerMaximumLength(policy.minPeerMaximumLength);
    this.#maxPdu = maxPduLength ?? DEFAULT_MAXIMUM_LENGTH;
    this.#policy = {
      ...policy,
      presentationContexts: withVerification(presentationContexts ?? { supported: [] }, verification ?? true),
      maximumLength: this.#maxPdu,
    };
    this.#tls = tls;
    this.#maxAssociations = positive('maxAssociations', maxAssociations, 64);
    // Its shape is checked with the other options (server-options.ts).
    this.#pending = new PendingConnections(maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS, (shed) => this.#onShed(shed), maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES);
    this.#artimMs = positive('timeouts.artim', timeouts?.artim, DEFAULT_ARTIM_MS);
    this.#handshakeMs = positive('timeouts.handshake', timeouts?.handshake, this.#artimMs);
    this.#negotiationMs = positive('timeouts.negotiation', timeouts?.negotiation, this.#artimMs);
    this.#idleMs = positive('timeouts.idle', timeouts?.idle, 0, true);
    this.#dimseMs = positive('timeouts.dimse', timeouts?.dimse, 30_000, true);
    this.#budget = new BufferBudget(positive('maxBufferedBytes', maxBufferedBytes, DEFAULT_SERVER_BUFFERED_BYTES, true), positive('timeouts.datasetStall', timeouts?.datasetStall, DEFAULT_DATASET_STALL_MS, true));
    this.#perAssociationBytes = positive('maxBufferedBytesPerAssociation', maxBufferedBytesPerAssociation, DEFAULT_MAX_BUFFERED_BYTES, true);
    this.handlers = handlers ?? new HandlerRegistry();
  }

  /** Request data set bytes now held in memory by this server's associations (see `maxBufferedBytes`). */
  get bufferedBytes(): number {
    return this.#budget.held;
  }

  /** Connections holding no association now (see `maxPendingConnections`). */
  get pendingConnections(): number {
    return this.#pending.size;
  }

  /** Established associations. */
  get associations(): ReadonlySet<Association> {
    return this.#associations;
  }

  get address(): AddressInfo | undefined {
    return (this.#net?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Use `context` for TLS connections accepted from now on (a certificate reload without a
   * restart). Associations already running keep the context they started with: dispose of the
   * old one only after they have closed (or after `close()`).
   */
  setTlsContext(context: SecureContext): void {
    if (this.#tls === undefined) throw new InvalidOptionError('tls', 'this server listens for plain DICOM; it has no TLS context to replace');
    if (context.role !== 'server') throw new InvalidOptionError('tls', 'needs a SecureContext with role "server"');
    this.#tls = context;
    if (this.#secure !== undefined) this.#secure.context = context;
  }

  /**
   * Start listening (default: an ephemeral port on 127.0.0.1) on `port` of `host`, or on a port bound beforehand (`bindPort`): its socket
   * then becomes the listening one (`host` is not used), so no other socket ever listened there.
   */
  async listen(port: number | BoundPort = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.#net !== undefined) throw new InvalidOptionError('listen', 'the server is already listening');
    const server = net.createServer({ allowHalfOpen: true });
    this.#net = server;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => {
        this.#sockets.delete(s);
        this.#pending.remove(s);
      });
      this.#pending.add(s);
    });
    if (this.#tls === undefined) {
      server.on('connection', (s) => {
        if (s.destroyed) return;
        s.setNoDelay(true);
        this.#onTransport(tcpConnection(s), s);
      });
    } else {
      this.#listenTls(server, this.#tls);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (typeof port === 'number') server.listen(port, host, done);
      else server.listen(port.take(), done);
    });
    return server.address() as AddressInfo;
  }

  #listenTls(server: net.Server, context: SecureContext): void {
    // The TLS engine gets each connection only after its first bytes were looked at: plain DICOM
    // on this TLS port is then named as such (and told so with a TLS alert) instead of being a
    // nameless handshake failure. The inner server never listens: sockets are handed to the engine.
    const inner = new net.Server();
    // Half-open as the plain port: the upper layer ends our side when the peer ends its own
    // (at once, or after the A-RELEASE-RP still owed to a peer that asked for release).
    const secure = new SecureServer(context, { server: inner, handshakeTimeout: this.#handshakeMs, allowHalfOpen: true });
    this.#secure = secure;
    secure.on('connection', (ss) => this.#pending.secure(ss.socket, ss));
    server.on('connection', (s) => {
      if (s.destroyed) return;
      const peer = { address: s.remoteAddress, port: s.remotePort };
      // Decided after the loop's next read: the first bytes may be in the socket already.
      const timer = new AfterPollTimer(this.#handshakeMs, () => s.destroy());
      timer.start();
      const cleanup = (): void => {
        timer.dispose();
        s.off('data', onFirst).off('close', cleanup).off('end', onEnd);
      };
      // A peer that leaves before its first byte (FIN on a half-open-capable socket) is done:
      // without this its socket would linger until the handshake timeout.
      const onEnd = (): void => {
        cleanup();
        s.destroy();
      };
      const onFirst = (chunk: Buffer): void => {
        cleanup();
        if (sniffTransport(chunk) === 'dicom') {
          s.pause();
          const error = new TransportMismatchError('dicom', 'acceptor', chunk);
          // A fatal protocol_version alert (RFC 8446 6.2): a DICOM peer recognises "TLS here".
          s.end(TLS_PROTOCOL_VERSION_ALERT, () => s.destroy());
          this.#reportHandshakeFailure(undefined, error, peer);
          return;
        }
        // The engine takes this read as its first: no unshift and resume, which cost a stream
        // round and a tick on every connection. Nothing can arrive in between: this runs
        // synchronously inside the socket's 'data' event.
        secure.acceptWithFirstBytes(s, chunk);
      };
      s.on('data', onFirst).on('close', cleanup).on('end', onEnd);
    });
    secure.on('secureConnection', (s) => this.#onTransport(s, s.socket));
    secure.on('handshakeError', (error, peer) => this.#reportHandshakeFailure(error, error, peer));
    secure.on('error', () => undefined);
  }

  #reportHandshakeFailure(tlsError: TlsHandshakeError | undefined, error: DicomError, peer: { address: string | undefined; port: number | undefined }): void {
    const v = tlsError?.verifyFailure;
    const failure: HandshakeFailure = {
      peer,
      depth: v?.depth,
      code: v?.error,
      errorName: v?.errorName,
      errorString: v?.errorString,
      certificateString: v?.certificateString,
      alert: tlsError?.alert,
      error,
    };
    publish(channelNames.server, { kind: 'tls-handshake-failed', server: this, ...failure });
    this.emit('handshakeError', failure);
  }

  /** A pending connection shed for a newer one: published, unless the TLS engine reports it as a failed handshake. */
  #onShed(shed: ShedConnection): void {
    if (shed.stage === 'handshake') return;
    const peer = { address: shed.socket.remoteAddress, port: shed.socket.remotePort };
    publish(channelNames.server, { kind: 'connection-shed', server: this, peer, stage: shed.stage, error: shed.error });
  }

  #onTransport(transport: TransportConnection, socket: net.Socket): void {
    const peer = { address: transport.remoteAddress, port: transport.remotePort };
    const ul = new UpperLayer({
      maxPduLength: this.#maxPdu === 0 ? 0xffffffff : this.#maxPdu,
      artimTimeout: this.#artimMs,
      // Provider-level refusals in AE-6, before the policy runs (PS3.8 Table 9-21, source 3).
      checkAssociateRq: () =>
        this.#closing
          ? temporaryCongestionRejection()
          : this.#activeAssociations() + this.#negotiating >= this.#maxAssociations
            ? tooManyAssociationsRejection()
            : undefined,
    });
    this.#upperLayers.add(ul);
    this.#pending.upperLayer(socket, ul);
    ul.on('protocolError', (e) => this.emit('connectionError', e, peer));
    ul.on('closed', () => this.#upperLayers.delete(ul));
    // Aborted or released, waiting for the peer's close: back among the connections holding no association.
    ul.on('awaitingClose', () => this.#pending.closing(socket, ul));
    ul.on('associateIndication', (rq) => this.#onAssociateRq(ul, rq, transport, socket));
    ul.acceptConnection(transport);
  }

  /**
   * An A-ASSOCIATE-RQ holds a slot while the policy decides (PS3.8 runs no ARTIM in Sta3). The
   * slot is given back when the policy has answered, when the connection ends first (the peer's
   * A-ABORT, its close, `close()`), or at the negotiation timeout, whichever comes first: a
   * policy callback that never settles (a user identity check waiting on a directory that does
   * not answer) would otherwise hold it for the life of the process.
   */
  #onAssociateRq(ul: UpperLayer, rq: AAssociateRqPdu, transport: TransportConnection, socket: net.Socket): void {
    this.#negotiating++;
    this.#pending.negotiating(socket, true);
    let holding = true;
    const giveBack = (): boolean => {
      if (!holding) return false;
      holding = false;
      clearTimeout(timer);
      ul.off('closed', giveBack);
      this.#negotiating--;
      this.#pending.negotiating(socket, false);
      return true;
    };
    const timer = setTimeout(() => {
      if (!giveBack() || ul.state !== 'Sta3') return;
      const error = new TimeoutError('negotiation', `the acceptor policy did not answer the A-ASSOCIATE-RQ within ${this.#negotiationMs} ms`);
      this.#reject(ul, rq, transport, { reject: negotiationTimeoutRejection, why: error.message, error });
    }, this.#negotiationMs);
    ul.on('closed', giveBack);
    // The last-resort guard of this association: whatever its negotiation throws (a policy
    // callback, a value we could not send back) aborts it alone; nothing reaches the process.
    // One that throws after the timeout refused the RQ has nothing left to abort.
    this.#negotiate(ul, rq, transport, socket)
      .catch((error: unknown) => {
        if (holding) failAssociation(ul, 'negotiation', error);
      })
      .finally(giveBack);
  }

  /**
   * Associations holding a slot. One in Sta13 (we aborted or released it) waits only for its
   * peer to close the socket, at most ARTIM: it does not count, or a peer keeping sockets open
   * after provoking aborts would hold every slot.
   */
  #activeAssociations(): number {
    let n = 0;
    for (const a of this.#associations) if (a.upperLayer.state !== 'Sta13') n++;
    return n;
  }

  /** A-ASSOCIATE-RJ to the requestor, told on the diagnostics channel and as 'rejected'. */
  #reject(ul: UpperLayer, rq: AAssociateRqPdu, transport: TransportConnection, result: RejectedAssociation): void {
    ul.rejectAssociation(result.reject);
    const rejection: AssociationRejection = {
      reject: result.reject,
      why: result.why,
      callingAeTitle: rq.callingAeTitle.trim(),
      calledAeTitle: rq.calledAeTitle.trim(),
      remoteAddress: transport.remoteAddress,
      check: result.check,
      username: result.check === 'user-identity' && rq.userInformation.userIdentityRq !== undefined && rq.userInformation.userIdentityRq.identityType <= 2
        ? Buffer.from(rq.userInformation.userIdentityRq.primaryField).toString('utf8')
        : undefined,
      peerCertificate: transport.tls?.peerCertificate,
      error: result.error,
    };
    publish(channelNames.server, { kind: 'association-rejected', server: this, association: ul, ...rejection });
    this.emit('rejected', rejection);
  }

  async #negotiate(ul: UpperLayer, rq: AAssociateRqPdu, transport: TransportConnection, socket: net.Socket): Promise<void> {
    let result: Awaited<ReturnType<typeof negotiateAssociation>>;
    try {
      result = await negotiateAssociation(rq, this.#policy, { tls: transport.tls, remoteAddress: transport.remoteAddress });
    } catch (error) {
      // An RQ the policy cannot even read (bad context IDs): no RJ reason fits, abort (PS3.8 9.3.8).
      if (error instanceof InvalidAssociateRequestError) {
        if (ul.state === 'Sta3') ul.abort();
        return;
      }
      throw error;
    }
    if (ul.state !== 'Sta3') return; // the peer left while we decided
    if (isRejected(result)) {
      this.#reject(ul, rq, transport, result);
      return;
    }
    try {
      ul.acceptAssociation(result.accept);
    } catch (error) {
      // Our AC does not encode: what the policy's handlers answered overflows a length field (a
      // user identity server response that fits its own sub-item, with the other sub-items past
      // the user information item's 2-byte length). Nothing was sent yet: refused, not aborted.
      if (!(error instanceof PduEncodeError) || ul.state !== 'Sta3') throw error;
      this.#reject(ul, rq, transport, { reject: unencodableAcceptRejection, why: `our A-ASSOCIATE-AC cannot be encoded: ${error.message}` });
      return;
    }
    const association = new Association(
      ul,
      {
        role: 'acceptor',
        callingAeTitle: result.callingAeTitle,
        calledAeTitle: result.calledAeTitle,
        contexts: result.contexts,
        roles: result.roles,
        maxPduLength: result.maximumLength,
        peerMaxPduLength: result.peerMaximumLength,
        peerImplementationClassUid: result.peerImplementationClassUid,
        peerImplementationVersionName: result.peerImplementationVersionName,
        userIdentity: result.userIdentity,
        asynchronousOperations: result.asynchronousOperations,
        access: result.access,
      },
      {
        handlers: this.handlers,
        idleTimeout: this.#idleMs,
        dimseTimeout: this.#dimseMs,
        releaseTimeout: this.#artimMs,
        maxBufferedBytes: this.#perAssociationBytes,
        bufferBudget: this.#budget,
      },
    );
    this.#associations.add(association);
    this.#pending.remove(socket);
    association.once('closed', () => this.#associations.delete(association));
    this.emit('association', association);
  }

  /**
   * Stop accepting connections; answer late A-ASSOCIATE-RQs with 2/3/1; wait up to `timeout` ms
   * (default 10 000) for established associations to be released, then abort the rest.
   */
  async close(options: { readonly timeout?: number } = {}): Promise<void> {
    const server = this.#net;
    if (server === undefined) return;
    this.#closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Connections still waiting to send their RQ have nothing to lose.
    for (const ul of this.#upperLayers) if (ul.state === 'Sta2') ul.destroy();
    const waitAll = Promise.all([...this.#associations].map((a) => a.whenClosed()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeout ?? 10_000)));
    await Promise.race([waitAll, grace]);
    clearTimeout(timer);
    await Promise.all([...this.#associations].map((a) => a.abort()));
    for (const ul of this.#upperLayers) ul.destroy();
    // Handshakes in progress and anything else left.
    for (const s of this.#sockets) s.destroy();
    if (this.#secure !== undefined) await this.#secure.close();
    await closed;
    this.#net = undefined;
    this.#secure = undefined;
    this.#closing = false;
  }
}

/** The policy with Verification added (first) when it does not list it already. */
function withVerification(policy: PresentationContextPolicy, verification: boolean): PresentationContextPolicy {
  const supported = policy.supported ?? [];
  if (!verification || supported.some((s) => s.abstractSyntax === VerificationSopClass)) return policy;
  return { ...policy, supported: [{ abstractSyntax: VerificationSopClass }, ...supported] };
}
