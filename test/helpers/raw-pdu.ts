/**
 * Byte-level PDUs that our encoder refuses to build (AE titles with a backslash, UIDs with
 * letters, …): what a hostile or broken peer can send. No validation at all, on purpose; the
 * layout is PS3.8 Table 9-11 and PS3.7 Annex D.3.3.
 */

export interface RawRq {
  readonly called?: string | Uint8Array;
  readonly calling?: string | Uint8Array;
  readonly applicationContext?: string;
  readonly contexts?: readonly { readonly id: number; readonly abstractSyntax: string; readonly transferSyntaxes: readonly string[] }[];
  /** Raw sub-items of the user information item (type, value); default: a maximum length of 16384. */
  readonly userItems?: readonly { readonly type: number; readonly value: Uint8Array }[];
}

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

function latin1(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff) : s;
}

function item(type: number, value: Uint8Array): number[] {
  return [type, 0, (value.length >> 8) & 0xff, value.length & 0xff, ...value];
}

function aeField(s: string | Uint8Array): number[] {
  const b = [...latin1(s)].slice(0, 16);
  while (b.length < 16) b.push(0x20);
  return b;
}

export function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
export function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** A sub-item value holding a 2-byte length and a UID (role selection, extended negotiation). */
export function lengthPrefixed(s: string): number[] {
  const b = latin1(s);
  return [...u16(b.length), ...b];
}

/** Maximum-length sub-item (0x51). */
export function maxLengthItem(n: number): { type: number; value: Uint8Array } {
  return { type: 0x51, value: Uint8Array.from(u32(n)) };
}

/** An A-ASSOCIATE-RQ with whatever field values a test needs (defaults: a valid Verification RQ). */
export function rawAssociateRq(o: RawRq = {}): Uint8Array {
  const body: number[] = [0, 1, 0, 0, ...aeField(o.called ?? 'ANY-SCP'), ...aeField(o.calling ?? 'ECHOSCU'), ...new Array<number>(32).fill(0)];
  body.push(...item(0x10, latin1(o.applicationContext ?? '1.2.840.10008.3.1.1.1')));
  for (const pc of o.contexts ?? [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }]) {
    const sub = [pc.id, 0, 0, 0, ...item(0x30, latin1(pc.abstractSyntax))];
    for (const ts of pc.transferSyntaxes) sub.push(...item(0x40, latin1(ts)));
    body.push(...item(0x20, Uint8Array.from(sub)));
  }
  const ui: number[] = [];
  for (const s of o.userItems ?? [maxLengthItem(16384)]) ui.push(...item(s.type, s.value));
  body.push(...item(0x50, Uint8Array.from(ui)));
  return Uint8Array.from([0x01, 0, ...u32(body.length), ...body]);
}

/** A P-DATA-TF with one PDV. */
export function rawPData(contextId: number, isCommand: boolean, isLast: boolean, data: Uint8Array): Uint8Array {
  const len = data.length + 2;
  return Uint8Array.from([0x04, 0, ...u32(len + 4), ...u32(len), contextId, (isCommand ? 1 : 0) | (isLast ? 2 : 0), ...data]);
}

export const A_RELEASE_RQ = Uint8Array.of(0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0);
export const A_RELEASE_RP = Uint8Array.of(0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0);

/** An implicit VR little endian command set of raw element values (no validation), group length first. */
export function rawCommandSet(elements: readonly (readonly [element: number, value: Uint8Array | string | number])[]): Uint8Array {
  const parts: number[] = [];
  for (const [element, v] of [...elements].sort((a, b) => a[0] - b[0])) {
    let value: number[];
    if (typeof v === 'number') value = [v & 0xff, (v >> 8) & 0xff];
    else {
      value = [...(typeof v === 'string' ? Uint8Array.from(v, (c) => c.charCodeAt(0) & 0xff) : v)];
      if (value.length % 2 === 1) value.push(0);
    }
    const len = value.length;
    parts.push(0, 0, element & 0xff, element >> 8, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >>> 24, ...value);
  }
  const gl = parts.length;
  return Uint8Array.from([0, 0, 0, 0, 4, 0, 0, 0, gl & 0xff, (gl >> 8) & 0xff, (gl >> 16) & 0xff, gl >>> 24, ...parts]);
}
