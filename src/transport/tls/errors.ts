/**
 * Errors of the TLS layer. All extend DicomError (stable `code`, kept `cause`).
 * OpenSSL's SSL_get_error space is mapped in ONE table: `sslErrorTable`.
 */
import { DicomError } from '../../errors.js';
import type { OpenSslErrorEntry } from './openssl/lib.js';

/** SSL_get_error results (ssl.h, OpenSSL 3.0) with their names and a plain meaning. */
export const sslErrorTable = {
  0: { name: 'SSL_ERROR_NONE', meaning: 'no error' },
  1: { name: 'SSL_ERROR_SSL', meaning: 'a TLS protocol or library failure' },
  2: { name: 'SSL_ERROR_WANT_READ', meaning: 'more data from the peer is needed' },
  3: { name: 'SSL_ERROR_WANT_WRITE', meaning: 'data must be sent to the peer first' },
  4: { name: 'SSL_ERROR_WANT_X509_LOOKUP', meaning: 'a certificate callback asked to be called again' },
  5: { name: 'SSL_ERROR_SYSCALL', meaning: 'the connection ended unexpectedly' },
  6: { name: 'SSL_ERROR_ZERO_RETURN', meaning: 'the peer closed the TLS connection (close_notify)' },
  7: { name: 'SSL_ERROR_WANT_CONNECT', meaning: 'connect pending' },
  8: { name: 'SSL_ERROR_WANT_ACCEPT', meaning: 'accept pending' },
  9: { name: 'SSL_ERROR_WANT_ASYNC', meaning: 'asynchronous engine pending' },
  10: { name: 'SSL_ERROR_WANT_ASYNC_JOB', meaning: 'no asynchronous job available' },
  11: { name: 'SSL_ERROR_WANT_CLIENT_HELLO_CB', meaning: 'client hello callback pending' },
  12: { name: 'SSL_ERROR_WANT_RETRY_VERIFY', meaning: 'verification must be retried' },
} as const satisfies Record<number, { name: string; meaning: string }>;

/**
 * TLS alert descriptions OpenSSL 3.0's SSL_alert_desc_string_long calls "unknown" (RFC 8446 §6,
 * RFC 7301 §3.2); used as a fallback.
 */
export const alertDescriptions: Readonly<Record<number, string>> = {
  109: 'missing extension', 115: 'unknown PSK identity', 116: 'certificate required',
  120: 'no application protocol',
};

export const SslError = {
  None: 0, Ssl: 1, WantRead: 2, WantWrite: 3, WantX509Lookup: 4, Syscall: 5, ZeroReturn: 6,
} as const;

export function sslErrorName(code: number): string {
  return (sslErrorTable as Record<number, { name: string }>)[code]?.name ?? `SSL_ERROR_${code}`;
}

export interface VerifyFailure {
  readonly depth: number;
  readonly error: number;
  readonly errorName: string;
  readonly errorString: string;
  readonly certificateString: string;
  /** True when OpenSSL had accepted the certificate and the verify callback refused it. */
  readonly refusedByCallback?: boolean;
  /** More on why, when OpenSSL's text is short: e.g. the key size a security level refused. */
  readonly detail?: string;
  /** SHA-256 fingerprint of the refused certificate (colon-separated hex), for audit records. */
  readonly fingerprint256?: string | undefined;
}
export interface AlertInfo {
  readonly level: 'warning' | 'fatal';
  readonly description: string;
  readonly code: number;
  readonly direction: 'read' | 'write';
}

type HandshakeInit = {
  verifyFailure?: VerifyFailure | undefined; alert?: AlertInfo | undefined;
  openssl?: readonly OpenSslErrorEntry[]; sslError?: number; cause?: unknown; message?: string;
  /** A server refusing the client's version: the highest the client offered, and our minimum. */
  peerVersion?: { offered: string; minimum: string } | undefined;
};

/** The TLS handshake failed. The message says in one sentence what failed. */
export class TlsHandshakeError extends DicomError {
  readonly verifyFailure: VerifyFailure | undefined;
  readonly alert: AlertInfo | undefined;
  readonly openssl: readonly OpenSslErrorEntry[];
  readonly sslError: number | undefined;
  /** A server that refused the client's protocol version: the highest version the client offered ('TLSv1', 'TLSv1.1'). */
  readonly peerVersion: string | undefined;
  constructor(init: HandshakeInit, code = 'DICOM_TLS_ERR_HANDSHAKE') {
    super(code, init.message ?? handshakeMessage(init), { cause: init.cause });
    this.peerVersion = init.peerVersion?.offered;
    this.verifyFailure = init.verifyFailure;
    this.alert = init.alert;
    this.openssl = init.openssl ?? [];
    this.sslError = init.sslError;
  }
}

/**
 * The context requires a hybrid post-quantum key exchange (`requireHybridGroup`) and the handshake
 * failed the way a peer without one fails it: no common group (handshake_failure) or no TLS 1.3
 * (protocol_version). `offered` lists the groups we had.
 */
