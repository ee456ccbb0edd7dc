#!/usr/bin/env node
/**
 * The `dicom-tls` executable. The build bundles it with what it imports into dist/cli/ (an entry
 * and a few chunks per command, scripts/bundle-cli.mjs): Node 20 loads ES modules one file at a
 * time, each read through the thread pool, and the ~90 modules of `store` or `echo` cost ~45 ms
 * of every run before any work began.
 *
 * The entry stays tiny: the compile cache is switched on first, and only then is the rest loaded
 * (a dynamic import), so that every chunk after this one is read from the cache.
 */
import { enableCompileCache } from './compile-cache.js';

enableCompileCache();
const [{ main }, { processIo }] = await Promise.all([import('./main.js'), import('./io.js')]);
const code = await main(process.argv.slice(2), processIo());
// `serve` resolves only after a clean shutdown; every other command is done here. Exiting
// explicitly keeps a peer's half-closed socket from holding the process open.
process.exit(code);
