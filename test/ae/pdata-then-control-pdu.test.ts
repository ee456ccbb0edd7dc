/**
 * A C-STORE-RQ whose last P-DATA-TF arrives in the same bytes as an A-RELEASE-RQ, an A-ABORT, a
 * second A-ASSOCIATE-RQ or an A-RELEASE-RQ followed by more P-DATA, the reads ending anywhere
 * around the boundary: P-DATA in Sta6 is delivered without the state machine's dispatch, the PDU
 * after it must still go through the table. Each ends as PS3.8 says (A-RELEASE-RP after the
 * response; a quiet close; AA-8's A-ABORT, service-provider source, unexpected PDU), the data set
 * a sink kept as views of the receive buffers never changes under it, and the server goes on
 * answering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { Association } from '../../src/ae/association.js';
import { DicomClient } from '../../src/ae/client.js';
import { Status } from '../../src/dictionary/status.js';
import { StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { decodeCommand, encodeCommand } from '../../src/dimse/messages.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { A_RELEASE_RQ, rawAssociateRq, rawPData } from '../helpers/raw-pdu.js';
import { withServer } from '../helpers/with-server.js';

const SC = StorageSopClass.SecondaryCaptureImageStorage;
const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = TransferSyntax.ImplicitVrLittleEndian;
const A_ABORT = Uint8Array.of(0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0);
const contexts = [
  { id: 1, abstractSyntax: SC, transferSyntaxes: [IMPLICIT_LE] },
  { id: 3, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
];
const echoCommand = encodeCommand({ type: 'C-ECHO-RQ', messageId: 2, affectedSopClassUid: VERIFICATION });

/** What the peer read back, PDU by PDU, until the server closed or ended the association. */
async function outcome(peer: ScriptedPeer): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const raw = await peer.nextPdu();
    if (raw === undefined) return [...seen, 'closed'];
    const pdu = decodePdu(raw);
    if (pdu.type === 'P-DATA-TF') {
      for (const pdv of pdu.pdvs) {
        const rsp = decodeCommand(pdv.data);
        seen.push(`${rsp.type} ${'status' in rsp ? rsp.status : ''}`);
      }
    } else if (pdu.type === 'A-ABORT') {
      return [...seen, `A-ABORT ${pdu.source}/${pdu.reason}`];
    } else {
      seen.push(pdu.type);
      if (pdu.type === 'A-RELEASE-RP') return seen;
    }
  }
}

/** Resolves once the server's socket has read `total` bytes in all. */
async function serverHasRead(socket: () => net.Socket | undefined, total: number): Promise<void> {
  while ((socket()?.bytesRead ?? 0) < total) await new Promise((resolve) => setImmediate(resolve));
}

