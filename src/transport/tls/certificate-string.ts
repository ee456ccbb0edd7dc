/**
 * The certificate string the seeds hand to the verify callback: subject, issuer, validity,
 * serial, basic constraints and the purposes table. Every value is printed by OpenSSL itself
 * (X509_NAME_print_ex, ASN1_TIME_print, X509_check_purpose) so the text equals what the
 * `openssl x509 -noout -subject -issuer -dates -serial -purpose -nameopt oneline` command shows.
 */
import {
  ASN1_STRING_get0_data, ASN1_STRING_length, ASN1_TIME_print, EXFLAG_CA, X509_check_purpose,
  X509_free, X509_get0_notAfter, X509_get0_notBefore, X509_get0_serialNumber,
  X509_get_extension_flags, X509_get_issuer_name, X509_get_subject_name, X509_NAME_print_ex,
  X509_PURPOSE_get0, X509_PURPOSE_get0_name, X509_PURPOSE_get_count, X509_PURPOSE_get_id,
  XN_FLAG_NODE_MULTILINE, XN_FLAG_ONELINE, copyBytes, printToString, x509FromDer, type Ptr,
} from './openssl/x509.js';
import { drainErrors } from './openssl/lib.js';
import { UnableToReadCertificateError } from './x509-load-errors.js';

/** A name in OpenSSL's one-line form, `CN = Test Client, C = US` (XN_FLAG_ONELINE). */
export function nameOneLine(x509Name: Ptr): string {
  return printToString((bio) => X509_NAME_print_ex(bio, x509Name, 0, XN_FLAG_ONELINE));
}

/**
 * The subject of a DER certificate as node:crypto's `X509Certificate.subject` gives it (one
 * `KEY=value` per line, same flags), printed by OpenSSL: what a client shows of its peer
 * without loading node:crypto (~5 ms of a CLI command). undefined for bytes that are no certificate.
 */
export function subjectFromDer(der: Buffer): string | undefined {
  const x509 = x509FromDer(der);
  if (x509 === null) {
    drainErrors();
    return undefined;
  }
  try {
    return printToString((bio) => X509_NAME_print_ex(bio, X509_get_subject_name(x509), 0, XN_FLAG_NODE_MULTILINE));
  } finally {
    X509_free(x509);
  }
}

/** A certificate time as ASN1_TIME_print writes it: `Jun  1 21:31:35 2020 GMT`. */
function timeString(asn1Time: Ptr): string {
  return printToString((bio) => ASN1_TIME_print(bio, asn1Time));
}

/**
 * The serial as lower-case hex bytes joined by ':' (X509_print's long form). An ASN1_INTEGER
 * keeps the magnitude without DER's sign padding, so `00:ae:…` in DER prints as `ae:…`.
 */
export function serialHex(x509: Ptr): string {
  const serial = X509_get0_serialNumber(x509);
  const len = ASN1_STRING_length(serial) as number;
  if (len <= 0) return '00';
  const bytes = copyBytes(ASN1_STRING_get0_data(serial), len);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Whether basicConstraints says cA = TRUE (OpenSSL's cached EXFLAG_CA). */
export function isCa(x509: Ptr): boolean {
  return ((X509_get_extension_flags(x509) as number) & EXFLAG_CA) !== 0;
}

/**
 * The purposes block, one line per X509_PURPOSE in OpenSSL's table order, as the `openssl x509
 * -purpose` command prints it (apps/x509.c purpose_print): `<name> : Yes|No`, then the same with
 * ` CA`, and `Yes (WARNING code=N)` when X509_check_purpose answers something other than 0 or 1.
 */
export function purposeLines(x509: Ptr): string[] {
  const lines: string[] = [];
  const count = X509_PURPOSE_get_count() as number;
  for (let i = 0; i < count; i++) {
    const purpose = X509_PURPOSE_get0(i);
    const id = X509_PURPOSE_get_id(purpose) as number;
    const name = X509_PURPOSE_get0_name(purpose) as string;
    for (const ca of [0, 1]) {
      const r = X509_check_purpose(x509, id, ca) as number;
      const answer = r === 1 ? 'Yes' : r === 0 ? 'No' : `Yes (WARNING code=${r})`;
      lines.push(`${name}${ca ? ' CA' : ''} : ${answer}`);
    }
  }
  // X509_check_purpose may queue errors for malformed extensions; they belong to no caller.
  drainErrors();
  return lines;
}

/** The seeds' certificate string for an OpenSSL X509 pointer (borrowed, not freed). */
export function certificateString(x509: Ptr): string {
  const lines = [
    `Subject Name: ${nameOneLine(X509_get_subject_name(x509))}`,
    `Issuer Name: ${nameOneLine(X509_get_issuer_name(x509))}`,
    `Valid From: ${timeString(X509_get0_notBefore(x509))}`,
    `Valid To: ${timeString(X509_get0_notAfter(x509))}`,
    `Serial Number: ${serialHex(x509)}`,
    `Basic Constraints:${isCa(x509) ? 'CA' : 'Not a CA'} (Certificate Authority)`,
    'Certificate purposes:',
    ...purposeLines(x509).map((l) => `   ${l}`),
  ];
  return lines.join('\n');
}

/** The seeds' certificate string for DER bytes; throws UnableToReadCertificateError. */
export function certificateStringFromDer(der: Buffer): string {
  const x509 = x509FromDer(der);
  if (x509 === null) {
    throw new UnableToReadCertificateError('the bytes are not a DER certificate', drainErrors());
  }
  try {
    return certificateString(x509);
  } finally {
    X509_free(x509);
  }
}
