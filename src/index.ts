// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';
// Association negotiation (PS3.7 Annex D.3, PS3.8 7.1). Explicit lists: the transfer syntax
// constants and UID/AE-title checks used inside acse/ stay internal (the dictionary owns UIDs).
export {
  AssociationRejectedError,
  NoAcceptedContextError,
  NegotiationError,
  IdentityChecksBusyError,
  InvalidAssociateRequestError,
  describeRejection,
  rejectResultNames,
  rejectSourceNames,
  rejectReasonNames,
} from './acse/errors.js';
export {
  AcceptedContexts,
  buildPresentationContexts,
  answerPresentationContexts,
  interpretPresentationContexts,
  supportedTransferSyntaxes,
  presentationContextResultNames,
  MAX_PRESENTATION_CONTEXTS,
  DEFAULT_TRANSFER_SYNTAXES,
} from './acse/presentation-context.js';
export type {
  RequestedContext,
  SupportedAbstractSyntax,
  PresentationContextPolicy,
  AcceptedContext,
  RejectedContext,
  ContextSelection,
} from './acse/presentation-context.js';
export {
  DEFAULT_ROLES,
  buildRoleSelectionItems,
  answerRoleSelection,
  negotiatedRoles,
  roleOutcomes,
} from './acse/role-selection.js';
export type { NegotiatedRoles, RoleProposal, RoleSelectionPolicy, RoleOutcomes } from './acse/role-selection.js';
export {
  buildUserIdentityRq,
  decodeUserIdentityRq,
  evaluateUserIdentity,
  interpretUserIdentityAc,
  USER_IDENTITY_REJECTION,
} from './acse/user-identity.js';
export type {
  UserIdentityTypeName,
  UserIdentityRequest,
  ReceivedUserIdentity,
  UserIdentityContext,
  UserIdentityDecision,
  UserIdentityHandler,
  UserIdentityOutcome,
  UserIdentityResult,
} from './acse/user-identity.js';
export {
  answerSopClassExtended,
  acceptViaCommonExtended,
  interpretSopClassExtended,
} from './acse/extended-negotiation.js';
export type {
  ExtendedNegotiationContext,
  SopClassExtendedHandler,
  SopClassCommonExtendedHandler,
} from './acse/extended-negotiation.js';
export {
  answerAsynchronousOperations,
  acceptorOperations,
  requestorOperations,
  SYNCHRONOUS_OPERATIONS,
} from './acse/asynchronous-operations.js';
export type { AsynchronousOperations, AsynchronousOperationsWindow } from './acse/asynchronous-operations.js';
export { certificateMatches, checkCertificateBinding } from './acse/certificate-binding.js';
export type { CertificateIdentity, CertificateBinding } from './acse/certificate-binding.js';
export { accessRules, checkAccessRules, permissionForContext, permissionForRequest, DEFAULT_ACCESS_RULES, PERMISSIONS } from './acse/access-control.js';
export type { AccessDecision, AccessPeer, AccessRule, AuthorizeHandler, Permission } from './acse/access-control.js';
export { hashPassword, verifyPassword, parsePasswordFile, formatPasswordFile, passwordFileVerifier } from './ae/user-credentials.js';
export { throttleUserIdentity, type IdentityThrottleOptions } from './acse/identity-throttle.js';
export {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  DEFAULT_MAXIMUM_LENGTH,
  negotiateAssociation,
  isRejected,
  tooManyAssociationsRejection,
  temporaryCongestionRejection,
  buildAssociateRq,
  interpretAssociateAc,
  associationRejectedError,
} from './acse/negotiate.js';
export type {
  AcceptorContext,
  AcceptorPolicy,
  AcceptedAssociation,
  RejectedAssociation,
  AssociateRqOptions,
  NegotiatedAssociation,
} from './acse/negotiate.js';
export { PduDecodeError, PduTooLargeError, PduEncodeError, type AbortReasonCode } from './ul/errors.js';
export { encodePdu, encodePduParts } from './ul/pdu/encode.js';
export { decodePdu, isKnownPduType } from './ul/pdu/decode.js';
export { PduReader, type PduReaderOptions } from './ul/pdu/pdu-reader.js';
export { sniffTransport, type SniffedTransport } from './ul/pdu/sniff.js';
export * from './dictionary/uids.js';
export * from './dictionary/command-field.js';
export * from './dictionary/status.js';
export * from './dimse/errors.js';
export { CommandElement, encodeCommandSet, decodeCommandSet, MAX_COMMAND_SET_LENGTH } from './dimse/command-set.js';
export type { CommandSetElements, CommandElementKeyword } from './dimse/command-set.js';
export * from './dimse/messages.js';
export * from './dimse/fragmenter.js';
export * from './dimse/assembler.js';
export * from './dataset/index.js';
export * from './dataset/part10.js';
export * from './store/errors.js';
export { FileStore, duplicatePolicies, fsyncPolicies } from './store/file-store.js';
export type { DuplicatePolicy, FsyncPolicy, FileStoreOptions, ReconciledFile, StoreRequestMeta, StoredInstance } from './store/file-store.js';
export { IndexDb } from './store/index-db.js';
export type { IndexDbOptions } from './store/index-db.js';
export { SqliteIndex } from './store/sqlite-index.js';
export type { SqliteIndexOptions } from './store/sqlite-index.js';
export { PostgresIndex } from './store/postgres-index.js';
export type { PostgresIndexOptions } from './store/postgres-index.js';
export type {
  InstanceIndex, InstanceRecord, PendingEntry, StoredFile, RetrieveInstance, IndexStatistics, CommitmentReference, CommitmentState, Unlock,
} from './store/instance-index.js';
export type { InstanceFiles } from './store/file-store.js';
export { LocalBlobStore } from './store/blob/local.js';
export type { LocalBlobStoreOptions } from './store/blob/local.js';
export { S3BlobStore } from './store/blob/s3.js';
export type { S3BlobStoreOptions } from './store/blob/s3.js';
export type { BlobStore, BlobInfo, BlobStream, ByteRange, IncompleteBlob, PutOptions } from './store/blob/blob-store.js';
export { openBlobStore, parseStorageUrl } from './store/blob/open.js';
export type { StorageConfig, StorageTarget } from './store/blob/open.js';
export { openStoredDataset } from './store/blob/read.js';
export type { StoredDataset } from './store/blob/read.js';
export { checkStore } from './store/check.js';
export type { StoreCheckFinding, StoreCheckOptions, StoreCheckReport } from './store/check.js';
export { findMatches, instancesFor, queryLevels, informationModels } from './store/query.js';
export type { QueryLevel, InformationModel, FindOptions, NaturalizedDataset, NaturalizedValue } from './store/query.js';
// Application entities: client (SCU), server (SCP), the association and its DIMSE exchange.
export { DicomClient, DEFAULT_CLIENT_CONTEXTS } from './ae/client.js';
export type { DicomClientOptions, ClientTimeouts } from './ae/client.js';
export { DicomServer } from './ae/server.js';
export type { DicomServerOptions, DicomServerEvents, ServerTimeouts, HandshakeFailure, AssociationRejection } from './ae/server.js';
export { Association, PendingRequest, responseFor } from './ae/association.js';
export type {
  AssociationInfo,
  AssociationOptions,
  AssociationEvents,
  RequestCommand,
  RequestOptions,
  DimseResponseMessage,
} from './ae/association.js';
export {
  ConnectionRefusedError,
  ConnectionError,
  UnexpectedResponseError,
  ResponseMismatchError,
  HandlerAlreadyRegisteredError,
  DimseStatusError,
  MessageIdsExhaustedError,
  OperationsWindowExceededError,
  DatasetStalledError,
  HandlerStalledError,
  PendingConnectionLimitError,
} from './ae/errors.js';
export { BufferBudget } from './ae/buffer-budget.js';
export { TransportMismatchError, AssociationAbortedError, AssociationClosedError } from './ul/upper-layer-errors.js';
export { HandlerRegistry } from './services/scp/registry.js';
export type { DimseHandler, RequestName, ResponseFields, RequestContext, HandleContext } from './services/scp/registry.js';
export type { DatasetLimit } from './ae/dataset-limit.js';
export { verificationHandler } from './services/scp/verification.js';
export { echo } from './services/scu/echo.js';
// Services (PS3.4): storage, query/retrieve, storage commitment, DIMSE-N; the storing server.
export { storeInstances, storageContextsFor, part10StreamSource, contextFor, listFiles, DEFAULT_STORE_WINDOW } from './services/scu/store.js';
export { planStorageAssociations, type StoragePlan } from './services/scu/store-plan.js';
export type { StoreSource, StoreOptions, StoreResult, StoreProgress, DatasetStreamSource } from './services/scu/store.js';
export { find as cFind, findEncoded as cFindEncoded, queryModels, sopClassFor } from './services/scu/find.js';
export type { FindOptions as FindRequestOptions, QueryModelName, EncodedMatch } from './services/scu/find.js';
export {
  move as cMove, get as cGet, getContexts, COMMON_STORAGE_SOP_CLASSES, FURTHER_STORAGE_SOP_CLASSES,
  RETRIEVE_UNCOMPRESSED_TRANSFER_SYNTAXES, RETRIEVE_COMPRESSED_TRANSFER_SYNTAXES, type GetContextsOptions,
} from './services/scu/retrieve.js';
export type { RetrieveOptions, RetrieveProgress, RetrieveResult, GetOptions } from './services/scu/retrieve.js';
export { nEventReport, nGet, nSet, nAction, nCreate, nDelete } from './services/scu/n-services.js';
export type { NResult, NOptions, NInstance } from './services/scu/n-services.js';
export { CommitmentReceiver, requestStorageCommitment, parseCommitmentReport, newTransactionUid } from './services/scu/commitment.js';
export type { SopReference, CommitmentReport } from './services/scu/commitment.js';
export { storageHandler } from './services/scp/storage.js';
export type { StorageHandlerOptions, ReceivedInstance } from './services/scp/storage.js';
export { findHandler, moveHandler, getHandler, lookupAe, DEFAULT_MAX_IDENTIFIER_LENGTH } from './services/scp/query-retrieve.js';
export type { RemoteAe, FindHandlerOptions, MoveHandlerOptions, RetrieveHandlerOptions } from './services/scp/query-retrieve.js';
export { commitmentHandler, reportAbandonedCommitments, DEFAULT_MAX_COMMITMENT_REQUEST_LENGTH } from './services/scp/commitment.js';
export type { CommitmentHandlerOptions, CommitmentRecoveryOptions } from './services/scp/commitment.js';
export { StorageServer, ACCEPTED_STORAGE_SOP_CLASSES, STORAGE_TRANSFER_SYNTAXES, STORAGE_MAX_PDU_LENGTH, STORAGE_ASYNCHRONOUS_OPERATIONS } from './services/scp/storage-server.js';
export type { StorageServerConfig } from './services/scp/storage-server.js';
export { warmUpStoragePath } from './services/scp/warm-up.js';
export type { WarmUpOptions, WarmUpReport } from './services/scp/warm-up.js';

