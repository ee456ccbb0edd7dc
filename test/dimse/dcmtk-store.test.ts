import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { DimseAssembler } from '../../src/dimse/assembler.js';
import { fragmentMessage, maxFragmentLength } from '../../src/dimse/fragmenter.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import { encodeDataset } from '../../src/dataset/codec.js';
import { associateRq, parseAc, pDataTf, pdu, pdus, pdvsOf } from '../helpers/scripted-ul.js';
import { freePort } from '../helpers/free-port.js';

/**
 * Our C-STORE-RQ, fragmented to exactly the maximum length storescp announces, against DCMTK's
 * storescp (bit-preserving): the file it writes holds our dataset bytes unchanged and its
 * C-STORE-RSP decodes to Success. This pins the PS3.8 D.1 size rule: fragments of
 * Maximum Length − 6 make P-DATA-TF PDUs whose length field equals the Maximum Length.
 */

function hasStorescp(): boolean {
  try {
    execFileSync('storescp', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function connectWhenListening(port: number, child: ChildProcess): Promise<Socket> {
  // storescp prints nothing when ready; retry the connection until it accepts or the child exits.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`storescp exited with ${child.exitCode}`);
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

interface Outcome {
  responses: DimseCommand[];
  largestPduLength: number;
  aborted: boolean;
  files: Buffer[];
  dataset: Uint8Array;
}

/** One association to a fresh storescp (max PDU 4096): C-STORE with fragments sized for `announcedMax + extra`. */
async function storeOnce(extra: number): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'dimse-store-'));
  const port = await freePort();
  const child = spawn('storescp', ['+B', '-pdu', '4096', '-od', dir, '-aet', 'STORESCP', String(port)], { stdio: 'ignore' });
  try {
    const socket = await connectWhenListening(port, child);
    socket.write(
      associateRq({
        called: 'STORESCP',
        calling: 'DIMSETEST',
        pcId: 1,
        abstractSyntax: StorageSopClass.SecondaryCaptureImageStorage,
        transferSyntax: TransferSyntax.ExplicitVrLittleEndian,
        maxLength: 16384,
      }),
    );
    const sopInstanceUid = '1.2.826.0.1.3680043.2.1125.99.1';
    const pixels = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 13) & 0xff);
    const dataset = encodeDataset(
      {
        SOPClassUID: StorageSopClass.SecondaryCaptureImageStorage,
        SOPInstanceUID: sopInstanceUid,
        PatientName: 'Fragment^Test',
        PatientID: 'FRAG',
        Modality: 'OT',
        Rows: 100,
        Columns: 200,
        BitsAllocated: 8,
        BitsStored: 8,
        HighBit: 7,
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        PixelRepresentation: 0,
        PixelData: [pixels.buffer],
        _vrMap: { PixelData: 'OB' },
      },
      TransferSyntax.ExplicitVrLittleEndian,
    );
    const responses: DimseCommand[] = [];
    let aborted = false;
    const asm = new DimseAssembler({ onCommand() {}, onMessage: (c) => void responses.push(c) });
    let peerMax = 0;
    let largestPduLength = 0;
    let released = false;
    // storescp aborts at the first oversize PDU and closes; the rest of our writes then meet a
    // reset, which on Linux can discard the A-ABORT still unread in our receive buffer. A reset
    // or a close with neither release nor response therefore counts as the abort.
    try {
    for await (const { type, body } of pdus(socket)) {
      if (type === 0x02 && peerMax === 0) {
        const ac = parseAc(body);
        assert.equal(ac.result, 0, 'presentation context accepted');
        peerMax = ac.peerMax;
        assert.equal(peerMax, 4096);
        const command = encodeCommand({
          type: 'C-STORE-RQ',
          messageId: 1,
          affectedSopClassUid: StorageSopClass.SecondaryCaptureImageStorage,
          affectedSopInstanceUid: sopInstanceUid,
          priority: 0,
        });
        for (const p of fragmentMessage(command, dataset, { presentationContextId: 1, maxPduLength: peerMax + extra })) {
          const bytes = pDataTf(p);
          largestPduLength = Math.max(largestPduLength, bytes.readUInt32BE(2));
          socket.write(bytes);
        }
      } else if (type === 0x04) {
        await asm.push(pdvsOf(body));
        if (responses.length > 0) socket.write(pdu(0x05, Buffer.alloc(4)));
      } else if (type === 0x06) {
        released = true;
        socket.end();
        break;
      } else if (type === 0x07) {
        aborted = true;
        break;
      } else {
        assert.fail(`unexpected PDU type ${type}`);
      }
    }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET' && (e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      aborted = true;
    }
    if (!released && responses.length === 0) aborted = true;
    socket.destroy();
    const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
    return { responses, largestPduLength, aborted, files, dataset };
  } finally {
    child.kill();
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

test('storescp stores our C-STORE fragmented to exactly its maximum, bit for bit, and answers Success', async (t) => {
  if (!hasStorescp()) return t.skip('DCMTK storescp not installed');
  const { responses, largestPduLength, aborted, files, dataset } = await storeOnce(0);
  assert.ok(!aborted);
  assert.equal(largestPduLength, 4096, 'PDU length field equals the announced maximum');
  assert.equal(maxFragmentLength(4096), 4090);
  assert.equal(responses.length, 1);
  const rsp = responses[0]!;
  assert.equal(rsp.type, 'C-STORE-RSP');
  assert.equal(rsp.type === 'C-STORE-RSP' && rsp.status, 0);
  assert.equal(rsp.type === 'C-STORE-RSP' && rsp.affectedSopInstanceUid, '1.2.826.0.1.3680043.2.1125.99.1');
  assert.equal(files.length, 1);
  const file = files[0]!;
  const body = file.subarray(132 + 12 + file.readUInt32LE(140));
  assert.deepEqual(Buffer.from(body), Buffer.from(dataset), 'storescp kept our dataset bytes');
});

test('two bytes over the announced maximum and storescp aborts: the size rule is tight', async (t) => {
  if (!hasStorescp()) return t.skip('DCMTK storescp not installed');
  // Two: fragments are even (PS3.7 Annex F), so one byte more is rounded away.
  const { aborted, largestPduLength, files } = await storeOnce(2);
  assert.equal(largestPduLength, 4098);
  assert.ok(aborted, 'A-ABORT received');
  assert.equal(files.length, 0);
});
