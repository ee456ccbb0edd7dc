import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DimseAssembler } from '../../src/dimse/assembler.js';
import { fragmentMessage } from '../../src/dimse/fragmenter.js';
import { decodeCommand, encodeCommand } from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import { encodeCommandSet, decodeCommandSet } from '../../src/dimse/command-set.js';
import { associateAc, pDataTf, pdu, pdus, pdvsOf } from '../helpers/scripted-ul.js';

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
