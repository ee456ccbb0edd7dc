#!/usr/bin/env node
/**
 * The `prepare` script: `npm ci`, `npm install` and `npm pack` in a clone build the package, as
 * usual. `npx dicom-tls` in the clone (README) is the exception: npm (`npm exec`) links this
 * folder into its npx cache the first time, which runs `prepare` again, and a rebuild then would
 * replace dist/ under a `dicom-tls serve` or any other command already running from it (and make
 * that first command wait for a whole build). A checkout already built is used as it is there;
 * one never built is built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(`${root}dist/cli/dicom-tls.js`) && existsSync(`${root}dist/src/index.js`);
if (process.env.npm_command === 'exec' && built) process.exit(0);
const npm = process.env.npm_execpath;
if (npm === undefined || npm === '') throw new Error('scripts/prepare.mjs runs from npm (the `prepare` script); to build, run `npm run build`');
execFileSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' });
