/**
 * A password file for User Identity Negotiation (PS3.7 D.3.3.7, types 1 and 2): one user a line,
 * `name:hash`, where hash is `scrypt$N$r$p$salt$key` (node:crypto scrypt, salt and key in base64)
 * or empty for a user who may give a username alone (type 1, which proves nothing: use it only to
 * label associations). `#` starts a comment line. No password is ever stored, only its scrypt key.
 *
 * `passwordFileVerifier(path)` is a UserIdentityHandler reading the file at each association, so
 * users can be added or removed (`dicom-tls user add|remove`) while a server runs.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidOptionError } from '../errors.js';
import type { UserIdentityHandler } from '../acse/user-identity.js';
import { throttleUserIdentity, type IdentityThrottleOptions } from '../acse/identity-throttle.js';

/** scrypt cost: N = 2^14, r = 8, p = 1 (RFC 7914's interactive-login parameters), 16 MiB of memory. */
const DEFAULT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, length, { ...options, maxmem: 128 * options.N! * options.r! + 1024 * 1024 }, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/** A new `scrypt$N$r$p$salt$key` for `password` (random 16-byte salt). */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password.length === 0) throw new InvalidOptionError('password', 'must be a non-empty string');
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, DEFAULT);
  return `scrypt$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash { N: number; r: number; p: number; salt: Buffer; key: Buffer }

function parseHash(hash: string): ParsedHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (m === null) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a planted entry from costing the server gigabytes or minutes.
  if (N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const key = Buffer.from(m[5]!, 'base64');
  if (key.length < 16 || key.length > 64) return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), key };
}

/** Does `password` match `hash`? Constant-time comparison; a malformed hash never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const h = parseHash(hash);
  if (h === undefined) return false;
  const key = await scrypt(password, h.salt, h.key.length, { N: h.N, r: h.r, p: h.p });
  return timingSafeEqual(key, h.key);
}

/** A user name as the file can hold it: non-empty, no ':' and no line break. */
export function checkUserName(option: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0 || /[:\r\n]/.test(name) || name.trim() !== name) {
    throw new InvalidOptionError(option, `'${name}' is not a user name for the password file (non-empty, no ':', no line break, no surrounding spaces)`);
  }
  return name;
}

/** Parse the file's text: name → hash ('' for username-only). Throws InvalidOptionError naming the line. */
export function parsePasswordFile(text: string, source = 'password file'): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    const where = `${source} line ${i + 1}`;
    if (colon <= 0) throw new InvalidOptionError(where, 'expected name:hash');
    const name = checkUserName(where, line.slice(0, colon));
    const hash = line.slice(colon + 1).trim();
    if (hash !== '' && parseHash(hash) === undefined) throw new InvalidOptionError(where, `the entry of '${name}' is not scrypt$N$r$p$salt$key`);
    if (users.has(name)) throw new InvalidOptionError(where, `'${name}' is listed twice`);
    users.set(name, hash);
  });
  return users;
}

/** The file's text for these users, in the given order. */
export function formatPasswordFile(users: ReadonlyMap<string, string>): string {
  return ['# dicom-tls users: name:scrypt$N$r$p$salt$key (empty: username alone accepted)',
    ...[...users].map(([name, hash]) => `${name}:${hash}`), ''].join('\n');
}

/** A key no password gives, checked for unknown users so their answer takes as long as a known one's. */
const DUMMY = `scrypt$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$${randomBytes(16).toString('base64')}$${randomBytes(KEY_LENGTH).toString('base64')}`;

/**
 * The identity handler of a password file (or of a map name → hash): type 2 accepted when the
 * passcode matches the user's scrypt key, type 1 only for a user listed without one, types 3–5
 * never (give your own handler for Kerberos, SAML or JWT). The file is read at every call.
 * Each check (the file read and scrypt, both in the libuv thread pool) goes through
 * throttleUserIdentity (`throttle`: its options; false: none), so a flood of A-ASSOCIATE-RQs
 * cannot queue unbounded work there (docs/limits.md).
 */
export function passwordFileVerifier(source: string | ReadonlyMap<string, string>, options: { readonly throttle?: IdentityThrottleOptions | false } = {}): UserIdentityHandler {
  const load = async (): Promise<ReadonlyMap<string, string>> =>
    typeof source === 'string' ? parsePasswordFile(await readFile(source, 'utf8'), source) : source;
  const check: UserIdentityHandler = async (identity) => {
    const users = await load();
    const hash = identity.username === undefined ? undefined : users.get(identity.username);
    if (identity.type === 'username-passcode') {
      const ok = await verifyPassword(identity.passcode ?? '', hash === undefined || hash === '' ? DUMMY : hash);
      return ok && hash !== undefined && hash !== '';
    }
    if (identity.type === 'username') return hash === '';
    return false;
  };
  return options.throttle === false ? check : throttleUserIdentity(check, options.throttle);
}
