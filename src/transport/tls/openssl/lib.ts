/**
 * The one place that loads koffi. Node links OpenSSL statically and exports its symbols, so the
 * running process itself is the library: `koffi.load(null)`. Loading a system libssl instead
 * would put two OpenSSL copies in one process, which interpose each other.
 *
 * Symbol tables for each area live beside this file (ssl.ts, x509.ts, …) and declare through
 * `lib`. Nothing outside src/transport/tls/openssl/ imports koffi.
 *
 * Binding is lazy and checked. `lib.func(…)` and `lib.proto(…)` only record a declaration when
 * a module loads; the first call of any bound function (or first use of `koffi`) loads koffi,
 * checks the linked OpenSSL's version, declares every recorded prototype and looks up every
 * recorded function's symbol at once; each function is then declared to koffi on its own first
 * call (a declaration costs ~8 µs, a look-up ~0.3 µs: a client context calls 15 of the ~230,
 * and declaring them all was ~2 ms of every TLS command). So a plain-TCP association,
 * `dicom-tls --help` and `--version` never load koffi nor touch OpenSSL; and a runtime that
 * cannot serve the engine (no koffi build for the platform, OpenSSL older than 3.0, a Node that
 * does not export OpenSSL's symbols, a missing function) fails with ONE UnsupportedRuntimeError
 * that names the runtime and everything missing, instead of koffi's message for the first
 * symbol it happened to look up.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as Koffi from 'koffi';
import { UnsupportedRuntimeError } from '../errors.js';

type KoffiModule = typeof Koffi;
type KoffiFunction = ReturnType<Koffi.LibraryHandle['func']>;
/** koffi's two forms used here: a C prototype, or a name with result and argument type names. */
type FuncArgs = [definition: string] | [name: string, result: string, args: string[]];

/** Opaque OpenSSL handles, declared once so every symbol table shares the same types. */
const OPAQUE_TYPES = [
  'SSL_CTX', 'SSL', 'SSL_METHOD', 'SSL_SESSION', 'SSL_CIPHER', 'BIO', 'BIO_METHOD', 'X509', 'X509_NAME',
  'X509_STORE', 'X509_STORE_CTX', 'X509_CRL', 'X509_VERIFY_PARAM', 'X509_LOOKUP', 'X509_LOOKUP_METHOD',
  'X509_PURPOSE', 'ASN1_TIME', 'ASN1_INTEGER', 'EVP_PKEY', 'PKCS12', 'OPENSSL_STACK',
] as const;

/** OpenSSL_version_num() of 3.0.0: 0xMNN00PP0 (major, minor, patch). */
export const MINIMUM_OPENSSL_VERSION_NUMBER = 0x30000000;

interface FuncDeclaration { readonly args: FuncArgs; readonly symbol: string; fn: KoffiFunction | undefined }
interface Bound { readonly koffi: KoffiModule; readonly handle: Koffi.LibraryHandle }

const protos: string[] = [];
const funcs: FuncDeclaration[] = [];
let bound: Bound | undefined;
let refused: UnsupportedRuntimeError | undefined;

/** "Node v24.22.3 (linux-x64, OpenSSL 3.5.9)": the runtime, as the error names it. */
export function runtimeDescription(): string {
  const openssl = process.versions.openssl === undefined ? 'no OpenSSL' : `OpenSSL ${process.versions.openssl}`;
  return `Node ${process.version} (${process.platform}-${process.arch}, ${openssl})`;
}

/** The symbol a declaration binds: `'int SSL_read(SSL *ssl, …)'` → `SSL_read`. */
function symbolOf(args: FuncArgs): string {
  return args.length === 1 ? /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(args[0])?.[1] ?? args[0] : args[0];
}

/** handle.func over either form. */
function bindOne(handle: Koffi.LibraryHandle, args: FuncArgs): KoffiFunction {
  return (handle.func as (...a: FuncArgs) => KoffiFunction)(...args);
}

/** Why the linked OpenSSL is too old, or undefined when it is 3.0 or newer. */
export function versionShortfall(versionNumber: number, versionText: string): string | undefined {
  if (versionNumber >= MINIMUM_OPENSSL_VERSION_NUMBER) return undefined;
  return `OpenSSL 3.0 or newer (it links ${versionText})`;
}

/**
 * koffi's error for a symbol the process does not export. Any other error while binding (an
 * unknown type name, a malformed prototype) is a bug in a symbol table and is thrown as it is.
 */
