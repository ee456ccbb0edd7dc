/**
 * The CLI switches on V8's compile cache before loading a command (src/cli/compile-cache.ts; here
 * for the general bundle's chunks, a client command's own file has a cache of its own, see
 * solo-cache.test.ts): the cache directory is made on the first run and read, not rewritten, on
 * the next; a directory that cannot be made changes nothing the user sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';

/** The child's environment without any compile-cache setting inherited from ours. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // runCli merges over process.env: undefined removes a variable from the child's environment.
  if (extra['NODE_COMPILE_CACHE'] === undefined) e['NODE_COMPILE_CACHE'] = undefined;
  e['NODE_DISABLE_COMPILE_CACHE'] = undefined;
  return e;
}

/** Every cache entry under dir with its mtime (Node keeps one subdirectory per Node version). */
function entries(dir: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) found.set(join(e.parentPath, e.name), statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return found;
}

test('the compile cache is made in the OS temp directory on the first run and reused on the next', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-cc-');
  try {
    const first = await runCli(['help', 'echo'], { env: env({ TMPDIR: dir }) });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, '');
    const cache = join(dir, 'node-compile-cache');
    const made = entries(cache);
    assert.ok(made.size > 0, 'the command wrote compiled code for its chunks');
    const second = await runCli(['help', 'echo'], { env: env({ TMPDIR: dir }) });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(entries(cache), made, 'the same entries, none rewritten: the second run read them');
  } finally {
    cleanup();
  }
});

test('NODE_COMPILE_CACHE chooses the directory', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-cc-');
  try {
    const chosen = join(dir, 'chosen');
    const r = await runCli(['help', 'echo'], { env: env({ TMPDIR: join(dir, 'tmp'), NODE_COMPILE_CACHE: chosen }) });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(entries(chosen).size > 0);
    assert.ok(!existsSync(join(dir, 'tmp', 'node-compile-cache')), 'nothing in the temp directory');
  } finally {
    cleanup();
  }
});

test('a cache directory that cannot be made does not break the command', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-cc-');
  try {
    // Beneath a regular file no directory can be made, even by root.
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const cases: Record<string, string>[] = [{ TMPDIR: join(file, 'tmp') }, { NODE_COMPILE_CACHE: join(file, 'cache') }];
    for (const extra of cases) {
      const plain = await runCli(['--version'], { env: env({}) });
      const r = await runCli(['--version'], { env: env(extra) });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, plain.stdout);
      assert.equal(r.stderr, '', 'nothing printed about the cache');
      // The general bundle, and a command's own file.
      for (const args of [['help', 'echo'], ['echo', '--help']]) {
        const help = await runCli(args, { env: env(extra) });
        assert.equal(help.code, 0, help.stderr);
        assert.match(help.stdout, /^Usage: dicom-tls echo/);
        assert.equal(help.stderr, '');
      }
    }
  } finally {
    cleanup();
  }
});
