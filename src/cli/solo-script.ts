/**
 * Runs a command's own file (dist/cli/solo/<command>.js: the client commands and `serve`) as a
 * script with a V8 code cache made AFTER a run, not when the file was compiled.
 *
 * Node's compile cache (compile-cache.ts) holds only what V8 compiled eagerly when it compiled a
 * file: a bundle's functions, module bodies included, are compiled lazily, so every run parsed and
 * compiled the few hundred functions a command calls, again (~10 ms of CPU of a TLS `echo`, ~14
 * of a `store`, bench/RESULTS.md sixteenth round). A cache taken from the script once a command
 * has run (`script.createCachedData()`) holds every function compiled so far, and a later run
 * reads their bytecode instead. An ES module cannot be compiled with a cache of our choosing
 * (vm modules are experimental), so the build writes these files as one function expression
 * (scripts/solo-script.mjs) that this file compiles with `vm.Script`.
 *
 * The cache lives beside Node's own, in `module.getCompileCacheDir()` (one directory per Node
 * version, architecture and V8 flags; NODE_COMPILE_CACHE chooses it, NODE_DISABLE_COMPILE_CACHE=1
 * turns both off), named by the command, plain TCP or TLS (cacheVariant) and the hash of the file
 * the build wrote, so a rebuilt CLI never reads another file's cache (V8 itself only compares the
 * source's length). It is written once, when none was accepted, after a run that exited 0 and saw
 * an association released (not `--help`, not a `serve` stopped before any peer came: those
 * compile only the start; a `serve` writes it when stopped cleanly), to a temporary file renamed
 * into place: concurrent commands never read half a file. A cache that cannot be read or written
 * only costs the compile time.
 */

/** The parts of node:vm used here (the module is loaded only when a command runs from its file). */
interface VmScript {
  readonly cachedDataRejected?: boolean;
  runInThisContext(): unknown;
  createCachedData(): Buffer;
}

/** The file name of a command's cache in the cache directory. */
export function soloCacheName(command: string, variant: string, hash: string, size: number, mtimeMs: number): string {
  return `dicom-tls-${command}-${variant}-${hash}-${size}-${Math.trunc(mtimeMs)}.cache`;
}

/**
 * Which of a command's two caches a run uses: a plain-TCP run never calls the TLS engine's code,
 * so a cache written after one would leave a TLS run compiling all of it (and the other way
 * round), for as long as the cache lives. `--no-tls` and DCMTK's `-tls`/`--disable-tls`; for
 * `serve`, a plain listener (`--plain-port`): a plain-only bench or test run would otherwise leave
 * every TLS run compiling the record path.
 */
export function cacheVariant(argv: readonly string[]): 'plain' | 'tls' {
  return argv.some((a) => a === '--no-tls' || a === '-tls' || a === '--disable-tls' || a === '--plain-port' || a.startsWith('--plain-port=')) ? 'plain' : 'tls';
}

/**
 * Whether this run's compiled code is worth keeping: a command that ran to completion, not a help
 * text (a help run compiles the option parsing only, and its cache would be kept for good), and
 * that saw an association to its release: a `serve` started and stopped with no peer, or a client
 * command that had nothing to send, compiled none of the association's code, and a cache written
 * then would be read, never replaced, by every later run.
 */
export function worthCaching(argv: readonly string[], code: number, released: boolean): boolean {
  return code === 0 && released && !argv.some((a) => a === '--help' || a === '-h' || a === 'help');
}

/** The library's association life-cycle channel (src/diagnostics.ts), named here: this module is in the entry, which loads none of the library. */
const ASSOCIATION_CHANNEL = 'dicom-tls:association';

/**
 * Compile and run `file` (a function expression `(async function (importMetaUrl, importPackage)
 * { … })` holding the whole command) with the cache of `command`; resolves when its program has (the program
 * ends the process itself).
 */
export async function runSoloScript(file: string, fileUrl: string, command: string, hash: string, cacheDir: string | undefined): Promise<void> {
  const fs = process.getBuiltinModule('node:fs');
  const vm = process.getBuiltinModule('node:vm');
  const source = fs.readFileSync(file, 'latin1');
  let cachePath: string | undefined;
  let cachedData: Buffer | undefined;
  if (cacheDir !== undefined) {
    try {
      const st = fs.statSync(file);
      cachePath = `${cacheDir}/${soloCacheName(command, cacheVariant(process.argv.slice(2)), hash, st.size, st.mtimeMs)}`;
      cachedData = fs.readFileSync(cachePath);
    } catch {
      // No cache yet (or none readable): compiled from source, and cached after this run.
    }
  }
  const script = new vm.Script(source, {
    filename: fileUrl,
    ...(cachedData === undefined ? {} : { cachedData }),
    // Packages are imported through the program's `importPackage` (below); any other dynamic
    // import would load as from an ES module.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }) as unknown as VmScript;
  if (cachePath !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    const path = cachePath;
    const argv = process.argv.slice(2);
    const dc = process.getBuiltinModule('node:diagnostics_channel');
    let released = false;
    const onAssociation = (message: unknown): void => {
      if ((message as { kind?: unknown } | null)?.kind !== 'released') return;
      released = true;
      dc.unsubscribe(ASSOCIATION_CHANNEL, onAssociation); // once is enough: no publishing cost after
    };
    dc.subscribe(ASSOCIATION_CHANNEL, onAssociation);
    process.once('exit', (code) => {
      if (!worthCaching(argv, code, released)) return;
      const temp = `${path}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(temp, path);
      } catch {
        try { fs.rmSync(temp, { force: true }); } catch { /* nothing left to do */ }
      }
    });
  }
  const program = script.runInThisContext() as (importMetaUrl: string, importPackage: (specifier: string) => Promise<unknown>) => Promise<void>;
  // The packages the file leaves outside (serve's), imported from here: a script cannot, and this
  // module resolves from the same node_modules (scripts/solo-script.mjs).
  await program(fileUrl, (specifier) => import(specifier));
}
