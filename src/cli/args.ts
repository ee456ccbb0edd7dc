/**
 * Option parsing over node:util parseArgs (no CLI framework): the option groups shared by the
 * commands, with the names a DCMTK user recognises where the concept is the same, and the parse
 * errors turned into usage errors (exit code 2) that name the option.
 */
import type { ParseArgsConfig } from 'node:util';
import { usageError } from './errors.js';
import { joinPeer } from './dcmtk-args.js';

// process.getBuiltinModule, not an import: an ES import of node:util builds its namespace, which
// evaluates util's lazy exports (worker_threads, the diff module …): ~3 ms of every command.
const { parseArgs } = process.getBuiltinModule('node:util');

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Every command: output and diagnostics. */
export const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  /** The protocol dump (DCMTK's -d): every PDU, DIMSE command set and TLS event (protocol-dump.ts). */
  debug: { type: 'boolean' },
  /** DCMTK's -q: no notes on stderr; errors are still printed. */
  quiet: { type: 'boolean' },
} as const satisfies OptionSpec;

/** Password sources for encrypted keys and PKCS#12 (never the password itself on the command line). */
export const passwordOptions = {
  'password-file': { type: 'string' },
  'password-env': { type: 'string' },
  'ask-password': { type: 'boolean' },
} as const satisfies OptionSpec;

/** Own identity, trust, and the TLS policy (dcmtls names: +tls key cert, +cf, --profile …). */
export const tlsOptions = {
  key: { type: 'string' },
  cert: { type: 'string' },
  pkcs12: { type: 'string' },
  ...passwordOptions,
  ca: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  'crl-check': { type: 'string' },
  profile: { type: 'string' },
  groups: { type: 'string' },
  'require-hybrid-group': { type: 'boolean' },
  'peer-cert': { type: 'string' },
  'verify-host': { type: 'string' },
  'no-tls': { type: 'boolean' },
} as const satisfies OptionSpec;

/** DICOM addressing of a client. */
export const peerOptions = {
  aet: { type: 'string' },
  call: { type: 'string' },
  timeout: { type: 'string' },
} as const satisfies OptionSpec;

/** User Identity Negotiation (PS3.7 D.3.3.7) of a client: a user name, and its password from a file, a variable or a prompt. */
export const userOptions = {
  user: { type: 'string' },
  'user-password-file': { type: 'string' },
  'user-password-env': { type: 'string' },
  'ask-user-password': { type: 'boolean' },
} as const satisfies OptionSpec;

export const clientOptions = { ...commonOptions, ...tlsOptions, ...peerOptions, ...userOptions } as const satisfies OptionSpec;

export interface Parsed<V> {
  values: V;
  positionals: string[];
}

/** parseArgs in strict mode; any parse failure becomes a usage error naming the option. */
export function parse<const O extends OptionSpec>(argv: readonly string[], options: O, allowPositionals = true)
  : Parsed<ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values']> {
  try {
    const r = parseArgs({ args: [...argv], options, strict: true, allowPositionals });
    // Client commands also take DCMTK's `host port` (two arguments) for the peer.
    return { values: r.values as never, positionals: 'call' in options ? joinPeer(r.positionals) : r.positionals };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      // Node's messages are one sentence already; drop its "To specify a positional…" advice.
      const first = String((e as Error).message).split('. ')[0]!.replace(/\.$/, '');
      throw usageError(`${first} (see --help)`);
    }
    throw e;
  }
}

/** `HOST:PORT`, `[v6]:PORT`; the port is required. */
export function parsePeer(text: string | undefined, what = 'HOST:PORT'): { host: string; port: number } {
  if (text === undefined || text.length === 0) throw usageError(`the peer is missing: give it as ${what}`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (m === null) throw usageError(`"${text}" is not ${what} (e.g. localhost:2762)`);
  return { host: m[1]!, port: parsePort(m[2]!, 'port') };
}

export function parsePort(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n < 1 || n > 65535) throw usageError(`--${option} must be a port number 1–65535, got "${text}"`);
  return n;
}

/** `--timeout SECONDS` (fractions allowed) → milliseconds, or undefined. */
export function parseSeconds(text: string | undefined, option = 'timeout'): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || text.trim() === '') throw usageError(`--${option} must be a positive number of seconds, got "${text}"`);
  return Math.round(n * 1000);
}

/** PS3.8 9.3.2: AE titles are 1–16 characters of the default repertoire, no backslash or control chars. */
export function parseAeTitle(text: string | undefined, option: string, fallback: string): string {
  const v = text ?? fallback;
  if (v.trim().length === 0 || v.length > 16 || /[\\\x00-\x1f\x7f]/.test(v)) {
    throw usageError(`--${option} must be an AE title of 1–16 characters without backslash or control characters, got "${v}"`);
  }
  return v;
}

export function oneOf<T extends string>(text: string | undefined, option: string, allowed: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text)) throw usageError(`--${option} must be one of ${allowed.join(', ')}; got "${text}"`);
  return text as T;
}
