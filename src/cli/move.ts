/**
 * `dicom-tls move HOST:PORT --dest AE -k Key=value…`: C-MOVE with progress from the pending
 * responses. The retrieve SCU (services/scu) is not in this build yet: options are checked, then
 * the command ends with "not available in this build".
 */
import { clientOptions, oneOf, parse, parseAeTitle } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { ExitCode, unavailableError, usageError } from './errors.js';
import { Output } from './io.js';
import { identifier, levelFrom, parseQueryKeys, queryKeyHelp } from './query-keys.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls move HOST:PORT --dest AE -k KEY=VALUE... [options]

Asks the peer (C-MOVE) to send the matching instances to the AE title --dest (which the peer must
know: host, port, TLS). Progress comes from the pending responses (remaining, completed, failed,
warning). Exit code 16 when some sub-operations failed.

Query:
${queryKeyHelp.replace('worklist', 'patient | study').replace(' | patient | study', '')}
  --dest AE              move destination AE title (required)

${clientOptionsHelp}

Examples:
  dicom-tls move localhost:2762 --dest MYWORKSTATION --level STUDY \\
      -k StudyInstanceUID=1.2.840.113619.2.1.1 --ca ca.pem --cert client.pem --key client-key.pem
  dicom-tls move pacs:11112 --no-tls --call PACS --dest ARCHIVE2 --level PATIENT -k PatientID=12345`;

export interface SubOperations { remaining?: number | undefined; completed: number; failed: number; warning: number }

export function reportSubOperations(out: Output, verb: string, s: SubOperations): number {
  if (out.json) out.document({ completed: s.completed, failed: s.failed, warning: s.warning });
  else out.line(`${verb}: completed ${s.completed}, warnings ${s.warning}, failed ${s.failed}`);
  return s.failed > 0 ? ExitCode.PartialFailure : ExitCode.Ok;
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
    oneOf(values.root, 'root', ['patient', 'study'] as const);
    const settings = await clientSettings(values, positionals[0], io);
    out.debug(`C-MOVE to ${dest}: ${JSON.stringify(identifier(keys, level))} via ${settings.host}:${settings.port}`);
    throw unavailableError('move (the C-MOVE SCU)');
  },
};
