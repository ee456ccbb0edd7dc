import type { Socket } from 'node:net';
import type { PresentationDataValue } from '../../src/ul/pdu/types.js';

/**
 * Just enough of the PS3.8 upper layer, written by hand, to talk to DCMTK from DIMSE tests
 * without depending on the PDU codec of another layer. Not a codec: no validation.
 */

/** Reads whole PDUs (PS3.8 9.3: type, reserved, 4-byte big-endian length) from a socket. */
export async function* pdus(socket: Socket): AsyncGenerator<{ type: number; body: Buffer }> {
  let buf = Buffer.alloc(0);
  for await (const chunk of socket) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
      const len = buf.readUInt32BE(2);
      yield { type: buf[0]!, body: buf.subarray(6, 6 + len) };
      buf = buf.subarray(6 + len);
    }
  }
}

export function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

export function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

/** The Maximum Length sub-item (0x51, PS3.8 D.1) of a User Information item body, else `otherwise`. */
function maximumLengthIn(userInformation: Buffer, otherwise: number): number {
  for (let s = 0; s < userInformation.length; ) {
    const sl = userInformation.readUInt16BE(s + 2);
    if (userInformation[s] === 0x51) return userInformation.readUInt32BE(s + 4);
    s += 4 + sl;
  }
  return otherwise;
}

/** A-ASSOCIATE-AC accepting the first presentation context of `rq` with its first transfer syntax. */
export function associateAc(rq: Buffer, maxLength: number): { ac: Buffer; pcId: number; peerMax: number } {
  let o = 68;
  let pcId = 0;
  let ts = '';
  let peerMax = 0;
  while (o < rq.length) {
    const type = rq[o]!;
    const len = rq.readUInt16BE(o + 2);
    const body = rq.subarray(o + 4, o + 4 + len);
    if (type === 0x20 && pcId === 0) {
      pcId = body[0]!;
      for (let s = 4; s < body.length; ) {
        const sl = body.readUInt16BE(s + 2);
        if (body[s] === 0x40 && ts === '') ts = body.subarray(s + 4, s + 4 + sl).toString('latin1');
        s += 4 + sl;
      }
    }
    if (type === 0x50) peerMax = maximumLengthIn(body, peerMax);
    o += 4 + len;
  }
  const fixed = Buffer.from(rq.subarray(0, 68));
  const maxItem = Buffer.alloc(4);
  maxItem.writeUInt32BE(maxLength);
  const ac = Buffer.concat([
    fixed,
    item(0x10, Buffer.from('1.2.840.10008.3.1.1.1')),
    item(0x21, Buffer.concat([Buffer.from([pcId, 0, 0, 0]), item(0x40, Buffer.from(ts, 'latin1'))])),
    item(0x50, Buffer.concat([item(0x51, maxItem), item(0x52, Buffer.from('1.2.3.4'))])),
  ]);
  return { ac: pdu(0x02, ac), pcId, peerMax };
}

/** PDVs of a P-DATA-TF body (PS3.8 9.3.5.1). */
export function pdvsOf(body: Buffer): PresentationDataValue[] {
  const out: PresentationDataValue[] = [];
  for (let o = 0; o < body.length; ) {
    const len = body.readUInt32BE(o);
    const mch = body[o + 5]!;
    out.push({ presentationContextId: body[o + 4]!, isCommand: (mch & 1) !== 0, isLast: (mch & 2) !== 0, data: body.subarray(o + 6, o + 4 + len) });
    o += 4 + len;
  }
  return out;
}

export function pDataTf(p: PresentationDataValue): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(p.data.length + 2, 0);
  h[4] = p.presentationContextId;
  h[5] = (p.isCommand ? 1 : 0) | (p.isLast ? 2 : 0);
  return pdu(0x04, Buffer.concat([h, p.data]));
}


function ae(title: string): Buffer {
  return Buffer.from(title.padEnd(16, ' '), 'latin1');
}

/** A-ASSOCIATE-RQ proposing one presentation context (PS3.8 9.3.2). */
export function associateRq(opts: {
  called: string;
  calling: string;
  pcId: number;
  abstractSyntax: string;
  transferSyntax: string;
  maxLength: number;
}): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  ae(opts.called).copy(fixed, 4);
  ae(opts.calling).copy(fixed, 20);
  const maxItem = Buffer.alloc(4);
  maxItem.writeUInt32BE(opts.maxLength);
  const evenUid = (u: string) => Buffer.from(u, 'latin1');
  return pdu(
    0x01,
    Buffer.concat([
      fixed,
      item(0x10, Buffer.from('1.2.840.10008.3.1.1.1')),
      item(
        0x20,
        Buffer.concat([Buffer.from([opts.pcId, 0, 0, 0]), item(0x30, evenUid(opts.abstractSyntax)), item(0x40, evenUid(opts.transferSyntax))]),
      ),
      item(0x50, Buffer.concat([item(0x51, maxItem), item(0x52, Buffer.from('1.2.3.4'))])),
    ]),
  );
}

/** From an A-ASSOCIATE-AC body: the first presentation context's result and the peer's maximum length. */
export function parseAc(ac: Buffer): { result: number; peerMax: number } {
  let result = -1;
  let peerMax = 0;
  for (let o = 68; o < ac.length; ) {
    const type = ac[o]!;
    const len = ac.readUInt16BE(o + 2);
    const body = ac.subarray(o + 4, o + 4 + len);
    if (type === 0x21 && result === -1) result = body[2]!;
    if (type === 0x50) peerMax = maximumLengthIn(body, peerMax);
    o += 4 + len;
  }
  return { result, peerMax };
}
