/**
 * A storing DICOM node in one object: a DicomServer accepting every Storage SOP class (C-STORE
 * into a FileStore, indexed in SQLite), Query/Retrieve FIND/MOVE/GET over that index (Patient and
 * Study Root; Modality Worklist when a source is given), Storage Commitment Push Model and
 * Verification — configured by one plain object (AE title, store root, index, move destinations,
 * duplicate policy, limits, TLS, AE-title ↔ certificate bindings).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { BoundPort } from '../../transport/bound-port.js';
import type { AsynchronousOperationsWindow } from '../../acse/asynchronous-operations.js';
import type { CertificateBinding } from '../../acse/certificate-binding.js';
import { accessRules, type AccessRule, type AuthorizeHandler } from '../../acse/access-control.js';
import { checkAeTitle, type AcceptorPolicy } from '../../acse/negotiate.js';
import type { SupportedAbstractSyntax } from '../../acse/presentation-context.js';
import { DicomServer, type DicomServerOptions } from '../../ae/server.js';
import type { Association } from '../../ae/association.js';
import { channelNames, publish } from '../../diagnostics.js';
import type { CStoreRq } from '../../dimse/messages.js';
import { TypedEmitter } from '../../ul/upper-layer-events.js';
import type { NaturalDataset } from '../../dataset/codec.js';
import { checkStorageServerConfig } from './storage-server-options.js';
import { InvalidOptionError } from '../../errors.js';
import { NormalizedSopClass, OtherStorageSopClass, QueryRetrieveSopClass, RetiredStorageSopClass, StorageSopClass, TransferSyntax, VerificationSopClass, isNonPatientStorageSopClass } from '../../dictionary/uids.js';

/** SOP classes that are never storage: never accepted as such by `acceptUnknownSopClasses`. */
const knownNonStorage: ReadonlySet<string> = new Set([VerificationSopClass, ...Object.values(QueryRetrieveSopClass), ...Object.values(NormalizedSopClass)]);
/**
 * The storage classes the server accepts: every current, other and retired one of the dictionary
 * but the non-patient ones (PS3.4 GG). Their instances have no Study or Series Instance UID,
 * which the index, the storage key and the Patient/Study Root models all need, so they are
 * refused at negotiation (abstract syntax not supported) rather than failed one by one after
 * the SCU has sent them; Orthanc and dcm4chee-arc's default configuration refuse them too.
 */
export const ACCEPTED_STORAGE_SOP_CLASSES: readonly string[] = [...Object.values(StorageSopClass), ...Object.values(OtherStorageSopClass), ...Object.values(RetiredStorageSopClass)].filter(
  (uid) => !isNonPatientStorageSopClass(uid),
);
import type { SecureContext } from '../../transport/tls/context.js';
import type { BlobStore } from '../../store/blob/blob-store.js';
import { FileStore, type DuplicatePolicy, type FsyncPolicy, type StoredInstance } from '../../store/file-store.js';
import type { InstanceIndex, StoredFile } from '../../store/instance-index.js';
import { SqliteIndex } from '../../store/sqlite-index.js';
import { reindexIfOutdated } from '../../store/reindex.js';
import { commitmentHandler, reportAbandonedCommitments } from './commitment.js';
import { findHandler, getHandler, moveHandler, type RemoteAe } from './query-retrieve.js';
import { HandlerRegistry } from './registry.js';
import { storageHandler } from './storage.js';

