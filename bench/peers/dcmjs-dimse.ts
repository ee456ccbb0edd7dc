/**
 * dcmjs-dimse peers (dev dependency): SCP and SCU each in a child Node process; the SCU times
 * itself in-process. See dcmjs-dimse-scp.ts and dcmjs-dimse-scu.ts.
 */
import { fileURLToPath } from 'node:url';
import { tlsFor } from '../lib/pki.js';
import { runNodeScu, startNodeScp } from '../lib/proc.js';
import type { ScpHandle, ScpOptions, ScpPeer, ScuPeer, TlsFiles } from '../lib/types.js';

const scpScript = fileURLToPath(new URL('./dcmjs-dimse-scp.js', import.meta.url));
const scuScript = fileURLToPath(new URL('./dcmjs-dimse-scu.js', import.meta.url));

export const dcmjsDimseScp: ScpPeer = {
  name: 'dcmjs-dimse Server',
  async start(options: ScpOptions): Promise<ScpHandle> {
    const json = JSON.stringify({
      port: options.port,
      outDir: options.outDir ?? null,
      maxPdu: options.maxPdu ?? null,
      tls: tlsFor(options.tls, 'scp'),
    });
    return startNodeScp('dcmjs-dimse SCP', options.port, [scpScript, json]);
  },
};

function scu(input: object): Promise<{ seconds: number; cpuMs?: number }> {
  return runNodeScu('dcmjs-dimse SCU', [scuScript], input, 6);
}

export const dcmjsDimseScu: ScuPeer = {
  name: 'dcmjs-dimse Client',
  timing: 'in-process',
  store: (o) => scu({ mode: 'store', port: o.port, tls: tlsFor(o.tls, 'scu'), files: o.files }),
  echo: (o) => scu({ mode: 'echo', port: o.port, tls: tlsFor(o.tls, 'scu'), count: o.count }),
  storeConcurrent: (o) => scu({ mode: 'concurrent', port: o.port, tls: tlsFor(o.tls, 'scu'), filesPerClient: o.filesPerClient }),
};
