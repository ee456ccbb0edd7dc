#!/usr/bin/env node
/**
 * The `dicom-tls` executable. The build bundles it with what it imports into dist/cli/ (an entry
 * and a few chunks per command, scripts/bundle-cli.mjs): Node 20 loads ES modules one file at a
 * time, each read through the thread pool, and the ~90 modules of `store` or `echo` cost ~45 ms
 * of every run before any work began.
 */
import { main } from './main.js';
import { processIo } from './io.js';

const code = await main(process.argv.slice(2), processIo());
// `serve` resolves only after a clean shutdown; every other command is done here. Exiting
// explicitly keeps a peer's half-closed socket from holding the process open.
process.exit(code);
