/**
 * One data element in Explicit VR Little Endian (PS3.5 7.1.2), for data sets built by hand: the
 * synthetic instances of the start-up warm-up (services/scp/warm-up-peer.ts) and of the bench.
 * Text is padded to an even length (PS3.5 6.2: UI with NUL, other text with a space).
 */

/** These VRs have 2 reserved bytes and a 4-byte length (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export function explicitElement(group: number, element: number, vr: string, value: Uint8Array): Buffer {
  const long = LONG_VRS.has(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.byteLength, 8);
  else header.writeUInt16LE(value.byteLength, 6);
  return Buffer.concat([header, value]);
}

/** A text element (Latin-1 bytes), padded to an even length. */
export function explicitText(group: number, element: number, vr: string, value: string): Buffer {
  const padded = value.length % 2 === 0 ? value : value + (vr === 'UI' ? '\0' : ' ');
  return explicitElement(group, element, vr, Buffer.from(padded, 'latin1'));
}

/** An US element of one value. */
export function explicitUs(group: number, element: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return explicitElement(group, element, 'US', b);
}
