/**
 * Directories of many small files that the bench removes when it ends rather than after each
 * run: on an ext4 without a journal, every file created soon after many were deleted in the same
 * block group pays a scan of the recently freed inodes (0.1–1.5 ms of kernel time per create, see
 * RESULTS.md), so deleting one run's 200 files charged the next run, whichever SCP it measured.
 */
import { rmSync } from 'node:fs';

const deferred: string[] = [];

/** Remove `dir` when the bench ends. */
export function removeAtEnd(dir: string): void {
  deferred.push(dir);
}

/** Remove every directory given to removeAtEnd. */
export function removeDeferred(): void {
  for (const dir of deferred.splice(0)) rmSync(dir, { recursive: true, force: true });
}
