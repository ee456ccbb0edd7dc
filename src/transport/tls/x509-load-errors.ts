/**
 * Typed errors for reading certificates, keys, trust anchors and CRLs. The engine's errors.ts
 * re-exports these so callers see one error surface for the TLS layer. Each keeps OpenSSL's
 * error queue entries (`openssl`) that explain the failure, and says the cause in one sentence.
 */
import { DicomError } from '../../errors.js';
import type { OpenSslErrorEntry } from './openssl/lib.js';

function withReason(message: string, openssl: readonly OpenSslErrorEntry[]): string {
  const reasons = [...new Set(openssl.map((e) => e.reason).filter((r): r is string => !!r))];
  return reasons.length > 0 ? `${message} (OpenSSL: ${reasons.join('; ')})` : message;
}

/** The private key could not be read: wrong or missing password, bad format, unreadable file. */
export class UnableToReadPrivateKeyError extends DicomError {
  readonly openssl: readonly OpenSslErrorEntry[];
  /** 'wrong-password' | 'missing-password' | 'password-too-long' | 'unreadable' | 'not-a-key' */
  readonly reason: 'wrong-password' | 'missing-password' | 'password-too-long' | 'unreadable' | 'not-a-key';
  constructor(reason: UnableToReadPrivateKeyError['reason'], message: string,
    openssl: readonly OpenSslErrorEntry[] = [], options?: { cause?: unknown }) {
    super('DICOM_TLS_ERR_PRIVATE_KEY', withReason(`unable to read private key: ${message}`, openssl), options);
    this.reason = reason;
    this.openssl = openssl;
  }
}

/** The private key does not belong to the certificate (X509_check_private_key failed). */
export class KeyMismatchError extends DicomError {
  readonly openssl: readonly OpenSslErrorEntry[];
  constructor(message: string, openssl: readonly OpenSslErrorEntry[] = []) {
    super('DICOM_TLS_ERR_KEY_MISMATCH', withReason(message, openssl));
    this.openssl = openssl;
  }
}

/** A certificate (own identity or chain) could not be read. */
export class UnableToReadCertificateError extends DicomError {
  readonly openssl: readonly OpenSslErrorEntry[];
  constructor(message: string, openssl: readonly OpenSslErrorEntry[] = [], options?: { cause?: unknown }) {
    super('DICOM_TLS_ERR_CERTIFICATE', withReason(`unable to read certificate: ${message}`, openssl), options);
    this.openssl = openssl;
  }
}

/** A trust anchor (CA file, directory, buffer) or a CRL could not be loaded. */
export class TrustStoreError extends DicomError {
  readonly openssl: readonly OpenSslErrorEntry[];
  /** Which input failed: 'ca' or 'crl' (or 'systemRoots'). */
  readonly source: 'ca' | 'crl' | 'systemRoots';
  constructor(source: TrustStoreError['source'], message: string,
    openssl: readonly OpenSslErrorEntry[] = [], options?: { cause?: unknown }) {
    super('DICOM_TLS_ERR_TRUST', withReason(message, openssl), options);
    this.source = source;
    this.openssl = openssl;
  }
}

/** Building a certificate in pki.ts failed inside OpenSSL (not expected with valid options). */
export class PkiError extends DicomError {
  readonly openssl: readonly OpenSslErrorEntry[];
  constructor(message: string, openssl: readonly OpenSslErrorEntry[] = []) {
    super('DICOM_TLS_ERR_PKI', withReason(message, openssl));
    this.openssl = openssl;
  }
}
