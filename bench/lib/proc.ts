/** Process helpers: spawn and time commands, wait for a listening port, read peak RSS and CPU time. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, in seconds. */
  readonly seconds: number;
}

/**
 * DCMTK on Debian is built with Nagle's algorithm left on unless TCP_NODELAY is set in the
 * environment (dcmnet reads it), which makes small-instance transfers ~90× slower; every DCMTK
 * process in the bench gets it, on both ends.
 */
export const DCMTK_ENV: NodeJS.ProcessEnv = { ...process.env, TCP_NODELAY: '1' };

/** Runs a command to completion; rejects on a non-zero exit with the tail of its output. */
export async function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { allowFailure?: boolean; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const start = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // A hung peer must not hang the bench: every command gets a generous deadline.
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (code !== 0 && options.allowFailure !== true) {
    const tail = (stderr || stdout).trim().split('\n').slice(-8).join('\n');
    throw new Error(`${command} ${args.slice(0, 6).join(' ')}… exited with ${code}:\n${tail}`);
  }
  return { code, stdout, stderr, seconds };
}

/** An unused TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes remains). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Waits until something accepts TCP connections on the port (probe connections are closed at once). */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`peer exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** VmHWM (peak resident set) of a live process, in kB; undefined once it has gone. */
export async function peakRssKb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time a live process has used so far, all its threads, in ms (the first field of each
 * thread's /proc/<pid>/task/<tid>/schedstat, nanoseconds on a CPU); undefined once it has gone.
 * Read before and after a run, it is what the SCP spent on the run: unlike wall time it hardly
 * moves when the host is busy, and it says which side of a pair is the bottleneck.
 */
export async function cpuMs(pid: number): Promise<number | undefined> {
  try {
    let ns = 0;
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const stat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
      ns += Number(stat.split(' ')[0]);
    }
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

/** Stops a child with SIGTERM (SIGKILL after a grace period) and waits for it to be gone. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Collects a child's stderr (bounded) so a failing peer can say why. */
export function captureTail(child: ChildProcess): () => string {
  let text = '';
  const take = (d: Buffer | string): void => {
    text = (text + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return () => text;
}

/** Resolves once the child's output (stdout or stderr) matches `pattern`; rejects if it exits first or after timeoutMs. */
export async function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  let text = '';
  let onData: (d: Buffer | string) => void = () => {};
  let onExit: () => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onData = (d) => {
        text = (text + d.toString()).slice(-8000);
        if (pattern.test(text)) resolve();
      };
      onExit = () => reject(new Error(`peer exited (${child.exitCode ?? child.signalCode}) before it printed ${pattern}`));
      timer = setTimeout(() => reject(new Error(`no ${pattern} in the peer's output after ${timeoutMs} ms`)), timeoutMs);
      if (child.exitCode !== null || child.signalCode !== null) onExit();
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
    });
  } finally {
    clearTimeout(timer);
    child.stdout?.off('data', onData);
    child.stderr?.off('data', onData);
    child.off('exit', onExit);
  }
}

/**
 * Start a Node SCP script in a child process (`node [...nodeArgs] script json`), wait until it
 * listens on `port`, and return a handle whose stop() reports the child's peak RSS and whose
 * output() is the tail of what it printed (for a failing run to say what the SCP saw).
 *
 * `ready`: a line the child prints once it serves (`dicom-tls serve` logs "listening"). A TCP
 * connect alone is not proof for such a child: serve first binds and releases its ports to check
 * they are free, and a probe landing in that instant connects although the real listener comes
 * only after the index and storage are open; the SCU then meets a refused connection.
 */
export async function startNodeScp(
  label: string,
  port: number,
  nodeArgs: readonly string[],
  env?: NodeJS.ProcessEnv,
  ready?: RegExp,
): Promise<{ pid: number; output(): string; stop(): Promise<{ peakRssKb: number | undefined }> }> {
  const child = spawn(process.execPath, [...nodeArgs], { stdio: ['ignore', 'pipe', 'pipe'], ...(env === undefined ? {} : { env: { ...process.env, ...env } }) });
  const tail = captureTail(child);
  try {
    // serve opens its index and storage before it listens, and our SCPs warm their store path
    // (~1 s quiet, several on a busy host): a longer start than a bare SCP.
    if (ready !== undefined) await waitForOutput(child, ready, 120_000);
    await waitForPort(port, child, 120_000);
  } catch (error) {
    await stopChild(child);
    throw new Error(`${label} did not start: ${(error as Error).message}\n${tail()}`);
  }
  return {
    pid: child.pid!,
    output: tail,
    async stop() {
      const peak = await peakRssKb(child.pid!);
      await stopChild(child);
      return { peakRssKb: peak };
    },
  };
}

/**
 * Run a Node SCU script in a child process with `input` as JSON on stdin; its last stdout line is
 * `{ "seconds": n }`, its own timing. A hung association must not hang the bench: killed after 5 min.
 */
export async function runNodeScu(label: string, nodeArgs: readonly string[], input: object, stderrLines = 8): Promise<{ seconds: number; cpuMs?: number }> {
  const child = spawn(process.execPath, [...nodeArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.end(JSON.stringify(input));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve)).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`${label} failed (${code}): ${err.trim().split('\n').slice(-stderrLines).join('\n')}`);
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; timedCpuMs?: number };
  return result.timedCpuMs === undefined ? { seconds: result.seconds } : { seconds: result.seconds, cpuMs: result.timedCpuMs };
}
