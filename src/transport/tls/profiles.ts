/**
 * Secure transport connection profiles of PS3.15 Annex B, as ONE table: each profile is its
 * protocol range, its TLS 1.2 cipher list (OpenSSL names) and its TLS 1.3 suites.
 *
 * | key                       | PS3.15     | status  | protocols     |
 * |---------------------------|------------|---------|---------------|
 * | bcp195-rfc8996 (default)  | B.12       | current | TLS 1.2–1.3   |
 * | bcp195-rfc8996-modified   | B.13       | current | TLS 1.2–1.3   |
 * | bcp195-nd                 | B.10       | retired | TLS 1.2–1.3   |
 * | bcp195                    | B.9        | retired | TLS 1.0–1.3   |
 * | bcp195-extended           | B.11       | retired | TLS 1.2 only  |
 * | legacy-aes                | B.3        | retired | TLS 1.0–1.2   | needs allowLegacyProfiles
 * | legacy-null               | (NULL)     | retired | TLS 1.0–1.2   | needs allowLegacyProfiles
 *
 * Every profile states its OpenSSL security level: the build's default differs between Node
 * releases (Node 22 builds OpenSSL with level 1, which takes 1024-bit RSA keys; Node 24 with
 * level 2) and an OpenSSL configuration file can change it again, so a profile must not depend
 * on it. Level 2 (112-bit security) refuses RSA, DSA and DH keys below 2048 bits, EC keys below
 * 224 bits and SHA-1 signatures: the floor of BCP 195 (RFC 7525 4.5, RFC 9325 4.5) that B.9 – B.13
 * build on, and B.11 and B.13's "DHE of 2048 bits or more". Level 3 would refuse 2048-bit RSA, the
 * most common DICOM certificate, which no profile asks for. The legacy profiles run at level 0.
 */
import { UnknownProfileError } from './errors.js';

export type ProtocolName = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface ProfileDefinition {
  readonly section: string;
  readonly title: string;
  readonly status: 'current' | 'retired';
  readonly legacy: boolean;
  readonly minProtocol: ProtocolName;
  readonly maxProtocol: ProtocolName;
  /** TLS ≤ 1.2 cipher list (SSL_CTX_set_cipher_list). */
  readonly ciphers: string;
  /** TLS 1.3 suites (SSL_CTX_set_ciphersuites); '' when the profile has no TLS 1.3. */
  readonly cipherSuites: string;
  /** OpenSSL security level (SSL_CTX_set_security_level), always set: see above. */
  readonly securityLevel: 0 | 1 | 2 | 3 | 4 | 5;
}

const BCP195_TLS12 = 'ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384';
const TLS13_ALL = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256';

export const profiles = {
  'bcp195-rfc8996': {
    section: 'B.12', title: 'BCP 195 RFC 8996, 9325 TLS Secure Transport Connection Profile',
    status: 'current', legacy: false, minProtocol: 'TLSv1.2', maxProtocol: 'TLSv1.3',
    ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384',
    cipherSuites: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256', securityLevel: 2,
  },
  'bcp195-rfc8996-modified': {
    section: 'B.13', title: 'Modified BCP 195 RFC 8996, 9325 TLS Secure Transport Connection Profile',
    status: 'current', legacy: false, minProtocol: 'TLSv1.2', maxProtocol: 'TLSv1.3',
    ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:'
      + 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-CAMELLIA128-GCM-SHA256:ECDHE-RSA-CAMELLIA128-GCM-SHA256:'
      + 'ECDHE-ECDSA-CAMELLIA256-GCM-SHA384:ECDHE-RSA-CAMELLIA256-GCM-SHA384:ECDHE-ECDSA-AES128-CCM:ECDHE-ECDSA-AES256-CCM:'
      + 'ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES256-CCM8',
    cipherSuites: TLS13_ALL, securityLevel: 2,
  },
  'bcp195-nd': {
    section: 'B.10', title: 'Non-Downgrading BCP 195 TLS Secure Transport Connection Profile (retired)',
    status: 'retired', legacy: false, minProtocol: 'TLSv1.2', maxProtocol: 'TLSv1.3',
    ciphers: BCP195_TLS12, cipherSuites: TLS13_ALL, securityLevel: 2,
  },
  'bcp195': {
    section: 'B.9', title: 'BCP 195 TLS Secure Transport Connection Profile (retired)',
    status: 'retired', legacy: false, minProtocol: 'TLSv1', maxProtocol: 'TLSv1.3',
    ciphers: BCP195_TLS12, cipherSuites: TLS13_ALL, securityLevel: 2,
  },
  'bcp195-extended': {
    section: 'B.11', title: 'Extended BCP 195 TLS Secure Transport Connection Profile (retired)',
    status: 'retired', legacy: false, minProtocol: 'TLSv1.2', maxProtocol: 'TLSv1.2',
    ciphers: `${BCP195_TLS12}:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384`, cipherSuites: '', securityLevel: 2,
  },
  'legacy-aes': {
    section: 'B.3', title: 'AES TLS Secure Transport Connection Profile (retired, LEGACY)',
    status: 'retired', legacy: true, minProtocol: 'TLSv1', maxProtocol: 'TLSv1.2',
    ciphers: 'AES128-SHA:DES-CBC3-SHA', cipherSuites: '', securityLevel: 0,
  },
  'legacy-null': {
    section: 'none (not a PS3.15 profile)', title: 'Authentication without encryption (retired, LEGACY, NO CONFIDENTIALITY)',
    status: 'retired', legacy: true, minProtocol: 'TLSv1', maxProtocol: 'TLSv1.2',
    ciphers: 'ECDHE-ECDSA-NULL-SHA:ECDHE-RSA-NULL-SHA:NULL-SHA256:NULL-SHA', cipherSuites: '', securityLevel: 0,
  },
} as const satisfies Record<string, ProfileDefinition>;

export type ProfileName = keyof typeof profiles;
export const defaultProfile: ProfileName = 'bcp195-rfc8996';

/** Look a profile up; legacy ones only with the explicit opt-in. Throws UnknownProfileError. */
export function resolveProfile(name: string | undefined, allowLegacyProfiles = false): ProfileDefinition & { name: ProfileName } {
  const key = name ?? defaultProfile;
  if (!Object.hasOwn(profiles, key)) {
    throw new UnknownProfileError(key, `unknown TLS profile "${key}"; known: ${Object.keys(profiles).join(', ')}`);
  }
  const p: ProfileDefinition = profiles[key as ProfileName];
  if (p.legacy && !allowLegacyProfiles) {
    throw new UnknownProfileError(key, `TLS profile "${key}" is a retired legacy profile; set allowLegacyProfiles: true to use it`);
  }
  return { ...p, name: key as ProfileName };
}
