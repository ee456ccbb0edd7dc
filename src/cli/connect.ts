/**
 * Opening a DicomClient from resolved client settings: the SecureContext is built here (lazily,
 * so --help never loads OpenSSL) and key/password errors become plain sentences.
 */
import type { ClientSettings } from './client-options.js';
import { buildContext } from './tls-options.js';
import { CliError, fromSystemError, codeOf } from './errors.js';
import { explainRejection } from './reject-hint.js';
import { certificateNames, nameMismatchRecorder } from './cert-hints.js';
import type { DicomClient } from '../ae/client.js';
import type { RequestedContext } from '../acse/presentation-context.js';
import type { RoleProposal } from '../acse/role-selection.js';
import type { AsynchronousOperationsWindow } from '../acse/asynchronous-operations.js';
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../diagnostics.js';

export async function connectClient(
  s: ClientSettings,
  extra: { presentationContexts?: readonly RequestedContext[]; roles?: readonly RoleProposal[]; asynchronousOperations?: AsynchronousOperationsWindow } = {},
)
  : Promise<{ client: DicomClient; dispose(): void }> {
  const names = s.tls?.verifyHost !== undefined ? nameMismatchRecorder() : undefined;
  const context = s.tls === undefined ? undefined : await buildContext({ ...s.tls, ...(names !== undefined ? { verifyCallback: names.verifyCallback } : {}) });
  const { DicomClient } = await import('../ae/client.js');
  try {
    const client = await DicomClient.associate({
      host: s.host, port: s.port, tls: context, callingAeTitle: s.callingAeTitle, calledAeTitle: s.calledAeTitle,
      ...(s.tls?.verifyHost !== undefined ? { servername: s.tls.verifyHost } : {}),
      ...(extra.presentationContexts !== undefined ? { presentationContexts: extra.presentationContexts } : {}),
      ...(extra.roles !== undefined ? { roles: extra.roles } : {}),
      ...(extra.asynchronousOperations !== undefined ? { asynchronousOperations: extra.asynchronousOperations } : {}),
      ...(s.userIdentity !== undefined ? { userIdentity: s.userIdentity } : {}),
      ...(s.timeout !== undefined ? { timeouts: { connect: s.timeout, association: s.timeout, dimse: s.timeout } } : {}),
    });
    return { client, dispose: () => context?.dispose() };
  } catch (e) {
    context?.dispose();
    if (context !== undefined && await plainDicomAnswers(e, s)) {
      throw new CliError(codeOf('UL_TRANSPORT_MISMATCH'), `${s.host}:${s.port} speaks plain DICOM, not DICOM over TLS: use --no-tls, or the peer's TLS port`, { cause: e });
    }
    const refused = names?.refused();
    if (refused !== undefined) throw withCertificateNames(e, refused, s.tls!.verifyHost!);
    throw fromSystemError(explainRejection(causeOfConnect(e), s), s);
  }
}

/**
 * A TLS handshake that died without an alert (reset, closed, garbage) may have met a plain DICOM
 * port: ask it with a plain A-ASSOCIATE-RQ, as `diagnose` does, to say so in the error.
 */
async function plainDicomAnswers(e: unknown, s: ClientSettings): Promise<boolean> {
  const err = e as { code?: string; alert?: unknown };
  if (err?.code !== codeOf('HANDSHAKE', 'TLS') || err.alert !== undefined || /alert/.test(String((e as Error).message))) return false;
  const { probePlainDicom } = await import('./diagnose-probe.js');
  const r = await probePlainDicom({ host: s.host, port: s.port, timeout: Math.min(s.timeout ?? 5000, 5000) },
    { callingAeTitle: s.callingAeTitle, calledAeTitle: s.calledAeTitle });
  return r.result === 'accepted' || r.result === 'rejected' || r.result === 'aborted';
}

