/**
 * Bundles the `dicom-tls` executable (dist/src/cli/bin.js, as tsc wrote it) into dist/cli/: the
 * entry dicom-tls.js and a few shared chunks, one set per command (each command is a dynamic
 * import, so `--version` loads none of them). Dependencies (koffi, dcmjs) stay
 * outside and are resolved from node_modules at run time, as for the library.
 *
 * Node's own modules are then taken with `process.getBuiltinModule` instead of an ES import
 * (scripts/builtin-imports.mjs): an ES import of a built-in builds its module namespace, which reads
 * every export, and the lazy ones load their modules: `node:fs` alone pulled in fs/promises,
 * readline and the REPL history (~2.5 ms), `node:util` worker_threads (~3 ms), on every command.
 */
import { build } from 'esbuild';
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinImports } from './builtin-imports.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { 'dicom-tls': `${root}dist/src/cli/bin.js` },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

for (const dir of [outdir, `${outdir}/chunks`]) {
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const file = `${dir}/${name}`;
    const code = builtinImports(readFileSync(file, 'utf8'), file);
    if (/^import\b[^;]*from\s*["']node:/m.test(code) || /^import\s*["']node:/m.test(code)) throw new Error(`${file}: an import of a built-in was left`);
    writeFileSync(file, code);
  }
}
chmodSync(`${outdir}/dicom-tls.js`, 0o755);
