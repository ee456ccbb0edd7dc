/**
 * The one table of OpenSSL's certificate-verification results (X509_V_ERR_*, include/openssl/
 * x509_vfy.h of OpenSSL 3.0): number → name, OpenSSL's own text, and for the errors people meet
 * in DICOM TLS deployments a plain-language hint on what to change (used by `diagnose`).
 */
import { X509_verify_cert_error_string } from './openssl/x509.js';

/** Every X509_V_ERR code of OpenSSL 3.0, by number. */
export const X509_V_ERR_NAMES: Readonly<Record<number, string>> = {
  0: 'X509_V_OK',
  1: 'X509_V_ERR_UNSPECIFIED',
  2: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT',
  3: 'X509_V_ERR_UNABLE_TO_GET_CRL',
  4: 'X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  5: 'X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  6: 'X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  7: 'X509_V_ERR_CERT_SIGNATURE_FAILURE',
  8: 'X509_V_ERR_CRL_SIGNATURE_FAILURE',
  9: 'X509_V_ERR_CERT_NOT_YET_VALID',
  10: 'X509_V_ERR_CERT_HAS_EXPIRED',
  11: 'X509_V_ERR_CRL_NOT_YET_VALID',
  12: 'X509_V_ERR_CRL_HAS_EXPIRED',
  13: 'X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD',
  14: 'X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD',
  15: 'X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD',
  16: 'X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  17: 'X509_V_ERR_OUT_OF_MEM',
  18: 'X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT',
  19: 'X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN',
  20: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  21: 'X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  22: 'X509_V_ERR_CERT_CHAIN_TOO_LONG',
  23: 'X509_V_ERR_CERT_REVOKED',
  24: 'X509_V_ERR_NO_ISSUER_PUBLIC_KEY',
  25: 'X509_V_ERR_PATH_LENGTH_EXCEEDED',
  26: 'X509_V_ERR_INVALID_PURPOSE',
  27: 'X509_V_ERR_CERT_UNTRUSTED',
  28: 'X509_V_ERR_CERT_REJECTED',
  29: 'X509_V_ERR_SUBJECT_ISSUER_MISMATCH',
  30: 'X509_V_ERR_AKID_SKID_MISMATCH',
  31: 'X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH',
  32: 'X509_V_ERR_KEYUSAGE_NO_CERTSIGN',
  33: 'X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER',
  34: 'X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION',
  35: 'X509_V_ERR_KEYUSAGE_NO_CRL_SIGN',
  36: 'X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION',
  37: 'X509_V_ERR_INVALID_NON_CA',
  38: 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED',
  39: 'X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE',
  40: 'X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED',
  41: 'X509_V_ERR_INVALID_EXTENSION',
  42: 'X509_V_ERR_INVALID_POLICY_EXTENSION',
  43: 'X509_V_ERR_NO_EXPLICIT_POLICY',
  44: 'X509_V_ERR_DIFFERENT_CRL_SCOPE',
  45: 'X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE',
  46: 'X509_V_ERR_UNNESTED_RESOURCE',
  47: 'X509_V_ERR_PERMITTED_VIOLATION',
  48: 'X509_V_ERR_EXCLUDED_VIOLATION',
  49: 'X509_V_ERR_SUBTREE_MINMAX',
  50: 'X509_V_ERR_APPLICATION_VERIFICATION',
  51: 'X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE',
  52: 'X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX',
  53: 'X509_V_ERR_UNSUPPORTED_NAME_SYNTAX',
  54: 'X509_V_ERR_CRL_PATH_VALIDATION_ERROR',
  55: 'X509_V_ERR_PATH_LOOP',
  56: 'X509_V_ERR_SUITE_B_INVALID_VERSION',
  57: 'X509_V_ERR_SUITE_B_INVALID_ALGORITHM',
  58: 'X509_V_ERR_SUITE_B_INVALID_CURVE',
  59: 'X509_V_ERR_SUITE_B_INVALID_SIGNATURE_ALGORITHM',
  60: 'X509_V_ERR_SUITE_B_LOS_NOT_ALLOWED',
  61: 'X509_V_ERR_SUITE_B_CANNOT_SIGN_P_384_WITH_P_256',
  62: 'X509_V_ERR_HOSTNAME_MISMATCH',
  63: 'X509_V_ERR_EMAIL_MISMATCH',
  64: 'X509_V_ERR_IP_ADDRESS_MISMATCH',
  65: 'X509_V_ERR_DANE_NO_MATCH',
  66: 'X509_V_ERR_EE_KEY_TOO_SMALL',
  67: 'X509_V_ERR_CA_KEY_TOO_SMALL',
  68: 'X509_V_ERR_CA_MD_TOO_WEAK',
  69: 'X509_V_ERR_INVALID_CALL',
  70: 'X509_V_ERR_STORE_LOOKUP',
  71: 'X509_V_ERR_NO_VALID_SCTS',
  72: 'X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION',
  73: 'X509_V_ERR_OCSP_VERIFY_NEEDED',
  74: 'X509_V_ERR_OCSP_VERIFY_FAILED',
  75: 'X509_V_ERR_OCSP_CERT_UNKNOWN',
  76: 'X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM',
  77: 'X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH',
  78: 'X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY',
  79: 'X509_V_ERR_INVALID_CA',
  80: 'X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA',
  81: 'X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN',
  82: 'X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA',
  83: 'X509_V_ERR_ISSUER_NAME_EMPTY',
  84: 'X509_V_ERR_SUBJECT_NAME_EMPTY',
  85: 'X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER',
  86: 'X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER',
  87: 'X509_V_ERR_EMPTY_SUBJECT_ALT_NAME',
  88: 'X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL',
  89: 'X509_V_ERR_CA_BCONS_NOT_CRITICAL',
  90: 'X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL',
  91: 'X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL',
  92: 'X509_V_ERR_CA_CERT_MISSING_KEY_USAGE',
  93: 'X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3',
  94: 'X509_V_ERR_EC_KEY_EXPLICIT_PARAMS',
};

