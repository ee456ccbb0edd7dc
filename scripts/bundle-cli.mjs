/**
 * Bundles the `dicom-tls` executable (dist/src/cli/bin.js, as tsc wrote it) into dist/cli/: the
 * entry dicom-tls.js and a few shared chunks, one set per command (each command is a dynamic
 * import, so `--version` loads none of them), and dist/cli/solo/<command>.js for the client
 * commands: the program with that command alone, in one file (see src/cli/bin.ts), written as a
 * script that the entry runs with a code cache made after a run (scripts/solo-script.mjs,
 * src/cli/solo-script.ts); the entry names each by its hash. Dependencies (koffi, dcmjs) stay
 * outside and are resolved from node_modules at run time, as for the library.
 *
 * Node's own modules are then taken with `process.getBuiltinModule` instead of an ES import
 * (scripts/builtin-imports.mjs): an ES import of a built-in builds its module namespace, which reads
 * every export, and the lazy ones load their modules: `node:fs` alone pulled in fs/promises,
 * readline and the REPL history (~2.5 ms), `node:util` worker_threads (~3 ms), on every command.
 * And every file is made ASCII-only (scripts/ascii-only.mjs): V8 then reads it as a one-byte string.
 */
import { build } from 'esbuild';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinImports } from './builtin-imports.mjs';
import { asciiOnly } from './ascii-only.mjs';
import { soloScript } from './solo-script.mjs';
import { createHash } from 'node:crypto';
import { replaceFiles } from './replace-files.mjs';
// Never inside a test run (it exits there): see the script.
import './no-build-in-tests.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** `dicom-tls --version`, answered by the entry alone (src/cli/bin.ts). */
const { VERSION } = await import(new URL('../dist/src/cli/version.js', import.meta.url).href);
const outdir = `${root}dist/cli`;
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  // Kept in memory and put in place by replaceFiles (scripts/replace-files.mjs): a command
  // running from dist/cli during a build never finds its files missing or half written.
  write: false,
};
/** Every output file, by path relative to dist/cli. */
const outputs = new Map();

/**
 * The commands that get a file of their own (src/cli/bin.ts): the whole program with that
 * command alone in its table. The other commands' modules are left out (a stub in their place):
 * the entry never hands them this file, and serve's dependencies would otherwise be loaded too.
 */
const SOLO = { echo: ['echo'], serve: ['serve'], store: ['store', 'audited'], find: ['find', 'audited'], move: ['move', 'audited'], get: ['get', 'audited'] };
const COMMAND_MODULES = ['serve', 'echo', 'store', 'find', 'move', 'get', 'diagnose', 'user', 'pki', 'store-check', 'audited'];

/** Node's modules through process.getBuiltinModule, every character ASCII (see above). */
function finish(file, text) {
  const code = asciiOnly(builtinImports(text, file));
  if (/^import\b[^;]*from\s*["']node:/m.test(code) || /^import\s*["']node:/m.test(code)) throw new Error(`${file}: an import of a built-in was left`);
  return code;
}

// The commands' own files first: the entry names each with the hash of what was written.
const soloHashes = [];
for (const [name, keep] of Object.entries(SOLO)) {
  const result = await build({
    ...common,
    entryPoints: { [name]: `${root}dist/src/cli/bin.js` },
    outdir: `${outdir}/solo`,
    splitting: false,
    define: { DICOM_TLS_SOLO_COMMANDS: '""', DICOM_TLS_VERSION: 'undefined' },
    plugins: [{
      name: 'only-this-command',
      setup(b) {
        const other = new RegExp(`^\\./(${COMMAND_MODULES.filter((m) => !keep.includes(m)).join('|')})\\.js$`);
        // A real (shipped) module, so the bundle's source map points only at files the package holds.
        b.onResolve({ filter: other }, (args) => (/[\\/]cli[\\/]command\.js$/.test(args.importer) ? { path: `${root}dist/src/cli/not-in-bundle.js` } : undefined));
      },
    }],
  });
  for (const f of result.outputFiles) {
    const file = relative(outdir, f.path);
    if (!file.endsWith('.js')) {
      outputs.set(file, f.text);
      continue;
    }
    // A script, not a module: run with a code cache of its own (src/cli/solo-script.ts).
    const code = soloScript(finish(file, f.text), file);
    outputs.set(file, code);
    soloHashes.push(`${name}:${createHash('sha256').update(code).digest('hex').slice(0, 16)}`);
  }
}

const entry = await build({
  ...common,
  entryPoints: { 'dicom-tls': `${root}dist/src/cli/bin.js` },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  define: { DICOM_TLS_SOLO_COMMANDS: JSON.stringify(soloHashes.join(' ')), DICOM_TLS_VERSION: JSON.stringify(VERSION) },
});
for (const f of entry.outputFiles) {
  const file = relative(outdir, f.path);
  outputs.set(file, file.endsWith('.js') ? finish(file, f.text) : f.text);
}
// The entry last: it is what a new command opens first.
replaceFiles(outdir, [...outputs].map(([path, contents]) => ({ path, contents, ...(contents.startsWith('#!') ? { mode: 0o755 } : {}) })), ['dicom-tls.js']);
