/**
 * "Unable to get local issuer certificate" while a trusted CA carries exactly the issuer's name:
 * two CAs of one name (two `pki init` runs, a re-created development PKI). Said in so many words,
 * with the proof: the trusted CA's key does not verify the peer's certificate.
 */
import type { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pemCertificates } from './cert-summary.js';

// node:crypto only when a certificate is looked at (a refused handshake): loading it costs ~5 ms.
const x509 = (der: Buffer): X509Certificate => new (process.getBuiltinModule('node:crypto').X509Certificate)(der);

const ISSUER_NOT_FOUND = new Set([2, 20]); // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)

function trustedCertificates(paths: readonly string[]): Array<{ path: string; cert: X509Certificate }> {
  const out: Array<{ path: string; cert: X509Certificate }> = [];
  const files = paths.flatMap((p) => {
    try { return statSync(p).isDirectory() ? readdirSync(p).map((n) => join(p, n)) : [p]; } catch { return []; }
  });
  for (const path of files) {
    let bytes: Buffer;
    try { bytes = readFileSync(path); } catch { continue; }
    const text = bytes.toString('latin1');
    const ders = text.includes('-----BEGIN ') ? pemCertificates(text) : [bytes];
    for (const der of ders) {
      try { out.push({ path, cert: x509(der) }); } catch { /* not a certificate */ }
    }
  }
  return out;
}

/** Hints for each refused certificate whose issuer's name a trusted CA has, with another key. */
export function sameNameHints(verify: ReadonlyArray<{ ok: boolean; error: number; der?: Buffer | undefined }>, caPaths: readonly string[]): string[] {
  const hints: string[] = [];
  const failing = verify.filter((v) => !v.ok && ISSUER_NOT_FOUND.has(v.error) && v.der !== undefined && v.der.length > 0);
  if (failing.length === 0) return hints;
  const trusted = trustedCertificates(caPaths);
  for (const v of failing) {
    let cert: X509Certificate;
    try { cert = x509(v.der!); } catch { continue; }
    for (const t of trusted) {
      if (t.cert.subject !== cert.issuer || cert.verify(t.cert.publicKey)) continue;
      hints.push(`the trusted CA in ${t.path} has the same name (${cert.issuer.replace(/\n/g, ', ')}) as the issuer of the peer's certificate, but it is a different key `
        + `(its SHA-256 fingerprint is ${t.cert.fingerprint256}; its key does not verify the peer's certificate): the peer's certificate comes from another CA of the same name, `
        + `e.g. another "pki init" or another serve data directory. Trust the CA that issued it (its ca.pem), or have the peer use a certificate from the CA you trust`);
    }
  }
  return hints;
}

const HOSTNAME_MISMATCH = 62; // X509_V_ERR_HOSTNAME_MISMATCH
const IP_MISMATCH = 64; // X509_V_ERR_IP_ADDRESS_MISMATCH

/** For a host-name or IP mismatch: the names the certificate does carry. */
export function nameMismatchHints(verify: ReadonlyArray<{ ok: boolean; error: number; der?: Buffer | undefined }>, asked: string | undefined): string[] {
  const v = verify.find((c) => !c.ok && (c.error === HOSTNAME_MISMATCH || c.error === IP_MISMATCH) && c.der !== undefined && c.der.length > 0);
  if (v === undefined) return [];
  let cert: X509Certificate;
  try { cert = x509(v.der!); } catch { return []; }
  const names = cert.subjectAltName?.split(', ') ?? [];
  return [`the certificate names ${names.length > 0 ? names.join(', ') : 'no subjectAltName at all'}${asked !== undefined ? `, not ${asked}` : ''}: `
    + `connect with one of these names (or --verify-host one of them), or issue a certificate whose subjectAltName includes ${asked ?? 'the name you connect with'}`];
}

/**
 * A verify callback that changes nothing (it answers OpenSSL's own verdict) but keeps the
 * certificate a host-name or IP check refused, so the error can name the names it carries.
 */
export function nameMismatchRecorder(): { verifyCallback: (ok: 0 | 1, s: string, error: number, e: string, ctx: { der: Buffer }) => 0 | 1; refused(): Buffer | undefined } {
  let der: Buffer | undefined;
  return {
    verifyCallback: (ok, _s, error, _e, ctx) => {
      if (ok === 0 && (error === HOSTNAME_MISMATCH || error === IP_MISMATCH)) der = Buffer.from(ctx.der);
      return ok;
    },
    refused: () => der,
  };
}

/** The names a certificate carries, for "connect with one of these". */
export function certificateNames(der: Buffer): string[] {
  try { return x509(der).subjectAltName?.split(', ') ?? []; } catch { return []; }
}
