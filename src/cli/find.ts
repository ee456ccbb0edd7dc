/**
 * `dicom-tls find HOST:PORT -k Key=value…`: C-FIND (PS3.4 C.4.1), results as a table or JSON.
 */
import { clientOptions, oneOf, parse } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { CliCode, ExitCode, errorJson, exitCodeFor, formatError, usageError } from './errors.js';
import { connectClient, releaseAfter } from './connect.js';
import { Output, table } from './io.js';
import { Interruption } from './interrupt.js';
import { identifier, levelFrom, parseQueryKeys, queryKeyHelp, queryRoots } from './query-keys.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls find HOST:PORT -k KEY[=VALUE]... [options]

Queries the peer with C-FIND (Patient Root, Study Root or Modality Worklist) and prints the
matches as a table (the keys asked for are the columns) or, with --json, as an array of data sets
in the DICOM JSON Model (PS3.18 F.2: tags, VRs and values, private attributes included).
When the C-FIND ends in an error after some matches (a failure status such as a peer's A700 for
more matches than it sends, a timeout, an abort), the matches are printed all the same, then the
error, and the exit code is the error's (--json: {"error": {…}, "matches": […]}).

Ctrl-C (SIGINT) or SIGTERM while the C-FIND runs asks the peer to stop (C-CANCEL-RQ), waits for
its final response, prints the matches received until the cancel, releases the association and
exits 130. A second Ctrl-C, or no final response within --timeout, aborts the association
(A-ABORT); exit 130 too.

Query:
${queryKeyHelp}
  --max-matches N        stop after N matches with C-CANCEL-RQ, as findscu's --cancel does
                         (default 50000)
  --max-match-bytes N    stop the same way once the matches received total N bytes (their
                         encoded identifiers; default 134217728, 128 MiB): with --max-matches,
                         a peer sending matches without end, or very large ones, cannot fill memory

${clientOptionsHelp}

