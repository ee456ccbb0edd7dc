/**
 * DCMTK processes for interop tests (echoscu, storescp): free ports, readiness by polling a
 * connect, output captured, always killed on cleanup.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { onFreePort } from './free-port.js';

export function hasDcmtk(tool = 'echoscu'): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export { freePort } from './free-port.js';

export interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

/** Run a DCMTK tool to completion (killed after `timeout` ms), stdout and stderr together. */
export function run(tool: string, args: readonly string[], timeout = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface Daemon {
  readonly port: number;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Start a listening DCMTK tool (storescp) on a free port given last; resolves once it accepts connections. */
export function startListening(tool: string, args: readonly string[]): Promise<Daemon> {
  return onFreePort((port) => listenOn(tool, args, port));
}

async function listenOn(tool: string, args: readonly string[], port: number): Promise<Daemon> {
  const child = spawn(tool, [...args, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const closed = new Promise<void>((r) => child.on('close', () => ((exited = true), r())));
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGKILL');
    await closed;
  };
  // Poll-connect: storescp prints nothing reliable before it listens. A probe that connects and
  // closes at once costs storescp one aborted association, which it logs and survives. The
  // bound is a hang guard (a loaded machine may take long to start the tool), not a timing.
  const end = Date.now() + 60_000;
  while (!exited && Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return { port, child, output: () => output, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  // After stop() the output is complete: an "Address already in use" in it makes onFreePort retry.
  throw new Error(`${tool} did not start listening on ${port}: ${output}`);
}
