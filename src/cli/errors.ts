/**
 * How the command line turns any failure into one plain sentence, the typed code, and an exit
 * code scripts can trust. The table below is THE documentation of exit codes (printed by
 * `dicom-tls --help exit-codes`); each error class has its own number.
 *
 * Classification is by the stable `code` of DicomError (never by message text), so this module
 * imports nothing heavy and runs before any command module is loaded.
 */
import { DicomError } from '../errors.js';

/** Exit codes, one per error class. Values never change between releases. */
export const ExitCode = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  File: 3,
  Password: 4,
  Certificate: 5,
  UnknownHost: 6,
  ConnectionRefused: 7,
  Connection: 8,
  Timeout: 9,
  PeerCertificateRejected: 10,
  HandshakeFailed: 11,
  TransportMismatch: 12,
  AssociationRejected: 13,
  AssociationAborted: 14,
  DimseFailure: 15,
  PartialFailure: 16,
  Unavailable: 17,
  Storage: 18,
  Interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The documented table: exit code, class, what it means, codes that map to it. */
export const exitCodeTable: ReadonlyArray<{ exit: ExitCodeValue; meaning: string; codes: readonly string[] }> = [
  { exit: ExitCode.Ok, meaning: 'success (diagnose: no problem found)', codes: [] },
  { exit: ExitCode.Internal, meaning: 'unexpected internal error (a bug: run with --verbose and report it)', codes: [] },
  { exit: ExitCode.Usage, meaning: 'bad command line or configuration option', codes: ['DICOM_ERR_USAGE', 'DICOM_ERR_INVALID_OPTION'] },
  { exit: ExitCode.File, meaning: 'a file or directory could not be read or written', codes: ['DICOM_ERR_FILE'] },
  { exit: ExitCode.Password, meaning: 'private key unreadable: wrong or missing password', codes: ['DICOM_TLS_ERR_PRIVATE_KEY', 'DICOM_ERR_PASSWORD'] },
  { exit: ExitCode.Certificate, meaning: 'own certificate, CA, CRL or TLS settings unusable', codes: ['DICOM_TLS_ERR_CERTIFICATE', 'DICOM_TLS_ERR_KEY_MISMATCH', 'DICOM_TLS_ERR_TRUST', 'DICOM_TLS_ERR_PROFILE', 'DICOM_TLS_ERR_CONFIG', 'DICOM_TLS_ERR_PKI'] },
  { exit: ExitCode.UnknownHost, meaning: 'the host name does not resolve', codes: ['DICOM_ERR_UNKNOWN_HOST'] },
  { exit: ExitCode.ConnectionRefused, meaning: 'nothing listens on that port (connection refused)', codes: ['DICOM_ERR_CONNECTION_REFUSED'] },
  { exit: ExitCode.Connection, meaning: 'the connection failed or broke (unreachable, reset, TLS I/O)', codes: ['DICOM_ERR_CONNECTION', 'DICOM_TLS_ERR_IO'] },
  { exit: ExitCode.Timeout, meaning: 'a timer ran out (connect, association, DIMSE)', codes: ['DICOM_ERR_TIMEOUT'] },
  { exit: ExitCode.PeerCertificateRejected, meaning: "we rejected the peer's certificate (TLS verify failed on our side)", codes: ['DICOM_TLS_ERR_PEER_CERTIFICATE'] },
  { exit: ExitCode.HandshakeFailed, meaning: 'the TLS handshake failed otherwise (the peer refused us, no common protocol or cipher)', codes: ['DICOM_TLS_ERR_HANDSHAKE'] },
  { exit: ExitCode.TransportMismatch, meaning: 'TLS/plain mismatch, or the peer does not speak DICOM', codes: ['DICOM_ERR_UL_TLS_ON_PLAIN_PORT', 'DICOM_ERR_UL_TRANSPORT_MISMATCH', 'DICOM_ERR_UL_NOT_DICOM'] },
  { exit: ExitCode.AssociationRejected, meaning: 'the association was rejected or nothing useful was accepted', codes: ['DICOM_ERR_ASSOCIATION_REJECTED', 'DICOM_ERR_NO_ACCEPTED_CONTEXT', 'DICOM_ERR_NEGOTIATION'] },
  { exit: ExitCode.AssociationAborted, meaning: 'the association was aborted or the peer broke the protocol', codes: ['DICOM_ERR_ASSOCIATION_ABORTED', 'DICOM_ERR_ASSOCIATION_CLOSED', 'DICOM_ERR_PDU_MALFORMED', 'DICOM_ERR_PDU_TOO_LARGE', 'DICOM_ERR_DIMSE_PROTOCOL', 'DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE'] },
  { exit: ExitCode.DimseFailure, meaning: 'the peer answered a request with a failure status', codes: ['DICOM_ERR_DIMSE_STATUS'] },
  { exit: ExitCode.PartialFailure, meaning: 'some items failed (e.g. store: some files were not stored)', codes: ['DICOM_ERR_PARTIAL'] },
  { exit: ExitCode.Unavailable, meaning: 'the command or feature is not available in this build', codes: ['DICOM_ERR_UNAVAILABLE'] },
  { exit: ExitCode.Storage, meaning: 'local storage or data set error', codes: ['DICOM_ERR_STORE_*', 'DICOM_ERR_DATASET_*'] },
  { exit: ExitCode.Interrupted, meaning: 'interrupted (SIGINT/SIGTERM) before the work was done', codes: ['DICOM_ERR_INTERRUPTED'] },
];

