/**
 * The shared TLS options of the command line → SecureContextOptions. Names follow DCMTK's dcmtls
 * where the concept is the same: --key/--cert (+tls), --pkcs12, --ca (+cf/+cd), --crl, --profile,
 * --peer-cert require|verify|ignore (DCMTK's --require-peer-cert/--verify-peer-cert/--ignore-peer-cert).
 */
import { existsSync } from 'node:fs';
import { CliError, fileError, usageError, codeOf } from './errors.js';
import { oneOf } from './args.js';
import { readPassword } from './password.js';
import type { Io } from './io.js';
import type { SecureContextOptions } from '../transport/tls/context.js';

export interface TlsCliValues {
  key?: string | undefined;
  cert?: string | undefined;
  pkcs12?: string | undefined;
  'password-file'?: string | undefined;
  'password-env'?: string | undefined;
  'ask-password'?: boolean | undefined;
  ca?: string[] | undefined;
  crl?: string[] | undefined;
  'crl-check'?: string | undefined;
  profile?: string | undefined;
  groups?: string | undefined;
  'require-hybrid-group'?: boolean | undefined;
  'peer-cert'?: string | undefined;
  'verify-host'?: string | undefined;
  'no-tls'?: boolean | undefined;
}

/** PS3.15 Annex B profile names, plus the DCMTK spellings people already type. */
const PROFILE_ALIASES: Readonly<Record<string, SecureContextOptions['profile']>> = {
  'bcp195-rfc8996': 'bcp195-rfc8996', 'bcp195-rfc8996-modified': 'bcp195-rfc8996-modified',
  'bcp195-nd': 'bcp195-nd', bcp195: 'bcp195', 'bcp195-extended': 'bcp195-extended', 'bcp195-ex': 'bcp195-extended',
  'legacy-aes': 'legacy-aes', aes: 'legacy-aes', 'legacy-null': 'legacy-null', null: 'legacy-null',
};
export const profileNames = Object.keys(PROFILE_ALIASES);

export type PeerCertPolicy = 'require' | 'verify' | 'ignore';

/** SSL_VERIFY_* bits (ssl.h) for a policy; kept here so start-up does not load OpenSSL. */
export function verifyModeFor(policy: PeerCertPolicy, role: 'client' | 'server'): number {
  if (policy === 'ignore') return 0x00;
  if (policy === 'verify') return 0x01;
  return role === 'server' ? 0x01 | 0x02 : 0x01;
}

function mustExist(path: string, option: string): string {
  if (!existsSync(path)) throw fileError(`--${option} ${path}: no such file or directory`);
  return path;
}

/** Whether any TLS-only option was given (for "--no-tls with --cert makes no sense"). */
function anyTlsOption(v: TlsCliValues): boolean {
  return [v.key, v.cert, v.pkcs12, v.ca?.length ? 'x' : undefined, v.crl?.length ? 'x' : undefined, v['crl-check'],
    v.profile, v.groups, v['require-hybrid-group'], v['peer-cert'], v['verify-host']].some((x) => x !== undefined);
}

/**
 * Context options for `role` from the command line, or undefined with --no-tls. Reads the
 * password (file, environment, prompt) first, since OpenSSL's callback must answer synchronously.
 */
export async function contextOptionsFrom(v: TlsCliValues, role: 'client' | 'server', io: Io, o: { requireCa?: boolean } = {})
  : Promise<SecureContextOptions | undefined> {
  if (v['no-tls'] === true) {
    if (anyTlsOption(v)) throw usageError('--no-tls cannot be combined with TLS options (--cert, --key, --ca, --profile, …)');
    return undefined;
  }
  if (v.pkcs12 !== undefined && (v.cert !== undefined || v.key !== undefined)) throw usageError('give either --pkcs12 or --cert/--key, not both');
  if (v.key !== undefined && v.cert === undefined) throw usageError('--key needs --cert (the certificate that goes with the key)');
  const password = await readPassword(v, io, 'Private key password: ');
  const options: SecureContextOptions = { role };
  const profile = v.profile === undefined ? undefined : PROFILE_ALIASES[v.profile];
  if (v.profile !== undefined && profile === undefined) throw usageError(`--profile must be one of ${profileNames.join(', ')}; got "${v.profile}"`);
  if (profile !== undefined) {
    options.profile = profile;
    if (profile.startsWith('legacy-')) options.allowLegacyProfiles = true;
  }
  if (v.groups !== undefined) {
    if (!/^[?*]*[A-Za-z0-9_-]+(:[?*]*[A-Za-z0-9_-]+)*$/.test(v.groups)) throw usageError(`--groups must be group names separated by colons, e.g. X25519MLKEM768:X25519; got "${v.groups}"`);
    options.groups = v.groups;
  }
  if (v['require-hybrid-group'] === true) options.requireHybridGroup = true;
  if (v.pkcs12 !== undefined) {
    options.identity = { pkcs12: mustExist(v.pkcs12, 'pkcs12'), ...(password !== undefined ? { password } : {}) };
  } else if (v.cert !== undefined) {
    options.identity = { cert: mustExist(v.cert, 'cert'), ...(v.key !== undefined ? { key: mustExist(v.key, 'key') } : {}),
      ...(password !== undefined ? { password } : {}) };
  }
  if (v.ca !== undefined && v.ca.length > 0) options.ca = v.ca.map((c) => mustExist(c, 'ca'));
  if (v.crl !== undefined && v.crl.length > 0) options.crl = v.crl.map((c) => mustExist(c, 'crl'));
  const crlCheck = oneOf(v['crl-check'], 'crl-check', ['leaf', 'all'] as const);
  if (crlCheck !== undefined) {
    if (options.crl === undefined) throw usageError('--crl-check needs at least one --crl');
    options.crlCheck = crlCheck === 'all' ? 'chain' : 'leaf';
  }
  const policy = oneOf(v['peer-cert'], 'peer-cert', ['require', 'verify', 'ignore'] as const) ?? 'require';
  options.verifyMode = verifyModeFor(policy, role);
  if (policy !== 'ignore' && options.ca === undefined && o.requireCa !== false) {
    throw usageError(`no trusted CA: give --ca FILE|DIR to verify the peer's certificate (or --peer-cert ignore to skip verification)`);
  }
  if (v['verify-host'] !== undefined) options.verifyHost = v['verify-host'];
  return options;
}

/** Library key/password errors in the CLI's words: say which option to use. */
export function explainIdentityError(e: unknown): unknown {
  const err = e as { code?: string; reason?: string; message?: string };
  if (err?.code === codeOf('PRIVATE_KEY', 'TLS')) {
    if (err.reason === 'missing-password') {
      return new CliError(codeOf('PRIVATE_KEY', 'TLS'), `${String(err.message)}; give the password with --password-file, --password-env or --ask-password`, { cause: e });
    }
  }
  return e;
}

/** Build the SecureContext (lazy-loading OpenSSL), mapping key errors to plain sentences. */
export async function buildContext(options: SecureContextOptions): Promise<import('../transport/tls/context.js').SecureContext> {
  const { SecureContext } = await import('../transport/tls/context.js');
  try {
    return new SecureContext(options);
  } catch (e) {
    throw explainIdentityError(e);
  }
}
