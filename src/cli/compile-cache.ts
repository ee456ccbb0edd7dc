/**
 * V8's compile cache for the CLI's own modules (`module.enableCompileCache`, Node 22.1+): a run
 * after the first reads the bytecode of the command's chunks from disk instead of compiling them
 * (~10 ms of `dicom-tls echo` and `store`, bench/RESULTS.md, ninth round). Node chooses the
 * directory: NODE_COMPILE_CACHE when set, else `node-compile-cache` in the OS temp directory; its
 * entries are keyed by Node version and file content, so a rebuilt or upgraded CLI never reads a
 * stale one. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 *
 * A cache that cannot be used (an unwritable or missing temp directory, an older Node) only costs
 * the compile time: nothing is printed and the command runs as without it.
 */
import * as nodeModule from 'node:module';

/** The outcome, for tests: Node's status name, or 'unsupported' / 'failed' when it threw. */
export function enableCompileCache(): string {
  const enable = (nodeModule as { enableCompileCache?: () => { status: number } }).enableCompileCache;
  if (typeof enable !== 'function') return 'unsupported';
  try {
    const { status } = enable();
    const names = (nodeModule as { constants?: { compileCacheStatus?: Record<string, number> } }).constants?.compileCacheStatus ?? {};
    return Object.keys(names).find((k) => names[k] === status) ?? String(status);
  } catch {
    return 'failed';
  }
}

/**
 * The directory Node's compile cache uses in this process (one per Node version, architecture
 * and V8 flags), or undefined when it is off or could not be made: the commands' own code caches
 * go there too (solo-script.ts).
 */
export function compileCacheDir(): string | undefined {
  try {
    return (nodeModule as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir?.();
  } catch {
    return undefined;
  }
}
