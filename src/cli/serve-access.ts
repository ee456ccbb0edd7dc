/**
 * `serve`'s access settings, in their own block of the config file: who may do what (`access`,
 * rules of acse/access-control.ts) and who the users are (`users`: a password file, and whether
 * every association must name one). Mistakes are usage errors naming the field.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PERMISSIONS, type AccessRule, type Permission } from '../acse/access-control.js';
import type { CertificateIdentity } from '../acse/certificate-binding.js';
import { parsePasswordFile } from '../ae/user-credentials.js';
import { fileError, usageError } from './errors.js';
import { parseAeTitle } from './args.js';

export interface ServeAccess {
  /** Rules from the config, tried before the defaults (verified certificate: all; anyone: echo, store). */
  readonly rules: readonly AccessRule[];
  /** Password file checking user identities (types 1 and 2); undefined: identities are not checked. */
  readonly usersFile: string | undefined;
  /** Reject associations that name no user (or one the file does not accept). */
  readonly requireUser: boolean;
}

export interface ServeAccessCliValues {
  users?: string | undefined;
  'require-user'?: boolean | undefined;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

/** Names as people copy them from `pki inspect` ("CN = x, O = y") into Node's X509Certificate form. */
function toNodeDn(text: string): string {
  if (text.includes('\n')) return text;
  return text.split(/,\s*(?=[A-Za-z.0-9]+\s*=)/).map((p) => p.replace(/\s*=\s*/, '=').trim()).join('\n');
}

const RULE_FIELDS = new Set(['aet', 'permissions', 'certificate', 'fingerprint', 'subject', 'issuer', 'serial', 'user']);

function ruleFrom(r: unknown, i: number): AccessRule {
  const where = `config access[${i}]`;
  if (!isObject(r)) throw usageError(`${where} must be an object { "aet", "permissions", … }`);
  for (const k of Object.keys(r)) if (!RULE_FIELDS.has(k)) throw usageError(`${where}: unknown field "${k}" (known: ${[...RULE_FIELDS].join(', ')})`);
  if (!isString(r.aet)) throw usageError(`${where} needs "aet" (an AE title, or "*" for any)`);
  const aeTitle = r.aet === '*' ? '*' : parseAeTitle(r.aet, `${where}.aet`, '');
  if (!Array.isArray(r.permissions) || !r.permissions.every((p) => isString(p) && (PERMISSIONS as readonly string[]).includes(p))) {
    throw usageError(`${where}.permissions must be a list of ${PERMISSIONS.map((p) => `"${p}"`).join(', ')} ([] refuses the association)`);
  }
  let certificate: CertificateIdentity | 'any' | undefined;
  const named = ['certificate', 'fingerprint', 'subject', 'issuer'].filter((k) => r[k] !== undefined);
  if (named.length > 1) {
    throw usageError(`${where}: give one of "certificate": "any", "fingerprint", "subject" or "issuer"+"serial"`);
  }
  if (r.certificate !== undefined) {
    if (r.certificate !== 'any') throw usageError(`${where}.certificate can only be "any" (any verified certificate); use "fingerprint", "subject" or "issuer"+"serial" for one`);
    certificate = 'any';
  } else if (isString(r.fingerprint)) certificate = { sha256Fingerprint: r.fingerprint };
  else if (isString(r.issuer) && isString(r.serial)) certificate = { issuer: toNodeDn(r.issuer), serialNumber: r.serial };
  else if (isString(r.subject)) certificate = { subject: toNodeDn(r.subject) };
  else if (r.fingerprint !== undefined || r.issuer !== undefined || r.serial !== undefined || r.subject !== undefined) {
    throw usageError(`${where}: "fingerprint" and "subject" are strings; "issuer" needs "serial"`);
  }
  if (r.user !== undefined && (!isString(r.user) || r.user === '')) throw usageError(`${where}.user must be a user name`);
  return {
    aeTitle, permissions: r.permissions as Permission[],
    ...(certificate === undefined ? {} : { certificate }), ...(isString(r.user) ? { user: r.user } : {}),
  };
}

export function serveAccess(json: Json, base: string, v: ServeAccessCliValues, cwd: string): ServeAccess {
  const raw = json.access;
  if (raw !== undefined && !Array.isArray(raw)) throw usageError('config access must be an array of rules { "aet", "permissions", and optionally "fingerprint" | "subject" | "issuer"+"serial" | "certificate": "any", "user" }');
  const rules = (raw ?? []).map(ruleFrom);
  const users = json.users;
  if (users !== undefined && !isObject(users)) throw usageError('config users must be an object { "file", "require" }');
  for (const k of Object.keys(users ?? {})) if (k !== 'file' && k !== 'require') throw usageError(`config: unknown field "users.${k}" (known: file, require)`);
  if (users?.file !== undefined && !isString(users.file)) throw usageError('config users.file must be a path');
  if (users?.require !== undefined && typeof users.require !== 'boolean') throw usageError('config users.require must be true or false');
  const usersFile = v.users !== undefined ? resolve(cwd, v.users) : isString(users?.file) ? resolve(base, users.file) : undefined;
  const requireUser = v['require-user'] === true || users?.require === true;
  if (requireUser && usersFile === undefined) throw usageError('--require-user (users.require) needs a password file: --users FILE (users.file)');
  if (rules.some((r) => r.user !== undefined) && usersFile === undefined) throw usageError('an access rule names a "user", but no password file checks users: give --users FILE (users.file)');
  // Read it now: a file that cannot be read or parsed stops the start, not the first association.
  if (usersFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(usersFile, 'utf8');
    } catch (e) {
      throw fileError(`cannot read the users file ${usersFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
    }
    try {
      parsePasswordFile(text, usersFile);
    } catch (e) {
      throw usageError((e as Error).message);
    }
  }
  return { rules, usersFile, requireUser };
}
