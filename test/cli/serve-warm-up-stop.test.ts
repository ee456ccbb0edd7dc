/**
 * A stop asked for during serve's start-up warm-up (SIGTERM to serve, Ctrl-C to its process
 * group) ends the warm-up at once: serve never opens its ports, logs no warm-up failure, exits
 * 0, and leaves neither the peer process nor the scratch directory behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
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

async function stopDuringWarmUp(name: string, stop: (pid: number) => void): Promise<void> {
  const tmpdir = join(tmp.dir, `tmp-${name}`);
  mkdirSync(tmpdir);
  // A warm-up of several seconds: the stop surely arrives while it runs.
  const args = [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, name), '--log-format', 'json', '--warm-up', '4000'];
  // detached: a process group of its own, as a shell gives a foreground job.
  const child = spawn(process.execPath, args, { env: { ...process.env, DICOM_TLS_WARM_UP: undefined, TMPDIR: tmpdir }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  try {
    const peer = await peerOf(child.pid!);
    stop(child.pid!);
    assert.equal(await exited, 0, out);
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { event: string }).event);
    assert.deepEqual(events.slice(-2), ['stopping', 'stopped'], out);
    assert.ok(!events.includes('listening'), `the ports were opened after the stop:\n${out}`);
    assert.ok(!events.includes('warm-up-failed'), `the stop was logged as a failed warm-up:\n${out}`);
    assert.ok(!alive(peer), `the warm-up's peer (pid ${peer}) outlived serve`);
    assert.deepEqual(readdirSync(tmpdir).filter((n) => n.startsWith('.dicom-tls-warm-up-')), []);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

test('SIGTERM during the warm-up: serve stops without opening its ports', async () => {
  await stopDuringWarmUp('sigterm', (pid) => process.kill(pid, 'SIGTERM'));
});

test('Ctrl-C (SIGINT to the process group) during the warm-up: serve stops without opening its ports', async () => {
  await stopDuringWarmUp('sigint', (pid) => process.kill(-pid, 'SIGINT'));
});
