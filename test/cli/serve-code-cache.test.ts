/**
 * `serve` runs from its own file with a code cache made after a run, like the client commands
 * (src/cli/solo-script.ts): written when a serve that served an association to its release is
 * stopped cleanly, never by one stopped before any peer came (it would hold only the start and be
 * read, never replaced, by every later serve); read, not rewritten, by the next serve, which
 * still stores. Its packages (pino, ajv, prom-client, jsonc-parser) load through the entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { codeCaches } from '../helpers/code-caches.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

/** serve's code caches under dir (echo's, and Node's own entries, left out). */
const serveCaches = (dir: string) => codeCaches(dir, 'serve');

/** One serve run: started with a plain listener, `echoes` C-ECHO associations, stopped with SIGTERM. */
async function serveRun(data: string, cacheDir: string, echoes: number): Promise<string> {
  const env = { NODE_COMPILE_CACHE: cacheDir, NODE_DISABLE_COMPILE_CACHE: undefined };
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--aet', 'CACHE-SERVE', '--data', data], { cwd: dirname(data), env });
  try {
    const { plainPort } = await listening(p);
    assert.ok(plainPort !== undefined, p.output());
    for (let i = 0; i < echoes; i++) {
      const r = await runCli(['echo', `127.0.0.1:${plainPort}`, '--no-tls', '--call', 'CACHE-SERVE'], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    p.child.kill('SIGTERM');
    const { code } = await p.exited;
    assert.equal(code, 0, p.output());
    return p.output();
  } finally {
    await p.kill();
  }
}

test('serve writes its code cache at a clean stop after an association, not after a stop with none; the next serve reads it', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-serve-cache-');
  try {
    const cacheDir = join(dir, 'cache');
    const data = join(dir, 'data');
    await serveRun(data, cacheDir, 0);
    assert.equal(serveCaches(cacheDir).size, 0, 'no cache from a serve that served nobody');

    await serveRun(data, cacheDir, 1);
    const made = serveCaches(cacheDir);
    assert.equal(made.size, 1, `one cache, for serve: ${[...made.keys()].join(', ')}`);
    assert.match([...made.keys()][0]!, /dicom-tls-serve-plain-[0-9a-f]{16}-\d+-\d+\.cache$/);
    assert.ok([...made.values()][0]!.size > 0);

    const output = await serveRun(data, cacheDir, 2);
    assert.doesNotMatch(output, /ExperimentalWarning|Error/, 'no warning from loading its packages through the entry');
    assert.deepEqual(serveCaches(cacheDir), made, 'the cache was read, not rewritten');
  } finally {
    cleanup();
  }
});
