/**
 * Stopping serve: through `npm start` and `npx dicom-tls serve` a SIGTERM to npm leaves no server
 * behind; a stop waits for running associations up to --stop-timeout, then aborts them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/cli.js';
import { spawnServe, listening, type ServeProcess } from '../helpers/serve-process.js';

/** dist/test/cli → the package root (where package.json is). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = tempDir('cli-serve-signals-');
after(() => tmp.cleanup());

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Polls until the process is gone; a hang guard (30 s), not a timed assertion. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

async function serverPid(p: ServeProcess): Promise<number> {
  const m = await p.waitFor(/"event":"listening".*?"pid":(\d+)/);
  return Number(m[1]);
}

async function stopThroughNpm(p: ServeProcess): Promise<void> {
  const pid = await serverPid(p);
  assert.notEqual(pid, p.child.pid, 'npm runs the server as a child process');
  try {
    p.child.kill('SIGTERM');
    await p.exited;
    assert.ok(await gone(pid), `the server (pid ${pid}) outlived npm:\n${p.output()}`);
    assert.match(p.output(), /"event":"stopped"/);
  } finally {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

test('npm start: SIGTERM to npm stops the server cleanly (no orphan)', async () => {
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'npm-start'), '--log-format', 'json'],
    { cwd: ROOT, command: ['npm', 'start', '--silent', '--'] });
  try { await stopThroughNpm(p); } finally { await p.kill(); }
});

test('npx dicom-tls serve: SIGTERM to npm stops the server cleanly (no orphan)', async () => {
  // A project that has dicom-tls installed: its node_modules links to this package.
  const project = join(tmp.dir, 'project');
  mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(ROOT, join(project, 'node_modules', 'dicom-tls'));
  symlinkSync('../dicom-tls/dist/cli/dicom-tls.js', join(project, 'node_modules', '.bin', 'dicom-tls'));
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', join(project, 'data'), '--log-format', 'json'],
    { cwd: project, command: ['npx', '--no-install', 'dicom-tls', 'serve'] });
  try { await stopThroughNpm(p); } finally { await p.kill(); }
});

test('--stop-timeout: a stop waits for a running association, then aborts it and exits 0', async () => {
  const { DicomClient } = await import('../../src/ae/client.js');
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, 'stop'), '--stop-timeout', '1'], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(p);
    const client = await DicomClient.associate({ host: '127.0.0.1', port: plainPort!, callingAeTitle: 'IDLE', calledAeTitle: 'DICOM-TLS' });
    await client.echo();
    await p.waitFor(/association IDLE → DICOM-TLS/);
    p.child.kill('SIGTERM');
    const ended = await client.association.whenClosed();
    assert.equal((await p.exited).code, 0, p.output());
    assert.ok(ended.error !== undefined, 'the association was aborted, not released');
    const out = p.output();
    const order = [/SIGTERM: stopping \(no new associations; waiting up to 1 s for 1 in progress\)/, /stop timeout \(1 s\) reached: aborting 1 running association/, /stopped cleanly/]
      .map((re) => re.exec(out)?.index ?? -1);
    assert.ok(order.every((i) => i >= 0), out);
    assert.deepEqual([...order].sort((a, b) => a - b), order);
  } finally { await p.kill(); }
});

test('a stop with nothing running does not wait for the timeout: no abort line', async () => {
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'idle'), '--stop-timeout', '600'], { cwd: tmp.dir });
  try {
    await listening(p);
    p.child.kill('SIGINT');
    assert.equal((await p.exited).code, 0);
    assert.doesNotMatch(p.output(), /stop timeout/);
    assert.match(p.output(), /SIGINT: stopping[\s\S]*stopped cleanly/);
  } finally { await p.kill(); }
});
