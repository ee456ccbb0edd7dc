/**
 * The seeds' four callbacks as TypeScript types (verify, password — in identity.ts —,
 * handshake information, client certificate) and the verify-mode flags. OpenSSL semantics:
 * see SSL_CTX_set_verify(3), SSL_CTX_set_info_callback(3), SSL_CTX_set_client_cert_cb(3).
 */
import type { X509Certificate } from 'node:crypto';
import type { AlertInfo } from './errors.js';
import type { IdentityOptions } from './identity.js';
import type { SecureSocket } from './socket.js';
import type { TlsRole } from './context.js';

/** SSL_VERIFY_* flags (ssl.h), as the seeds name them. */
export const VerifyMode = { None: 0x00, Peer: 0x01, FailIfNoPeerCert: 0x02, ClientOnce: 0x04 } as const;

export interface VerifyContext {
  readonly depth: number;
  readonly errorName: string;
  readonly role: TlsRole;
  readonly certificate: X509Certificate;
  readonly der: Buffer;
  readonly socket: SecureSocket;
  /**
   * The chain OpenSSL has built so far (X509_STORE_CTX_get0_chain), the peer's certificate first,
   * up to the trust anchor once found. Readable only while the callback runs.
   */
  readonly chain: readonly X509Certificate[];
  readonly chainDer: readonly Buffer[];
  /** The certificates the peer sent, its own first (X509_STORE_CTX_get0_untrusted). Only while the callback runs. */
  readonly peerCertificates: readonly X509Certificate[];
  readonly peerCertificatesDer: readonly Buffer[];
}
/** Return 0 = stop (alert sent, handshake fails), 1 = continue, or `ok` for the default. */
export type VerifyCallback = (ok: 0 | 1, certificateString: string, error: number, errorString: string,
  context: VerifyContext) => number;
export interface InfoEvent {
  readonly where: number; readonly state: string; readonly ret: number;
  readonly loop: boolean; readonly exit: boolean; readonly read: boolean; readonly write: boolean;
  readonly alert: boolean; readonly handshakeStart: boolean; readonly handshakeDone: boolean;
  readonly side: 'connect' | 'accept' | undefined;
  /** The key-exchange group once the hello messages have chosen it (e.g. 'X25519MLKEM768'), else undefined. */
  readonly group: string | undefined;
  readonly alertInfo?: AlertInfo;
}
export type InfoCallback = (event: InfoEvent, socket: SecureSocket) => void;
export interface ClientCertificateRequest {
  readonly acceptableIssuers: string[];
  readonly acceptableIssuersDer: Buffer[];
  readonly socket: SecureSocket;
}
export type ClientCertificateCallback = (req: ClientCertificateRequest) => IdentityOptions | undefined;

