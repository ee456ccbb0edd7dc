#!/usr/bin/env node
/**
 * The `dicom-tls` executable. The build bundles it with what it imports into dist/cli/
 * (scripts/bundle-cli.mjs): an entry and a few chunks per command, and for the client commands
 * that are run again and again (echo, store, find, move, get) and `serve` (whose first
 * association would otherwise run compiling) a file of their own, dist/cli/solo/
 * <command>.js, holding all that command needs: Node loads an ES module file by file, and the
 * ~40 chunks of `echo` or `store` cost ~12 ms of every run in resolving, reading and linking.
 *
 * The entry stays tiny: the compile cache is switched on first, and only then is the rest loaded
 * (a dynamic import), so that every file after this one is read from the cache. A command's own
 * file is a script run with a code cache of its own, made after a run (src/cli/solo-script.ts).
 */
import { compileCacheDir, enableCompileCache } from './compile-cache.js';
import { runSoloScript } from './solo-script.js';

/**
 * The commands with a file of their own, each as `command:hash` (the hash of that file, naming its
 * code cache), separated by spaces; the build defines it (tsc's output has none). A string, which
 * esbuild writes in place (an array would be a chunk of its own).
 */
declare const DICOM_TLS_SOLO_COMMANDS: string | undefined;
/** version.ts's VERSION, written in by the build (an import would be a chunk of its own). */
declare const DICOM_TLS_VERSION: string | undefined;

const [first, second] = process.argv.slice(2);
// `--version` alone is answered here: it needs none of the program (main.ts answers it too,
// after the DCMTK spellings of any other arguments are read).
if (typeof DICOM_TLS_VERSION === 'string' && process.argv.length === 3 && (first === '--version' || first === '-V')) {
  process.stdout.write(`${DICOM_TLS_VERSION}\n`);
  process.exit(0);
}
enableCompileCache();
const solo = new Map((typeof DICOM_TLS_SOLO_COMMANDS === 'undefined' ? '' : DICOM_TLS_SOLO_COMMANDS).split(' ').filter((c) => c !== '').map((c) => c.split(':') as [string, string]));
const hash = first === undefined ? undefined : solo.get(first);
// With --enable-source-maps the general bundle runs every command: Node maps no stack frame of
// a vm.Script (nodejs/node#52102), and who asks for source maps wants them more than speed.
if (first !== undefined && hash !== undefined && !(first === 'store' && second === 'check') && process.sourceMapsEnabled !== true) {
  // That file is this program with only `first` in it: it runs the command and exits.
  const url = new URL(`./solo/${first}.js`, import.meta.url);
  await runSoloScript(process.getBuiltinModule('node:url').fileURLToPath(url), url.href, first, hash, compileCacheDir());
} else {
  const [{ main }, { processIo }] = await Promise.all([import('./main.js'), import('./io.js')]);
  // A reader that went away (`| head`) leaves the output nowhere to go: no more of it, and no
  // crash on an unhandled EPIPE; the command still finishes its work and exits with its code.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const code = await main(process.argv.slice(2), processIo());
  // `serve` resolves only after a clean shutdown; every other command is done here. Exiting
  // explicitly keeps a peer's half-closed socket from holding the process open; but only once
  // stdout and stderr have taken all that was written: a pipe takes 64 KiB at a time, the rest
  // waits in the stream, and process.exit drops it (a `find --json | jq` lost its matches).
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

/** Resolves once what was written to `stream` before is handed to the OS (or the stream failed: a reader gone). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.write('', () => resolve());
  });
}