Examples:
  dicom-tls find localhost:2762 --call DICOM-TLS --ca dicom-tls-data/pki/ca.pem \\
      --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem --level STUDY \\
      -k PatientName='DOE^*' -k StudyDate=20240101-20241231 -k StudyInstanceUID
  dicom-tls find pacs:11112 --no-tls --call PACS --root patient --level PATIENT -k PatientID -k PatientName --json`;

export const findOptions = { ...clientOptions, query: { type: 'string', short: 'k', multiple: true }, level: { type: 'string' }, root: { type: 'string' }, 'max-matches': { type: 'string' }, 'max-match-bytes': { type: 'string' } } as const;

/**
 * Matches as a table whose columns are the keys asked for (in order), or with --json as an array
 * of data sets in the DICOM JSON Model (PS3.18 F.2), `json[i]` being `matches[i]`.
 */
export function reportMatches(out: Output, columns: readonly string[], matches: ReadonlyArray<Record<string, unknown>>, json: readonly unknown[] = matches, after = ''): void {
  if (out.json) { out.document(json); return; }
  const text = (v: unknown): string => v === undefined || v === null ? '' : Array.isArray(v) ? v.map(text).join('\\')
    : typeof v === 'object' ? (('Alphabetic' in (v as object)) ? String((v as { Alphabetic: unknown }).Alphabetic) : JSON.stringify(v)) : String(v);
  out.line(table(columns, matches.map((m) => columns.map((c) => text(m[c])))));
  out.line(`${matches.length} match${matches.length === 1 ? '' : 'es'}${after}`);
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, findOptions);
    const out = new Output(io, values);
    const keys = await parseQueryKeys(values.query ?? []);
    const level = levelFrom(values.level, keys, 'STUDY');
    const root = oneOf(values.root, 'root', queryRoots) ?? 'study';
    const maxMatches = values['max-matches'] === undefined ? 50_000 : Number(values['max-matches']);
    if (!Number.isInteger(maxMatches) || maxMatches < 1) throw usageError(`--max-matches must be a whole number ≥ 1, got "${values['max-matches']}"`);
    const maxBytes = values['max-match-bytes'] === undefined ? 128 * 1024 * 1024 : Number(values['max-match-bytes']);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw usageError(`--max-match-bytes must be a whole number ≥ 1, got "${values['max-match-bytes']}"`);
    const settings = await clientSettings(values, positionals[0], io);
    const model = root === 'patient' ? 'PATIENT_ROOT' : root === 'worklist' ? 'MODALITY_WORKLIST' : 'STUDY_ROOT';
    const ident = identifier(keys, root === 'worklist' ? undefined : level);
    out.debug(`C-FIND ${model}: ${JSON.stringify(ident)} to ${settings.host}:${settings.port}`);
    const [{ sopClassFor }, { TransferSyntax }] = await Promise.all([import('../services/scu/find.js'), import('../dictionary/uids.js')]);
    const presentationContexts = [{ abstractSyntax: sopClassFor(model, 'find'), transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] }];
    const connection = await connectClient(settings, { presentationContexts });
    const [{ findEncoded }, { decodeDatasetDict }, { toDicomJson }, { dcmjs, quietly }] = await Promise.all([
      import('../services/scu/find.js'), import('../dataset/codec.js'), import('../dataset/json-model.js'), import('../dataset/dcmjs.js')]);
    // One form per match, the one printed: the naturalized data set for the table, the JSON
    // Model for --json.
    const matches: Array<Record<string, unknown>> = [];
    const json: unknown[] = [];
    const interruption = new Interruption(out, 'C-FIND', () => void connection.client.abort().catch(() => undefined));
    let final: number | undefined;
    let count = 0;
    let bytes = 0;
    // What arrived before a failure (a final failure status after the matches, such as the A700
    // of a peer's own cap on them; a timeout; an abort) is still part of the answer: printed,
    // then the error, with the error's exit code.
    let ended: unknown;
    try {
      await releaseAfter(connection, out, async (client) => {
        // After a cancel, the final status is told to the user (Cancel, or whatever the peer sent).
        const watch = (m: { direction: string; command: { type: string; status?: number } }): void => {
          if (m.direction === 'received' && m.command.type === 'C-FIND-RSP' && (m.command.status! & 0xff00) !== 0xff00) final = m.command.status;
        };
        interruption.signal.addEventListener('abort', () => client.association.on('message', watch), { once: true });
        try {
          for await (const m of findEncoded(client.association, model, ident, { signal: interruption.signal, ...(settings.timeout !== undefined ? { timeout: settings.timeout } : {}) })) {
            const dict = decodeDatasetDict(m.dataset, m.transferSyntaxUid);
            if (out.json) json.push(toDicomJson(dict));
            else matches.push(quietly(() => dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict)));
            count++;
            bytes += m.dataset.length;
            // Leaving the loop sends C-CANCEL-RQ; the final response is due within the timeout.
            if (count >= maxMatches) {
              out.note(`stopped after ${maxMatches} matches (--max-matches): the peer may have more; narrow the query`);
              break;
            }
            if (bytes >= maxBytes) {
              out.note(`stopped after ${count} match${count === 1 ? '' : 'es'} of ${bytes} bytes in all (--max-match-bytes ${maxBytes}): the peer may have more; narrow the query`);
              break;
            }
          }
        } finally {
          interruption.operationEnded();
        }
      });
    } catch (e) {
      const error = interruption.by === undefined ? e : interruption.error(e);
      if (count === 0) throw error;
      ended = error;
    } finally {
      interruption.dispose();
    }
    const columns = keys.map((k) => k.keyword).filter((k) => k !== 'QueryRetrieveLevel');
    // Without keys, the attributes returned; never dcmjs's own bookkeeping (_vrMap, _meta).
    const shown = columns.length > 0 ? columns : [...new Set(matches.flatMap((m) => Object.keys(m)))].filter((k) => !k.startsWith('_'));
    if (ended !== undefined) {
      if (out.json) out.document({ ...errorJson(ended), matches: json });
      else reportMatches(out, shown, matches, json, ' before the C-FIND ended');
      out.error(formatError(ended, out.verbose));
      return exitCodeFor(ended);
    }
    reportMatches(out, shown, matches, json);
    const cancelled = interruption.cancelled;
    if (cancelled !== undefined) {
      const status = final === undefined ? 'its final response' : `its final response is ${final === 0xfe00 ? 'Cancel' : final === 0 ? 'Success' : 'status'} (0x${final.toString(16).padStart(4, '0')})`;
      if (!out.json) out.error(`error: C-FIND cancelled on ${cancelled} after ${count} match${count === 1 ? '' : 'es'} (the matches the peer sent after the cancel are not shown): ${status}; the association was released. [${CliCode.interrupted}]`);
      return ExitCode.Interrupted;
    }
    return ExitCode.Ok;
  },
};
