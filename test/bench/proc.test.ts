import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMs, startNodeScp } from '../../bench/lib/proc.js';
// Below the ephemeral range: the test's gap (nothing listening) must stay a gap, which a port
// another process's listen(0) or connect() may be handed could not promise.
import { freePort } from '../helpers/free-port.js';

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

test('startNodeScp with a ready line: a port check that binds and releases the port is not taken for the listener', { timeout: 60_000 }, async () => {
  // Like `dicom-tls serve`: a transient listener on the port (its "is the port free?" check),
  // which here lives until a probe has connected to it (or half a second), then a gap with nothing
  // listening (serve opens its index and storage), then the real listener and its log line.
  // The gap lasts until the test writes `go`, so the order is fixed, not a matter of timing.
  const dir = mkdtempSync(join(tmpdir(), 'bench-proc-'));
  const port = await freePort();
  const script = [
    "const net = require('node:net'); const fs = require('node:fs'); const [port, dir] = [Number(process.argv[1]), process.argv[2]];",
    "let closing = false; const release = () => { if (closing) return; closing = true; check.close(() => { fs.writeFileSync(dir + '/checked', ''); wait(); }); };",
    "const check = net.createServer((s) => { s.destroy(); release(); });",
    "check.listen(port, '127.0.0.1', () => setTimeout(release, 500));",
    "function wait() { if (!fs.existsSync(dir + '/go')) { setTimeout(wait, 10); return; }",
    "  net.createServer((s) => s.end()).listen(port, '127.0.0.1', () => console.log('listening for DICOM over TLS on ' + port)); }",
  ].join('\n');
  let goWritten = false;
  let startedBeforeGo: boolean | undefined;
  const started = startNodeScp('test SCP', port, ['-e', script, String(port), dir], undefined, /listening for DICOM over TLS on /)
    .then((handle) => { startedBeforeGo = !goWritten; return handle; });
  try {
    while (!existsSync(join(dir, 'checked'))) await sleep(10);
    // The gap is real: nothing listens now.
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED');
    goWritten = true;
    writeFileSync(join(dir, 'go'), '');
    const handle = await started;
    assert.equal(startedBeforeGo, false, 'startNodeScp returned while only the port check had listened');
    assert.match(handle.output(), /listening for DICOM over TLS on /);
    await handle.stop();
  } finally {
    writeFileSync(join(dir, 'go'), '');
    await started.then((h) => h.stop(), () => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
