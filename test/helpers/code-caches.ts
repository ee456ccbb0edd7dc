/** The CLI's code caches (src/cli/solo-script.ts) found in a compile-cache directory, for tests. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface CacheFile {
  readonly ino: number;
  readonly mtimeMs: number;
  readonly size: number;
}

/**
 * Our code caches under `dir` whose command matches `command` (default: any), name → { ino,
 * mtimeMs, size }; Node's own entries beside them are left out. A missing directory has none.
 */
export function codeCaches(dir: string, command = '[a-z]+'): Map<string, CacheFile> {
  const found = new Map<string, CacheFile>();
  let all: string[] = [];
  try {
    all = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return found;
  }
  const name = new RegExp(`(^|/)dicom-tls-${command}-.*\\.cache$`);
  for (const rel of all) {
    if (!name.test(rel)) continue;
    const st = statSync(join(dir, rel));
    if (st.isFile()) found.set(rel, { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size });
  }
  return found;
}
