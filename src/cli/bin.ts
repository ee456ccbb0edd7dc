#!/usr/bin/env node
/**
 * The `dicom-tls` executable. The build bundles it with everything it imports into one file
 * (dist/dicom-tls.js): Node 20 loads ES modules one by one, each read through the thread pool, and
 * the ~90 modules of a command cost ~70 ms of every run before any work began.
 */
import { main } from './main.js';
import { processIo } from './io.js';

const code = await main(process.argv.slice(2), processIo());
// `serve` resolves only after a clean shutdown; every other command is done here. Exiting
// explicitly keeps a peer's half-closed socket from holding the process open.
process.exit(code);
