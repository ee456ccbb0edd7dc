/**
 * Bundles the `dicom-tls` executable (dist/src/cli/bin.js, as tsc wrote it) into dist/cli/: the
 * entry dicom-tls.js and a few shared chunks, one set per command (each command is a dynamic
 * import, so `--version` loads none of them). Dependencies (koffi, dcmjs) stay
 * outside and are resolved from node_modules at run time, as for the library.
 */
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
chmodSync(`${outdir}/dicom-tls.js`, 0o755);
