/**
 * Reading certificate material from a Source (a file path or the bytes themselves), PEM or DER
 * sniffed from the content. Shared by identity.ts and trust.ts.
 */
import { readFileSync } from 'node:fs';
import { drainErrors } from './openssl/lib.js';
import {
  BIO_free, ERR_peek_last_error, ERR_LIB_PEM, PEM_R_NO_START_LINE, PEM_read_bio_X509,
  PEM_read_bio_X509_CRL, X509_CRL_free, X509_free, d2i_X509_CRL_bio, d2i_X509_bio, errLib,
  errReason, memBioOf, type Ptr,
} from './openssl/x509.js';

/** A file path (string) or the contents (Buffer, PEM or DER). */
export type Source = string | Buffer;

/** Where a Source came from, for messages: the path, or "a buffer of N bytes". */
export function describeSource(source: Source): string {
  return typeof source === 'string' ? source : `a buffer of ${source.length} bytes`;
}

/** The bytes of a Source; a file that cannot be read throws the fs error (callers wrap it). */
export function sourceBytes(source: Source): Buffer {
  return typeof source === 'string' ? readFileSync(source) : source;
}

/** PEM when the text armour is there; anything else is treated as DER. */
export function isPem(bytes: Buffer): boolean {
  return bytes.includes('-----BEGIN ');
}

/**
 * Read PEM objects one after another with `read(bio)` until the input holds no more. Stops
 * quietly at PEM_R_NO_START_LINE (nothing left of that kind); any other failure is returned.
 */
function readAllPem(bytes: Buffer, read: (bio: Ptr) => Ptr, free: (p: Ptr) => void):
  { items: Ptr[]; failed: boolean } {
  const bio = memBioOf(bytes);
  const items: Ptr[] = [];
  try {
    for (;;) {
      const item = read(bio);
      if (item !== null) { items.push(item); continue; }
      const e = Number(ERR_peek_last_error());
      const endOfInput = errLib(e) === ERR_LIB_PEM && errReason(e) === PEM_R_NO_START_LINE;
      if (endOfInput) drainErrors();
      if (!endOfInput) { for (const i of items) free(i); return { items: [], failed: true }; }
      return { items, failed: false };
    }
  } finally {
    BIO_free(bio);
  }
}

/** Every certificate in `bytes` (a PEM bundle, or one DER certificate). Empty when none. */
export function readCertificates(bytes: Buffer): { certs: Ptr[]; failed: boolean } {
  if (isPem(bytes)) {
    const r = readAllPem(bytes, (bio) => PEM_read_bio_X509(bio, null, null, null), X509_free);
    return { certs: r.items, failed: r.failed };
  }
  const bio = memBioOf(bytes);
  try {
    const x = d2i_X509_bio(bio, null);
    return x === null ? { certs: [], failed: true } : { certs: [x], failed: false };
  } finally {
    BIO_free(bio);
  }
}

/** Every CRL in `bytes` (PEM, possibly several, or one DER CRL). */
export function readCrls(bytes: Buffer): { crls: Ptr[]; failed: boolean } {
  if (isPem(bytes)) {
    const r = readAllPem(bytes, (bio) => PEM_read_bio_X509_CRL(bio, null, null, null), X509_CRL_free);
    return { crls: r.items, failed: r.failed };
  }
  const bio = memBioOf(bytes);
  try {
    const c = d2i_X509_CRL_bio(bio, null);
    return c === null ? { crls: [], failed: true } : { crls: [c], failed: false };
  } finally {
    BIO_free(bio);
  }
}
