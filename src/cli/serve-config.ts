/**
 * `serve` settings: the JSON config file (every option, AE-title ↔ certificate bindings, move
 * destinations) merged under the command line (the command line wins). Relative paths in the file
 * are relative to the file. Every mistake is a usage error naming the field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { applyEnvironment, validateConfig } from './serve-config-schema.js';
import { dirname, resolve } from 'node:path';
import { fileError, usageError } from './errors.js';
import { oneOf, parseAeTitle, parsePort } from './args.js';
import { profileNames } from './tls-options.js';
import type { TlsCliValues } from './tls-options.js';
import type { CertificateBinding, CertificateIdentity } from '../acse/certificate-binding.js';
import { serveAccess, type ServeAccess, type ServeAccessCliValues } from './serve-access.js';
import { auditSettings, type AuditSettings } from './audit-config.js';

/** The store's duplicate policies (src/store/file-store.ts duplicatePolicies; kept here so the CLI loads no store code to parse). */
const DUPLICATE_POLICIES = ['keep-first', 'overwrite', 'reject'] as const;
export type ServeDuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];

export interface MoveDestination { host: string; port: number; tls: boolean }

export interface ServeSettings {
  aet: string;
  port: number;
  plainPort: number | undefined;
  host: string;
  data: string;
  maxAssociations: number;
  /** Most C-STORE-RQs (any requests) a peer may keep outstanding, when it proposes a window (PS3.7 D.3.3.3). */
  asyncWindow: number;
  tls: TlsCliValues;
  /** Seconds a client may resume its TLS session from the full handshake; 0 = never (a full handshake every time). */
  sessionLifetime: number;
  bindings: CertificateBinding[];
  requireBinding: boolean;
  moveDestinations: Record<string, MoveDestination>;
  /** A re-sent SOP instance: 'keep-first' (default: Success, stored once), 'overwrite', or 'reject' (0111). */
  duplicates: ServeDuplicatePolicy;
  /** The PostgreSQL index (--index, "index"); undefined: the embedded SQLite one in DATA/index.sqlite. */
  index: { url: string; maxConnections: number | undefined; queryTimeout: number | undefined } | undefined;
  /** Access rules and users (serve-access.ts). */
  access: ServeAccess;
  /** The config file's "limits" (docs/limits.md); absent keys keep the library defaults. */
  limits: ServeLimits;
  /** The IHE ATNA audit trail (audit-config.ts), when configured. */
  audit: AuditSettings | undefined;
  /** Seconds a stop waits for running associations before aborting them. */
  stopTimeout: number;
  /** Instances the start-up warm-up stores before the ports open (0: none). */
  warmUp: number;
  /** The health and metrics HTTP port, when asked for. */
  http: { port: number; host: string } | undefined;
  /** Make (first run) and use the development PKI in DATA/pki: needed when a config file names no certificate. */
  devPki: boolean;
  /** Reload the TLS files when they change (besides SIGHUP). */
  watchCerts: boolean;
  /** Warn this many days before a certificate or CRL runs out. */
  expiryWarningDays: number;
  /** The log: level, format, patient data (serve-log.ts). */
  log: { level?: string | undefined; format?: string | undefined; phi?: boolean | undefined };
  /** Accept private and unknown SOP classes as storage (--accept-unknown, "acceptUnknown"). */
  acceptUnknown: boolean;
  /** Where instances are kept (--storage, "storage"); undefined: DATA/files. A directory is absolute here. */
  storage: ServeStorage | undefined;
}

/** The "storage" object (src/store/blob/open.ts StorageConfig; kept here so the CLI loads no store code to parse). */
export interface ServeStorage {
  url: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  partSize?: number;
}

