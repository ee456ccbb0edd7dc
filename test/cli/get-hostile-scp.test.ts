/**
 * `dicom-tls get` against a retrieve source that breaks the protocol: a typed error with the
 * exit code docs/cli.md gives it (never 1, "a bug"), and nothing left in the output directory
 * but the instances received whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { oneSentenceError, runCli, tempDir } from '../helpers/cli.js';
import { ctInstance, hostileGetScp } from '../helpers/hostile-get-scp.js';

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
  } finally {
    await scp.close();
    cleanup();
  }
});
