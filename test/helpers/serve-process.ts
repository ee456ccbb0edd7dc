/**
 * A `dicom-tls serve` child process for the service tests: its combined output, a wait for a log
 * line (a hang guard, not a timed assertion), and its exit.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI } from './cli.js';

export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  output(): string;
  waitFor(re: RegExp, guardMs?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

export function spawnServe(args: readonly string[], o: { cwd: string; env?: NodeJS.ProcessEnv; command?: readonly string[] }): ServeProcess {
  const [cmd, ...pre] = o.command ?? [process.execPath, CLI, 'serve'];
  const child = spawn(cmd!, [...pre, ...args], { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  // Resolved once the output pipes are drained too ('close'), so whoever reads output() after
  // the exit sees the last lines: at 'exit' they may still be in the pipe. A process of its own
  // (npm's child) may hold the pipes past the exit: then no more than a grace after the exit.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => {
    const grace = setTimeout(() => r({ code, signal }), 10_000).unref();
    child.once('close', () => { clearTimeout(grace); r({ code, signal }); });
  }));
  const waitFor = (re: RegExp, guardMs = 30_000): Promise<RegExpExecArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(out);
      if (m !== null) { done(); resolve(m); }
    };
    const onExit = (): void => { done(); const m = re.exec(out); if (m !== null) resolve(m); else reject(new Error(`serve exited before ${re}:\n${out}`)); };
    const guard = setTimeout(() => { done(); reject(new Error(`no ${re} in the serve output:\n${out}`)); }, guardMs);
    const done = (): void => { clearTimeout(guard); child.stdout.off('data', check); child.stderr.off('data', check); child.off('close', onExit); };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    // 'close', not 'exit': the line may still be in the pipe when the process has exited.
    child.once('close', onExit);
    check();
  });
  return {
    child, output: () => out, waitFor, exited,
    kill: async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } },
  };
}

/** The TLS and plain ports from the "listening" line, the HTTP port from its own line (text or JSON form). */
export async function listening(p: ServeProcess, http = false): Promise<{ port: number; plainPort: number | undefined; httpPort: number | undefined }> {
  // The log line, or (a quiet --log-level) the printed connect lines. The port is after the last
  // colon: the host may be an IPv6 address (`on [::1]:2762`).
  await p.waitFor(/listening for DICOM over TLS on \S+?:\d+|Stop with Ctrl-C/);
  const m = /listening for DICOM over TLS on \S+:(\d+)/.exec(p.output()) ?? /dicom-tls echo \S+:(\d+)/.exec(p.output())!;
  const plain = /plain DICOM on \S+:(\d+)/.exec(p.output()) ?? /echoscu -aec \S+ \S+ (\d+) +\(plain DICOM\)/.exec(p.output());
  const h = http ? await p.waitFor(/health and metrics on http:\/\/\S+?:(\d+)/) : undefined;
  return { port: Number(m[1]), plainPort: plain === null ? undefined : Number(plain[1]), httpPort: h === undefined ? undefined : Number(h[1]) };
}
