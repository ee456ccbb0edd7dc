/**
 * How the CLI bundle's files are put in place (scripts/replace-files.mjs, used by
 * scripts/bundle-cli.mjs): a command running from dist/cli while it is rebuilt never finds a file
 * missing or half written. Unchanged files are not touched, changed ones are renamed over the old
 * (never truncated and rewritten in place), the entry goes in last, and files no longer built
 * are removed only after every new file is in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/cli.js';

interface ReplaceFiles {
  replaceFiles(dir: string, files: Array<{ path: string; contents: string | Uint8Array; mode?: number }>, last?: readonly string[]): { written: string[]; removed: string[] };
}
const script = fileURLToPath(new URL('../../../scripts/replace-files.mjs', import.meta.url));

test('replaceFiles: unchanged files untouched, changed ones renamed over, the entry last, stale ones removed after', async () => {
  const { replaceFiles } = (await import(script)) as ReplaceFiles;
  const { dir, cleanup } = tempDir('dicom-tls-replace-');
  try {
    mkdirSync(join(dir, 'chunks'));
    mkdirSync(join(dir, 'old'));
    writeFileSync(join(dir, 'entry.js'), 'import "./chunks/a-1.js";');
    writeFileSync(join(dir, 'chunks', 'same.js'), 'same');
    writeFileSync(join(dir, 'chunks', 'a-1.js'), 'old chunk');
    writeFileSync(join(dir, 'solo.js'), 'old solo');
    writeFileSync(join(dir, 'old', 'gone.js'), 'gone');
    const before = (p: string) => statSync(join(dir, p));
    const same = before('chunks/same.js');
    const solo = before('solo.js');

    const r = replaceFiles(dir, [
      { path: 'entry.js', contents: '#!/usr/bin/env node\nimport "./chunks/a-2.js";', mode: 0o755 },
      { path: 'chunks/same.js', contents: 'same' },
      { path: 'chunks/a-2.js', contents: Buffer.from('new chunk') },
      { path: 'solo.js', contents: 'new solo' },
      { path: 'solo/get.js', contents: 'get' },
    ], ['entry.js']);

    assert.deepEqual(r.written, ['chunks/a-2.js', 'solo.js', 'solo/get.js', 'entry.js'], 'the entry after the chunks it imports');
    assert.deepEqual(r.removed.sort(), ['chunks/a-1.js', 'old/gone.js']);
    const after = (p: string) => statSync(join(dir, p));
    assert.equal(after('chunks/same.js').ino, same.ino);
    assert.equal(after('chunks/same.js').mtimeMs, same.mtimeMs, 'an unchanged file is not rewritten');
    assert.notEqual(after('solo.js').ino, solo.ino, 'a changed file is a new file renamed over the old, not the old one rewritten');
    assert.equal(readFileSync(join(dir, 'solo.js'), 'utf8'), 'new solo');
    assert.equal(after('entry.js').mode & 0o777, 0o755);
    assert.ok(!existsSync(join(dir, 'old')), 'an emptied directory is removed');
    assert.deepEqual(readdirSync(dir).sort(), ['chunks', 'entry.js', 'solo', 'solo.js'], 'no temporary file left');

    // The same build again writes nothing.
    const again = replaceFiles(dir, [
      { path: 'entry.js', contents: '#!/usr/bin/env node\nimport "./chunks/a-2.js";', mode: 0o755 },
      { path: 'chunks/same.js', contents: 'same' },
      { path: 'chunks/a-2.js', contents: 'new chunk' },
      { path: 'solo.js', contents: 'new solo' },
      { path: 'solo/get.js', contents: 'get' },
    ], ['entry.js']);
    assert.deepEqual(again, { written: [], removed: [] });
  } finally {
    cleanup();
  }
});