export interface StorageServerConfig {
  /** The AE title(s) we answer to. */
  readonly aeTitle: string | readonly string[];
  /** Where instances are stored (<root>/<study>/<series>/<instance>.dcm). */
  readonly storeRoot: string;
  /**
   * The index: an open InstanceIndex (SqliteIndex, PostgresIndex; left open by close), or the
   * path of an embedded SQLite one, default <storeRoot>/.index.sqlite.
   */
  readonly index?: string | InstanceIndex;
  /**
   * Where complete instances are kept when not as files under `storeRoot` (an S3BlobStore,
   * store/blob/): `storeRoot` then holds only instances being received. Left open by close.
   */
  readonly storage?: BlobStore;
  /** A re-sent SOP instance: default 'keep-first' (Success, stored once); 'reject' answers 0111 (see FileStore). */
  readonly duplicates?: DuplicatePolicy;
  /** FileStore fsync policy (default 'file'); with 'none' an index opened here also skips the per-commit WAL fsync. */
  readonly fsync?: FsyncPolicy;
  /** C-MOVE destinations (and Storage Commitment report addresses) by AE title. */
  readonly destinations?: Readonly<Record<string, RemoteAe>>;
  /** A server-role SecureContext: DICOM over TLS (PS3.15 B.1). */
  readonly tls?: SecureContext;
  readonly limits?: {
    /** Concurrent associations; one more is rejected 2/3/2. Default 64. */
    readonly maxAssociations?: number;
    /** Connections holding no association (TLS handshake, A-ASSOCIATE-RQ not yet sent); one more sheds the oldest. Default 256. */
    readonly maxPendingConnections?: number;
    /** Bytes those connections may have sent before their A-ASSOCIATE-RQs were complete; past it the oldest is shed. Default 16 MiB; 0 = no limit. */
    readonly maxPendingBytes?: number;
    /**
     * Our Maximum Length (largest P-DATA-TF accepted). Default 262144: fewer, larger PDUs per
     * instance (per-PDU work in both peers); one PDU is buffered per association while it arrives.
     */
    readonly maxPduLength?: number;
    /** Abort an association idle this long, ms. Default 60 000; 0 = never. */
    readonly idleTimeout?: number;
    /**
     * The most we allow in an Asynchronous Operations Window (PS3.7 D.3.3.3; 0 = unlimited).
     * Default `STORAGE_ASYNCHRONOUS_OPERATIONS` (16 invoked, 1 performed): a Storage SCU that
     * proposes a window may keep up to 16 C-STORE-RQs outstanding, their data sets streaming in
     * while the earlier ones are answered, in order; we send our own requests (C-GET
     * sub-operations) one at a time. `{ maxOperationsInvoked: 1, maxOperationsPerformed: 1 }`
     * answers every proposal synchronously.
     */
    readonly asynchronousOperations?: AsynchronousOperationsWindow;
    /** Request data sets held in memory (also while they arrive) by all associations before reading pauses; the most held is this plus one data set. Default 256 MiB; 0 = no limit. */
    readonly maxBufferedBytes?: number;
    /** The same per association. Default 64 MiB; 0 = no limit. */
    readonly maxBufferedBytesPerAssociation?: number;
    /** A TLS handshake not completed this long after the connection, ms: the connection is closed. Default: `artimTimeout`. */
    readonly handshakeTimeout?: number;
    /** The A-ASSOCIATE-RQ not received this long after connecting (over TLS: after the handshake), and the wait for an A-RELEASE-RP, ms (ARTIM, PS3.8 9.1.5). Default 30 000. */
    readonly artimTimeout?: number;
    /** The checks of an A-ASSOCIATE-RQ (calling AE titles, user identity, access rules) not answered this long, ms: refused 2/1/1 (rejected-transient) and its slot freed. Default: `artimTimeout`. */
    readonly negotiationTimeout?: number;
    /** A data set arriving into memory with no fragment this long, ms, while others wait for room in `maxBufferedBytes`: its association is aborted. Default 30 000; 0 = never. */
    readonly datasetStallTimeout?: number;
    /** Matches sent for one C-FIND; one more ends it with A700. Default 50 000; 0 = no limit. */
    readonly maxQueryMatches?: number;
    /** C-FINDs run at once; more wait their turn. Default 4. */
    readonly maxConcurrentQueries?: number;
    /** C-MOVE: connect, response and send timeout towards the destination, ms. Default 20 000. */
    readonly moveTimeout?: number;
    /** Bytes of a C-FIND, C-MOVE or C-GET identifier; a larger one is answered C000 (Unable to process). Default 64 KiB; 0 = no limit but the 64 MiB of any data set. */
    readonly maxIdentifierLength?: number;
    /** Bytes of a Storage Commitment request's Action Information; a larger one is answered 0213 (Resource limitation). Default 1 MiB; 0 = no limit but the 64 MiB of any data set. */
    readonly maxCommitmentRequestLength?: number;
  };
  /** Calling AE titles bound to TLS client certificates (rejected 1/1/3 on mismatch). */
  readonly certificateBindings?: readonly CertificateBinding[];
  readonly requireCertificateBinding?: boolean;
  /**
   * C-FIND Person Name matching ignores case (PS3.4 C.2.2.2.1 allows it): `doe*` finds `DOE^JOHN`.
   * Default true, as most archives do for a person typing a name; false matches exactly, as
   * DCMTK's dcmqrscp does.
   */
  readonly caseInsensitivePersonName?: boolean;
  /** Calling AE titles accepted; default any. */
  readonly callingAeTitles?: AcceptorPolicy['callingAeTitles'];
  /**
   * Who may echo, store, query and retrieve (acse/access-control.ts): rules, tried in order before
   * the defaults (a verified TLS certificate: everything; anyone else: echo and store), or your
   * own handler. Absent: no access control, every peer may do everything.
   */
  readonly access?: readonly AccessRule[] | AuthorizeHandler;
  /** Transfer syntaxes accepted for storage, in preference order; default: every known one, uncompressed first. */
  readonly transferSyntaxes?: readonly string[];
  /**
   * Accept any SOP class proposed that is not a known non-storage one (Verification, Q/R, the
   * normalized ones) as a storage SOP class: private and unknown (newer) classes, as Orthanc's
   * UnknownSopClassAccepted and dcm4che's --accept-unknown do. The retired and other storage
   * classes of the dictionary (RetiredStorageSopClass, OtherStorageSopClass) are accepted anyway;
   * the non-patient ones (NonPatientStorageSopClass) never are, with or without this option.
   * Default false.
   */
  readonly acceptUnknownSopClasses?: boolean;
  /** Modality Worklist source (PS3.4 K): matches for an identifier. */
  readonly worklist?: (identifier: NaturalDataset, signal: AbortSignal) => AsyncIterable<NaturalDataset> | Iterable<NaturalDataset>;
  /** Storage Commitment report path; default 'auto'. */
  readonly commitmentReport?: 'auto' | 'new-association';
  /**
   * Send the reports of Storage Commitment transactions accepted and never reported (by this
   * node: its requestor was unreachable, or it stopped first; or by another node sharing the
   * index) and idle for `staleAfter` ms (default 60 000), to the requesting AEs' addresses in
   * `destinations` (see `reportAbandonedCommitments`): at start, then every `interval` ms
   * (default 60 000), so a requestor that was down gets its report once it is back, without a
   * restart. `true`: the defaults. Default false.
   */
  readonly recoverCommitments?: boolean | { readonly interval?: number; readonly staleAfter?: number };
  /** Further DicomServer options (timeouts, user identity, …). */
  readonly server?: Omit<DicomServerOptions, 'aeTitle' | 'tls' | 'presentationContexts' | 'handlers' | 'maxAssociations' | 'maxPendingConnections' | 'maxPendingBytes' | 'maxPduLength' | 'certificateBindings' | 'asynchronousOperations' | 'maxBufferedBytes' | 'maxBufferedBytesPerAssociation'>;
}