/** Numbers by name, for code that wants `X509VerifyError.X509_V_ERR_INVALID_PURPOSE`. */
export const X509VerifyError: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(Object.entries(X509_V_ERR_NAMES).map(([code, name]) => [name, Number(code)])));

/** `X509_V_ERR_INVALID_PURPOSE` for 26; `X509_V_ERR_UNKNOWN_<n>` for a code this table lacks. */
export function x509ErrorName(code: number): string {
  return X509_V_ERR_NAMES[code] ?? `X509_V_ERR_UNKNOWN_${code}`;
}

/** OpenSSL's own text (X509_verify_cert_error_string), e.g. "unsuitable certificate purpose". */
export function x509ErrorText(code: number): string {
  return X509_verify_cert_error_string(code) as string;
}

/** What to change, in plain words, for the verification errors common in DICOM TLS setups. */
const HINTS: Readonly<Record<number, string>> = {
  2: 'the issuer of a certificate in the chain is not known: add the issuing CA (or the missing intermediate) to the trusted CA list, or have the peer send its full chain',
  3: 'CRL checking is on but no CRL from this certificate\'s issuer was loaded: add the issuer\'s current CRL, or check only the leaf (crlCheck: \'leaf\')',
  4: 'the certificate\'s signature could not be decrypted: the certificate is damaged or signed by a different key',
  7: 'the certificate\'s signature does not match its issuer\'s key: it was not issued by the CA that is trusted under that name',
  8: 'the CRL\'s signature is invalid: reload the CRL from its CA',
  9: 'the certificate is not valid yet: check the clock of both machines, or wait until its start date',
  10: 'the certificate has expired: issue a new one (and check the clock of both machines)',
  11: 'the CRL is not valid yet: check the clock of this machine',
  12: 'the CRL has expired (its next update is in the past): fetch a current CRL from the CA',
  18: 'the peer presented a self-signed certificate that is not trusted: add it to the trusted CA list, or have it issued by a trusted CA',
  19: 'the chain ends in a self-signed root that is not trusted: add that root CA to the trusted CA list',
  20: 'the issuer of the certificate is not among the trusted CAs: add the issuing CA (root or intermediate with its root) to the trusted CA list',
  21: 'only one certificate was sent and its issuer is unknown: have the peer send its intermediate certificates, or trust the issuer',
  22: 'the chain is longer than the verify depth allows: raise verifyDepth',
  23: 'the certificate has been revoked by its CA (listed in the CRL): obtain a new certificate',
  24: 'the issuer\'s public key is missing or unreadable',
  25: 'a CA\'s pathLenConstraint is exceeded: too many intermediates below it',
  26: 'the certificate\'s extended key usage lacks serverAuth/clientAuth (TLS Web Server/Client Authentication); add it (a DICOM node that both accepts and initiates associations needs both)',
  27: 'the root CA is not trusted for this purpose',
  28: 'the root CA is marked to reject this purpose',
  29: 'the issuer name does not match the subject of the issuing certificate',
  30: 'the authority key identifier does not match the issuer\'s subject key identifier: the chain mixes certificates from different CA keys',
  32: 'the issuing certificate\'s keyUsage lacks keyCertSign: it is not allowed to sign certificates',
  33: 'no CRL issuer could be found for this CRL',
  34: 'the certificate has a critical extension OpenSSL does not understand',
  35: 'the CRL issuer\'s keyUsage lacks cRLSign',
  37: 'a certificate in the issuer position is not a CA (basicConstraints CA:FALSE or missing): re-issue the intermediate with basicConstraints CA:TRUE',
  41: 'an extension of the certificate is malformed or inconsistent',
  62: 'the host name does not match the certificate\'s subjectAltName DNS entries (or CN): connect with the name the certificate carries, or re-issue it with that name in subjectAltName',
  64: 'the IP address does not match the certificate\'s subjectAltName IP entries: re-issue it with that address in subjectAltName',
  66: 'the peer\'s key is too small for the security level: use RSA 2048 or larger, or EC P-256',
  67: 'a CA key is too small for the security level: use RSA 2048 or larger, or EC P-256',
  68: 'a CA signed with a digest too weak for the security level (e.g. SHA-1 or MD5): re-issue with SHA-256',
  79: 'a CA certificate in the chain is invalid (basicConstraints or keyUsage inconsistent)',
};

/** A plain-language hint for `code`, or undefined when there is nothing better than the text. */
export function x509ErrorHint(code: number): string | undefined {
  return HINTS[code];
}
