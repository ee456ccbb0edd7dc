/**
 * The value rules of PDU fields, in one place for the decoder, the encoder and the ACSE layer:
 * a value the decoder lets through (or the acceptor accepts) is one the encoder can send back.
 */

/**
 * A UID as it travels in an item (PS3.8 Annex F, PS3.5 9.1): 1–64 characters, components of
 * digits separated by single dots. Leading zeros in a component, which PS3.5 forbids, are
 * tolerated: some deployed implementations use them and they encode fine.
 */
export function isWireUid(value: string): boolean {
  return value.length >= 1 && value.length <= 64 && /^[0-9]+(\.[0-9]+)*$/.test(value);
}

/**
 * An AE title (PS3.5 Table 6.2-1, VR AE) as the decoder hands it over, padding removed: 1–16
 * characters of the default repertoire (0x20–0x7e) without backslash, not only spaces.
 */
export function isAeTitleValue(value: string): boolean {
  return value.length >= 1 && value.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(value) && value.trim().length > 0;
}

/** Implementation Version Name (PS3.7 D.3.3.2.3): 1–16 characters of the default repertoire (what we send too). */
export function isVersionName(value: string): boolean {
  return value.length >= 1 && value.length <= 16 && /^[\x20-\x7e]+$/.test(value);
}

/** A value for an error message or a diagnostics text: control and non-ASCII characters escaped. */
export function printable(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
