/**
 * Days until the server's certificates and CRLs run out: read from the files `serve` was given
 * (PEM or DER; a CA directory is read file by file), for the metrics and the expiry warnings.
 */
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Expiry {
  readonly kind: 'certificate' | 'ca' | 'crl';
  readonly file: string;
  /** The certificate's subject or the CRL's file name. */
  readonly name: string;
  /** notAfter of a certificate, nextUpdate of a CRL. */
  readonly until: Date;
}

const DAY_MS = 86_400_000;
export const daysLeft = (e: Expiry, now = Date.now()): number => (e.until.getTime() - now) / DAY_MS;

function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

function files(path: string): string[] {
  try {
    return statSync(path).isDirectory() ? readdirSync(path).map((n) => join(path, n)).filter((f) => statSync(f).isFile()) : [path];
  } catch { return []; }
}

function certificates(file: string, kind: 'certificate' | 'ca'): Expiry[] {
  let raw: Buffer;
  try { raw = readFileSync(file); } catch { return []; }
  const blocks = pemBlocks(raw.toString('latin1'), 'CERTIFICATE');
  const ders = blocks.length > 0 ? blocks : [raw];
  const out: Expiry[] = [];
  for (const der of kind === 'certificate' ? ders.slice(0, 1) : ders) {
    try {
      const c = new X509Certificate(der);
      out.push({ kind, file, name: c.subject.replace(/\n/g, ', '), until: new Date(c.validTo) });
    } catch { /* not a certificate (a key, a hash link): nothing to count */ }
  }
  return out;
}

/** A DER element at `at`: its tag, where its content starts and ends. */
function element(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > der.length) throw new RangeError('truncated DER');
  return { tag, start, end: start + len };
}

function asn1Time(der: Buffer, e: { tag: number; start: number; end: number }): Date {
  const s = der.toString('latin1', e.start, e.end);
  // UTCTime YYMMDDHHMMSSZ (RFC 5280 4.1.2.5.1: YY ≥ 50 is 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ.
  const full = e.tag === 0x17 ? `${Number(s.slice(0, 2)) >= 50 ? '19' : '20'}${s}` : s;
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(full);
  if (m === null) throw new RangeError(`unexpected time ${s}`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/** nextUpdate of a CRL (RFC 5280 5.1: TBSCertList = version?, signature, issuer, thisUpdate, nextUpdate?). */
export function crlNextUpdate(der: Buffer): Date | undefined {
  const list = element(der, 0);
  const tbs = element(der, list.start);
  let at = tbs.start;
  let e = element(der, at);
  if (e.tag === 0x02) { at = e.end; e = element(der, at); } // version
  at = e.end; // signature AlgorithmIdentifier
  at = element(der, at).end; // issuer
  at = element(der, at).end; // thisUpdate
  if (at >= tbs.end) return undefined;
  const next = element(der, at);
  return next.tag === 0x17 || next.tag === 0x18 ? asn1Time(der, next) : undefined;
}

function crls(file: string): Expiry[] {
  let raw: Buffer;
  try { raw = readFileSync(file); } catch { return []; }
  const blocks = pemBlocks(raw.toString('latin1'), 'X509 CRL');
  const out: Expiry[] = [];
  for (const der of blocks.length > 0 ? blocks : [raw]) {
    try {
      const until = crlNextUpdate(der);
      if (until !== undefined) out.push({ kind: 'crl', file, name: file.split('/').pop()!, until });
    } catch { /* not a CRL */ }
  }
  return out;
}

export function expiries(tls: { cert?: string | undefined; ca?: readonly string[] | undefined; crl?: readonly string[] | undefined }): Expiry[] {
  return [
    ...(tls.cert === undefined ? [] : certificates(tls.cert, 'certificate')),
    ...(tls.ca ?? []).flatMap(files).flatMap((f) => certificates(f, 'ca')),
    ...(tls.crl ?? []).flatMap(files).flatMap(crls),
  ];
}