const uncompressedFirst = [
  TransferSyntax.ExplicitVrLittleEndian,
  TransferSyntax.ImplicitVrLittleEndian,
  TransferSyntax.DeflatedExplicitVrLittleEndian,
  TransferSyntax.ExplicitVrBigEndian,
];
/** Every registered transfer syntax but the referenced-pixel-data ones (JPIP), uncompressed first. */
export const STORAGE_TRANSFER_SYNTAXES: readonly string[] = [
  ...uncompressedFirst,
  ...Object.values(TransferSyntax).filter((ts) => !(uncompressedFirst as string[]).includes(ts) && !/^1\.2\.840\.10008\.1\.2\.4\.(94|95|204|205)$/.test(ts)),
];

export interface StorageServerEvents {
  /** An instance was stored (complete file, indexed), or was already and is kept (`instance.duplicate`, keep-first). */
  stored: (instance: StoredInstance, association: Association) => void;
  /** An instance was refused or failed to store (the status answered is `error.status` for a StoreError). */
  storeFailed: (error: Error, request: CStoreRq, association: Association) => void;
}

/** StorageServer's default Asynchronous Operations Window limit (see `limits.asynchronousOperations`). */
export const STORAGE_ASYNCHRONOUS_OPERATIONS: AsynchronousOperationsWindow = Object.freeze({ maxOperationsInvoked: 16, maxOperationsPerformed: 1 });

