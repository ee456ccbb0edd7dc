/**
 * What an operator needs to see of a certificate, where it matters (pki inspect, diagnose,
 * serve's log): subjectAltName, the SHA-256 fingerprint in the form the AE-title bindings use
 * (`"fingerprint": "AB:CD:…"`), the key type and size, and the days to expiry. Read with
 * node:crypto's X509Certificate: no OpenSSL binding needed for a summary.
 */
import type { X509Certificate } from 'node:crypto';

export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltName: readonly string[];
  readonly sha256Fingerprint: string;
  readonly key: string;
  readonly validTo: string;
  /** Whole days until notAfter (negative once expired). */
  readonly daysToExpiry: number;
  readonly ca: boolean;
}

const CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export function keyDescription(cert: X509Certificate): string {
  const k = cert.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  switch (k.asymmetricKeyType) {
    case 'rsa': case 'rsa-pss': return `RSA ${d.modulusLength ?? '?'} bits`;
    case 'ec': return `EC ${CURVES[d.namedCurve ?? ''] ?? d.namedCurve ?? '?'}`;
    default: return String(k.asymmetricKeyType ?? 'unknown').toUpperCase().replace('ED', 'Ed');
  }
}

const oneLine = (dn: string): string => dn.split('\n').filter((l) => l.length > 0).join(', ');

export function summarize(cert: X509Certificate | Buffer | string, now = Date.now()): CertificateSummary {
  // node:crypto when a summary is made, not when the module loads (~5 ms of every client command).
  const { X509Certificate: X509 } = process.getBuiltinModule('node:crypto');
  const c = cert instanceof X509 ? cert : new X509(cert);
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    subjectAltName: c.subjectAltName === undefined ? [] : c.subjectAltName.split(', '),
    sha256Fingerprint: c.fingerprint256,
    key: keyDescription(c),
    validTo: c.validTo,
    daysToExpiry: Math.floor((Date.parse(c.validTo) - now) / 86_400_000),
    ca: c.ca,
  };
}

/** `Subject Alt Name: …`, `SHA-256 Fingerprint: …`, `Key: …`, `Expires: in N days (date)`. */
export function summaryLines(s: CertificateSummary): string[] {
  const expiry = s.daysToExpiry < 0 ? `EXPIRED ${-s.daysToExpiry} days ago` : `in ${s.daysToExpiry} days`;
  return [
    `Subject Alt Name: ${s.subjectAltName.length > 0 ? s.subjectAltName.join(', ') : '(none)'}`,
    `SHA-256 Fingerprint: ${s.sha256Fingerprint}`,
    `Key: ${s.key}`,
    `Expires: ${expiry} (${s.validTo})`,
  ];
}

/** The seeds' certificate string without OpenSSL's purposes table (shown only with --purposes). */
export function withoutPurposes(certificateString: string): string {
  const lines = certificateString.split('\n');
  const end = lines.findIndex((l) => l.startsWith('Certificate purposes'));
  return (end < 0 ? lines : lines.slice(0, end)).join('\n');
}

/** The PEM certificates in a text, as DER. */
export function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(/-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g)]
    .map((b) => Buffer.from(b[1]!.replace(/\s+/g, ''), 'base64'));
}
