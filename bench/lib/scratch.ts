/**
 * Where the bench's to-disk rows write: one scratch directory per bench run, so that each row's
 * creates do not pay for files deleted nearby before it.
 *
 * On an ext4 without a journal, every inode allocation scans the free inodes of its block group
 * from the start and skips each one deleted in the last 60 s, or 360 s while its inode table block
 * is still dirty (`recently_deleted()` in fs/ext4/ialloc.c): after a few thousand deletes in a
 * group, each create there costs up to ~1 ms of kernel time. Everything made with
 * `mkdtemp(tmpdir())` lands in the temp directory's few groups, where the cluster rows' PostgreSQL
 * and S3 directories, the end of an earlier bench run and other programs delete thousands of files.
 * The scratch directory has ext4's `T` attribute (the top of a hierarchy for the Orlov allocator),
 * so each directory made in it goes to a block group of its own with many free inodes. The many
 * small files are removed when the run ends, not after each run, so the bench's own deletes stay out
 * of the groups still being written. RESULTS.md, "A settled file system for the to-disk rows".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;
const deferred: string[] = [];

/** The run's scratch directory: made on first use, `chattr +T` (ext4; elsewhere it fails, harmlessly). */
function scratchRoot(): string {
  if (root === undefined) {
    root = mkdtempSync(join(tmpdir(), 'dicom-tls-bench-'));
    spawnSync('chattr', ['+T', root], { stdio: 'ignore' });
  }
  return root;
}

/** A fresh directory in the run's scratch directory. */
export function scratchDir(prefix: string): Promise<string> {
  return mkdtemp(join(scratchRoot(), prefix));
}

/** scratchDir, synchronously. */
export function scratchDirSync(prefix: string): string {
  return mkdtempSync(join(scratchRoot(), prefix));
}

/** Remove `dir` when the bench ends. */
export function removeAtEnd(dir: string): void {
  deferred.push(dir);
}

/** Remove every directory given to removeAtEnd, then the scratch directory. */
export function removeDeferred(): void {
  for (const dir of deferred.splice(0)) rmSync(dir, { recursive: true, force: true });
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  root = undefined;
}
