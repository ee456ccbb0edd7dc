/**
 * The `dicom-tls` command line (bin.ts runs it): picks the command, loads only its module, and
 * turns any failure into one sentence, the typed code and the exit code of its class (errors.ts).
 * Stack traces only with --verbose.
 */
import { commands, subcommands } from './command.js';
import { ExitCode, usageError, errorJson, exitCodeFor, exitCodeTable, formatError } from './errors.js';
import type { Io } from './io.js';
import { dcmtkHelp, fromDcmtk } from './dcmtk-args.js';
import { VERSION } from './version.js';


export function exitCodesHelp(): string {
  const rows = exitCodeTable.map((r) => `  ${String(r.exit).padStart(3)}  ${r.meaning}${r.codes.length > 0 ? `\n       ${r.codes.join(', ')}` : ''}`);
  return ['Exit codes (one per error class; errors print "error: <sentence> [<CODE>]", where a control',
    'character the sentence quotes is written as an escape such as \\u001b):', ...rows,
    '',
    'How an association ends after an error: a request the peer answered (a failure status, 15, or a',
    'final response naming another SOP class or instance than the request, 14 with',
    'DICOM_ERR_DIMSE_RESPONSE_MISMATCH) leaves it established and it is released (A-RELEASE); after',
    'anything else (a response to a message ID never sent, a broken PDU, a timeout, a lost',
    'connection) it is aborted (A-ABORT). A release the peer refuses or never answers once every',
    'request was answered is a warning: the result stands, and so does its exit code.',
    '',
    'Text a peer sent (matches, reasons, certificate names) is written with its control characters',
    'as escapes too: in the human output an ESC or CR from a peer is never sent to the terminal, and',
    'a table cell is one line.'].join('\n');
}

function globalHelp(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return `dicom-tls ${VERSION}: secure DICOM networking (DICOM over TLS, PS3.15 Annex B)

Usage: dicom-tls <command> [options]

Commands:
${names.map((n) => `  ${n.padEnd(width)}  ${commands[n]!.summary}`).join('\n')}

Every command takes --help (options and examples), --json (one JSON document on stdout),
--verbose (stack traces and protocol detail) and --debug (the protocol dump). DCMTK's
spellings work too (-aet, -aec, +tls KEY CERT, +cf, HOST PORT …: dicom-tls help dcmtk).
Passwords come from --password-file FILE, --password-env NAME or --ask-password, never from
the command line itself.

Examples:
  dicom-tls serve                                  # TLS on 2762, data in ./dicom-tls-data
  dicom-tls echo localhost:2762 --call DICOM-TLS --ca dicom-tls-data/pki/ca.pem \\
      --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem
  dicom-tls diagnose pacs.example.org:2762 --ca hospital-ca.pem
  dicom-tls pki init ./pki --host pacs.example.org --ip 10.0.0.5

${exitCodesHelp()}`;
}

/** Run one command line; resolves with the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...given] = argv;
  let rest: string[];
  try {
    // DCMTK spellings (-aet, +tls KEY CERT, -P …) become ours before any option is read.
    rest = fromDcmtk(given, first);
  } catch (e) {
    return report(e, io, given.includes('--verbose') || given.includes('-v'), given.includes('--json'));
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic === 'exit-codes') { io.stdout.write(`${exitCodesHelp()}\n`); return ExitCode.Ok; }
    if (topic === 'dcmtk') { io.stdout.write(`${dcmtkHelp}\n`); return ExitCode.Ok; }
    const subtopic = topic === undefined || rest[1] === undefined ? undefined : subcommands[topic]?.[rest[1]];
    if (subtopic !== undefined) {
      io.stdout.write(`${(await subtopic.load()).help}\n`);
      return ExitCode.Ok;
    }
    if (topic !== undefined && commands[topic] !== undefined) {
      io.stdout.write(`${(await commands[topic]!.load()).help}\n`);
      return ExitCode.Ok;
    }
    io.stdout.write(`${globalHelp()}\n`);
    return first === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (first === '--version' || first === '-V') { io.stdout.write(`${VERSION}\n`); return ExitCode.Ok; }
  const sub = rest[0] === undefined ? undefined : subcommands[first]?.[rest[0]];
  if (sub !== undefined) rest = rest.slice(1);
  const verbose = rest.includes('--verbose') || rest.includes('-v');
  const json = rest.includes('--json');
  const entry = sub ?? commands[first];
  if (entry === undefined) {
    return report(usageError(`unknown command "${first}": run dicom-tls --help for the list`), io, verbose, json);
  }
  try {
    const mod = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`${mod.help}\n`);
      return ExitCode.Ok;
    }
    const stopDump = rest.includes('--debug')
      ? (await import('./protocol-dump.js')).startProtocolDump((line) => io.stderr.write(`${line}\n`))
      : undefined;
    try {
      return await mod.run(rest, io);
    } finally {
      stopDump?.();
    }
  } catch (e) {
    return report(e, io, verbose || rest.includes('--debug'), json);
  }
}

function report(e: unknown, io: Io, verbose: boolean, json: boolean): number {
  if (json) io.stdout.write(`${JSON.stringify(errorJson(e), null, 2)}\n`);
  io.stderr.write(`${formatError(e, verbose)}\n`);
  return exitCodeFor(e);
}
