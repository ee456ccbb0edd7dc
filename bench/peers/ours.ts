/**
 * Adapter for "ours" (dicom-tls). The runner pairs these with the other peers, so filling these
 * in is all it takes to get the rows ours → ours, ours → DCMTK storescp and DCMTK storescu → ours
 * (and the ratios) into the table:
 *
 * - `oursScp.start` must start a DicomServer in ITS OWN PROCESS (the runner reads its peak RSS from
 *   /proc/<pid>/status), e.g. spawn `node dist/bench/peers/ours-scp.js <json ScpOptions>` built
 *   like dcmjs-dimse-scp.ts: Storage + Verification SCP, Part 10 files into outDir (discard when
 *   undefined), mutual TLS with tls.serverKey/serverCert/caCert, announce maxPdu when given.
 * - `oursScu` must run DicomClient in a child process that times itself in-process and prints
 *   {"seconds": n}, like dcmjs-dimse-scu.ts (store: all files on one association; echo: `count`
 *   associations one after the other; storeConcurrent: one association per list, all at once).
 * - `oursCliScu` is the same client driven through the CLI (`dicom-tls store …`, `dicom-tls echo …`),
 *   timed as a whole command (spawn to exit), like DCMTK's storescu/echoscu rows.
 * - `oursCliStartup` is the CLI's own start-up: the command the 'startup' rows run, or
 *   NotAvailableError while dist/src/cli/main.js is not there.
 *
 * Until DicomClient/DicomServer are merged these throw NotAvailableError and the runner prints n/a.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NotAvailableError, type ScpPeer, type ScuPeer } from '../lib/types.js';

const notYet = (what: string): never => {
  throw new NotAvailableError(`${what} is not available yet (DicomClient/DicomServer not merged)`);
};

export const oursScp: ScpPeer = {
  name: 'dicom-tls DicomServer',
  start: async () => notYet('dicom-tls DicomServer'),
};

export const oursScu: ScuPeer = {
  name: 'dicom-tls DicomClient',
  timing: 'in-process',
  store: async () => notYet('dicom-tls DicomClient'),
  echo: async () => notYet('dicom-tls DicomClient'),
  storeConcurrent: async () => notYet('dicom-tls DicomClient'),
};

export const oursCliScu: ScuPeer = {
  name: 'dicom-tls CLI',
  timing: 'whole command',
  store: async () => notYet('the dicom-tls CLI store command'),
  echo: async () => notYet('the dicom-tls CLI echo command'),
  storeConcurrent: async () => notYet('the dicom-tls CLI store command'),
};

const cliMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The command whose run time is the CLI's start-up cost (it counts in every whole-command figure). */
export function oursCliStartup(): { command: string; args: string[] } {
  if (!existsSync(cliMain)) throw new NotAvailableError('dist/src/cli/main.js is not there yet');
  return { command: process.execPath, args: [cliMain, '--version'] };
}
