/**
 * The `audit` block of the serve config file and `--audit URL` (the command line wins for the
 * URL): where the IHE ATNA audit trail goes (docs/audit.md). Its own module so the config's other
 * blocks stay unaware of it.
 *
 *   "audit": {
 *     "url": "syslog+tls://arr.example:6514",   // or syslog+udp://host:514, file:///var/log/audit.log
 *     "queue": "audit-queue",                  // on-disk queue directory (default DATA/audit-queue)
 *     "maxQueued": 10000,                      // messages; a full queue drops and says so
 *     "auditSourceId": "PACS-1", "enterpriseSiteId": "Radiology",
 *     "tls": { "cert": "…", "key": "…", "ca": ["…"] }   // default: serve's own identity and trust
 *   }
 */
import { resolve } from 'node:path';
import { parseAuditUrl } from '../audit/sender.js';
import { usageError } from './errors.js';

export interface AuditSettings {
  url: string;
  queue: string;
  maxQueued: number;
  auditSourceId: string | undefined;
  enterpriseSiteId: string | undefined;
  tls: { cert: string | undefined; key: string | undefined; ca: string[] | undefined };
}

const KNOWN_AUDIT = ['url', 'queue', 'maxQueued', 'auditSourceId', 'enterpriseSiteId', 'tls'];
const KNOWN_AUDIT_TLS = ['cert', 'key', 'ca'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Json, k: string, where: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw usageError(`config ${where}${k} must be a non-empty string`);
  return v;
}

/** The audit settings, or undefined when neither the file nor `--audit` asks for a trail. */
export function auditSettings(block: unknown, cliUrl: string | undefined, base: string, data: string): AuditSettings | undefined {
  if (block !== undefined && !isObject(block)) throw usageError('config audit must be an object { "url", "queue", "maxQueued", "auditSourceId", "enterpriseSiteId", "tls" }');
  const o: Json = block ?? {};
  for (const k of Object.keys(o)) if (!KNOWN_AUDIT.includes(k)) throw usageError(`config: unknown field "audit.${k}" (known: ${KNOWN_AUDIT.join(', ')})`);
  const url = cliUrl ?? str(o, 'url', 'audit.');
  if (url === undefined) {
    if (block !== undefined) throw usageError('config audit needs "url" (syslog+tls://host:6514, syslog+udp://host:514 or file:///path)');
    return undefined;
  }
  try { parseAuditUrl(url); } catch (e) { throw usageError(`--audit: ${(e as Error).message}`); }
  const max = o.maxQueued;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1)) throw usageError(`config audit.maxQueued must be a whole number ≥ 1, got ${JSON.stringify(max)}`);
  const tls = o.tls;
  if (tls !== undefined && !isObject(tls)) throw usageError('config audit.tls must be an object { "cert", "key", "ca" }');
  const t: Json = tls ?? {};
  for (const k of Object.keys(t)) if (!KNOWN_AUDIT_TLS.includes(k)) throw usageError(`config: unknown field "audit.tls.${k}" (known: ${KNOWN_AUDIT_TLS.join(', ')})`);
  const ca = t.ca;
  if (ca !== undefined && !(Array.isArray(ca) && ca.every((c) => typeof c === 'string'))) throw usageError('config audit.tls.ca must be an array of paths');
  const queue = str(o, 'queue', 'audit.');
  return {
    url,
    queue: queue === undefined ? resolve(data, 'audit-queue') : resolve(base, queue),
    maxQueued: (max as number | undefined) ?? 10000,
    auditSourceId: str(o, 'auditSourceId', 'audit.'),
    enterpriseSiteId: str(o, 'enterpriseSiteId', 'audit.'),
    tls: {
      cert: (() => { const c = str(t, 'cert', 'audit.tls.'); return c === undefined ? undefined : resolve(base, c); })(),
      key: (() => { const c = str(t, 'key', 'audit.tls.'); return c === undefined ? undefined : resolve(base, c); })(),
      ca: (ca as string[] | undefined)?.map((c) => resolve(base, c)),
    },
  };
}