/** Resource limits settable in the config file's "limits" object; each a whole number ≥ its minimum. */
export interface ServeLimits {
  maxPendingConnections?: number;
  /** Bytes sent by connections whose A-ASSOCIATE-RQ is not complete. */
  maxPendingBytes?: number;
  maxBufferedBytes?: number;
  maxBufferedBytesPerAssociation?: number;
  /** Milliseconds. */
  datasetStallTimeout?: number;
  /** Milliseconds: a TLS handshake not completed. */
  handshakeTimeout?: number;
  /** Milliseconds: the A-ASSOCIATE-RQ not received (ARTIM). */
  artimTimeout?: number;
  /** Milliseconds: the acceptor's checks of an A-ASSOCIATE-RQ not done (then refused 2/1/1). */
  negotiationTimeout?: number;
  maxQueryMatches?: number;
  maxConcurrentQueries?: number;
  /** Milliseconds. */
  moveTimeout?: number;
  /** Bytes of a C-FIND, C-MOVE or C-GET identifier. */
  maxIdentifierLength?: number;
  /** Bytes of a Storage Commitment request's Action Information. */
  maxCommitmentRequestLength?: number;
}

/** The minimum of each limit (0 = no limit where that is allowed). */
const LIMIT_MINIMUM: Readonly<Record<keyof ServeLimits, number>> = {
  maxPendingConnections: 1,
  maxPendingBytes: 0,
  maxBufferedBytes: 0,
  maxBufferedBytesPerAssociation: 0,
  datasetStallTimeout: 0,
  handshakeTimeout: 1,
  artimTimeout: 1,
  negotiationTimeout: 1,
  maxQueryMatches: 0,
  maxConcurrentQueries: 1,
  moveTimeout: 1,
  maxIdentifierLength: 0,
  maxCommitmentRequestLength: 0,
};

function limitsFrom(v: unknown): ServeLimits {
  if (v === undefined) return {};
  if (!isObject(v)) throw usageError(`config limits must be an object { ${Object.keys(LIMIT_MINIMUM).join(', ')} }`);
  const out: ServeLimits = {};
  for (const [k, n] of Object.entries(v)) {
    if (!(k in LIMIT_MINIMUM)) throw usageError(`config: unknown field "limits.${k}" (known: ${Object.keys(LIMIT_MINIMUM).join(', ')})`);
    const min = LIMIT_MINIMUM[k as keyof ServeLimits];
    if (!isNumber(n) || n < min) throw usageError(`config limits.${k} must be a whole number ≥ ${min}, got ${JSON.stringify(n)}`);
    out[k as keyof ServeLimits] = n;
  }
  return out;
}

type Json = Record<string, unknown>;

function field<T>(o: Json, name: string, where: string, check: (v: unknown) => v is T, expect: string): T | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (!check(v)) throw usageError(`config ${where}${name} must be ${expect}`);
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);


/**
 * A configured server has a real identity: the development PKI only when asked for, so a config
 * that lost its certificate lines cannot come up with a throw-away CA. (Without a config file the
 * development PKI is the zero-configuration first run.)
 */
export function checkIdentity(s: ServeSettings, config: string | undefined): void {
  if (config !== undefined && s.tls.cert === undefined && s.tls.pkcs12 === undefined && !s.devPki) {
    throw usageError(`the config file ${config} names no server certificate: set tls.cert and tls.key (or tls.pkcs12), or ask for the development PKI with tls.devPki: true or --dev-pki`);
  }
}

/** RFC 8446 4.6.1: a TLS 1.3 ticket lives at most 7 days. */
const MAX_SESSION_LIFETIME = 604_800;

