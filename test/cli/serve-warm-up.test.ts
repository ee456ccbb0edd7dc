/**
 * serve's start-up warm-up: on by default (800 instances) before the ports open, its size from
 * --warm-up / "warmUp" / DICOM_TLS_WARM_UP, off with 0, its associations neither logged nor
 * counted as the server's, and a bad value a usage error. (The test command sets
 * DICOM_TLS_WARM_UP=0 for every other serve the tests start.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, oneSentenceError, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

const tmp = tempDir('cli-serve-warm-up-');
after(() => tmp.cleanup());

/** Start serve, echo over plain DICOM, stop it: its log lines. */
async function startAndStop(args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const data = join(tmp.dir, `data-${Math.random().toString(36).slice(2)}`);
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', data, '--log-format', 'json', ...args], { cwd: tmp.dir, env });
  try {
    const { plainPort } = await listening(p);
    execFileSync('echoscu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(plainPort)], { stdio: 'pipe' });
    await p.waitFor(/association-end/);
    p.child.kill('SIGTERM');
    await p.exited;
    // The data directory holds what serve keeps, nothing of the warm-up's scratch store.
    assert.deepEqual(readdirSync(data).filter((n) => n.includes('warm-up')), []);
    return p.output().split('\n').filter((l) => l.startsWith('{'));
  } finally { await p.kill(); }
}

const events = (lines: string[]): string[] => lines.map((l) => (JSON.parse(l) as { event: string }).event);

test('serve warms up 800 instances by default, before it listens, and logs only its own association', async () => {
  const lines = await startAndStop([], { DICOM_TLS_WARM_UP: undefined });
  const ev = events(lines);
  const warmed = lines.map((l) => JSON.parse(l) as { event: string; instances?: number; associations?: number }).find((l) => l.event === 'warmed-up');
  assert.ok(warmed !== undefined, ev.join(', '));
  assert.equal(warmed.instances, 800);
  assert.equal(warmed.associations, 8);
  assert.ok(ev.indexOf('warmed-up') < ev.indexOf('listening'), ev.join(', '));
  // The echo is the one association logged: the warm-up's eight are not.
  assert.equal(ev.filter((e) => e === 'association').length, 1, ev.join(', '));
  assert.doesNotMatch(lines.join('\n'), /WARM-UP/);
});

test('serve --warm-up N, DICOM_TLS_WARM_UP and "warmUp" set its size; 0 turns it off', async () => {
  const flag = events(await startAndStop(['--warm-up', '16'], { DICOM_TLS_WARM_UP: undefined }));
  assert.ok(flag.includes('warmed-up'));
  const off = events(await startAndStop(['--warm-up', '0'], { DICOM_TLS_WARM_UP: undefined }));
  assert.ok(!off.includes('warmed-up'), off.join(', '));
  const fromEnv = await startAndStop([], { DICOM_TLS_WARM_UP: '8' });
  assert.match(fromEnv.find((l) => l.includes('"warmed-up"')) ?? '', /"instances":8\b/);
  const config = join(tmp.dir, 'warm.json');
  writeFileSync(config, JSON.stringify({ warmUp: 0, tls: { devPki: true } }));
  const fromConfig = events(await startAndStop(['--config', config], { DICOM_TLS_WARM_UP: undefined }));
  assert.ok(!fromConfig.includes('warmed-up'), fromConfig.join(', '));
});

test('serve --warm-up with something not a count is a usage error naming the option', async () => {
  for (const bad of ['many', '-1', '1.5', '10001']) {
    const r = await runCli(['serve', `--warm-up=${bad}`, '--data', join(tmp.dir, 'never')], { env: { DICOM_TLS_WARM_UP: undefined } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(oneSentenceError(r).sentence, /--warm-up must be a whole number of instances/);
  }
  const r = await runCli(['serve', '--data', join(tmp.dir, 'never')], { env: { DICOM_TLS_WARM_UP: 'lots' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /warmUp/);
});
