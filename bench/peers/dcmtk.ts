/**
 * DCMTK 3.6.7 peers: `storescp` as SCP, `storescu` / `echoscu` as SCU, each timed as a whole
 * command. Every DCMTK process runs with TCP_NODELAY=1 (see DCMTK_ENV); TLS is mutual (`+tls key
 * cert` and `+cf ca` on both ends, DCMTK's default `--require-peer-cert`).
 */
import { spawn } from 'node:child_process';
import { DCMTK_ENV, captureTail, peakRssKb, run, stopChild, waitForPort } from '../lib/proc.js';
import type { ScpHandle, ScpOptions, ScpPeer, ScuConcurrentOptions, ScuEchoOptions, ScuPeer, ScuStoreOptions, TlsFiles } from '../lib/types.js';

function tlsArgs(tls: TlsFiles | undefined, side: 'scp' | 'scu'): string[] {
  if (tls === undefined) return [];
  const [key, cert] = side === 'scp' ? [tls.serverKey, tls.serverCert] : [tls.clientKey, tls.clientCert];
  return ['+tls', key, cert, '+cf', tls.caCert];
}

const pduArgs = (maxPdu: number | undefined): string[] => (maxPdu === undefined ? [] : ['-pdu', String(maxPdu)]);

export const storescp: ScpPeer = {
  name: 'DCMTK storescp',
  async start(options: ScpOptions): Promise<ScpHandle> {
    const args = [
      ...tlsArgs(options.tls, 'scp'),
      ...pduArgs(options.maxPdu),
      ...(options.outDir === undefined ? ['--ignore'] : ['-od', options.outDir]),
      String(options.port),
    ];
    const child = spawn('storescp', args, { env: DCMTK_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = captureTail(child);
    try {
      await waitForPort(options.port, child);
    } catch (error) {
      await stopChild(child);
      throw new Error(`storescp did not start: ${(error as Error).message}\n${tail()}`);
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

function storescuArgs(port: number, tls: TlsFiles | undefined, files: readonly string[], maxPdu?: number): string[] {
  return [...tlsArgs(tls, 'scu'), ...pduArgs(maxPdu), '-aet', 'BENCHSCU', '-aec', 'STORESCP', '127.0.0.1', String(port), ...files];
}

/** storescu exits 0 even when an instance was refused; an error line on its stderr means one was. */
async function storescu(args: string[]): Promise<void> {
  const result = await run('storescu', args, { env: DCMTK_ENV });
  if (/^[EF]:/m.test(result.stderr)) throw new Error(`storescu reported errors:\n${result.stderr.slice(-2000)}`);
}

export const dcmtkScu: ScuPeer = {
  name: 'DCMTK storescu/echoscu',
  timing: 'whole command',
  async store(options: ScuStoreOptions) {
    await storescu(storescuArgs(options.port, options.tls, options.files, options.maxPdu));
    return undefined;
  },
  async echo(options: ScuEchoOptions) {
    for (let i = 0; i < options.count; i++) {
      await run('echoscu', [...tlsArgs(options.tls, 'scu'), '-aet', 'BENCHSCU', '-aec', 'STORESCP', '127.0.0.1', String(options.port)], {
        env: DCMTK_ENV,
      });
    }
    return undefined;
  },
  async storeConcurrent(options: ScuConcurrentOptions) {
    await Promise.all(options.filesPerClient.map((files) => storescu(storescuArgs(options.port, options.tls, files))));
    return undefined;
  },
};