// Transport: plain TCP and the TLS layer (OpenSSL through koffi).
export { connectTcp, listenTcp, tcpConnection, type TcpListener } from './transport/tcp.js';
export {
  SecureContext, VerifyMode,
  type SecureContextOptions, type TlsRole, type VerifyCallback, type VerifyContext, type InfoCallback,
  type InfoEvent, type ClientCertificateCallback, type ClientCertificateRequest,
} from './transport/tls/context.js';
export type { Source, IdentityOptions, PasswordCallback } from './transport/tls/identity.js';
export { SecureSocket, type SecureSocketOptions, type SecureConnectOptions } from './transport/tls/socket.js';
export { SecureServer, createSecureServer, type SecureServerOptions } from './transport/tls/server.js';
export { profiles, defaultProfile, resolveProfile, type ProfileName, type ProfileDefinition, type ProtocolName } from './transport/tls/profiles.js';
export {
  TlsHandshakeError, HybridGroupRequiredError, TlsError, TlsConfigurationError, UnknownProfileError, UnableToReadPrivateKeyError,
  UnableToReadCertificateError, KeyMismatchError, TrustStoreError, PkiError, UnsupportedRuntimeError, sslErrorTable,
  type VerifyFailure, type AlertInfo,
} from './transport/tls/errors.js';
export { certificateStringFromDer } from './transport/tls/certificate-string.js';
export { HYBRID_GROUPS, availableHybridGroups, defaultGroups } from './transport/tls/groups.js';
export { X509VerifyError, x509ErrorName, x509ErrorText, x509ErrorHint } from './transport/tls/x509-errors.js';
export {
  createCertificateAuthority, createNodeCertificate, writePkcs12,
  type CertificateAuthorityOptions, type NodeCertificateOptions, type GeneratedCertificate, type Pkcs12Options,
} from './transport/tls/pki.js';
export { opensslVersion, type OpenSslErrorEntry } from './transport/tls/openssl/lib.js';
export { AuditTrail } from './audit/trail.js';
export type { AuditTrailOptions } from './audit/trail.js';
export { AuditSender, parseAuditUrl } from './audit/sender.js';
export type { AuditSenderOptions, AuditTarget } from './audit/sender.js';
export { AuditQueue } from './audit/queue.js';
export type { AuditQueueOptions } from './audit/queue.js';
export { auditMessageToXml } from './audit/message.js';
export type { AuditMessage, ActiveParticipant, ParticipantObject } from './audit/message.js';
export * as auditCodes from './audit/codes.js';
export {
  applicationActivity, securityAlert, userAuthentication, instancesTransferred, beginTransferring, instancesAccessed, associationEvent, query as auditQuery,
} from './audit/events.js';
export { syslogMessage, octetCounted, splitOctetCounted } from './audit/syslog.js';
