import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { DimseAssembler } from '../../src/dimse/assembler.js';
import { fragmentMessage } from '../../src/dimse/fragmenter.js';
import { decodeCommand, encodeCommand } from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import { encodeCommandSet, decodeCommandSet } from '../../src/dimse/command-set.js';
import type { PresentationDataValue } from '../../src/ul/pdu/types.js';

/**
 * DCMTK's echoscu against a scripted acceptor: the upper-layer PDUs are written by hand here
 * (the PDU codec is another layer's), the DIMSE parts are ours. Checks that echoscu's real
 * C-ECHO-RQ decodes and re-encodes to the same bytes, and that echoscu accepts our C-ECHO-RSP
 * fragmented to its announced maximum length.
 */

function hasEchoscu(): boolean {
  try {
    execFileSync('echoscu', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Reads whole PDUs (PS3.8 9.3: type, reserved, 4-byte big-endian length) from a socket. */
async function* pdus(socket: Socket): AsyncGenerator<{ type: number; body: Buffer }> {
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

function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

/** A-ASSOCIATE-AC accepting the first presentation context of `rq` with its first transfer syntax. */
function associateAc(rq: Buffer, maxLength: number): { ac: Buffer; pcId: number; peerMax: number } {
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
    if (type === 0x50) {
      for (let s = 0; s < body.length; ) {
        const sl = body.readUInt16BE(s + 2);
        if (body[s] === 0x51) peerMax = body.readUInt32BE(s + 4);
        s += 4 + sl;
      }
    }
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
function pdvsOf(body: Buffer): PresentationDataValue[] {
  const out: PresentationDataValue[] = [];
  for (let o = 0; o < body.length; ) {
    const len = body.readUInt32BE(o);
    const mch = body[o + 5]!;
    out.push({ presentationContextId: body[o + 4]!, isCommand: (mch & 1) !== 0, isLast: (mch & 2) !== 0, data: body.subarray(o + 6, o + 4 + len) });
    o += 4 + len;
  }
  return out;
}

function pDataTf(p: PresentationDataValue): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(p.data.length + 2, 0);
  h[4] = p.presentationContextId;
  h[5] = (p.isCommand ? 1 : 0) | (p.isLast ? 2 : 0);
  return pdu(0x04, Buffer.concat([h, p.data]));
}

test('echoscu: its C-ECHO-RQ round-trips byte for byte, and it accepts our fragmented C-ECHO-RSP', async (t) => {
  if (!hasEchoscu()) return t.skip('DCMTK echoscu not installed');
  const received: Buffer[] = [];
  let rspFragments = 0;
  const server = createServer((socket) => {
    void (async () => {
      let pcId = 0;
      let peerMax = 0;
      const asm = new DimseAssembler({
        onCommand() {},
        onMessage(command: DimseCommand, id: number) {
          assert.equal(command.type, 'C-ECHO-RQ');
          if (command.type !== 'C-ECHO-RQ') return;
          // Respond with a deliberately small limit honoured: echoscu announced peerMax; use 20.
          const rsp = encodeCommand({
            type: 'C-ECHO-RSP',
            messageIdBeingRespondedTo: command.messageId,
            affectedSopClassUid: command.affectedSopClassUid,
            status: 0,
          });
          for (const p of fragmentMessage(rsp, undefined, { presentationContextId: id, maxPduLength: Math.min(20, peerMax || 20) })) {
            rspFragments++;
            socket.write(pDataTf(p));
          }
        },
      });
      for await (const { type, body } of pdus(socket)) {
        if (type === 0x01) {
          const ac = associateAc(body, 16384);
          pcId = ac.pcId;
          peerMax = ac.peerMax;
          socket.write(ac.ac);
        } else if (type === 0x04) {
          const list = pdvsOf(body);
          for (const p of list) if (p.isCommand) received.push(Buffer.from(p.data));
          assert.ok(list.every((p) => p.presentationContextId === pcId));
          await asm.push(list);
        } else if (type === 0x05) {
          socket.end(pdu(0x06, Buffer.alloc(4)));
        }
      }
    })().catch((e: unknown) => socket.destroy(e as Error));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const child = spawn('echoscu', ['-v', '-aec', 'TEST', '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, out);
    assert.match(out, /Received Echo Response \(Success\)/);
    const theirs = Buffer.concat(received);
    const command = decodeCommand(theirs);
    assert.equal(command.type, 'C-ECHO-RQ');
    assert.deepEqual(Buffer.from(encodeCommand(command)), theirs, 'our encoding equals DCMTK’s');
    assert.deepEqual(Buffer.from(encodeCommandSet(decodeCommandSet(theirs))), theirs);
    assert.ok(rspFragments > 1, 'the response was really fragmented');
  } finally {
    server.close();
  }
});
