/**
 * Runs the built `dicom-tls` binary as a user would (`node dist/cli/dicom-tls.js …`, the bundled executable), in a
 * directory of the test's choosing, and collects exit code, stdout and stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** dist/test/helpers/cli.js → dist/cli/dicom-tls.js */
export const CLI = fileURLToPath(new URL('../../cli/dicom-tls.js', import.meta.url));

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface CliOptions { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; killAfter?: number }

export function runCli(args: readonly string[], o: CliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: o.cwd ?? process.cwd(), env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  return collect(child, o);
}

export function collect(child: ChildProcessWithoutNullStreams, o: { input?: string; killAfter?: number } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.on('error', () => { /* the process may exit before reading */ });
  child.stdin.end(o.input ?? '');
  // A hang guard, not an assertion: a stuck CLI fails the test with its output so far.
  const guard = setTimeout(() => child.kill('SIGKILL'), o.killAfter ?? 60_000);
  return new Promise((resolve) => child.once('close', (code, signal) => {
    clearTimeout(guard);
    resolve({ code, signal, stdout, stderr });
  }));
}

/** The user-facing contract of a failure: exactly one line on stderr, `error: <sentence>. [CODE]`. */
export function oneSentenceError(r: CliResult): { sentence: string; code: string } {
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  if (lines.length !== 1) throw new Error(`expected one stderr line, got ${lines.length}:\n${r.stderr}`);
  const m = /^error: (.+[.!?]) \[([A-Z0-9_]+)\]$/.exec(lines[0]!);
  if (m === null) throw new Error(`not "error: <sentence>. [CODE]": ${lines[0]}`);
  if (/\n\s+at /.test(r.stderr)) throw new Error('stack trace without --verbose');
  return { sentence: m[1]!, code: m[2]! };
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
