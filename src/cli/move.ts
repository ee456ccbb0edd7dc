/**
 * `dicom-tls move HOST:PORT --dest AE -k Key=value…`: C-MOVE with progress from the pending
 * responses (PS3.4 C.4.2).
 */
import { clientOptions, oneOf, parse, parseAeTitle } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { CliCode, CliError, ExitCode, usageError, codeOf } from './errors.js';
import { connectClient, endAfterError, printPeerWarnings, releaseOrWarn } from './connect.js';
import { Output } from './io.js';
import { Interruption } from './interrupt.js';
import { identifier, levelFrom, parseQueryKeys, queryKeyHelp } from './query-keys.js';
import type { CommandModule } from './command.js';
import type { DicomClient } from '../ae/client.js';

export const help = `Usage: dicom-tls move HOST:PORT --dest AE -k KEY=VALUE... [options]

Asks the peer (C-MOVE) to send the matching instances to the AE title --dest (which the peer must
know: host, port, TLS). Progress comes from the pending responses (remaining, completed, failed,
warning). Exit code 16 when some sub-operations failed or were never performed (the peer's final
response is Cancel, or counts some remaining).

Ctrl-C (SIGINT) or SIGTERM while the C-MOVE runs asks the peer to stop (C-CANCEL-RQ), waits for
its final response, prints the counts (completed, warnings, failed, not performed), releases the
association and exits 130 (unless that response says all was done). A second Ctrl-C, or no final
response within --timeout, aborts the association (A-ABORT); exit 130 too.

Query:
${queryKeyHelp.replace('worklist', 'patient | study').replace(' | patient | study', '')}
  --dest AE              move destination AE title (required)

${clientOptionsHelp}

Examples:
  dicom-tls move pacs.example.org:2762 --call PACS --dest MYWORKSTATION --level STUDY \\
      -k StudyInstanceUID=1.2.840.113619.2.1.1 --ca ca.pem --cert client.pem --key client-key.pem
  dicom-tls move pacs:11112 --no-tls --call PACS --dest ARCHIVE2 --level PATIENT -k PatientID=12345`;

export interface SubOperations { remaining?: number | undefined; completed: number; failed: number; warning: number }

/**
 * The counts of a final response, and the exit code: 16 when sub-operations failed, or when
 * `undone` (the final response left some unperformed: a Cancel we never asked for, or a
 * remaining count above 0), 0 otherwise; 130 when `interrupted` (we cancelled on a signal).
 */
export function reportSubOperations(out: Output, verb: string, s: SubOperations, extra: Record<string, unknown> = {}, failedLines: readonly string[] = [], undone?: string, interrupted = false): number {
  const remaining = undone !== undefined && s.remaining !== undefined ? `, not performed ${s.remaining}` : '';
  if (out.json) out.document({ completed: s.completed, failed: s.failed, warning: s.warning, ...(undone !== undefined && s.remaining !== undefined ? { notPerformed: s.remaining } : {}), ...extra });
  else {
    for (const l of failedLines) out.line(l);
    out.line(`${verb}: completed ${s.completed}, warnings ${s.warning}, failed ${s.failed}${remaining}`);
  }
  const problems = [...(interrupted && undone !== undefined ? [undone] : []), ...(s.failed > 0 ? [`${s.failed} sub-operations failed`] : []), ...(!interrupted && undone !== undefined ? [undone] : [])];
  const code = interrupted ? CliCode.interrupted : CliCode.partial;
  if (problems.length > 0 && !out.json) out.error(`error: ${problems.join('; ')}. [${code}]`);
  return interrupted ? ExitCode.Interrupted : problems.length > 0 ? ExitCode.PartialFailure : ExitCode.Ok;
}

/**
 * A Failure final response after sub-operations were tried (A702: every one failed, PS3.4
 * C.4.2.2.1) is a retrieve with failed sub-operations (exit 16 with the counts), not a refusal;
 * undefined for anything else.
 */
