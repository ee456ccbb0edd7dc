/**
 * Many messages in one read, and one message over many reads: the server takes every complete
 * message of a read at once (synchronous sinks and handlers need no promise per PDU), answers in
 * the order asked, and the answers to the messages of one read leave in one write. Raw bytes on a
 * real socket, so the test decides exactly where reads start and end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { Association } from '../../src/ae/association.js';
import { Status } from '../../src/dictionary/status.js';
import { StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { encodeCommand, decodeCommand, type DimseCommand } from '../../src/dimse/messages.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { maxLengthItem, rawAssociateRq, rawPData } from '../helpers/raw-pdu.js';
import { withServer } from '../helpers/with-server.js';

const SC = StorageSopClass.SecondaryCaptureImageStorage;
const EXPLICIT_LE = TransferSyntax.ExplicitVrLittleEndian;
/** Asynchronous Operations Window sub-item (0x53, PS3.7 D.3.3.3): 16 invoked, 1 performed. */
const window16 = { type: 0x53, value: Uint8Array.of(0, 16, 0, 1) };

/** C-STORE-RQs (message IDs 1…n), each a command PDU and a data set PDU of its own bytes. */
function storeRequests(n: number, datasetLength: number): { bytes: Buffer; datasets: Buffer[] } {
  const parts: Uint8Array[] = [];
  const datasets: Buffer[] = [];
  for (let id = 1; id <= n; id++) {
    const command: DimseCommand = { type: 'C-STORE-RQ', messageId: id, affectedSopClassUid: SC, affectedSopInstanceUid: `1.2.826.0.1.3680043.9.7777.99.${id}`, priority: 0 };
    const dataset = Buffer.alloc(datasetLength, id);
    datasets.push(dataset);
    parts.push(rawPData(1, true, true, encodeCommand(command)), rawPData(1, false, true, dataset));
  }
  return { bytes: Buffer.concat(parts), datasets };
}

/** The C-STORE-RSPs' message IDs and statuses, as the peer reads them. */
async function responses(peer: ScriptedPeer, n: number): Promise<{ id: number; status: number }[]> {
  const out: { id: number; status: number }[] = [];
  while (out.length < n) {
    const raw = await peer.nextPdu();
    assert.ok(raw !== undefined, 'the server closed the connection');
    const pdu = decodePdu(raw);
    assert.equal(pdu.type, 'P-DATA-TF');
    for (const pdv of pdu.pdvs) {
      const rsp = decodeCommand(pdv.data);
      assert.equal(rsp.type, 'C-STORE-RSP');
      out.push({ id: rsp.messageIdBeingRespondedTo, status: rsp.status });
    }
  }
  return out;
}

/** Resolves once the server's socket has read `total` bytes in all. */
async function serverHasRead(socket: net.Socket, total: number): Promise<void> {
  while (socket.bytesRead < total) await new Promise((resolve) => setImmediate(resolve));
}

test('a read holding many C-STORE-RQs: each taken at once, answered in order, the answers in one write; a read ending anywhere inside them changes nothing', { timeout: 120_000 }, async () => {
  const received: Buffer[][] = [];
  let current: Buffer[] = [];
  let serverSocket: net.Socket | undefined;
  let writes = 0;
  let reads = 0;
  await withServer(
    {
      aeTitle: 'ANY-SCP',
      asynchronousOperations: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 },
      presentationContexts: { supported: [{ abstractSyntax: SC, transferSyntaxes: [EXPLICIT_LE] }] },
    },
    async (port, server) => {
      server.handlers.register('C-STORE-RQ', {
        // A synchronous sink and handler: nothing here returns a promise.
        datasetSink: () => ({
          write: (fragment) => void current.push(Buffer.from(fragment)),
          end: () => {
            received.push(current);
            current = [];
          },
        }),
        handle: () => ({ status: Status.Success }),
      });
      server.on('association', (a: Association) => {
        const s = a.upperLayer.transport!.stream as net.Socket;
        serverSocket = s;
        s.on('data', () => reads++);
        // Every write of the server's socket, whether one buffer or a corked batch.
        const write = s._write.bind(s);
        const writev = s._writev!.bind(s);
        s._write = (chunk, encoding, cb) => (writes++, write(chunk, encoding, cb));
        s._writev = (chunks, cb) => (writes++, writev(chunks, cb));
      });
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.setNoDelay(true);
      const peer = new ScriptedPeer(socket);
      try {
        const rq = rawAssociateRq({ contexts: [{ id: 1, abstractSyntax: SC, transferSyntaxes: [EXPLICIT_LE] }], userItems: [maxLengthItem(16384), window16] });
        peer.write(rq);
        const ac = decodePdu((await peer.nextPdu())!);
        assert.equal(ac.type, 'A-ASSOCIATE-AC');
        let sent = rq.length;
        const n = 3;
        const { bytes, datasets } = storeRequests(n, 40);
        const expected = Array.from({ length: n }, (_, i) => ({ id: i + 1, status: Status.Success }));

        // All of them in one write (one read on loopback): three answers, in order, in one write.
        reads = 0;
        writes = 0;
        peer.write(bytes);
        sent += bytes.length;
        assert.deepEqual(await responses(peer, n), expected);
        assert.deepEqual(received.splice(0), datasets.map((d) => [d]));
        if (reads === 1) assert.equal(writes, 1, 'the answers to the messages of one read leave in one write');
        assert.ok(writes <= reads, `${writes} writes for ${reads} reads`);

        // The same bytes in two reads, split at every offset: whole messages, answered in order.
        for (let k = 1; k < bytes.length; k++) {
          reads = 0;
          writes = 0;
          peer.write(bytes.subarray(0, k));
          await serverHasRead(serverSocket!, sent + k);
          peer.write(bytes.subarray(k));
          sent += bytes.length;
          assert.deepEqual(await responses(peer, n), expected, `split at ${k}`);
          assert.deepEqual(received.splice(0).map((parts) => Buffer.concat(parts)), datasets, `split at ${k}`);
          assert.ok(writes <= reads, `split at ${k}: ${writes} writes for ${reads} reads`);
        }
      } finally {
        socket.destroy();
      }
    },
  );
});
