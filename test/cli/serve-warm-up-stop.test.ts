/**
 * Signals during serve's start-up warm-up. A stop (SIGTERM to serve, Ctrl-C to its process group)
 * ends the warm-up at once: serve never opens its ports, logs no warm-up failure, exits 0, and
 * leaves neither the peer process nor the scratch directory behind. A reload (SIGHUP) is held
 * until the server is up, not the end of it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir } from '../helpers/cli.js';

const tmp = tempDir('cli-serve-warm-up-stop-');
after(() => tmp.cleanup());

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** The warm-up's peer: serve's child process, polled for (a hang guard of 30 s, not a timed assertion). */
async function peerOf(pid: number): Promise<number> {
  for (let i = 0; i < 1500; i++) {
    try {
      return Number(execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
    } catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  throw new Error(`serve (pid ${pid}) started no warm-up peer`);
}

interface Warming { child: ChildProcessWithoutNullStreams; tmpdir: string; out(): string; events(): string[]; exited: Promise<number | null>; peer: number }

/** serve, in a process group of its own (as a shell runs a foreground job), once its warm-up's peer runs. */
async function warming(name: string, instances: number): Promise<Warming> {
  const tmpdir = join(tmp.dir, `tmp-${name}`);
  mkdirSync(tmpdir);
  const args = [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, name), '--log-format', 'json', '--warm-up', String(instances)];
  const child = spawn(process.execPath, args, { env: { ...process.env, DICOM_TLS_WARM_UP: undefined, TMPDIR: tmpdir }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const events = (): string[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { event: string }).event);
  try {
    return { child, tmpdir, out: () => out, events, exited, peer: await peerOf(child.pid!) };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

async function stopDuringWarmUp(name: string, stop: (pid: number) => void): Promise<void> {
  // A warm-up of several seconds: the stop surely arrives while it runs.
  const w = await warming(name, 4000);
  try {
    stop(w.child.pid!);
    assert.equal(await w.exited, 0, w.out());
    const events = w.events();
    assert.deepEqual(events.slice(-2), ['stopping', 'stopped'], w.out());
    assert.ok(!events.includes('listening'), `the ports were opened after the stop:\n${w.out()}`);
    assert.ok(!events.includes('warm-up-failed'), `the stop was logged as a failed warm-up:\n${w.out()}`);
    assert.ok(!alive(w.peer), `the warm-up's peer (pid ${w.peer}) outlived serve`);
    assert.deepEqual(readdirSync(w.tmpdir).filter((n) => n.startsWith('.dicom-tls-warm-up-')), []);
  } finally {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
}

test('SIGTERM during the warm-up: serve stops without opening its ports', async () => {
  await stopDuringWarmUp('sigterm', (pid) => process.kill(pid, 'SIGTERM'));
});

test('Ctrl-C (SIGINT to the process group) during the warm-up: serve stops without opening its ports', async () => {
  await stopDuringWarmUp('sigint', (pid) => process.kill(-pid, 'SIGINT'));
});

test('SIGHUP (systemctl reload) during the warm-up does not end serve: it starts, then reloads its certificates', async () => {
  const w = await warming('sighup', 800);
  try {
    process.kill(w.child.pid!, 'SIGHUP');
    await waitForEvent(w, 'reloaded');
    const events = w.events();
    assert.ok(events.indexOf('warmed-up') < events.indexOf('listening') && events.indexOf('listening') < events.indexOf('reloaded'), events.join(', '));
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.out());
  } finally {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
});

/** Polls the log for an event; a hang guard (30 s), not a timed assertion. */
async function waitForEvent(w: Warming, event: string): Promise<void> {
  for (let i = 0; i < 1500 && !w.events().includes(event); i++) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(w.events().includes(event), `no ${event} (serve ${w.child.signalCode ?? `exit ${String(w.child.exitCode)}`}):\n${w.out()}`);
}
