/**
 * TEMPORARY STUB (engine branch): the real implementation comes from branch `x509` and replaces
 * this file on merge. Same signatures as agreed in tls-api.md.
 */
import { X509Certificate } from 'node:crypto';
import { BIO_free, BIO_new, BIO_s_mem, i2d_X509_bio, readMemBio } from './openssl/ssl.js';

export function certificateStringFromDer(der: Buffer): string {
  const c = new X509Certificate(der);
  return [
    `Subject Name: ${c.subject.split('\n').join(', ')}`,
    `Issuer Name: ${c.issuer.split('\n').join(', ')}`,
    `Valid From: ${c.validFrom}`,
    `Valid To: ${c.validTo}`,
    `Serial Number: ${c.serialNumber.toLowerCase().match(/../g)?.join(':') ?? ''}`,
    `Basic Constraints:${c.ca ? 'CA (Certificate Authority)' : 'Not a CA (Certificate Authority)'}`,
  ].join('\n');
}

export function certificateString(x509: unknown): string {
  const bio = BIO_new(BIO_s_mem());
  try {
    i2d_X509_bio(bio, x509);
    return certificateStringFromDer(readMemBio(bio));
  } finally {
    BIO_free(bio);
  }
}
