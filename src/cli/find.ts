/**
 * `dicom-tls find HOST:PORT -k Key=value…`: C-FIND, results as a table or JSON. The query SCU
 * (services/scu) is not in this build yet: keys are parsed and checked, then the command ends with
 * "not available in this build".
 */
import { clientOptions, oneOf, parse } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { unavailableError } from './errors.js';
import { Output, table } from './io.js';
import { identifier, levelFrom, parseQueryKeys, queryKeyHelp, queryRoots } from './query-keys.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls find HOST:PORT -k KEY[=VALUE]... [options]

Queries the peer with C-FIND (Patient Root, Study Root or Modality Worklist) and prints the
matches as a table (the keys asked for are the columns) or, with --json, as an array.

Query:
${queryKeyHelp}

${clientOptionsHelp}

Examples:
  dicom-tls find localhost:2762 --ca ca.pem --cert client.pem --key client-key.pem \\
      --level STUDY -k PatientName='DOE^*' -k StudyDate=20240101-20241231 -k StudyInstanceUID
  dicom-tls find pacs:11112 --no-tls --call PACS --root patient --level PATIENT -k PatientID -k PatientName --json`;

export const findOptions = { ...clientOptions, query: { type: 'string', short: 'k', multiple: true }, level: { type: 'string' }, root: { type: 'string' } } as const;

/** Matches as a table whose columns are the keys asked for (in order), or a JSON array. */
export function reportMatches(out: Output, columns: readonly string[], matches: ReadonlyArray<Record<string, unknown>>): void {
  if (out.json) { out.document(matches); return; }
  const text = (v: unknown): string => v === undefined || v === null ? '' : Array.isArray(v) ? v.map(text).join('\\')
    : typeof v === 'object' ? (('Alphabetic' in (v as object)) ? String((v as { Alphabetic: unknown }).Alphabetic) : JSON.stringify(v)) : String(v);
  out.line(table(columns, matches.map((m) => columns.map((c) => text(m[c])))));
  out.line(`${matches.length} match${matches.length === 1 ? '' : 'es'}`);
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, findOptions);
    const out = new Output(io, values);
    const keys = await parseQueryKeys(values.query ?? []);
    const level = levelFrom(values.level, keys, 'STUDY');
    const root = oneOf(values.root, 'root', queryRoots) ?? 'study';
    const settings = await clientSettings(values, positionals[0], io);
    out.debug(`C-FIND ${root} root at ${level}: ${JSON.stringify(identifier(keys, level))} to ${settings.host}:${settings.port}`);
    throw unavailableError('find (the C-FIND SCU)');
  },
};
