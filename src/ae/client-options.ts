/**
 * The shape of `DicomClient.associate`'s options, checked before anything else: TypeScript keeps
 * typed callers right, but a JavaScript caller (or JSON read from a file) can leave out a field or
 * give a string for a list, and the checks further in (AE titles, UIDs, limits) assumed the
 * shape and failed with a bare TypeError. Each failure here is an InvalidOptionError
 * (DICOM_ERR_INVALID_OPTION) naming the option's path; the values themselves are checked where
 * they are used (acse/options.ts, acse/presentation-context.ts, acse/role-selection.ts, …).
 */
import { InvalidOptionError } from '../errors.js';
import { boolean as checkBoolean, describe, milliseconds, object as checkObject, string as checkString } from '../internal/option-shape.js';
import { isValidUid } from '../acse/presentation-context.js';
import { checkMaximumLength, checkMinPeerMaximumLength } from '../acse/options.js';
import { HandlerRegistry } from '../services/scp/registry.js';
import type { DicomClientOptions } from './client.js';

type Fields = Readonly<Record<string, unknown>>;

function object(option: string, v: unknown): Fields {
  checkObject(option, v);
  return v as Fields;
}

function list(option: string, v: unknown): readonly unknown[] {
  if (!Array.isArray(v)) throw new InvalidOptionError(option, `must be an array, got ${describe(v)}`);
  return v;
}

function string(option: string, v: unknown): string {
  checkString(option, v);
  return v as string;
}

function uid(option: string, v: unknown): void {
  if (!isValidUid(string(option, v))) throw new InvalidOptionError(option, `'${v as string}' is not a valid UID`);
}

function boolean(option: string, v: unknown, optional: boolean): void {
  if (!optional || v !== undefined) checkBoolean(option, v);
}

function bytes(option: string, v: unknown, orString: boolean): void {
  if (v instanceof Uint8Array || (orString && typeof v === 'string')) return;
  throw new InvalidOptionError(option, `must be ${orString ? 'a string or ' : ''}a Uint8Array, got ${describe(v)}`);
}

function checkContexts(v: unknown): void {
  list('presentationContexts', v).forEach((item, i) => {
    const name = `presentationContexts[${i}]`;
    const c = object(name, item);
    string(`${name}.abstractSyntax`, c['abstractSyntax']);
    list(`${name}.transferSyntaxes`, c['transferSyntaxes']).forEach((ts, j) => string(`${name}.transferSyntaxes[${j}]`, ts));
    boolean(`${name}.separateContextPerTransferSyntax`, c['separateContextPerTransferSyntax'], true);
  });
}

function checkRoles(v: unknown): void {
  list('roles', v).forEach((item, i) => {
    const r = object(`roles[${i}]`, item);
    uid(`roles[${i}].sopClassUid`, r['sopClassUid']);
    boolean(`roles[${i}].scuRole`, r['scuRole'], false);
    boolean(`roles[${i}].scpRole`, r['scpRole'], false);
  });
}

const IDENTITY_FIELDS: Readonly<Record<string, readonly (readonly [field: string, kind: 'string' | 'bytes' | 'either'])[]>> = {
  username: [['username', 'string']],
  'username-passcode': [['username', 'string'], ['passcode', 'string']],
  kerberos: [['ticket', 'bytes']],
  saml: [['assertion', 'either']],
  jwt: [['token', 'either']],
};

function checkUserIdentity(v: unknown): void {
  const u = object('userIdentity', v);
  const fields = IDENTITY_FIELDS[String(u['type'])];
  if (typeof u['type'] !== 'string' || fields === undefined) {
    throw new InvalidOptionError('userIdentity.type', `must be one of ${Object.keys(IDENTITY_FIELDS).map((k) => `'${k}'`).join(', ')}, got ${describe(u['type'])}`);
  }
  boolean('userIdentity.positiveResponseRequested', u['positiveResponseRequested'], true);
  for (const [field, kind] of fields) {
    if (kind === 'string') string(`userIdentity.${field}`, u[field]);
    else bytes(`userIdentity.${field}`, u[field], kind === 'either');
  }
}

