/**
 * serve's start-up lines about its own certificate and the CAs it trusts: subject,
 * subjectAltName, SHA-256 fingerprint (the form the AE-title bindings use), key, days to expiry.
 * The expiry warnings (configurable, CRLs too, repeated after reloads and daily) are serve-reload.ts's.
 */
import { readFileSync } from 'node:fs';
import { pemCertificates, summarize, type CertificateSummary } from './cert-summary.js';

type Log = (event: string, text: string, fields?: Record<string, unknown>) => void;

function read(path: string): CertificateSummary[] {
  try {
    const bytes = readFileSync(path);
    const text = bytes.toString('latin1');
    return (text.includes('-----BEGIN ') ? pemCertificates(text) : [bytes]).map((der) => summarize(der));
  } catch {
    // Unreadable files are reported by the TLS context with their own error.
    return [];
  }
}

function line(what: string, s: CertificateSummary): string {
  return `${what} ${s.subject}: ${s.subjectAltName.length > 0 ? `SAN ${s.subjectAltName.join(', ')}; ` : ''}SHA-256 ${s.sha256Fingerprint}; ${s.key}; `
    + (s.daysToExpiry < 0 ? `EXPIRED ${-s.daysToExpiry} days ago` : `expires in ${s.daysToExpiry} days`);
}

export function logCertificates(cert: string | undefined, ca: readonly string[] | undefined, log: Log): void {
  const entries: Array<[string, CertificateSummary]> = [];
  const [own] = cert === undefined ? [] : read(cert);
  if (own !== undefined) entries.push(['certificate', own]);
  for (const c of ca ?? []) for (const s of read(c)) entries.push(['trusted CA', s]);
  for (const [what, s] of entries) {
    log(what === 'certificate' ? 'certificate' : 'trusted-ca', line(what, s), { ...s });
  }
}
