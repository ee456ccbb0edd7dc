/**
 * How the command line turns any failure into one plain sentence, the typed code, and an exit
 * code scripts can trust. The table below is THE documentation of exit codes (printed by
 * `dicom-tls --help exit-codes`); each error class has its own number.
 *
 * Classification is by the stable `code` of DicomError (never by message text), so this module
 * imports nothing heavy and runs before any command module is loaded.
 */
import { DicomError } from '../errors.js';
import { escapeControls } from './escape-controls.js';

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

/**
 * The documented table: exit code, what it means, and the codes that map to it. The codes are
 * written inside one text per row (whitespace-separated) because most belong to other layers:
 * their own modules define them (scripts/error-codes.mjs attributes a quoted code to the file that
 * quotes it). The CLI's own codes are the CliCode constants below.
 */
const rows = (r: Array<[ExitCodeValue, string, string]>): ReadonlyArray<{ exit: ExitCodeValue; meaning: string; codes: readonly string[] }> =>
  r.map(([exit, meaning, codes]) => ({ exit, meaning, codes: codes.split(/\s+/).filter((c) => c.length > 0) }));

/** Codes only the command line produces (documented in docs/errors.md, layer CLI). */
export const CliCode = {
  usage: 'DICOM_ERR_USAGE',
  file: 'DICOM_ERR_FILE',
  password: 'DICOM_ERR_PASSWORD',
  unknownHost: 'DICOM_ERR_UNKNOWN_HOST',
  partial: 'DICOM_ERR_PARTIAL',
  unavailable: 'DICOM_ERR_UNAVAILABLE',
  interrupted: 'DICOM_ERR_INTERRUPTED',
  internal: 'DICOM_ERR_INTERNAL',
} as const;

export const exitCodeTable = rows([
  [ExitCode.Ok, 'success (diagnose: no problem found)', ''],
  [ExitCode.Internal, 'unexpected internal error (a bug: run with --verbose and report it)', ` ${CliCode.internal} `],
  [ExitCode.Usage, 'bad command line or configuration option', ` ${CliCode.usage} DICOM_ERR_INVALID_OPTION `],
  [ExitCode.File, 'a file or directory could not be read or written', ` ${CliCode.file} `],
  [ExitCode.Password, 'private key unreadable: wrong or missing password', ` DICOM_TLS_ERR_PRIVATE_KEY ${CliCode.password} `],
  [ExitCode.Certificate, 'own certificate, CA, CRL or TLS settings unusable', ' DICOM_TLS_ERR_CERTIFICATE DICOM_TLS_ERR_KEY_MISMATCH DICOM_TLS_ERR_TRUST DICOM_TLS_ERR_PROFILE DICOM_TLS_ERR_CONFIG DICOM_TLS_ERR_PKI '],
  [ExitCode.UnknownHost, 'the host name does not resolve', ` ${CliCode.unknownHost} `],
  [ExitCode.ConnectionRefused, 'nothing listens on that port (connection refused)', ' DICOM_ERR_CONNECTION_REFUSED '],
  [ExitCode.Connection, 'the connection failed or broke (unreachable, reset, TLS I/O)', ' DICOM_ERR_CONNECTION DICOM_TLS_ERR_IO '],
  [ExitCode.Timeout, 'a timer ran out (connect, association, DIMSE)', ' DICOM_ERR_TIMEOUT '],
  [ExitCode.PeerCertificateRejected, "we rejected the peer's certificate (TLS verify failed on our side)", ' DICOM_TLS_ERR_HANDSHAKE '], // the error carries verifyFailure: told apart in exitCodeFor
  [ExitCode.HandshakeFailed, 'the TLS handshake failed otherwise (the peer refused us, no common protocol or cipher)', ' DICOM_TLS_ERR_HANDSHAKE '],
  [ExitCode.TransportMismatch, 'TLS/plain mismatch, or the peer does not speak DICOM', ' DICOM_ERR_UL_TLS_ON_PLAIN_PORT DICOM_ERR_UL_TRANSPORT_MISMATCH DICOM_ERR_UL_NOT_DICOM '],
  [ExitCode.AssociationRejected, 'the association was rejected or nothing useful was accepted', ' DICOM_ERR_ASSOCIATION_REJECTED DICOM_ERR_NO_ACCEPTED_CONTEXT DICOM_ERR_NEGOTIATION '],
  [ExitCode.AssociationAborted, 'the association was aborted or the peer broke the protocol', ' DICOM_ERR_ASSOCIATION_ABORTED DICOM_ERR_ASSOCIATION_CLOSED DICOM_ERR_PDU_MALFORMED DICOM_ERR_PDU_TOO_LARGE DICOM_ERR_DIMSE_PROTOCOL DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE DICOM_ERR_DIMSE_RESPONSE_MISMATCH DICOM_ERR_OPERATIONS_WINDOW_EXCEEDED DICOM_ERR_COMMAND_SET_DECODE DICOM_ERR_INVALID_ASSOCIATE_RQ '],
  [ExitCode.DimseFailure, 'the peer answered a request with a failure status', ' DICOM_ERR_DIMSE_STATUS '],
  [ExitCode.PartialFailure, 'some items failed (e.g. store: some files were not stored)', ` ${CliCode.partial} `],
  [ExitCode.Unavailable, 'the command or feature is not available in this build or runtime', ` ${CliCode.unavailable} DICOM_TLS_ERR_UNSUPPORTED_RUNTIME `],
  [ExitCode.Storage, 'local storage or data set error', ' DICOM_ERR_STORE_* DICOM_ERR_DATASET_* DICOM_ERR_PART10_* '],
  [ExitCode.Interrupted, 'interrupted (SIGINT/SIGTERM) before the work was done (find, move, get: cancelled with C-CANCEL-RQ)', ` ${CliCode.interrupted} `],
]);

