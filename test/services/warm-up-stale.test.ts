/**
 * A warm-up removes the leftover scratch directories of killed warm-ups from a shared temporary
 * directory, but never one another user made under the same name.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmUpStoragePath } from '../../src/services/scp/warm-up.js';

const dir = mkdtempSync(join(tmpdir(), 'warm-up-stale-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function leftover(where: string, name: string): void {
  mkdirSync(join(where, name, '0'), { recursive: true });
  writeFileSync(join(where, name, '0', 'x.dcm'), 'left');
}

test('a scratch directory another user made under the warm-up\'s name is left alone', { skip: process.getuid?.() !== 0 && 'needs root to make a directory owned by another user' }, async () => {
  const where = join(dir, 'other-user');
  mkdirSync(where);
  const gone = Number(execFileSync(process.execPath, ['-p', 'process.pid'], { encoding: 'utf8' }).trim());
  const theirs = `.dicom-tls-warm-up-${gone}-theirs`;
  const ours = `.dicom-tls-warm-up-${gone}-ours`;
  leftover(where, theirs);
  leftover(where, ours);
  chownSync(join(where, theirs), 65534, 65534);
  await warmUpStoragePath({ instances: 1, directory: where, fsync: 'none', tls: false });
  assert.deepEqual(readdirSync(where), [theirs]);
});