function failedSubOperations(e: unknown): Parameters<typeof retrieveOutcome>[2] | undefined {
  const err = e as { code?: string; status?: number; progress?: { completed: number; failed: number; warning: number }; failedSopInstanceUids?: readonly string[] };
  if (err?.code !== codeOf('DIMSE_STATUS') || err.progress === undefined || err.progress.failed === 0 || typeof err.status !== 'number') return undefined;
  return { ...err.progress, status: err.status, outcome: 'Failure', errorComment: undefined, failedSopInstanceUids: err.failedSopInstanceUids ?? [] };
}

/** What else retrieveOutcome knows about a retrieve besides its final response. */
export interface RetrieveDetail {
  /** Why an instance failed, when we know (e.g. the C-STORE we refused during C-GET). */
  readonly reasons?: ReadonlyMap<string, string>;
  /** Why the other failed instances probably failed (e.g. no context proposed for them). */
  readonly otherwise?: string | undefined;
  /** A further reason the retrieve is not complete (e.g. C-GET: instances counted but never received). */
  readonly missing?: string | undefined;
  /** The signal on which we sent C-CANCEL-RQ: exit 130, unless the final response says all was done. */
  readonly interrupted?: NodeJS.Signals | undefined;
}

const hex = (status: number): string => `0x${status.toString(16).padStart(4, '0')}`;

/** The final C-MOVE/C-GET response: a refusal is an error (exit 15), failed sub-operations exit 16, a cancel of ours that stopped it 130. */
export function retrieveOutcome(
  out: Output,
  verb: string,
  r: { status: number; outcome: string; remaining?: number | undefined; completed: number; failed: number; warning: number; errorComment: string | undefined; failedSopInstanceUids: readonly string[] },
  detail: RetrieveDetail = {},
): number {
  const { reasons = new Map<string, string>(), otherwise, missing } = detail;
  const left = r.remaining ?? 0;
  // A cancel the peer acted on too late (its final response says all was done) changes nothing.
  const finished = (r.outcome === 'Success' || r.outcome === 'Warning') && left === 0;
  if (detail.interrupted !== undefined && finished) out.note(`the ${verb} was complete before the peer acted on the cancel`);
  const interrupted = finished ? undefined : detail.interrupted;
  if (interrupted === undefined && r.outcome === 'Failure' && r.completed === 0 && r.failed === 0 && r.warning === 0) {
    throw new CliError(codeOf('DIMSE_STATUS'), `${verb} failed with status ${hex(r.status)}${r.errorComment ? ` (${r.errorComment})` : ''}`);
  }
  const failures = r.failedSopInstanceUids.map((uid) => ({ sopInstanceUid: uid, reason: reasons.get(uid) ?? otherwise ?? 'the peer gave no reason' }));
  for (const [uid, reason] of reasons) if (!r.failedSopInstanceUids.includes(uid)) failures.push({ sopInstanceUid: uid, reason });
  // The final response says not everything was done: the peer cancelled (unasked, unless a
  // signal made us), or it counts sub-operations still remaining. Not a success, whatever its status.
  const notPerformed = r.remaining === undefined ? '' : `, ${r.remaining} sub-operations not performed`;
  const undone = interrupted !== undefined
    ? `${verb} cancelled on ${interrupted}: the peer's final response is ${r.outcome} (${hex(r.status)})${notPerformed}; the association was released`
    : r.outcome === 'Cancel'
      ? `the peer ended the ${verb} with Cancel (${hex(r.status)}), ${r.remaining === undefined ? 'sub-operations' : `${r.remaining} sub-operations`} not performed`
      : left > 0 ? `the peer's final response counts ${left} sub-operations remaining, never performed` : undefined;
  const incomplete = [undone, missing].filter((t) => t !== undefined).join('; ');
  return reportSubOperations(out, verb, r, { status: r.status, outcome: r.outcome, failedSopInstanceUids: r.failedSopInstanceUids, failures, ...(detail.interrupted === undefined ? {} : { interrupted: detail.interrupted }) },
    failures.map((f) => `failed ${f.sopInstanceUid}: ${f.reason}`), incomplete === '' ? undefined : incomplete, interrupted !== undefined);
}

