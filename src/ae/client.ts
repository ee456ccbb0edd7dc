/**
 * DicomClient: the association requestor (SCU). `DicomClient.associate()` opens TCP or TLS,
 * sends the A-ASSOCIATE-RQ and resolves once the A-ASSOCIATE-AC is read and checked; then
 * `echo()`, any other service over `association.request(…)`, `release()` or `abort()`.
 *
 * Failures are typed: ConnectionRefusedError, TlsHandshakeError (depth, X509 error, certificate
 * string, alert), TransportMismatchError (TLS to a plain port, plain to a TLS port),
 * AssociationRejectedError (result/source/reason in the standard's words), NegotiationError (a bad
 * A-ASSOCIATE-AC; we abort), TimeoutError with `timer` 'connect' | 'association' | 'dimse'.
 */
import { InvalidOptionError, TimeoutError } from '../errors.js';
import { buildAssociateRq, interpretAssociateAc, type AssociateRqOptions } from '../acse/negotiate.js';
import type { AsynchronousOperationsWindow } from '../acse/asynchronous-operations.js';
import type { RequestedContext } from '../acse/presentation-context.js';
import type { RoleProposal } from '../acse/role-selection.js';
import type { UserIdentityRequest } from '../acse/user-identity.js';
import { NegotiationError } from '../acse/errors.js';
import { TransferSyntax, VerificationSopClass } from '../dictionary/uids.js';
import type { CEchoRsp } from '../dimse/messages.js';
import type { TlsInfo } from '../transport/connection.js';
import type { SecureContext } from '../transport/tls/context.js';
import type { TlsHandshakeError } from '../transport/tls/errors.js';
import { UpperLayer } from '../ul/upper-layer.js';
import { AssociationAbortedError } from '../ul/upper-layer-errors.js';
import { HandlerRegistry } from '../services/scp/registry.js';
import * as services from '../services/scu/client-services.js';
import { echo } from '../services/scu/echo.js';
import { Association } from './association.js';
import { checkClientOptions } from './client-options.js';
import { lateTlsRejection, openTransport } from './transport.js';
import { AfterPollTimer } from '../internal/after-poll-timer.js';

export interface ClientTimeouts {
  /** TCP connect + TLS handshake, ms. Default 30 000. */
  readonly connect?: number;
  /** Wait for the A-ASSOCIATE-AC/-RJ and for the A-RELEASE-RP (ARTIM-like), ms. Default 30 000. */
  readonly association?: number;
  /** Wait for each DIMSE response, ms (0 = forever). Default 30 000. */
  readonly dimse?: number;
  /** Abort when nothing is exchanged for this long, ms. Default: never. */
  readonly idle?: number;
}

export interface DicomClientOptions {
  readonly host: string;
  readonly port: number;
  /** A client-role SecureContext for DICOM over TLS (PS3.15 B.1); absent: plain TCP. */
  readonly tls?: SecureContext | undefined;
  /** SNI and host name to verify (when the context checks it); default `host`. */
  readonly servername?: string | undefined;
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  /** Contexts to propose; default: Verification with Explicit and Implicit VR Little Endian. */
  readonly presentationContexts?: readonly RequestedContext[] | undefined;
  readonly roles?: readonly RoleProposal[] | undefined;
  readonly userIdentity?: UserIdentityRequest | undefined;
  /** Our Maximum Length (0x51): the largest P-DATA-TF we accept. Default 16384; 0 = no limit. */
  readonly maxPduLength?: number | undefined;
  /**
   * The smallest Maximum Length the acceptor may answer with (0, no limit, is always fine);
   * below it the association is aborted with a NegotiationError. Default 256, as DicomServer's.
   */
  readonly minPeerMaximumLength?: number | undefined;
  /**
   * Propose an Asynchronous Operations Window (PS3.7 D.3.3.3): how many requests we want to keep
   * outstanding (`maxOperationsInvoked`) and how many of the acceptor's we perform at once
   * (`maxOperationsPerformed`); 0 = unlimited. Absent: not proposed, operations are synchronous.
   * What was agreed is `association.info.asynchronousOperations`; `store()` uses it.
   */
  readonly asynchronousOperations?: AsynchronousOperationsWindow | undefined;
  readonly timeouts?: ClientTimeouts | undefined;
  /** Handlers for requests the acceptor sends us (C-STORE sub-operations of C-GET, N-EVENT-REPORT). */
  readonly handlers?: HandlerRegistry | undefined;
  /** Further A-ASSOCIATE-RQ options (extended negotiation, implementation identification). */
  readonly associateRq?: Partial<Omit<AssociateRqOptions, 'callingAeTitle' | 'calledAeTitle' | 'presentationContexts' | 'roles' | 'userIdentity' | 'maximumLength' | 'asynchronousOperations'>>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const commitmentReceivers = new WeakMap<DicomClient, services.CommitmentReceiver>();

export const DEFAULT_CLIENT_CONTEXTS: readonly RequestedContext[] = Object.freeze([
  { abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] },
]);

