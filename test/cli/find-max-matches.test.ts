/**
 * `find` collects the matches to print them as one table or JSON array: a peer sending Pending
 * responses without end would fill memory. It stops after --max-matches (default 50 000) with a
 * C-CANCEL-RQ, as findscu's --cancel does, and prints what it got with a note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { runCli } from '../helpers/cli.js';
import { acFor } from '../ul/fixtures.js';

test('find against a peer whose matches never end: stops at --max-matches with C-CANCEL-RQ and prints them', { timeout: 120_000 }, async () => {
  const peers: ScriptedPeer[] = [];
  let cancelled = false;
  const server = net.createServer((socket) => {
    const peer = new ScriptedPeer(socket);
    peers.push(peer);
    void (async () => {
      const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
      const pc = rq.presentationContexts[0]!;
      // acFor accepts implicit VR little endian: the identifiers below are in it.
      peer.write(encodePdu(acFor(rq)));
      const sop = '1.2.840.10008.5.1.4.1.2.2.1';
      const pending = Buffer.concat([
        rawPData(pc.id, true, true, rawCommandSet([[0x0002, sop], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0000], [0x0900, 0xff00]])),
        rawPData(pc.id, false, true, Uint8Array.of(0x10, 0, 0x10, 0, 4, 0, 0, 0, 0x58, 0x5e, 0x59, 0x20)),
      ]);
      const flood = setInterval(() => peer.write(pending), 5);
      for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
        if (pdu.includes(Buffer.from([0, 0, 0, 1, 2, 0, 0, 0, 0xff, 0x0f]))) {
          // C-CANCEL-RQ: the final response, Cancel (FE00).
          cancelled = true;
          clearInterval(flood);
          peer.write(rawPData(pc.id, true, true, rawCommandSet([[0x0002, sop], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0xfe00]])));
        }
        if (pdu[0] === 0x05) peer.write(Uint8Array.of(0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0));
        if (pdu[0] === 0x07) break;
      }
      clearInterval(flood);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = await runCli(['find', `127.0.0.1:${port}`, '--no-tls', '-k', 'PatientName', '--max-matches', '3', '--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(cancelled, 'the peer got a C-CANCEL-RQ');
    assert.match(r.stdout, /^3 matches$/m);
    assert.match(r.stderr, /stopped after 3 matches/);
  } finally {
    for (const p of peers) p.socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
