/**
 * The small-instance floor (floor-small-scp.ts, floor-small-scu.ts): a fresh bare Node server per
 * run taking 200 × 100 KB as framed messages and answering each, no DICOM. Its CPU over the
 * client's run (all threads, as the SCP CPU column) is what Node itself costs for the bytes,
 * reads, writes and TLS of a small-instance row, cold process included: the part of our SCP's CPU
 * that is not ours to cut. 'secure-socket' runs the same server on our TLS engine.
 */
import { fileURLToPath } from 'node:url';
import { stat } from 'node:fs/promises';
import { cpuMs, freePort, runNodeScu, startNodeScp } from '../lib/proc.js';
import type { Measurement, TlsFiles } from '../lib/types.js';

const scpScript = fileURLToPath(new URL('./floor-small-scp.js', import.meta.url));
const scuScript = fileURLToPath(new URL('./floor-small-scu.js', import.meta.url));

export async function floorSmall(transport: 'net' | 'tls' | 'secure-socket', tls: TlsFiles, files: readonly string[]): Promise<Measurement> {
  const port = await freePort();
  const scp = await startNodeScp('floor server', port, [scpScript, JSON.stringify({ port, transport, key: tls.serverKey, cert: tls.serverCert, ca: tls.caCert })]);
  try {
    const before = await cpuMs(scp.pid);
    const { seconds } = await runNodeScu('floor client', [scuScript], {
      port,
      tls: transport === 'net' ? null : { key: tls.clientKey, cert: tls.clientCert, ca: tls.caCert },
      files,
    });
    const after = await cpuMs(scp.pid);
    let bytes = 0;
    for (const f of files) bytes += (await stat(f)).size;
    const { peakRssKb } = await scp.stop();
    return {
      seconds, bytes, instances: files.length,
      ...(before !== undefined && after !== undefined ? { scpCpuMs: after - before } : {}),
      ...(peakRssKb === undefined ? {} : { peakRssKb }),
    };
  } catch (error) {
    await scp.stop();
    throw error;
  }
}
