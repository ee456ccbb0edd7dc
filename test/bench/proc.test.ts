import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpuMs } from '../../bench/lib/proc.js';

test('cpuMs: the CPU a process spends, across all its threads; undefined once it has gone', async () => {
  // Spins until it has itself spent 300 ms of CPU (by its own count, so however loaded the
  // machine is), prints that count, then idles until killed.
  const spin = [
    'const s = process.cpuUsage();',
    'for (;;) { const u = process.cpuUsage(s); if (u.user + u.system >= 300000) break; }',
    'const t = process.cpuUsage(); console.log(String((t.user + t.system) / 1000));',
    'setInterval(() => {}, 1000);',
  ].join(' ');
  const child = spawn(process.execPath, ['-e', spin], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const before = await cpuMs(child.pid!);
    assert.ok(before !== undefined && before >= 0);
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const own = Number(line.toString().trim());
    assert.ok(own >= 300, `the child counted ${own} ms`);
    const after = await cpuMs(child.pid!);
    assert.ok(after !== undefined && after >= before);
    // At least what the process counted itself (schedstat is exact; a margin for rounding), and
    // not absurdly more: a unit error (µs or ns read as ms) would be off by 1000.
    assert.ok(after >= own * 0.95, `read ${after} ms, the child counted ${own} ms`);
    assert.ok(after < own * 100, `read ${after} ms, the child counted ${own} ms`);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'close');
  }
  assert.equal(await cpuMs(child.pid!), undefined);
});