/** A failure the CLI itself detects (usage, files, passwords, hosts, unavailable features). */
export class CliError extends DicomError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const usageError = (message: string): CliError => new CliError(CliCode.usage, message);
export const fileError = (message: string, cause?: unknown): CliError => new CliError(CliCode.file, message, { cause });
export const unavailableError = (what: string): CliError =>
  new CliError(CliCode.unavailable, `${what} is not available in this build`);

/** Another layer's code (the connection errors of ae/errors.ts, the TLS handshake), named without quoting it. */
export function codeOf(name: string, space: 'TLS' | '' = ''): string {
  return `DICOM_${space === 'TLS' ? 'TLS_' : ''}ERR_${name}`;
}

const byCode = new Map<string, ExitCodeValue>();
for (const row of exitCodeTable) for (const c of row.codes) if (/^[A-Z0-9_]+$/.test(c)) byCode.set(c, row.exit);

interface Coded { code?: unknown; message?: unknown; verifyFailure?: unknown; syscall?: unknown; hostname?: unknown; path?: unknown; cause?: unknown }

/** Node's own errors (errno codes from net/dns/fs) as the CLI's typed errors. */
export function fromSystemError(e: unknown, peer?: { host: string; port: number }): unknown {
  if (e instanceof DicomError || e === null || typeof e !== 'object') return e;
  const err = e as Coded;
  const where = peer !== undefined ? `${peer.host}:${peer.port}` : 'the peer';
  switch (err.code) {
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NODATA': case 'EAI_NONAME':
      return new CliError(CliCode.unknownHost, `the host name "${peer?.host ?? String(err.hostname)}" does not resolve`, { cause: e });
    case 'ECONNREFUSED':
      return new CliError(codeOf('CONNECTION_REFUSED'), `connection to ${where} refused: nothing listens there`, { cause: e });
    case 'ECONNRESET': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'ETIMEDOUT': case 'EPIPE': case 'EADDRNOTAVAIL':
      return new CliError(codeOf('CONNECTION'), `connection to ${where} failed (${String(err.code)})`, { cause: e });
    case 'ENOENT': case 'EACCES': case 'EISDIR': case 'ENOTDIR': case 'EPERM': case 'EEXIST': case 'ENOSPC': case 'EROFS':
      return fileError(`${String(err.path ?? 'a file')}: ${describeFsCode(String(err.code))}`, e);
    case 'EADDRINUSE':
      return new CliError(codeOf('CONNECTION'), `the port is already in use (${String(err.message)})`, { cause: e });
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
  return mapped instanceof DicomError ? mapped.code : CliCode.internal;
}

/** The exit code for an error: one per class (see exitCodeTable). */
export function exitCodeFor(e: unknown): ExitCodeValue {
  const mapped = fromSystemError(e);
  if (!(mapped instanceof DicomError)) return ExitCode.Internal;
  const code = mapped.code;
  // A handshake that failed because WE refused the peer's certificate is its own class.
  if (code === codeOf('HANDSHAKE', 'TLS') && (mapped as Coded).verifyFailure !== undefined) return ExitCode.PeerCertificateRejected;
  const direct = byCode.get(code);
  if (direct !== undefined) return direct;
  if (/^DICOM_ERR_(STORE|DATASET|PART10)_/.test(code)) return ExitCode.Storage;
  return ExitCode.Internal;
}

/** One plain sentence for the user: the message with the first letter raised and a final stop. */
export function sentence(e: unknown): string {
  const mapped = fromSystemError(e);
  let m = mapped instanceof Error ? mapped.message : String(mapped);
  m = m.replace(/\s+/g, ' ').trim();
  // Messages may quote a peer's bytes (AE titles, UIDs, comments): its control characters (an
  // ESC sequence) must not reach the user's terminal as such.
  m = escapeControls(m);
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
