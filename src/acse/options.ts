/**
 * Checks of the negotiation options (ours, not the peer's): each failure an InvalidOptionError
 * naming the option.
 */
import { InvalidOptionError } from '../errors.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../implementation.js';
import { isValidUid } from './presentation-context.js';

/** Our default receive limit for P-DATA-TF PDUs (0x51), the value DCMTK uses too. */
export const DEFAULT_MAXIMUM_LENGTH = 16384;
/**
 * The smallest Maximum Length (0x51) a requestor may announce by default: the least this library
 * lets its own users announce (`maximumLength` 256), so any two of our AEs always agree. Below it
 * every PDV carries a few bytes (at 7, one), so a peer could make us spend tens of times the CPU
 * on every message; at 6 or less nothing fits at all. PS3.8 sets no minimum; real peers announce
 * 4096 or more (DCMTK's own floor is 4096).
 */
export const DEFAULT_MIN_PEER_MAXIMUM_LENGTH = 256;

export function checkMinPeerMaximumLength(v: number | undefined): number {
  if (v === undefined) return DEFAULT_MIN_PEER_MAXIMUM_LENGTH;
  // 7: a 6-byte PDV header and one byte of data, the least a P-DATA-TF can carry.
  if (!Number.isInteger(v) || v < 7 || v > 0xffffffff) {
    throw new InvalidOptionError('minPeerMaximumLength', 'must be an integer 7–4294967295');
  }
  return v;
}

export function checkMaximumLength(option: string, v: number | undefined): number {
  if (v === undefined) return DEFAULT_MAXIMUM_LENGTH;
  // 0 = no limit (PS3.8 D.1); otherwise enough for a PDV header and some data, within 32 bits.
  if (!Number.isInteger(v) || (v !== 0 && (v < 256 || v > 0xffffffff))) {
    throw new InvalidOptionError(option, 'must be 0 (no limit) or an integer 256–4294967295');
  }
  return v;
}

/**
 * PS3.5 Table 6.2-1 (AE): 1–16 characters of the default repertoire without backslash or
 * control characters, leading and trailing spaces not significant, not all spaces.
 */
export function checkAeTitle(option: string, v: string): string {
  const t = v.trim();
  if (t.length === 0 || t.length > 16 || !/^[\x20-\x7e]+$/.test(t) || t.includes('\\')) {
    throw new InvalidOptionError(option, `'${v}' is not a valid AE title (1–16 printable ASCII characters, no backslash)`);
  }
  return t;
}

export function checkImplementation(uid: string | undefined, name: string | undefined): { uid: string; name: string } {
  const u = uid ?? IMPLEMENTATION_CLASS_UID;
  const n = name ?? IMPLEMENTATION_VERSION_NAME;
  if (!isValidUid(u)) throw new InvalidOptionError('implementationClassUid', `'${u}' is not a valid UID`);
  if (n.length < 1 || n.length > 16 || !/^[\x20-\x7e]+$/.test(n)) {
    throw new InvalidOptionError('implementationVersionName', 'must be 1–16 printable ASCII characters');
  }
  return { uid: u, name: n };
}