function checkTimeouts(v: unknown): void {
  const t = object('timeouts', v);
  for (const k of ['connect', 'association', 'dimse', 'idle']) if (t[k] !== undefined) milliseconds(`timeouts.${k}`, t[k]);
}

function checkAssociateRq(v: unknown): void {
  const a = object('associateRq', v);
  if (a['sopClassExtended'] !== undefined) {
    list('associateRq.sopClassExtended', a['sopClassExtended']).forEach((item, i) => {
      const name = `associateRq.sopClassExtended[${i}]`;
      const e = object(name, item);
      uid(`${name}.sopClassUid`, e['sopClassUid']);
      bytes(`${name}.serviceClassApplicationInformation`, e['serviceClassApplicationInformation'], false);
    });
  }
  if (a['sopClassCommonExtended'] !== undefined) {
    list('associateRq.sopClassCommonExtended', a['sopClassCommonExtended']).forEach((item, i) => {
      const name = `associateRq.sopClassCommonExtended[${i}]`;
      const e = object(name, item);
      uid(`${name}.sopClassUid`, e['sopClassUid']);
      uid(`${name}.serviceClassUid`, e['serviceClassUid']);
      list(`${name}.relatedGeneralSopClassUids`, e['relatedGeneralSopClassUids']).forEach((r, j) => uid(`${name}.relatedGeneralSopClassUids[${j}]`, r));
    });
  }
  if (a['implementationClassUid'] !== undefined) string('associateRq.implementationClassUid', a['implementationClassUid']);
  if (a['implementationVersionName'] !== undefined) string('associateRq.implementationVersionName', a['implementationVersionName']);
}

/** Throws InvalidOptionError for the first field of `options` of the wrong shape. */
export function checkClientOptions(options: unknown): asserts options is DicomClientOptions {
  const o = object('options', options);
  if (typeof o['host'] !== 'string' || o['host'].length === 0) throw new InvalidOptionError('host', 'must be a non-empty string');
  const port = o['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidOptionError('port', `must be an integer 1–65535, got ${describe(port)}`);
  if (o['tls'] !== undefined && (o['tls'] === null || typeof o['tls'] !== 'object' || (o['tls'] as { role?: unknown }).role !== 'client')) {
    throw new InvalidOptionError('tls', 'needs a SecureContext with role "client"');
  }
  if (o['servername'] !== undefined && (typeof o['servername'] !== 'string' || o['servername'].length === 0)) throw new InvalidOptionError('servername', `must be a non-empty string, got ${describe(o['servername'])}`);
  string('callingAeTitle', o['callingAeTitle']);
  string('calledAeTitle', o['calledAeTitle']);
  if (o['presentationContexts'] !== undefined) checkContexts(o['presentationContexts']);
  if (o['roles'] !== undefined) checkRoles(o['roles']);
  if (o['userIdentity'] !== undefined) checkUserIdentity(o['userIdentity']);
  if (o['maxPduLength'] !== undefined) checkMaximumLength('maxPduLength', o['maxPduLength'] as number);
  if (o['minPeerMaximumLength'] !== undefined) checkMinPeerMaximumLength(o['minPeerMaximumLength'] as number);
  if (o['timeouts'] !== undefined) checkTimeouts(o['timeouts']);
  if (o['handlers'] !== undefined && !(o['handlers'] instanceof HandlerRegistry)) throw new InvalidOptionError('handlers', `must be a HandlerRegistry, got ${describe(o['handlers'])}`);
  if (o['associateRq'] !== undefined) checkAssociateRq(o['associateRq']);
  // asynchronousOperations: its own check names each field (acse/asynchronous-operations.ts).
}
