import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpuMs } from '../../bench/lib/proc.js';

test('cpuMs: the CPU a process spends, across all its threads; undefined once it has gone', async () => {
  // Spins ~300 ms of CPU on its main thread, then says so and idles until killed.
  const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 300); console.log("spun"); setInterval(() => {}, 1000);'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const before = await cpuMs(child.pid!);
    assert.ok(before !== undefined && before >= 0);
    await once(child.stdout!, 'data');
    const after = await cpuMs(child.pid!);
    assert.ok(after !== undefined);
    // At least the spin (less a margin for the spin's start before the first read), and not
    // absurdly more: a unit error (µs or ns read as ms) would be off by 1000.
    assert.ok(after - before >= 200, `spent ${after - before} ms`);
    assert.ok(after - before < 5000, `spent ${after - before} ms`);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'close');
  }
  assert.equal(await cpuMs(child.pid!), undefined);
});