/**
 * Run the C-MOVE/C-GET `retrieve` on `client` and release; after a failure, end the association
 * and keep failed sub-operations as a result (see failedSubOperations). The progress bar and the
 * connection are closed either way. From the final response on, a signal aborts (`interruption`).
 */
export async function runRetrieve(
  client: DicomClient,
  dispose: () => void,
  bar: { done(): void },
  interruption: Interruption,
  out: { note(text: string): void },
  retrieve: () => Promise<Parameters<typeof retrieveOutcome>[2]>,
): Promise<Parameters<typeof retrieveOutcome>[2]> {
  try {
    let result;
    try {
      result = await retrieve();
    } finally {
      interruption.operationEnded();
    }
    bar.done();
    await releaseOrWarn(client, out);
    return result;
  } catch (e) {
    await endAfterError(client, e);
    const result = failedSubOperations(e);
    if (result === undefined) throw e;
    return result;
  } finally {
    bar.done();
    dispose();
  }
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...clientOptions, query: { type: 'string', short: 'k', multiple: true }, level: { type: 'string' }, root: { type: 'string' }, dest: { type: 'string' } });
    const out = new Output(io, values);
    if (values.dest === undefined) throw usageError('move needs --dest AE (the AE title that receives the instances)');
    const dest = parseAeTitle(values.dest, 'dest', '');
    const keys = await parseQueryKeys(values.query ?? []);
    if (keys.length === 0) throw usageError('move needs at least one -k key (e.g. -k StudyInstanceUID=…)');
    const level = levelFrom(values.level, keys, 'STUDY');
    const root = oneOf(values.root, 'root', ['patient', 'study'] as const) ?? 'study';
    const settings = await clientSettings(values, positionals[0], io);
    out.debug(`C-MOVE to ${dest}: ${JSON.stringify(identifier(keys, level))} via ${settings.host}:${settings.port}`);
    const model = root === 'patient' ? 'PATIENT_ROOT' : 'STUDY_ROOT';
    const [{ sopClassFor }, { TransferSyntax }] = await Promise.all([import('../services/scu/find.js'), import('../dictionary/uids.js')]);
    const presentationContexts = [{ abstractSyntax: sopClassFor(model, 'move'), transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] }];
    const unwatch = printPeerWarnings(out);
    const { client, dispose } = await connectClient(settings, { presentationContexts });
    const bar = out.progress(`moving to ${dest}`, 0);
    const interruption = new Interruption(out, 'C-MOVE', () => void client.abort().catch(() => undefined));
    let last: { completed: number; failed: number; warning: number; remaining: number | undefined } | undefined;
    interruption.signal.addEventListener('abort', () => bar.done(), { once: true });
    let result;
    try {
      result = await runRetrieve(client, () => { interruption.dispose(); unwatch(); dispose(); }, bar, interruption, out, () =>
        client.move(model, identifier(keys, level), dest, {
          signal: interruption.signal,
          onProgress: (p) => {
            last = p;
            const done = p.completed + p.failed + p.warning;
            if (p.remaining !== undefined) bar.total = done + p.remaining;
            bar.update(done);
          },
          ...(settings.timeout !== undefined ? { timeout: settings.timeout } : {}),
        }),
      );
    } catch (e) {
      // The association ended (aborted, timed out): the last counts the peer sent still tell
      // how far the move got.
      if (!out.json && last !== undefined) {
        out.line(`C-MOVE: completed ${last.completed}, warnings ${last.warning}, failed ${last.failed}${last.remaining === undefined ? '' : `, remaining ${last.remaining}`} before the C-MOVE ended`);
      }
      throw interruption.by === undefined ? e : interruption.error(e);
    }
    return retrieveOutcome(out, 'C-MOVE', result, { interrupted: interruption.cancelled });
  },
};