test('a store and the PDU after it in the same bytes, split anywhere around their boundary: released, aborted or refused as PS3.8 says; kept data sets unchanged', { timeout: 180_000 }, async () => {
  const kept: { sent: Buffer; views: Uint8Array[]; ended: boolean }[] = [];
  let serverSocket: net.Socket | undefined;
  let pending: Buffer | undefined;
  let gate = Promise.resolve();
  await withServer(
    { aeTitle: 'ANY-SCP', presentationContexts: { supported: [{ abstractSyntax: SC, transferSyntaxes: [IMPLICIT_LE] }, { abstractSyntax: VERIFICATION }] } },
    async (port, server) => {
      server.handlers.register('C-STORE-RQ', {
        // No fragmentUse: the sink may keep the views for ever, so their buffers must never be reused.
        datasetSink: () => {
          const k = { sent: pending!, views: [] as Uint8Array[], ended: false };
          kept.push(k);
          return { write: (fragment) => void k.views.push(fragment), end: () => void (k.ended = true) };
        },
        // Answered once the server has read every byte: the PDU after the store meets the
        // association while the request is outstanding, at every split.
        handle: async () => {
          await gate;
          return { status: Status.Success };
        },
      });
      server.on('association', (a: Association) => void (serverSocket = a.upperLayer.transport!.stream as net.Socket));
      const rq = rawAssociateRq({ contexts });
      const tails: { name: string; bytes: Uint8Array; splitsInTail: number; expected: () => string[] }[] = [
        { name: 'A-RELEASE-RQ', bytes: A_RELEASE_RQ, splitsInTail: A_RELEASE_RQ.length, expected: () => [`C-STORE-RSP ${Status.Success}`, 'A-RELEASE-RP'] },
        { name: 'A-ABORT', bytes: A_ABORT, splitsInTail: A_ABORT.length, expected: () => ['closed'] },
        // AA-8 in Sta6 and in Sta8: unexpected PDU (source 2, reason 2).
        { name: 'A-ASSOCIATE-RQ', bytes: rq, splitsInTail: 12, expected: () => ['A-ABORT 2/2'] },
        {
          name: 'A-RELEASE-RQ and P-DATA',
          bytes: Buffer.concat([A_RELEASE_RQ, rawPData(3, true, true, echoCommand)]),
          splitsInTail: A_RELEASE_RQ.length + 12,
          // The store outstanding, the A-RELEASE-RQ leaves the association in Sta8: AA-8.
          expected: () => ['A-ABORT 2/2'],
        },
      ];
      let n = 0;
      let splits = 0;
      for (const tail of tails) {
        // The last data set PDU's header and end, and the tail's first bytes: every offset.
        const lastLength = 6 + 6 + 5000;
        const offsets = [...Array.from({ length: 13 }, (_, i) => i), ...Array.from({ length: 12 }, (_, i) => lastLength - 11 + i), ...Array.from({ length: tail.splitsInTail }, (_, i) => lastLength + 1 + i)];
        for (const offset of offsets) {
          n++;
          splits++;
          const dataset = Buffer.alloc(10_000);
          for (let i = 0; i < dataset.length; i++) dataset[i] = (i * 7 + n) & 0xff;
          const command = encodeCommand({ type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: SC, affectedSopInstanceUid: `1.2.826.0.1.3680043.9.7777.15.${n}`, priority: 0 });
          const head = Buffer.concat([rawPData(1, true, true, command), rawPData(1, false, false, dataset.subarray(0, 5000))]);
          const rest = Buffer.concat([rawPData(1, false, true, dataset.subarray(5000)), tail.bytes]);
          const all = Buffer.concat([head, rest]);
          const cut = head.length + offset;
          pending = dataset;
          let open!: () => void;
          gate = new Promise((resolve) => (open = resolve));
          serverSocket = undefined;
          const socket = net.connect(port, '127.0.0.1');
          await once(socket, 'connect');
          socket.setNoDelay(true);
          const peer = new ScriptedPeer(socket);
          try {
            peer.write(rq);
            assert.equal(decodePdu((await peer.nextPdu())!).type, 'A-ASSOCIATE-AC');
            const storedBefore = kept.length;
            peer.write(all.subarray(0, cut));
            await serverHasRead(() => serverSocket, rq.length + cut);
            peer.write(all.subarray(cut));
            await serverHasRead(() => serverSocket, rq.length + all.length);
            open();
            const seen = await outcome(peer);
            assert.deepEqual(seen, tail.expected(), `${tail.name}, split ${offset} bytes into the last data set PDU`);
            if (tail.name === 'A-RELEASE-RQ') assert.equal(kept.length, storedBefore + 1);
          } finally {
            open();
            socket.destroy();
          }
        }
      }
      assert.equal(splits, tails.reduce((sum, t) => sum + 25 + t.splitsInTail, 0));
      // Checked after all the traffic since: bytes kept as views never changed under their holder.
      assert.equal(kept.filter((k) => k.ended).length, splits, 'every data set arrived whole before the PDU after it');
      for (const [i, k] of kept.entries()) assert.ok(Buffer.concat(k.views).equals(k.sent), `kept data set ${i} changed`);
      const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'CHECK', calledAeTitle: 'ANY-SCP', timeouts: { connect: 5000, association: 5000, dimse: 5000 } });
      assert.equal((await client.echo()).status, Status.Success);
      await client.release();
    },
  );
});