function checkTimeout(name: string, v: number | undefined): number {
  if (v === undefined) return DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(v) || v < 0) throw new InvalidOptionError(`timeouts.${name}`, `must be a non-negative number of milliseconds, got ${String(v)}`);
  return v;
}

/** The association died of a TLS alert before any PDU came back: the handshake failed (TLS 1.3 ordering). */
function lateRejection(e: unknown): TlsHandshakeError | undefined {
  return e instanceof AssociationAbortedError && e.origin === 'transport' ? lateTlsRejection(e) : undefined;
}

export class DicomClient {
  /** The established association: the extension point for every other service (`association.request`). */
  readonly association: Association;
  /** Handlers for requests the acceptor sends us (C-GET sub-operations, N-EVENT-REPORT). */
  readonly handlers: HandlerRegistry;

  private constructor(association: Association, handlers: HandlerRegistry) {
    this.association = association;
    this.handlers = handlers;
  }

  /** Connect, negotiate, and resolve with a client on an established association. */
  static async associate(options: DicomClientOptions): Promise<DicomClient> {
    checkClientOptions(options);
    const t = options.timeouts ?? {};
    const connectMs = checkTimeout('connect', t.connect);
    const associationMs = checkTimeout('association', t.association);
    const dimseMs = checkTimeout('dimse', t.dimse);
    const idleMs = t.idle === undefined ? 0 : checkTimeout('idle', t.idle);
    const rq = buildAssociateRq({
      ...options.associateRq,
      callingAeTitle: options.callingAeTitle,
      calledAeTitle: options.calledAeTitle,
      presentationContexts: options.presentationContexts ?? DEFAULT_CLIENT_CONTEXTS,
      ...(options.roles === undefined ? {} : { roles: options.roles }),
      ...(options.userIdentity === undefined ? {} : { userIdentity: options.userIdentity }),
      ...(options.maxPduLength === undefined ? {} : { maximumLength: options.maxPduLength }),
      ...(options.asynchronousOperations === undefined ? {} : { asynchronousOperations: options.asynchronousOperations }),
    });
    const maxPdu = rq.userInformation.maximumLength ?? 0;
    const ul = new UpperLayer({ maxPduLength: maxPdu === 0 ? 0xffffffff : maxPdu, artimTimeout: associationMs > 0 ? associationMs : DEFAULT_TIMEOUT_MS });
    // The connect timer bounds TCP + TLS; the association timer then bounds the wait for AC/RJ.
    let timer: AfterPollTimer | undefined;
    let timedOut: TimeoutError | undefined;
    const source = async () => {
      const transport = await openTransport({ host: options.host, port: options.port, tls: options.tls, servername: options.servername, timeout: connectMs });
      if (associationMs > 0) {
        // Decided after the loop's next read: the answer may be in the socket already.
        timer = new AfterPollTimer(associationMs, () => {
          timedOut = new TimeoutError('association', `no A-ASSOCIATE-AC or -RJ from ${options.host}:${options.port} within ${associationMs} ms`);
          ul.destroy(timedOut);
        });
        timer.start();
      }
      return transport;
    };
    let connectError: unknown;
    const wrapped = () =>
      source().catch((e: unknown) => {
        connectError = e;
        throw e;
      });
    ul.requestAssociation(wrapped, rq);
    let ac;
    try {
      ac = await ul.associated();
    } catch (e) {
      // The typed connect/TLS failure beats the A-P-ABORT it caused.
      throw timedOut ?? connectError ?? lateRejection(e) ?? e;
    } finally {
      timer?.dispose();
    }
    let negotiated;
    try {
      negotiated = interpretAssociateAc(rq, ac, options.minPeerMaximumLength);
    } catch (e) {
      ul.abort();
      throw e instanceof NegotiationError ? e : new NegotiationError('the A-ASSOCIATE-AC could not be interpreted', { cause: e });
    }
    const handlers = options.handlers ?? new HandlerRegistry();
    const association = new Association(
      ul,
      {
        role: 'requestor',
        callingAeTitle: rq.callingAeTitle,
        calledAeTitle: rq.calledAeTitle,
        contexts: negotiated.contexts,
        roles: negotiated.roles,
        maxPduLength: negotiated.maximumLength,
        peerMaxPduLength: negotiated.peerMaximumLength,
        peerImplementationClassUid: negotiated.peerImplementationClassUid,
        peerImplementationVersionName: negotiated.peerImplementationVersionName,
        userIdentityResult: negotiated.userIdentity,
        asynchronousOperations: negotiated.asynchronousOperations,
      },
      { handlers, dimseTimeout: dimseMs, idleTimeout: idleMs, releaseTimeout: associationMs > 0 ? associationMs : DEFAULT_TIMEOUT_MS },
    );
    return new DicomClient(association, handlers);
  }

