import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** A storage server in a child process (storage-server-child.ts), for tests that watch its memory or kill it. */
export interface StorageServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** What the child printed: associations that ended in an error, stored instances. */
  readonly lines: Record<string, unknown>[];
  /** SIGTERM, then SIGKILL if it has not closed 3 s later. */
  stop(): Promise<void>;
}

/** Start the child with `config` (its JSON argument) and Node flags `nodeArgs`; resolves once it listens. */
export async function startStorageServerProcess(config: Record<string, unknown>, nodeArgs: readonly string[] = []): Promise<StorageServerProcess> {
  const script = new URL('./storage-server-child.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [...nodeArgs, script, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as Record<string, unknown>;
      if (typeof m['port'] === 'number') resolve(m['port']);
      else lines.push(m);
    });
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  return {
    child,
    port,
    lines,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await closed;
      clearTimeout(t);
    },
  };
}

/** A process's peak resident set size (VmHWM), in bytes. */
export async function vmHwm(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}
