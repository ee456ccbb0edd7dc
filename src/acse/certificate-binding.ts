import type { X509Certificate } from 'node:crypto';

/**
 * Binding of calling AE titles to TLS client certificates: an AE title is only believed when the
 * peer proved, in the TLS handshake, that it holds a certificate bound to that title. A failed
 * binding rejects the association with calling-AE-title-not-recognized (PS3.8 Table 9-21,
 * source 1 reason 3), since the title is not recognised for this peer.
 */

/** One way to name a certificate. */
export type CertificateIdentity =
  /** SHA-256 fingerprint in hex, colons and case not significant. */
  | { readonly sha256Fingerprint: string }
  /** Subject as Node's X509Certificate.subject prints it ("C=NL\nO=…\nCN=…"); whitespace around lines not significant. */
  | { readonly subject: string }
  /** Issuer (as X509Certificate.issuer) plus serial number in hex. */
  | { readonly issuer: string; readonly serialNumber: string };

export interface CertificateBinding {
  readonly aeTitle: string;
  /** The certificates that may use this AE title (any one matches). */
  readonly certificates: readonly CertificateIdentity[];
}

const hex = (s: string): string => s.replace(/[:\s]/g, '').toUpperCase();
const serial = (s: string): string => hex(s).replace(/^0+(?=.)/, '');
const dn = (s: string): string =>
  s
    .split(/\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join('\n');

/** Does `cert` have this identity? */
export function certificateMatches(cert: X509Certificate, id: CertificateIdentity): boolean {
  if ('sha256Fingerprint' in id) return hex(cert.fingerprint256) === hex(id.sha256Fingerprint);
  if ('serialNumber' in id) return dn(cert.issuer) === dn(id.issuer) && serial(cert.serialNumber) === serial(id.serialNumber);
  return dn(cert.subject) === dn(id.subject);
}

function describe(cert: X509Certificate): string {
  return `sha256 ${cert.fingerprint256}, subject '${dn(cert.subject).replace(/\n/g, ', ')}', issuer '${dn(cert.issuer).replace(/\n/g, ', ')}', serial ${cert.serialNumber}`;
}

function describeIdentity(id: CertificateIdentity): string {
  if ('sha256Fingerprint' in id) return `sha256 ${id.sha256Fingerprint}`;
  if ('serialNumber' in id) return `issuer '${dn(id.issuer).replace(/\n/g, ', ')}' serial ${id.serialNumber}`;
  return `subject '${dn(id.subject).replace(/\n/g, ', ')}'`;
}

/**
 * Check the calling AE title against the bindings. Rules:
 * - the title has bindings: the peer certificate must match one of them;
 * - the title has none: rejected when `requireBinding`, and also when the peer certificate is
 *   bound to other titles (a bound certificate may not claim an unbound title);
 * Returns undefined when the binding holds, else the reason in words.
 */
export function checkCertificateBinding(
  callingAeTitle: string,
  peerCertificate: X509Certificate | undefined,
  bindings: readonly CertificateBinding[],
  options: { requireBinding?: boolean } = {},
): string | undefined {
  const own = bindings.filter((b) => b.aeTitle.trim() === callingAeTitle);
  if (own.length === 0) {
    if (options.requireBinding === true) {
      return `calling AE title '${callingAeTitle}' has no certificate binding and bindings are required`;
    }
    if (peerCertificate !== undefined) {
      const others = bindings.filter((b) => b.certificates.some((id) => certificateMatches(peerCertificate, id)));
      if (others.length > 0) {
        return `the peer certificate is bound to AE title(s) ${others.map((b) => `'${b.aeTitle.trim()}'`).join(', ')}, not to calling AE title '${callingAeTitle}'`;
      }
    }
    return undefined;
  }
  const ids = own.flatMap((b) => b.certificates);
  if (peerCertificate === undefined) {
    return `calling AE title '${callingAeTitle}' is bound to a certificate (${ids.map(describeIdentity).join('; ')}) but the peer presented none`;
  }
  if (ids.some((id) => certificateMatches(peerCertificate, id))) return undefined;
  return `calling AE title '${callingAeTitle}' is bound to ${ids.map(describeIdentity).join('; ')}, but the peer certificate has ${describe(peerCertificate)}`;
}