/** StorageServer's default Maximum Length (see `limits.maxPduLength`). */
export const STORAGE_MAX_PDU_LENGTH = 262144;

/** What reporting abandoned commitments needs of the configuration. */
interface Recovery {
  readonly aeTitle: string;
  readonly destinations: Readonly<Record<string, RemoteAe>>;
}

export class StorageServer extends TypedEmitter<StorageServerEvents> {
  readonly server: DicomServer;
  readonly store: FileStore;
  readonly index: InstanceIndex;
  readonly #ownIndex: boolean;
  readonly #recovery: Recovery;
  #stopRecovery: (() => void) | undefined;
  /** The recovery pass under way, if any (passes never overlap; close waits for it). */
  #recoveryRun: Promise<void> | undefined;

  private constructor(server: DicomServer, store: FileStore, index: InstanceIndex, ownIndex: boolean, recovery: Recovery) {
    super((event, error) => publish(channelNames.server, { kind: 'listener-error', event, error }));
    this.server = server;
    this.store = store;
    this.index = index;
    this.#ownIndex = ownIndex;
    this.#recovery = recovery;
  }

  /** Open the store and index and build the server (call `listen` to start). */
  static async create(config: StorageServerConfig): Promise<StorageServer> {
    checkStorageServerConfig(config);
    if (typeof config.storeRoot !== 'string' || config.storeRoot === '') throw new InvalidOptionError('storeRoot', 'must be a directory path');
    const recovery = typeof config.recoverCommitments === 'object' && config.recoverCommitments !== null ? config.recoverCommitments : {};
    if (recovery.interval !== undefined && (!Number.isInteger(recovery.interval) || recovery.interval < 1)) {
      throw new InvalidOptionError('recoverCommitments', `interval must be an integer ≥ 1 (ms), got ${String(recovery.interval)}`);
    }
    // The acceptor compares called AE titles with these (PS3.5 AE); an empty or overlong one
    // would refuse every association 1/1/7 without saying why.
    const titles = typeof config.aeTitle === 'string' ? [config.aeTitle] : Array.isArray(config.aeTitle) ? config.aeTitle : [];
    if (titles.length === 0) throw new InvalidOptionError('aeTitle', 'must be an AE title or a non-empty list of them');
    for (const t of titles) checkAeTitle('aeTitle', t);
    await mkdir(config.storeRoot, { recursive: true });
    const given = config.index !== undefined && typeof config.index !== 'string';
    if (given && typeof (config.index as InstanceIndex).find !== 'function') throw new InvalidOptionError('index', 'must be a path or an InstanceIndex');
    const ownIndex = !given;
    const index = given ? (config.index as InstanceIndex) : new SqliteIndex((config.index as string | undefined) ?? join(config.storeRoot, '.index.sqlite'), { synchronous: config.fsync === 'none' ? 'normal' : 'full' });
    try {
      return await StorageServer.#build(config, index, ownIndex);
    } catch (error) {
      // A bad option (AE title, limits, policy) found after the index was opened here: do not
      // leave the SQLite file open behind a rejected create.
      if (ownIndex) await index.close();
      throw error;
    }
  }