/** A ConnectionError whose cause is a DNS failure is an unknown host (its own exit code). */
function causeOfConnect(e: unknown): unknown {
  const err = e as { code?: string; cause?: { code?: string } };
  if (err?.code === codeOf('CONNECTION') && ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_NODATA'].includes(err.cause?.code ?? '')) return err.cause;
  return e;
}

/**
 * Errors after which the exchange with the peer is complete and in step: a failure status, and a
 * final response with our Message ID that names another SOP class or instance than the request
 * (PS3.7 9.3, 10.3: the peer's mistake, but it answered that request and nothing is left
 * outstanding). A response to a Message ID we never used is not among them: nothing then says
 * which request it answers or whether ours will still come, and the association was aborted
 * (DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE), as DCMTK's SCUs abort on DIMSE_UNEXPECTEDRESPONSE.
 */
const ANSWERED = new Set([codeOf('DIMSE_STATUS'), codeOf('DIMSE_RESPONSE_MISMATCH')]);

/**
 * End the association after `e`: after an answered request (ANSWERED) an association still
 * established is released politely (A-RELEASE); anything else (lost connection, protocol error,
 * timeout, an association already aborted) aborts it.
 */
export async function endAfterError(client: DicomClient, e: unknown): Promise<void> {
  if (ANSWERED.has(String((e as { code?: unknown })?.code)) && client.association.upperLayer.state === 'Sta6') {
    try { await client.release(); return; } catch { /* fall through to abort */ }
  }
  await client.abort().catch(() => undefined);
}

/**
 * Release after the work is done: every request was answered, so a release the peer refuses or
 * never answers (no A-RELEASE-RP within the timeout) leaves the work's result standing: a
 * warning, and the association is aborted. A C-ECHO, a query or a move that succeeded is not
 * reported as failed (nor repeated by the user) because of the goodbye.
 */
export async function releaseOrWarn(client: DicomClient, out: { note(text: string): void }): Promise<void> {
  try {
    await client.release();
  } catch (e) {
    out.note(`warning: the release failed: ${(e as Error).message}`);
    await client.abort().catch(() => undefined);
  }
}

/**
 * `work` on the association, then release it (releaseOrWarn); after an error the association is
 * ended as endAfterError says and the error thrown on. The TLS context is disposed of either way.
 */
export async function releaseAfter<T>(connection: { client: DicomClient; dispose(): void }, out: { note(text: string): void }, work: (client: DicomClient) => Promise<T>): Promise<T> {
  const { client, dispose } = connection;
  let result: T;
  try {
    result = await work(client);
  } catch (e) {
    await endAfterError(client, e);
    dispose();
    throw e;
  }
  await releaseOrWarn(client, out);
  dispose();
  return result;
}

/** The handshake error for a name mismatch, naming the names the certificate carries (exit 10 kept). */
function withCertificateNames(e: unknown, der: Buffer, asked: string): unknown {
  const err = e as { code?: string; message?: string; verifyFailure?: unknown };
  if (err?.code !== codeOf('HANDSHAKE', 'TLS') || err.verifyFailure === undefined) return e;
  const names = certificateNames(der);
  const said = `${String(err.message).replace(/\.$/, '')}: the certificate names ${names.length > 0 ? names.join(', ') : 'no subjectAltName'}, not ${asked}; connect with one of those names or --verify-host one of them`;
  return Object.assign(new CliError(err.code, said, { cause: e }), { verifyFailure: err.verifyFailure });
}

/**
 * With --verbose, print what the library tolerated from the peer (dimse:warning channel, e.g. a
 * CommandGroupLength that miscounts). Returns the unsubscribe function.
 */
export function printPeerWarnings(out: { verbose: boolean; debug(text: string): void }): () => void {
  if (!out.verbose) return () => undefined;
  const listener = (m: unknown): void => {
    const { warning, command } = m as { warning: string; command: { type: string } };
    out.debug(`warning: the peer's ${command.type}: ${warning}`);
  };
  diagnosticsChannel.subscribe(channelNames.dimseWarning, listener);
  return () => diagnosticsChannel.unsubscribe(channelNames.dimseWarning, listener);
}