function isMissingSymbol(e: unknown): boolean {
  return e instanceof Error && /^Cannot find (function|symbol) /.test(e.message);
}

function refuse(missing: string[], cause?: unknown): never {
  refused = new UnsupportedRuntimeError(runtimeDescription(), missing, cause);
  throw refused;
}

/**
 * koffi's native module. koffi's entry (`require('koffi')`) finds it in the package built for
 * the platform, `@koromix/koffi-<platform>-<arch>`, whose own entry picks the binary (glibc or
 * musl) and loads it; koffi then copies node:util's exports into a namespace (loading util's
 * lazy modules: worker_threads, the diff and colour helpers) and wraps deprecated calls: ~3 ms
 * of the ~5 ms a TLS command spent loading koffi, for nothing this engine uses. So that package's
 * entry is required directly, from where koffi resolves it, and its module taken when it is the
 * version koffi expects (koffi's own check); anything else goes through koffi's entry.
 */
function loadKoffi(): KoffiModule {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('koffi');
  try {
    const fromKoffi = createRequire(entry);
    const native = fromKoffi(`@koromix/koffi-${process.platform}-${process.arch}`) as KoffiModule & { version?: unknown };
    const { readFileSync } = process.getBuiltinModule('node:fs');
    const { version } = JSON.parse(readFileSync(new URL('package.json', pathToFileURL(entry)), 'utf8')) as { version?: unknown };
    if (native?.version !== undefined && native.version === version && typeof native.load === 'function') return native;
  } catch {
    // No package for this platform (koffi then looks elsewhere): its entry decides.
  }
  return require(entry) as KoffiModule;
}

/** Load koffi, check the version, declare and bind everything recorded so far; once. */
function bind(): Bound {
  if (bound !== undefined) return bound;
  if (refused !== undefined) throw refused;
  let koffi: KoffiModule;
  let handle: Koffi.LibraryHandle;
  try {
    koffi = loadKoffi();
    handle = koffi.load(null);
  } catch (e) {
    refuse([`the koffi native module for ${process.platform}-${process.arch}`], e);
  }
  let versionNumber: number;
  let versionText: string;
  try {
    versionNumber = Number(handle.func('unsigned long OpenSSL_version_num()')());
    versionText = handle.func('const char *OpenSSL_version(int type)')(0) as string;
  } catch (e) {
    refuse(['OpenSSL_version_num and OpenSSL_version (this Node exports no OpenSSL symbols)'], e);
  }
  const tooOld = versionShortfall(versionNumber, versionText);
  if (tooOld !== undefined) refuse([tooOld]);
  for (const name of OPAQUE_TYPES) koffi.opaque(name);
  for (const definition of protos) koffi.proto(definition);
  // All or nothing: a runtime missing one function binds none, so every TLS call meets the same
  // error instead of some working and some failing. Only the symbols are looked up here; each
  // function is declared on its first call (resolveLate).
  const missing: string[] = [];
  let firstCause: unknown;
  for (const f of funcs) {
    try {
      handle.symbol(f.symbol);
    } catch (e) {
      if (!isMissingSymbol(e)) throw e;
      missing.push(f.symbol);
      firstCause ??= e;
    }
  }
  if (missing.length > 0) refuse([...new Set(missing)], firstCause);
  bound = { koffi, handle };
  return bound;
}

/**
 * Declare every recorded function now (normally each waits for its first call): for a test
 * that every prototype in the symbol tables is one koffi accepts. Returns the declarations
 * koffi refused, with its reason.
 */
export function declareAll(): { symbol: string; error: string }[] {
  const failed: { symbol: string; error: string }[] = [];
  for (const f of funcs) {
    try {
      resolveLate(f);
    } catch (e) {
      failed.push({ symbol: f.symbol, error: String((e as Error).message) });
    }
  }
  return failed;
}

/** A function on its first call (or declared after the first bind): declared to koffi now. */
function resolveLate(declaration: FuncDeclaration): KoffiFunction {
  const { handle } = bind();
  if (declaration.fn === undefined) {
    try {
      declaration.fn = bindOne(handle, declaration.args);
    } catch (e) {
      if (!isMissingSymbol(e)) throw e;
      throw new UnsupportedRuntimeError(runtimeDescription(), [declaration.symbol], e);
    }
  }
  return declaration.fn;
}