  /** The server's TLS facts (protocol, cipher, certificate chain, verify result); undefined over plain TCP. */
  get tls(): TlsInfo | undefined {
    return this.association.tls;
  }

  /** C-ECHO (Verification): resolves with the C-ECHO-RSP; non-Success rejects with DimseStatusError. */
  echo(options: { readonly timeout?: number } = {}): Promise<CEchoRsp> {
    return echo(this.association, options);
  }

  // ---- services (services/scu/) ---------------------------------------------------------------

  /** C-STORE files, directories or streams (services/scu/store.ts); one result per instance. */
  store(sources: readonly services.StoreSource[], options?: services.StoreOptions): Promise<services.StoreResult[]> {
    return services.storeInstances(this.association, sources, options);
  }

  /** C-FIND: the matches as an async iterator; leaving the loop early sends C-CANCEL. */
  find(model: services.QueryModelName, identifier: services.NaturalDataset, options?: services.FindOptions): AsyncGenerator<services.NaturalDataset> {
    return services.find(this.association, model, identifier, options);
  }

  /** C-MOVE to `destination`; progress from the Pending responses. */
  move(model: services.QueryModelName, identifier: services.NaturalDataset, destination: string, options?: services.RetrieveOptions): Promise<services.RetrieveResult> {
    return services.move(this.association, model, identifier, destination, options);
  }

  /** C-GET; instances arrive on this association into `options.store` or `options.onInstance`. */
  get(model: services.QueryModelName, identifier: services.NaturalDataset, options?: services.GetOptions): Promise<services.RetrieveResult> {
    return services.get(this.association, this.handlers, model, identifier, options);
  }

  /**
   * Storage Commitment (PS3.4 J.3): N-ACTION, then the N-EVENT-REPORT on this association.
   * Resolves with the report (committed and failed instances).
   */
  async commit(references: readonly services.SopReference[], options: { readonly timeout?: number } = {}): Promise<services.CommitmentReport> {
    let receiver = commitmentReceivers.get(this);
    if (receiver === undefined) {
      receiver = new services.CommitmentReceiver();
      if (!this.handlers.has('N-EVENT-REPORT-RQ')) this.handlers.register('N-EVENT-REPORT-RQ', receiver.handler);
      commitmentReceivers.set(this, receiver);
    }
    const transactionUid = await services.requestStorageCommitment(this.association, references, options);
    return receiver.wait(transactionUid, options.timeout);
  }

  /** A-RELEASE; resolves when the A-RELEASE-RP has arrived and the connection is closed. */
  release(): Promise<void> {
    return this.association.release();
  }

  /** A-ABORT; resolves when the connection is closed. */
  abort(): Promise<void> {
    return this.association.abort();
  }
}
