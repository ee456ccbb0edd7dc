/**
 * TEMPORARY STUB (engine branch): the one table of X509_V_ERR codes comes from branch `x509`
 * and replaces this file on merge.
 */
import { X509_verify_cert_error_string } from './openssl/ssl.js';

const names: Record<number, string> = {
  0: 'X509_V_OK', 2: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT', 3: 'X509_V_ERR_UNABLE_TO_GET_CRL',
  9: 'X509_V_ERR_CERT_NOT_YET_VALID', 10: 'X509_V_ERR_CERT_HAS_EXPIRED',
  18: 'X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT', 19: 'X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN',
  20: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 21: 'X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  23: 'X509_V_ERR_CERT_REVOKED', 24: 'X509_V_ERR_INVALID_CA', 26: 'X509_V_ERR_INVALID_PURPOSE',
  62: 'X509_V_ERR_HOSTNAME_MISMATCH', 64: 'X509_V_ERR_IP_ADDRESS_MISMATCH',
};
export function x509ErrorName(code: number): string {
  return names[code] ?? `X509_V_ERR_${code}`;
}
export function x509ErrorText(code: number): string {
  return X509_verify_cert_error_string(code) as string;
}
