/**
 * `dicom-tls store HOST:PORT FILE|DIR|GLOB…`: C-STORE every file over one association, with a
 * summary of sent / warning / failed, and a progress bar on a terminal.
 */
import { clientOptions, parse } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { CliError, ExitCode, usageError, CliCode, errorJson } from './errors.js';
import { connectClient, endAfterError, releaseOrWarn } from './connect.js';
import { expandInputs } from './files.js';
import { Output, table } from './io.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls store HOST:PORT FILE|DIR|GLOB... [options]
       dicom-tls store check [options]   (the server's own store: see dicom-tls store check --help)

Sends DICOM Part 10 files (folders recursively, globs like 'scans/**/*.dcm') with C-STORE over one
association, proposing each instance's own transfer syntax, and prints a summary of sent,
warning, failed and skipped instances. Exit code 16 when some instances failed. When the
association ends early (the peer aborts, stops answering, the connection breaks) the summary says
what was sent, failed and skipped, the file in flight and why, and the exit code is that of the
failure: 9 timeout, 14 aborted, 8 connection lost (--json: an "ended" object).

Store:
  --async-window N       propose an Asynchronous Operations Window of N (PS3.7 D.3.3.3): keep up
                         to N C-STOREs awaiting their answers when the peer agrees (default 8; at
                         most 16 are kept); 1 = do not propose. Against a peer that does not
                         agree (DCMTK's storescp answers nothing), one instance at a time.

${clientOptionsHelp}

Examples:
  dicom-tls store localhost:2762 ./study1 --call DICOM-TLS --ca dicom-tls-data/pki/ca.pem \\
      --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem
  dicom-tls store pacs:11112 --no-tls --call PACS 'scans/**/*.dcm'`;

export interface StoreResult { file: string; sopInstanceUid?: string; status?: number; outcome: 'sent' | 'warning' | 'failed' | 'skipped'; error?: string }

/** Why a store run stopped early: the association ended under the instances in flight. */
export interface StoreEnded { readonly error: unknown; readonly inFlight: readonly string[] }

/**
 * Summary lines (human) or document (--json) of a store run. Exit code: the class of the error
 * that ended the association early (timeout 9, aborted 14, connection 8 …), else 16 when some
 * instances failed, else 0.
 */
export function reportStore(out: Output, results: readonly StoreResult[], ended?: StoreEnded): number {
  const count = (o: StoreResult['outcome']): number => results.filter((r) => r.outcome === o).length;
  const summary = { sent: count('sent'), warning: count('warning'), failed: count('failed'), skipped: count('skipped'), total: results.length };
  const stop = ended === undefined ? undefined : { ...errorJson(ended.error).error, inFlight: ended.inFlight };
  if (out.json) out.document({ ...summary, ...(stop === undefined ? {} : { ended: stop }), results });
  else {
    const bad = results.filter((r) => r.outcome === 'failed' || r.outcome === 'warning' || (r.outcome === 'skipped' && out.verbose));
    if (bad.length > 0) out.line(table(['file', 'outcome', 'status', 'reason'], bad.map((r) => [r.file, r.outcome, r.status === undefined ? '' : `0x${r.status.toString(16).padStart(4, '0')}`, r.error ?? ''])));
    out.line(`sent ${summary.sent}, warnings ${summary.warning}, failed ${summary.failed}, skipped ${summary.skipped} (of ${summary.total})`);
  }
  if (stop !== undefined) {
    if (!out.json) {
      const where = stop.inFlight.length === 0 ? '' : ` while sending ${stop.inFlight.join(', ')}`;
      const rest = summary.skipped === 0 ? '' : `; ${summary.skipped} instance${summary.skipped === 1 ? ' was' : 's were'} not sent${out.verbose ? '' : ' (--verbose lists them)'}`;
      out.error(`error: the association ended${where}: ${stop.message.replace(/\.$/, '')}${rest}. [${stop.code}]`);
    }
    return stop.exitCode as number;
  }
  if (summary.failed > 0) {
    if (!out.json) out.error(`error: ${summary.failed} of ${results.length} instances were not stored. [DICOM_ERR_PARTIAL]`);
    return ExitCode.PartialFailure;
  }
  return ExitCode.Ok;
}

/** Default proposal of `--async-window`: a modest window; peers that do not support it answer 1/1 or nothing. */
export const DEFAULT_ASYNC_WINDOW = 8;

function parseAsyncWindow(text: string | undefined): number {
  if (text === undefined) return DEFAULT_ASYNC_WINDOW;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n < 1 || n > 65535) throw usageError(`--async-window must be a whole number 1–65535, got "${text}"`);
  return n;
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...clientOptions, 'async-window': { type: 'string' } });
    const out = new Output(io, values);
    const [peer, ...inputs] = positionals;
    if (inputs.length === 0) throw usageError('store needs at least one FILE, DIR or GLOB after HOST:PORT');
    const asyncWindow = parseAsyncWindow(values['async-window']);
    const settings = await clientSettings(values, peer, io);
    const { files, skipped } = expandInputs(inputs, io.cwd);
    if (skipped.length > 0) out.note(`skipping ${skipped.length} file${skipped.length === 1 ? '' : 's'} that are not DICOM Part 10 files${out.verbose ? `: ${skipped.join(', ')}` : ' (--verbose lists them)'}`);
    if (files.length === 0) throw new CliError(CliCode.file, 'the folders and patterns given hold no DICOM Part 10 files');
    out.debug(`${files.length} files for ${settings.calledAeTitle}@${settings.host}:${settings.port}`);
    const [{ planStorageAssociations }, { markListedFiles }] = await Promise.all([import('../services/scu/store-plan.js'), import('../services/scu/store.js')]);
    // expandInputs stat'ed each: neither the plan nor the send lists them again.
    const plans = await planStorageAssociations(markListedFiles(files));
    if (plans[0]!.presentationContexts.length === 0) throw new CliError(CliCode.file, `none of the ${files.length} files is a DICOM Part 10 file`);
    // More SOP classes and syntaxes than 128 presentation contexts carry: one association each.
    if (plans.length > 1) out.debug(`${plans.length} associations: the files need more than 128 presentation contexts`);
    const bar = out.progress('storing', files.length);
    let answered = 0;
    const rows: StoreResult[] = [];
    let ended: StoreEnded | undefined;
    for (const [i, plan] of plans.entries()) {
      if (ended !== undefined) {
        rows.push(...plan.sources.map((f) => ({ file: typeof f === 'string' ? f : '(stream)', outcome: 'skipped' as const, error: (ended!.error as Error).message })));
        continue;
      }
      let connection;
      try {
        connection = await connectClient(settings, {
          presentationContexts: plan.presentationContexts,
          // Window 1 is the default anyway: no sub-item, as DCMTK's storescu sends none.
          ...(asyncWindow > 1 ? { asynchronousOperations: { maxOperationsInvoked: asyncWindow, maxOperationsPerformed: 1 } } : {}),
        });
      } catch (e) {
        if (i === 0) {
          bar.done();
          throw e;
        }
        // A later association that cannot be opened ends the run like an abort.
        ended = { error: e, inFlight: [] };
        rows.push(...plan.sources.map((f) => ({ file: typeof f === 'string' ? f : '(stream)', outcome: 'skipped' as const, error: (e as Error).message })));
        continue;
      }
      const { client, dispose } = connection;
      const agreed = client.association.info.asynchronousOperations.invoked;
      out.debug(`asynchronous operations window: ${agreed === 0 ? 'unlimited' : agreed} C-STORE${agreed === 1 ? '' : 's'} outstanding${asyncWindow > 1 ? ` (proposed ${asyncWindow})` : ''}`);
      let raw;
      try {
        raw = await client.store(plan.sources, {
          // Counted, not indexed: within a window the answers need not come in order.
          onProgress: (p) => { if (p.phase === 'done') bar.update(++answered); },
          ...(settings.timeout !== undefined ? { timeout: settings.timeout } : {}),
        });
      } catch (e) {
        bar.done();
        await endAfterError(client, e);
        dispose();
        throw e;
      }
      // The association may have ended under the batch (aborted, timed out, lost): the results
      // say what was sent, failed and skipped; the reason and the files in flight end the report.
      // One we aborted may not be closed yet (our close follows the A-ABORT): no longer in Sta6,
      // it is not released.
      if (client.association.isClosed || client.association.upperLayer.state !== 'Sta6') {
        const { error } = await client.association.whenClosed();
        const inFlight = raw.filter((r) => !r.skipped && r.status === undefined && r.error !== undefined && (error === undefined || r.error === error));
        const reason = error ?? raw.find((r) => r.skipped)?.error ?? inFlight[0]?.error;
        if (reason !== undefined) ended = { error: reason, inFlight: inFlight.map((r) => r.path ?? r.sopInstanceUid) };
      } else {
        // Everything was answered; only the goodbye can fail.
        await releaseOrWarn(client, out);
      }
      dispose();
      rows.push(...raw.map((r): StoreResult => ({
        file: r.path ?? '(stream)', sopInstanceUid: r.sopInstanceUid, ...(r.status !== undefined ? { status: r.status } : {}),
        outcome: r.skipped === true ? 'skipped' : r.outcome === 'Success' ? 'sent' : r.outcome === 'Warning' ? 'warning' : 'failed',
        ...(r.outcome !== 'Success' ? { error: r.errorComment ?? r.error?.message ?? '' } : {}),
      })));
    }
    bar.done();
    // Results in the order of the files given, whatever association carried them.
    const order = new Map(files.map((f, i) => [f, i]));
    rows.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
    return reportStore(out, rows, ended);
  },
};
