// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';

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
  TlsHandshakeError, TlsError, TlsConfigurationError, UnknownProfileError, UnableToReadPrivateKeyError,
  UnableToReadCertificateError, KeyMismatchError, TrustStoreError, PkiError, sslErrorTable,
  type VerifyFailure, type AlertInfo,
} from './transport/tls/errors.js';
export { certificateStringFromDer } from './transport/tls/certificate-string.js';
export { X509VerifyError, x509ErrorName, x509ErrorText, x509ErrorHint } from './transport/tls/x509-errors.js';
export {
  createCertificateAuthority, createNodeCertificate, writePkcs12,
  type CertificateAuthorityOptions, type NodeCertificateOptions, type GeneratedCertificate, type Pkcs12Options,
} from './transport/tls/pki.js';
export { opensslVersion, type OpenSslErrorEntry } from './transport/tls/openssl/lib.js';
