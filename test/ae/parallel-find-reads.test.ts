/**
 * Several associations in one process read at once: over TLS every client socket reads into one
 * shared 64 KiB buffer (net.connect's `onread`, ae/transport.ts) that the engine must copy from
 * before the read callback returns; over both transports the received PDUs are views of pooled
 * buffers. Either reused before its bytes were consumed would hand one association another's
 * bytes (garbled TLS records, or matches of the wrong query). Here each association's C-FIND
 * gets hundreds of matches unique to it, written by the peer in odd-sized pieces (1 byte to
 * a few KiB, so TLS records and TCP reads cut PDUs and elements anywhere), some peers slow:
 * each association must get exactly its own matches, byte for byte, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DicomClient } from '../../src/ae/client.js';
import { findEncoded } from '../../src/services/scu/find.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { encodeDataset } from '../helpers/dicom-data.js';
import { rng } from '../helpers/random.js';
import { scenarioPki } from '../helpers/pki.js';
import { acFor } from '../ul/fixtures.js';

const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const ASSOCIATIONS = 6;
const MATCHES = 400;

/** Match `i` of association `k`: every byte of it says whose it is. */
function match(k: number, i: number): Buffer {
  const letter = String.fromCharCode(0x41 + k);
  return encodeDataset([
    [0x00080052, 'CS', 'STUDY'],
    [0x00100010, 'PN', `K${k}^M${i}`],
    [0x00100020, 'LO', `${k}-${i}`],
    [0x00204000, 'LT', letter.repeat(300 + ((i * 37) % 211))],
  ], { explicit: false });
}

/** Everything the peer answers association `k` with: `MATCHES` Pending responses, then Success. */
function answers(k: number, pcId: number): Buffer {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < MATCHES; i++) {
    parts.push(rawPData(pcId, true, true, rawCommandSet([[0x0002, STUDY_FIND], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0000], [0x0900, 0xff00]])));
    parts.push(rawPData(pcId, false, true, match(k, i)));
  }
  parts.push(rawPData(pcId, true, true, rawCommandSet([[0x0002, STUDY_FIND], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0x0000]])));
  return Buffer.concat(parts);
}

/** Writes `bytes` in pieces of 1 byte to a few KiB; a slow peer lets the others' reads in between. */
async function writeInOddPieces(socket: net.Socket, bytes: Buffer, seed: number, slow: boolean): Promise<void> {
  const random = rng(seed);
  let pieces = 0;
  for (let off = 0; off < bytes.length;) {
    const r = random();
    const size = r < 0.2 ? 1 + Math.floor(random() * 7) : r < 0.9 ? 13 + Math.floor(random() * 1500) : 4093 + Math.floor(random() * 9000);
    const piece = bytes.subarray(off, off + size);
    off += piece.length;
    if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve));
    pieces++;
    // Shaping only (nothing waits on it): a slow peer's pieces arrive between the others'.
    if (slow && pieces % 16 === 0) await sleep(1);
    else if (pieces % 4 === 0) await new Promise(setImmediate);
  }
}

/** A peer per connection: accepts, reads the C-FIND-RQ, answers its calling AE title's matches. */
function servePeer(socket: net.Socket, sockets: net.Socket[]): void {
  sockets.push(socket);
  const peer = new ScriptedPeer(socket);
  // A client that gave up (the failure the test reports) ends this script quietly.
  void (async () => {
    const head = await peer.nextPdu();
    if (head === undefined) return;
    const rq = decodePdu(head) as AAssociateRqPdu;
    const k = Number(/^SCU-(\d+)$/.exec(rq.callingAeTitle.trim())?.[1]);
    peer.write(encodePdu(acFor(rq)));
    // The C-FIND-RQ's command and identifier, in one P-DATA-TF or two.
    const first = await peer.nextPdu();
    if (first === undefined) return;
    if (first.readUInt32BE(2) === first.readUInt32BE(6) + 4) await peer.nextPdu();
    await writeInOddPieces(socket, answers(k, rq.presentationContexts[0]!.id), 1000 + k, k % 2 === 1);
    // Answer the A-RELEASE-RQ.
    for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
      if (pdu[0] === 0x05) peer.write(Uint8Array.of(0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0));
    }
  })().catch(() => socket.destroy());
}

async function findInParallel(useTls: boolean): Promise<void> {
  const pki = scenarioPki();
  const sockets: net.Socket[] = [];
  const server = useTls
    ? tls.createServer({ cert: readFileSync(pki.valid.cert), key: readFileSync(pki.valid.key) }, (s) => servePeer(s, sockets))
    : net.createServer((s) => servePeer(s, sockets));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const context = useTls ? new SecureContext({ role: 'client', ca: [pki.root.cert] }) : undefined;
  try {
    const results = await Promise.all(Array.from({ length: ASSOCIATIONS }, async (_, k) => {
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, tls: context, callingAeTitle: `SCU-${k}`, calledAeTitle: 'PEER',
        presentationContexts: [{ abstractSyntax: STUDY_FIND, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
      });
      const got: Uint8Array[] = [];
      for await (const m of findEncoded(client.association, 'STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', PatientName: '' })) got.push(m.dataset);
      await client.release();
      return got;
    }));
    // Compared only now, after every association has finished: a match kept as a view of a
    // buffer that was reused meanwhile shows here too.
    results.forEach((got, k) => {
      assert.equal(got.length, MATCHES, `association ${k}: ${got.length} matches`);
      got.forEach((bytes, i) => assert.ok(Buffer.from(bytes).equals(match(k, i)), `association ${k}, match ${i}: ${Buffer.from(bytes).subarray(0, 80).toString('latin1')}`));
    });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    context?.dispose();
  }
}

test('parallel TLS associations sharing the client read buffer each get exactly their own C-FIND matches', { timeout: 180_000 }, () => findInParallel(true));

test('the same over plain TCP', { timeout: 180_000 }, () => findInParallel(false));