/** A failure the CLI itself detects (usage, files, passwords, hosts, unavailable features). */
export class CliError extends DicomError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const usageError = (message: string): CliError => new CliError('DICOM_ERR_USAGE', message);
export const fileError = (message: string, cause?: unknown): CliError => new CliError('DICOM_ERR_FILE', message, { cause });
export const unavailableError = (what: string): CliError =>
  new CliError('DICOM_ERR_UNAVAILABLE', `${what} is not available in this build`);

const byCode = new Map<string, ExitCodeValue>();
for (const row of exitCodeTable) for (const c of row.codes) if (!c.endsWith('*')) byCode.set(c, row.exit);

interface Coded { code?: unknown; message?: unknown; verifyFailure?: unknown; syscall?: unknown; hostname?: unknown; path?: unknown; cause?: unknown }

/** Node's own errors (errno codes from net/dns/fs) as the CLI's typed errors. */
export function fromSystemError(e: unknown, peer?: { host: string; port: number }): unknown {
  if (e instanceof DicomError || e === null || typeof e !== 'object') return e;
  const err = e as Coded;
  const where = peer !== undefined ? `${peer.host}:${peer.port}` : 'the peer';
  switch (err.code) {
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NODATA': case 'EAI_NONAME':
      return new CliError('DICOM_ERR_UNKNOWN_HOST', `the host name "${peer?.host ?? String(err.hostname)}" does not resolve`, { cause: e });
    case 'ECONNREFUSED':
      return new CliError('DICOM_ERR_CONNECTION_REFUSED', `connection to ${where} refused: nothing listens there`, { cause: e });
    case 'ECONNRESET': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'ETIMEDOUT': case 'EPIPE': case 'EADDRNOTAVAIL':
      return new CliError('DICOM_ERR_CONNECTION', `connection to ${where} failed (${String(err.code)})`, { cause: e });
    case 'ENOENT': case 'EACCES': case 'EISDIR': case 'ENOTDIR': case 'EPERM': case 'EEXIST': case 'ENOSPC': case 'EROFS':
      return fileError(`${String(err.path ?? 'a file')}: ${describeFsCode(String(err.code))}`, e);
    case 'EADDRINUSE':
      return new CliError('DICOM_ERR_CONNECTION', `the port is already in use (${String(err.message)})`, { cause: e });
    default:
      return e;
  }
}

function describeFsCode(code: string): string {
  return ({ ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory', ENOTDIR: 'not a directory',
    EPERM: 'operation not permitted', EEXIST: 'already exists', ENOSPC: 'no space left on device', EROFS: 'read-only file system' } as Record<string, string>)[code] ?? code;
}

/** The typed code of an error: DicomError code, else 'DICOM_ERR_INTERNAL'. */
export function errorCode(e: unknown): string {
  const mapped = fromSystemError(e);
  return mapped instanceof DicomError ? mapped.code : 'DICOM_ERR_INTERNAL';
}

/** The exit code for an error: one per class (see exitCodeTable). */
export function exitCodeFor(e: unknown): ExitCodeValue {
  const mapped = fromSystemError(e);
  if (!(mapped instanceof DicomError)) return ExitCode.Internal;
  const code = mapped.code;
  // A handshake that failed because WE refused the peer's certificate is its own class.
  if (code === 'DICOM_TLS_ERR_HANDSHAKE' && (mapped as Coded).verifyFailure !== undefined) return ExitCode.PeerCertificateRejected;
  const direct = byCode.get(code);
  if (direct !== undefined) return direct;
  if (code.startsWith('DICOM_ERR_STORE_') || code.startsWith('DICOM_ERR_DATASET_')) return ExitCode.Storage;
  return ExitCode.Internal;
}

/** One plain sentence for the user: the message with the first letter raised and a final stop. */
export function sentence(e: unknown): string {
  const mapped = fromSystemError(e);
  let m = mapped instanceof Error ? mapped.message : String(mapped);
  m = m.replace(/\s+/g, ' ').trim();
  if (m.length === 0) m = 'unknown error';
  m = m[0]!.toUpperCase() + m.slice(1);
  return /[.!?]$/.test(m) ? m : `${m}.`;
}

/** The error as printed: `error: <sentence> [<code>]`, plus the stack and causes with --verbose. */
export function formatError(e: unknown, verbose: boolean): string {
  const mapped = fromSystemError(e);
  const line = `error: ${sentence(mapped)} [${errorCode(mapped)}]`;
  if (!verbose) return line;
  const parts = [line];
  let cur: unknown = mapped;
  for (let i = 0; cur !== undefined && cur !== null && i < 8; i++) {
    if (cur instanceof Error) parts.push(cur.stack ?? `${cur.name}: ${cur.message}`);
    else parts.push(String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
    if (cur !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

/** The JSON form of an error for --json output. */
export function errorJson(e: unknown): { error: { code: string; message: string; exitCode: number } } {
  const mapped = fromSystemError(e);
  return { error: { code: errorCode(mapped), message: sentence(mapped), exitCode: exitCodeFor(mapped) } };
}
