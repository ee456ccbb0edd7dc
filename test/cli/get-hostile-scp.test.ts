/**
 * `dicom-tls get` against a retrieve source that breaks the protocol: a typed error with the
 * exit code docs/cli.md gives it (never 1, "a bug"), and nothing left in the output directory
 * but the instances received whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneSentenceError, runCli, tempDir } from '../helpers/cli.js';
import { ctInstance, hostileGetScp, type GetSession } from '../helpers/hostile-get-scp.js';

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

test('get: a second C-STORE-RQ before the first is answered (beyond the operations window) exits 14, not 1', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('get-window-');
  const scp = await hostileGetScp(async (s) => {
    s.storeRq(100, '1.2.3.4.5');
    s.data(ctInstance('1.2.3.4.5'), true);
    s.storeRq(101, '1.2.3.4.6');
    s.data(ctInstance('1.2.3.4.6'), true);
    await s.end();
  });
  try {
    const r = await runCli(['get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '60', '-k', 'StudyInstanceUID=1.2.3', '--out', dir]);
    await scp.done;
    assert.equal(oneSentenceError(r).code, 'DICOM_ERR_OPERATIONS_WINDOW_EXCEEDED', r.stderr);
    assert.equal(r.code, 14, r.stderr);
    assert.deepEqual(filesUnder(dir).filter((f) => f.includes('.partial-')), [], 'no temporary file left');
  } finally {
    await scp.close();
    cleanup();
  }
});

for (const [how, end] of [
  ['an A-ABORT', (s: GetSession) => s.peer.write(Uint8Array.of(0x07, 0, 0, 0, 0, 4, 0, 0, 2, 0))],
  ['the connection closing', (s: GetSession) => s.peer.socket.end()],
  ['silence until our timeout', () => undefined],
] as const) {
  test(`get: ${how} in the middle of a C-STORE sub-operation's data set leaves no temporary file in the output directory`, { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir('get-cut-');
    const scp = await hostileGetScp(async (s) => {
      // The first instance arrives whole and is kept; the second is cut after half its data set.
      s.storeRq(100, '1.2.3.4.5');
      s.data(ctInstance('1.2.3.4.5'), true);
      assert.equal(await s.storeStatus(), 0);
      const cut = ctInstance('1.2.3.4.6', 100_000);
      s.storeRq(101, '1.2.3.4.6');
      for (let o = 0; o < 50_000; o += 8_000) s.data(cut.subarray(o, o + 8_000), false);
      end(s);
      await s.end();
    });
    try {
      const r = await runCli(['get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '3', '-k', 'StudyInstanceUID=1.2.3', '--out', dir]);
      await scp.done;
      assert.ok(r.code === 14 || r.code === 9, `exit ${r.code}: ${r.stderr}`);
      assert.deepEqual(filesUnder(dir), ['1.2.3/1.2.3.4/1.2.3.4.5.dcm'], r.stderr);
    } finally {
      await scp.close();
      cleanup();
    }
  });
}

test('get: an instance sent twice is one file, the later copy, and is counted once', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('get-twice-');
  const scp = await hostileGetScp(async (s) => {
    s.storeRq(100, '1.2.3.4.5');
    s.data(ctInstance('1.2.3.4.5', 100), true);
    assert.equal(await s.storeStatus(), 0);
    s.storeRq(101, '1.2.3.4.5');
    s.data(ctInstance('1.2.3.4.5', 300), true);
    assert.equal(await s.storeStatus(), 0);
    s.getRsp(0, { completed: 2, failed: 0, warning: 0 });
    await s.end();
  });
  try {
    const r = await runCli(['get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '60', '-k', 'StudyInstanceUID=1.2.3', '--out', dir]);
    await scp.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(filesUnder(dir), ['1.2.3/1.2.3.4/1.2.3.4.5.dcm']);
    assert.ok(readFileSync(join(dir, '1.2.3/1.2.3.4/1.2.3.4.5.dcm')).includes(Buffer.from('X'.repeat(300))), 'the later copy is the one kept');
    assert.match(r.stdout, /^1 instance written under .* \(1 sent again: the later copy kept\)$/m);
  } finally {
    await scp.close();
    cleanup();
  }
});
