/**
 * A peer that sends garbage and then never closes its socket does not hold one of the storing
 * server's association slots: we answer A-ABORT and wait (PS3.8 AA-1/AA-8, Sta13, at most ARTIM)
 * for its close, but the slot is free at once. Garbage after the A-ASSOCIATE-AC (an unknown PDU
 * type, a malformed P-DATA-TF) and instead of the A-ASSOCIATE-RQ.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { Status } from '../../src/dictionary/status.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { rawAssociateRq } from '../helpers/raw-pdu.js';
import { tempDir } from '../helpers/dicom-data.js';

let dir: string;
let remove: () => Promise<void>;
before(async () => ({ dir, remove } = await tempDir('garbage-slot')));
after(() => remove());

const GARBAGE: Record<string, Uint8Array> = {
  'an unknown PDU type after the A-ASSOCIATE-AC': Uint8Array.of(0x0b, 0, 0, 0, 0, 2, 0xde, 0xad),
  'a P-DATA-TF whose PDV overruns it after the A-ASSOCIATE-AC': Uint8Array.of(0x04, 0, 0, 0, 0, 6, 0, 0, 0x10, 0, 1, 3),
};

async function rawPeer(port: number): Promise<ScriptedPeer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return new ScriptedPeer(socket);
}

test('garbage then silence does not hold a slot of a StorageServer limited to one association', async () => {
  const server = await StorageServer.create({ aeTitle: 'ANY-SCP', storeRoot: join(dir, 'store'), limits: { maxAssociations: 1 } });
  const { port } = await server.listen(0);
  const held: ScriptedPeer[] = [];
  try {
    for (const [what, bytes] of Object.entries(GARBAGE)) {
      const peer = await rawPeer(port);
      held.push(peer);
      peer.write(rawAssociateRq({ called: 'ANY-SCP' }));
      assert.equal(decodePdu((await peer.nextPdu())!).type, 'A-ASSOCIATE-AC', what);
      peer.write(bytes);
      assert.equal(decodePdu((await peer.nextPdu())!).type, 'A-ABORT', what);
      // The peer keeps its socket open and says nothing more; the next association is accepted.
      const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'NEXT', calledAeTitle: 'ANY-SCP', timeouts: { connect: 10_000, association: 10_000, dimse: 10_000 } });
      assert.equal((await client.echo()).status, Status.Success, what);
      await client.release();
    }
    // Garbage instead of an A-ASSOCIATE-RQ: never an association, no slot either.
    const early = await rawPeer(port);
    held.push(early);
    early.write(Uint8Array.of(0x0b, 0, 0, 0, 0, 2, 0xde, 0xad));
    assert.equal(decodePdu((await early.nextPdu())!).type, 'A-ABORT');
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'NEXT', calledAeTitle: 'ANY-SCP', timeouts: { connect: 10_000, association: 10_000, dimse: 10_000 } });
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
  } finally {
    for (const p of held) p.socket.destroy();
    await server.close();
  }
});
