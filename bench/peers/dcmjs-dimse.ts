/**
 * dcmjs-dimse peers (dev dependency): SCP and SCU each in a child Node process; the SCU times
 * itself in-process. See dcmjs-dimse-scp.ts and dcmjs-dimse-scu.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureTail, peakRssKb, stopChild, waitForPort } from '../lib/proc.js';
import type { ScpHandle, ScpOptions, ScpPeer, ScuPeer, TlsFiles } from '../lib/types.js';

const scpScript = fileURLToPath(new URL('./dcmjs-dimse-scp.js', import.meta.url));
const scuScript = fileURLToPath(new URL('./dcmjs-dimse-scu.js', import.meta.url));

const tlsFor = (tls: TlsFiles | undefined, side: 'scp' | 'scu') =>
  tls === undefined
    ? null
    : side === 'scp'
      ? { key: tls.serverKey, cert: tls.serverCert, ca: tls.caCert }
      : { key: tls.clientKey, cert: tls.clientCert, ca: tls.caCert };

export const dcmjsDimseScp: ScpPeer = {
  name: 'dcmjs-dimse Server',
  async start(options: ScpOptions): Promise<ScpHandle> {
    const json = JSON.stringify({
      port: options.port,
      outDir: options.outDir ?? null,
      maxPdu: options.maxPdu ?? null,
      tls: tlsFor(options.tls, 'scp'),
    });
    const child = spawn(process.execPath, [scpScript, json], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = captureTail(child);
    try {
      await waitForPort(options.port, child);
    } catch (error) {
      await stopChild(child);
      throw new Error(`dcmjs-dimse SCP did not start: ${(error as Error).message}\n${tail()}`);
    }
    return {
      pid: child.pid!,
      async stop() {
        const peak = await peakRssKb(child.pid!);
        await stopChild(child);
        return { peakRssKb: peak };
      },
    };
  },
};

async function scu(input: object): Promise<number> {
  const child = spawn(process.execPath, [scuScript], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(JSON.stringify(input));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // A hung association must not hang the bench.
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve)).finally(() =>
    clearTimeout(timer),
  );
  if (code !== 0) throw new Error(`dcmjs-dimse SCU failed (${code}): ${err.trim().split('\n').slice(-6).join('\n')}`);
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number }).seconds;
}

export const dcmjsDimseScu: ScuPeer = {
  name: 'dcmjs-dimse Client',
  timing: 'in-process',
  store: (o) => scu({ mode: 'store', port: o.port, tls: tlsFor(o.tls, 'scu'), files: o.files }),
  echo: (o) => scu({ mode: 'echo', port: o.port, tls: tlsFor(o.tls, 'scu'), count: o.count }),
  storeConcurrent: (o) => scu({ mode: 'concurrent', port: o.port, tls: tlsFor(o.tls, 'scu'), filesPerClient: o.filesPerClient }),
};