/**
 * Declarations for the symbol tables. `func` takes koffi's own forms (a C prototype, or name,
 * result and argument types) and returns a function that binds on its first call; `proto`
 * declares a callback prototype (named, so `func` strings and `koffi.pointer(name)` can use it)
 * and returns its name; `optional` declares a function that only some OpenSSL versions have,
 * checked on its own: it returns the bound function, or undefined where OpenSSL lacks it.
 */
export const lib = {
  func(...args: FuncArgs): KoffiFunction {
    const declaration: FuncDeclaration = { args, symbol: symbolOf(args), fn: undefined };
    funcs.push(declaration);
    const call = (...a: unknown[]): unknown => (declaration.fn ?? resolveLate(declaration))(...a);
    return call as KoffiFunction;
  },
  proto(definition: string): string {
    const name = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(definition)?.[1];
    if (name === undefined) throw new TypeError(`a callback prototype needs a name: ${definition}`);
    protos.push(definition);
    if (bound !== undefined) bound.koffi.proto(definition);
    return name;
  },
  optional(...args: FuncArgs): () => KoffiFunction | undefined {
    let state: { fn: KoffiFunction | undefined } | undefined;
    return () => {
      if (state !== undefined) return state.fn;
      const { handle } = bind();
      try {
        state = { fn: bindOne(handle, args) };
      } catch (e) {
        if (!isMissingSymbol(e)) throw e;
        state = { fn: undefined };
      }
      return state.fn;
    };
  },
};

/**
 * koffi itself (register, pointer, encode, view, …), loaded and checked on first use like `lib`.
 * A proxy, so the symbol tables keep koffi's own API and types.
 */
export const koffi: KoffiModule = new Proxy({} as KoffiModule, {
  get: (_, key) => (bind().koffi as unknown as Record<string | symbol, unknown>)[key],
});

/** How many functions the symbol tables record, and how many are declared to koffi so far (tests ask). */
export function declarationCounts(): { recorded: number; declared: number } {
  return { recorded: funcs.length, declared: funcs.filter((f) => f.fn !== undefined).length };
}

/** Whether koffi has been loaded and OpenSSL bound in this process (the lazy-load tests ask). */
export function isBound(): boolean {
  return bound !== undefined;
}

const OpenSSL_version = lib.func('const char *OpenSSL_version(int type)');
const ERR_get_error = lib.func('unsigned long ERR_get_error()');
const ERR_error_string_n = lib.func('void ERR_error_string_n(unsigned long e, _Out_ char *buf, size_t len)');
const ERR_reason_error_string = lib.func('const char *ERR_reason_error_string(unsigned long e)');
const ERR_lib_error_string = lib.func('const char *ERR_lib_error_string(unsigned long e)');

/** The OpenSSL linked into this Node, e.g. "OpenSSL 3.0.19 27 Jan 2026". */
export function opensslVersion(): string {
  return OpenSSL_version(0) as string;
}

/** One entry of OpenSSL's thread-local error queue. */
export interface OpenSslErrorEntry {
  readonly code: number;
  readonly library: string | undefined;
  readonly reason: string | undefined;
  /** ERR_error_string_n's full line, e.g. "error:1C800064:Provider routines::bad decrypt". */
  readonly text: string;
}

/**
 * Empty the error queue and return what was on it, oldest first. Called after every failing
 * OpenSSL call: Node's own TLS shares this queue, so nothing may be left behind. Before OpenSSL
 * is bound nothing of ours can have queued an error, so the queue is left alone.
 */
export function drainErrors(): OpenSslErrorEntry[] {
  const out: OpenSslErrorEntry[] = [];
  if (bound === undefined) return out;
  // Called after every failing call and at every connection's end, mostly on an empty queue:
  // the text buffer is made only for an error there is.
  let buf: Buffer | undefined;
  for (;;) {
    const code = Number(ERR_get_error());
    if (code === 0) return out;
    buf ??= Buffer.alloc(256);
    ERR_error_string_n(code, buf, buf.length);
    const end = buf.indexOf(0);
    out.push({
      code,
      library: (ERR_lib_error_string(code) as string | null) ?? undefined,
      reason: (ERR_reason_error_string(code) as string | null) ?? undefined,
      text: buf.toString('latin1', 0, end < 0 ? buf.length : end),
    });
  }
}