  static async #build(config: StorageServerConfig, index: InstanceIndex, ownIndex: boolean): Promise<StorageServer> {
    const store = await FileStore.open({
      root: config.storeRoot, index, duplicates: config.duplicates ?? 'keep-first', fsync: config.fsync ?? 'file',
      ...(config.storage === undefined ? {} : { blobs: config.storage }),
    });
    // An index written by an older version is re-read from the files before anything is served.
    await reindexIfOutdated(store, index);
    const ts = config.transferSyntaxes ?? STORAGE_TRANSFER_SYNTAXES;
    const acceptUnknown = config.acceptUnknownSopClasses ?? false;
    if (typeof acceptUnknown !== 'boolean') throw new InvalidOptionError('acceptUnknownSopClasses', 'must be a boolean');
    const both = { scu: true, scp: true } as const;
    const supported: SupportedAbstractSyntax[] = [
      { abstractSyntax: VerificationSopClass },
      // Role selection answered for storage: a C-GET requestor may be the Storage SCP (PS3.4 C.4.3).
      ...ACCEPTED_STORAGE_SOP_CLASSES.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: ts, roles: both })),
      ...Object.values(QueryRetrieveSopClass)
        .filter((uid) => uid !== QueryRetrieveSopClass.ModalityWorklistInformationModelFind || config.worklist !== undefined)
        .map((abstractSyntax) => ({ abstractSyntax })),
      { abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel },
    ];
    const handlers = new HandlerRegistry();
    // The handler is built before the emitter exists: relay through a late-bound reference.
    let self: StorageServer | undefined;
    handlers.register(
      'C-STORE-RQ',
      storageHandler({
        store,
        onStored: (instance, context) => self?.emit('stored', instance, context.association),
        onFailed: (error, request, context) => self?.emit('storeFailed', error, request, context.association),
      }),
    );
    const caseInsensitivePersonName = config.caseInsensitivePersonName ?? true;
    if (typeof caseInsensitivePersonName !== 'boolean') throw new InvalidOptionError('caseInsensitivePersonName', 'must be a boolean');
    const limits = config.limits ?? {};
    const identifierLength = limits.maxIdentifierLength === undefined ? {} : { maxIdentifierLength: limits.maxIdentifierLength };
    handlers.register(
      'C-FIND-RQ',
      findHandler({
        index,
        match: { caseInsensitivePersonName },
        ...(config.worklist ? { worklist: config.worklist } : {}),
        ...(limits.maxQueryMatches === undefined ? {} : { maxMatches: limits.maxQueryMatches }),
        ...(limits.maxConcurrentQueries === undefined ? {} : { maxConcurrent: limits.maxConcurrentQueries }),
        ...identifierLength,
      }),
    );
    handlers.register('C-MOVE-RQ', moveHandler({ index, store, destinations: config.destinations ?? {}, ...(limits.moveTimeout === undefined ? {} : { timeout: limits.moveTimeout }), ...identifierLength }));
    handlers.register('C-GET-RQ', getHandler({ index, store, ...identifierLength }));
    handlers.register('N-ACTION-RQ', commitmentHandler({
      index, store, destinations: config.destinations ?? {}, report: config.commitmentReport ?? 'auto',
      ...(limits.maxCommitmentRequestLength === undefined ? {} : { maxRequestLength: limits.maxCommitmentRequestLength }),
    }));
    const server = new DicomServer({
      ...config.server,
      aeTitle: config.aeTitle as string | readonly string[],
      ...(config.tls === undefined ? {} : { tls: config.tls }),
      ...(config.callingAeTitles === undefined ? {} : { callingAeTitles: config.callingAeTitles }),
      ...(config.certificateBindings === undefined ? {} : { certificateBindings: config.certificateBindings }),
      ...(config.requireCertificateBinding === undefined ? {} : { requireCertificateBinding: config.requireCertificateBinding }),
      ...(config.access === undefined ? {} : { authorize: typeof config.access === 'function' ? config.access : accessRules(config.access) }),
      presentationContexts: {
        supported,
        ...(acceptUnknown ? { acceptAbstractSyntax: (uid: string) => !knownNonStorage.has(uid) && !isNonPatientStorageSopClass(uid), defaultTransferSyntaxes: ts } : {}),
      },
      handlers,
      maxAssociations: limits.maxAssociations ?? 64,
      ...(limits.maxPendingConnections === undefined ? {} : { maxPendingConnections: limits.maxPendingConnections }),
      ...(limits.maxPendingBytes === undefined ? {} : { maxPendingBytes: limits.maxPendingBytes }),
      maxPduLength: limits.maxPduLength ?? STORAGE_MAX_PDU_LENGTH,
      asynchronousOperations: limits.asynchronousOperations ?? STORAGE_ASYNCHRONOUS_OPERATIONS,
      ...(limits.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: limits.maxBufferedBytes }),
      ...(limits.maxBufferedBytesPerAssociation === undefined ? {} : { maxBufferedBytesPerAssociation: limits.maxBufferedBytesPerAssociation }),
      timeouts: {
        ...config.server?.timeouts,
        idle: limits.idleTimeout ?? 60_000,
        ...(limits.artimTimeout === undefined ? {} : { artim: limits.artimTimeout }),
        ...(limits.handshakeTimeout === undefined ? {} : { handshake: limits.handshakeTimeout }),
        ...(limits.negotiationTimeout === undefined ? {} : { negotiation: limits.negotiationTimeout }),
        ...(limits.datasetStallTimeout === undefined ? {} : { datasetStall: limits.datasetStallTimeout }),
      },
    });
    const aeTitle = typeof config.aeTitle === 'string' ? config.aeTitle : config.aeTitle[0]!;
    self = new StorageServer(server, store, index, ownIndex, { aeTitle, destinations: config.destinations ?? {} });
    if (config.recoverCommitments !== undefined && config.recoverCommitments !== false) {
      const { interval = 60_000, staleAfter } = config.recoverCommitments === true ? {} : config.recoverCommitments;
      // In the background: the server does not wait for requestors to answer before it serves.
      self.#startRecovery(interval, staleAfter);
    }
    return self;
  }

  listen(port: number | BoundPort = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    return this.server.listen(port, host);
  }

  get address(): AddressInfo | undefined {
    return this.server.address;
  }

  /**
   * Stop the server (see DicomServer.close), wait for the stores its associations left under way
   * to finish or clean up (at most `timeout` more), and close the index if it was opened here.
   */
  async close(options: { readonly timeout?: number } = {}): Promise<void> {
    this.#stopRecovery?.();
    await this.#recoveryRun;
    await this.server.close(options);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeout ?? 10_000)));
    await Promise.race([this.store.settled(), grace]);
    clearTimeout(timer);
    if (this.#ownIndex) await this.index.close();
  }

  /**
   * Report the Storage Commitment transactions accepted and never reported (by this node or
   * another sharing the index), idle for `staleAfter` ms (default 60 000), on new associations
   * to the requestors' addresses in `destinations`.
   */
  reportAbandonedCommitments(options: { readonly staleAfter?: number; readonly limit?: number } = {}): Promise<{ reported: string[]; failed: string[] }> {
    return reportAbandonedCommitments({ index: this.index, store: this.store, aeTitle: this.#recovery.aeTitle, destinations: this.#recovery.destinations, ...options });
  }

  #startRecovery(interval: number, staleAfter: number | undefined): void {
    let stopped = false;
    const pass = (): void => {
      if (stopped || this.#recoveryRun !== undefined) return;
      this.#recoveryRun = this.reportAbandonedCommitments(staleAfter === undefined ? {} : { staleAfter })
        .then(
          () => undefined,
          (error: unknown) => publish(channelNames.server, () => ({ kind: 'commitment-report-failed', transactionUid: '', error })),
        )
        .finally(() => (this.#recoveryRun = undefined));
    };
    const first = setImmediate(pass);
    // unref: a server that is otherwise done does not stay up for its next pass.
    const timer = setInterval(pass, interval).unref();
    this.#stopRecovery = () => {
      stopped = true;
      clearImmediate(first);
      clearInterval(timer);
    };
  }

  /** The stored copy of one SOP instance with its file, if indexed. */
  async storedInstance(sopInstanceUid: string): Promise<(StoredFile & { readonly path: string }) | undefined> {
    const stored = await this.index.findInstance(sopInstanceUid);
    return stored === undefined ? undefined : { ...stored, path: this.store.locationOf(stored.key) };
  }
}