export class HybridGroupRequiredError extends TlsHandshakeError {
  readonly offered: readonly string[];
  constructor(init: HandshakeInit, offered: readonly string[]) {
    const base = new TlsHandshakeError(init).message.replace(/^TLS handshake failed: /, '');
    super({ ...init, message: `TLS handshake failed: no hybrid post-quantum key exchange with the peer, which this connection requires (requireHybridGroup; offered ${offered.join(', ')}): ${base}` },
      'DICOM_TLS_ERR_NO_HYBRID_GROUP');
    this.offered = offered;
  }
}

function handshakeMessage(init: {
  verifyFailure?: VerifyFailure | undefined; alert?: AlertInfo | undefined;
  openssl?: readonly OpenSslErrorEntry[]; sslError?: number; cause?: unknown;
  peerVersion?: { offered: string; minimum: string } | undefined;
}): string {
  if (init.cause !== undefined) {
    const m = init.cause instanceof Error ? init.cause.message : String(init.cause);
    return `TLS handshake failed: a callback threw: ${m}`;
  }
  const v = init.verifyFailure;
  if (v?.refusedByCallback === true) {
    const subject = /^Subject Name: (.*)$/m.exec(v.certificateString)?.[1];
    return `TLS handshake failed: the verify callback refused the certificate at depth ${v.depth}${subject !== undefined ? ` (${subject})` : ''}, which OpenSSL had accepted (${v.errorName})`;
  }
  if (v !== undefined) {
    return `TLS handshake failed: certificate verify failed at depth ${v.depth}: ${v.errorString} (${v.errorName})${v.detail === undefined ? '' : `: ${v.detail}`}`;
  }
  const a = init.alert;
  const first = init.openssl?.[0];
  if (a !== undefined) {
    const alert = `the ${a.level} alert "${a.description}" (${a.code})`;
    if (a.direction === 'read') return `TLS handshake failed: the peer sent ${alert}`;
    const v = init.peerVersion;
    const reason = first?.reason !== undefined && v !== undefined ? `${first.reason}: the peer offered ${v.offered} at most, below this side's minimum (${v.minimum})` : first?.reason;
    return reason !== undefined ? `TLS handshake failed: ${reason}; we sent ${alert}` : `TLS handshake failed: we sent ${alert}`;
  }
  if (first !== undefined) return `TLS handshake failed: ${first.reason ?? first.text}`;
  if (init.sslError === SslError.Syscall || init.sslError === SslError.ZeroReturn) {
    return 'TLS handshake failed: the peer closed the connection during the handshake';
  }
  return `TLS handshake failed (${sslErrorName(init.sslError ?? 0)})`;
}

/** A TLS failure after the handshake (SSL_read/SSL_write/SSL_shutdown), or on the socket. */
export class TlsError extends DicomError {
  readonly sslError: number | undefined;
  readonly openssl: readonly OpenSslErrorEntry[];
  /** The fatal alert that ended the connection, when one did (TLS 1.3: a peer refusing our certificate after our Finished). */
  readonly alert: AlertInfo | undefined;
  constructor(message: string, init: { sslError?: number; openssl?: readonly OpenSslErrorEntry[]; alert?: AlertInfo | undefined; cause?: unknown } = {}) {
    super('DICOM_TLS_ERR_IO', message, { cause: init.cause });
    this.sslError = init.sslError;
    this.openssl = init.openssl ?? [];
    this.alert = init.alert;
  }
}

// Reading certificates, keys, trust anchors and CRLs: the x509 module's typed errors, re-exported
// so the TLS layer has one error surface.
export {
  UnableToReadPrivateKeyError, UnableToReadCertificateError, KeyMismatchError, TrustStoreError, PkiError,
} from './x509-load-errors.js';

/** An unknown security profile, or a legacy one without `allowLegacyProfiles`. */
export class UnknownProfileError extends DicomError {
  readonly profile: string;
  constructor(profile: string, message: string) {
    super('DICOM_TLS_ERR_PROFILE', message);
    this.profile = profile;
  }
}

/** A context option OpenSSL refused (cipher list, protocol range, CA file, ALPN …). */
export class TlsConfigurationError extends DicomError {
  readonly option: string;
  readonly openssl: readonly OpenSslErrorEntry[];
  constructor(option: string, message: string, init: { openssl?: readonly OpenSslErrorEntry[] } = {}) {
    super('DICOM_TLS_ERR_CONFIG', `${option}: ${message}`);
    this.option = option;
    this.openssl = init.openssl ?? [];
  }
}

/**
 * This runtime cannot run the TLS engine: koffi has no build for the platform, the OpenSSL that
 * Node links is older than 3.0, or the process lacks OpenSSL functions the engine binds.
 * Thrown by the first TLS call (binding is lazy), once per process, naming all that is missing.
 */
export class UnsupportedRuntimeError extends DicomError {
  /** e.g. "Node v24.22.3 (linux-x64, OpenSSL 3.5.9)". */
  readonly runtime: string;
  /** What is missing: OpenSSL function names, or what stands for the version or koffi. */
  readonly missing: readonly string[];
  constructor(runtime: string, missing: readonly string[], cause?: unknown) {
    super('DICOM_TLS_ERR_UNSUPPORTED_RUNTIME', `TLS cannot run on ${runtime}: it lacks ${missing.join(', ')}`, { cause });
    this.runtime = runtime;
    this.missing = missing;
  }
}