export function readConfig(path: string): { json: Json; base: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError(`cannot read the config file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
  }
  // JSON with comments (// and /* */) and trailing commas, as editors allow for JSONC.
  const errors: ParseError[] = [];
  const json: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const e = errors[0]!;
    const before = text.slice(0, e.offset).split('\n');
    throw usageError(`the config file ${path} is not valid JSON: ${printParseErrorCode(e.error)} at line ${before.length}, column ${before.at(-1)!.length + 1}`);
  }
  if (!isObject(json)) throw usageError(`the config file ${path} must hold a JSON object`);
  validateConfig(json);
  return { json, base: dirname(resolve(path)) };
}

function bindingsFrom(v: unknown): CertificateBinding[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw usageError('config bindings must be an array of { "aet", and "subject" | "fingerprint" | "issuer"+"serial" }');
  const byAe = new Map<string, CertificateIdentity[]>();
  v.forEach((b, i) => {
    if (!isObject(b) || !isString(b.aet)) throw usageError(`config bindings[${i}] needs "aet"`);
    const aet = parseAeTitle(b.aet, `config bindings[${i}].aet`, '');
    let id: CertificateIdentity;
    if (isString(b.fingerprint)) id = { sha256Fingerprint: b.fingerprint };
    else if (isString(b.issuer) && isString(b.serial)) id = { issuer: toNodeDn(b.issuer), serialNumber: b.serial };
    else if (isString(b.subject)) id = { subject: toNodeDn(b.subject) };
    else throw usageError(`config bindings[${i}] needs "subject", "fingerprint" (SHA-256) or "issuer" and "serial"`);
    byAe.set(aet, [...(byAe.get(aet) ?? []), id]);
  });
  return [...byAe].map(([aeTitle, certificates]) => ({ aeTitle, certificates }));
}

/**
 * Names as people copy them from `pki inspect` ("CN = x, O = y") or openssl ("CN=x, O=y") into
 * the form Node's X509Certificate.subject uses ("O=y\nCN=x" in certificate order); the order of
 * the one-line form is kept, so give it as the certificate shows it.
 */
function toNodeDn(text: string): string {
  if (text.includes('\n')) return text;
  return text.split(/,\s*(?=[A-Za-z.0-9]+\s*=)/).map((p) => p.replace(/\s*=\s*/, '=').trim()).join('\n');
}

function destinationsFrom(v: unknown): Record<string, MoveDestination> {
  if (v === undefined) return {};
  if (!isObject(v)) throw usageError('config moveDestinations must be an object { "AE": { "host", "port", "tls" } }');
  const out: Record<string, MoveDestination> = {};
  for (const [ae, d] of Object.entries(v)) {
    parseAeTitle(ae, `config moveDestinations key`, '');
    if (!isObject(d) || !isString(d.host) || !isNumber(d.port)) throw usageError(`config moveDestinations.${ae} needs "host" (string) and "port" (number)`);
    out[ae] = { host: d.host, port: parsePort(String(d.port), `config moveDestinations.${ae}.port`), tls: d.tls !== false };
  }
  return out;
}

export interface ServeCliValues extends TlsCliValues, ServeAccessCliValues {
  port?: string | undefined; 'plain-port'?: string | undefined; host?: string | undefined; data?: string | undefined;
  config?: string | undefined; aet?: string | undefined; 'max-associations'?: string | undefined; 'async-window'?: string | undefined;
  audit?: string | undefined; 'accept-unknown'?: boolean | undefined;
  'session-lifetime'?: string | undefined; 'stop-timeout'?: string | undefined; 'warm-up'?: string | undefined;
  'http-port'?: string | undefined; 'http-host'?: string | undefined; 'dev-pki'?: boolean | undefined; 'watch-certs'?: boolean | undefined;
  'expiry-warning-days'?: string | undefined; 'log-level'?: string | undefined; 'log-format'?: string | undefined; 'log-phi'?: boolean | undefined;
  duplicates?: string | undefined;
  index?: string | undefined;
  storage?: string | undefined;
}

/** `s3://…` and `file://…` as given; any other value is a directory, resolved against `from`. */
function storageFrom(v: ServeCliValues, json: Json, cwd: string, base: string): ServeStorage | undefined {
  const storageJson = field(json, 'storage', '', isObject, 'an object { "url", "endpoint", "region", "forcePathStyle", "partSize" }') ?? {};
  const url = v.storage ?? field(storageJson, 'url', 'storage.', isString, 'a URL or a directory');
  const endpoint = field(storageJson, 'endpoint', 'storage.', isString, 'a URL');
  const region = field(storageJson, 'region', 'storage.', isString, 'a region name');
  const forcePathStyle = field(storageJson, 'forcePathStyle', 'storage.', isBool, 'true or false');
  const partSize = field(storageJson, 'partSize', 'storage.', isNumber, 'a number of bytes');
  if (url === undefined) {
    if (Object.keys(storageJson).length > 0) throw usageError('config: "storage" needs a "url" (s3://bucket/prefix, file:///dir or a directory)');
    return undefined;
  }
  if (url === '') throw usageError('--storage must be s3://bucket/prefix, file:///dir or a directory, got ""');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 's3' && scheme !== 'file') throw usageError(`--storage must be s3://bucket/prefix, file:///dir or a directory, got "${url}"`);
  if (scheme === 's3' && !/^s3:\/\/[^/]+/.test(url)) throw usageError(`--storage ${url} names no bucket (s3://bucket/prefix)`);
  return {
    url: scheme === undefined ? resolve(v.storage !== undefined ? cwd : base, url) : url,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
    ...(partSize === undefined ? {} : { partSize }),
  };
}

export function serveSettings(v: ServeCliValues, cwd: string, env: NodeJS.ProcessEnv = {}): ServeSettings {
  const { json, base } = v.config !== undefined ? readConfig(resolve(cwd, v.config)) : { json: {} as Json, base: cwd };
  // DICOM_TLS_* variables win over the file (the command line over both); checked by the same schema.
  if (Object.keys(env).some((k) => k.startsWith('DICOM_TLS_'))) {
    const passwordEnv = [v['password-env'], (json.tls as Json | undefined)?.passwordEnv as string | undefined];
    validateConfig(applyEnvironment(json, env, passwordEnv), 'config (with the DICOM_TLS_* environment)');
  }
  const path = (p: string | undefined, from: string): string | undefined => (p === undefined ? undefined : resolve(from, p));
  const tlsJson = field(json, 'tls', '', isObject, 'an object') ?? {};
  const portText = v.port ?? (json.port !== undefined ? String(field(json, 'port', '', isNumber, 'a port number')) : undefined);
  const plainText = v['plain-port'] ?? (json.plainPort !== undefined ? String(field(json, 'plainPort', '', isNumber, 'a port number')) : undefined);
  const port = portText === '0' ? 0 : parsePort(portText ?? '2762', 'port');
  const plainPort = plainText === undefined ? undefined : plainText === '0' ? 0 : parsePort(plainText, 'plain-port');
  const maxText = v['max-associations'] ?? (json.maxAssociations !== undefined ? String(field(json, 'maxAssociations', '', isNumber, 'a number')) : undefined);
  const maxAssociations = maxText === undefined ? 64 : Number(maxText);
  if (!Number.isInteger(maxAssociations) || maxAssociations < 1) throw usageError(`--max-associations must be a whole number ≥ 1, got "${maxText}"`);
  const windowText = v['async-window'] ?? (json.asyncWindow !== undefined ? String(field(json, 'asyncWindow', '', isNumber, 'a number')) : undefined);
  const asyncWindow = windowText === undefined ? 16 : Number(windowText);
  if (!/^\d+$/.test(windowText ?? '16') || asyncWindow > 65535) throw usageError(`--async-window must be a whole number 0–65535 (0 = unlimited), got "${windowText}"`);
  const lifetimeText = v['session-lifetime'] ?? (tlsJson.sessionLifetime !== undefined ? String(field(tlsJson, 'sessionLifetime', 'tls.', isNumber, 'a whole number of seconds')) : undefined);
  const sessionLifetime = Number(lifetimeText ?? '7200');
  if (!/^\d+$/.test(lifetimeText ?? '7200') || sessionLifetime > MAX_SESSION_LIFETIME) {
    throw usageError(`--session-lifetime must be a whole number of seconds, 0–${MAX_SESSION_LIFETIME} (0 = no session resumption), got "${lifetimeText}"`);
  }
  const stopText = v['stop-timeout'] ?? (json.stopTimeout !== undefined ? String(field(json, 'stopTimeout', '', isNumber, 'a whole number of seconds')) : undefined);
  if (!/^\d+$/.test(stopText ?? '30')) throw usageError(`--stop-timeout must be a whole number of seconds, got "${stopText}"`);
  const warmText = v['warm-up'] ?? (json.warmUp !== undefined ? String(field(json, 'warmUp', '', isNumber, 'a whole number of instances')) : undefined);
  if (!/^\d+$/.test(warmText ?? '800') || Number(warmText ?? '800') > 10000) throw usageError(`--warm-up must be a whole number of instances 0–10000 (0 = no warm-up), got "${warmText}"`);
  // store.duplicates is checked by the schema; --duplicates here.
  const storeJson = field(json, 'store', '', isObject, 'an object') ?? {};
  const duplicates = oneOf(v.duplicates ?? field(storeJson, 'duplicates', 'store.', isString, `one of ${DUPLICATE_POLICIES.join(', ')}`), 'duplicates', DUPLICATE_POLICIES) ?? 'keep-first';
  // index.* is checked by the schema; --index here.
  const indexJson = field(json, 'index', '', isObject, 'an object') ?? {};
  const indexUrl = v.index ?? field(indexJson, 'url', 'index.', isString, 'a postgres:// URL');
  if (indexUrl !== undefined && !/^postgres(ql)?:\/\//.test(indexUrl)) throw usageError(`--index must be a postgres:// or postgresql:// URL, got "${indexUrl.replace(/:[^:@/]*@/, ':***@')}"`);
  const index = indexUrl === undefined ? undefined : {
        url: indexUrl,
        maxConnections: field(indexJson, 'maxConnections', 'index.', isNumber, 'a whole number ≥ 1'),
        queryTimeout: field(indexJson, 'queryTimeout', 'index.', isNumber, 'a whole number of milliseconds ≥ 0'),
      };
  const cliTls = v.cert !== undefined || v.pkcs12 !== undefined;
  const tls: TlsCliValues = {
    cert: cliTls ? path(v.cert, cwd) : path(field(tlsJson, 'cert', 'tls.', isString, 'a path'), base),
    key: cliTls ? path(v.key, cwd) : path(field(tlsJson, 'key', 'tls.', isString, 'a path'), base),
    pkcs12: cliTls ? path(v.pkcs12, cwd) : path(field(tlsJson, 'pkcs12', 'tls.', isString, 'a path'), base),
    ca: v.ca?.map((c) => resolve(cwd, c)) ?? field(tlsJson, 'ca', 'tls.', isStrings, 'an array of paths')?.map((c) => resolve(base, c)),
    crl: v.crl?.map((c) => resolve(cwd, c)) ?? field(tlsJson, 'crl', 'tls.', isStrings, 'an array of paths')?.map((c) => resolve(base, c)),
    'crl-check': v['crl-check'] ?? field(tlsJson, 'crlCheck', 'tls.', isString, '"leaf" or "all"'),
    profile: v.profile ?? field(tlsJson, 'profile', 'tls.', isString, 'a profile name'),
    groups: v.groups ?? (isStrings(tlsJson.groups) ? tlsJson.groups.join(':') : field(tlsJson, 'groups', 'tls.', isString, 'a colon-separated list or an array of group names')),
    'require-hybrid-group': v['require-hybrid-group'] ?? field(tlsJson, 'requireHybridGroup', 'tls.', isBool, 'true or false'),
    'peer-cert': v['peer-cert'] ?? field(tlsJson, 'peerCert', 'tls.', isString, '"require", "verify" or "ignore"'),
    'password-file': v['password-file'] ?? path(field(tlsJson, 'passwordFile', 'tls.', isString, 'a path'), base),
    'password-env': v['password-env'] ?? field(tlsJson, 'passwordEnv', 'tls.', isString, 'a variable name'),
    'ask-password': v['ask-password'],
  };
  // Check the policy words now, before a first run writes a PKI for a configuration that cannot start.
  oneOf(tls['peer-cert'], 'peer-cert', ['require', 'verify', 'ignore'] as const);
  oneOf(tls['crl-check'], 'crl-check', ['leaf', 'all'] as const);
  if (tls.profile !== undefined && !profileNames.includes(tls.profile)) throw usageError(`--profile must be one of ${profileNames.join(', ')}; got "${tls.profile}"`);
  const data = resolve(v.data !== undefined ? cwd : base, v.data ?? field(json, 'data', '', isString, 'a directory') ?? (v.config !== undefined ? resolve(cwd, 'dicom-tls-data') : 'dicom-tls-data'));
  const devPki = v['dev-pki'] === true || field(tlsJson, 'devPki', 'tls.', isBool, 'true or false') === true;
  const httpJson = field(json, 'http', '', isObject, 'an object { "port", "host" }');
  for (const k of Object.keys(httpJson ?? {})) if (k !== 'port' && k !== 'host') throw usageError(`config: unknown field "http.${k}" (known: port, host)`);
  const httpText = v['http-port'] ?? (httpJson?.port !== undefined ? String(field(httpJson, 'port', 'http.', isNumber, 'a port number')) : undefined);
  const http = httpText === undefined ? undefined : {
    port: httpText === '0' ? 0 : parsePort(httpText, 'http-port'),
    host: v['http-host'] ?? field(httpJson ?? {}, 'host', 'http.', isString, 'an address') ?? '127.0.0.1',
  };
  const warnText = v['expiry-warning-days'] ?? (tlsJson.expiryWarningDays !== undefined ? String(field(tlsJson, 'expiryWarningDays', 'tls.', isNumber, 'a whole number of days')) : undefined);
  if (!/^\d+$/.test(warnText ?? '30')) throw usageError(`--expiry-warning-days must be a whole number of days, got "${warnText}"`);
  const logJson = field(json, 'log', '', isObject, 'an object { "level", "format", "phi" }') ?? {};
  for (const k of Object.keys(logJson)) if (!['level', 'format', 'phi'].includes(k)) throw usageError(`config: unknown field "log.${k}" (known: level, format, phi)`);
  return {
    http, devPki,
    watchCerts: v['watch-certs'] === true || field(tlsJson, 'watch', 'tls.', isBool, 'true or false') === true,
    expiryWarningDays: Number(warnText ?? '30'),
    log: {
      level: v['log-level'] ?? field(logJson, 'level', 'log.', isString, 'a level name'),
      format: v['log-format'] ?? field(logJson, 'format', 'log.', isString, '"text" or "json"'),
      phi: v['log-phi'] ?? field(logJson, 'phi', 'log.', isBool, 'true or false'),
    },
    aet: parseAeTitle(v.aet ?? field(json, 'aet', '', isString, 'an AE title'), 'aet', 'DICOM-TLS'),
    port, plainPort,
    host: v.host ?? field(json, 'host', '', isString, 'an address') ?? '0.0.0.0',
    data,
    maxAssociations, asyncWindow, tls, sessionLifetime,
    bindings: bindingsFrom(json.bindings),
    requireBinding: field(json, 'requireBinding', '', isBool, 'true or false') ?? false,
    moveDestinations: destinationsFrom(json.moveDestinations),
    access: serveAccess(json, base, v, cwd),
    limits: limitsFrom(json.limits),
    audit: auditSettings(json.audit, v.audit, base, data),
    stopTimeout: Number(stopText ?? '30'),
    warmUp: Number(warmText ?? '800'),
    duplicates,
    index,
    acceptUnknown: v['accept-unknown'] ?? field(json, 'acceptUnknown', '', isBool, 'true or false') ?? false,
    storage: storageFrom(v, json, cwd, base),
  };
}
