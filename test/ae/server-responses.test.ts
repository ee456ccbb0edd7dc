/**
 * Every request gets a response or its association ends at once (issue: a response that could
 * not be built was swallowed and the peer waited for the idle abort); a peer Maximum Length too
 * small to carry data is refused at negotiation; Error Comments never carry server paths; an
 * aborted association gives its slot back as soon as its socket closes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { DicomClient } from '../../src/ae/client.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { storageHandler } from '../../src/services/scp/storage.js';
import { Status } from '../../src/dictionary/status.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { decodeCommandSet } from '../../src/dimse/command-set.js';
import type { Pdu } from '../../src/ul/pdu/types.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { maxLengthItem, rawAssociateRq, rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { withServer } from '../helpers/with-server.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const quick = { connect: 5000, association: 5000, dimse: 5000 };
/** A hang guard only: every expectation here is met in milliseconds, or never. */
const GUARD_MS = 20_000;

async function rawPeer(port: number): Promise<ScriptedPeer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return new ScriptedPeer(socket);
}

async function next(peer: ScriptedPeer): Promise<Pdu | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no PDU within the hang guard')), GUARD_MS)));
  try {
    const b = await Promise.race([peer.nextPdu(), guard]);
    return b === undefined ? undefined : decodePdu(b);
  } finally {
    clearTimeout(timer);
  }
}

async function echoStillWorks(port: number): Promise<void> {
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'CHECK', calledAeTitle: 'ANY-SCP', timeouts: quick });
  assert.equal((await client.echo()).status, Status.Success);
  await client.release();
}

const cStoreRq = (sopInstanceUid: string): Uint8Array =>
  rawCommandSet([
    [0x0002, CT],
    [0x0100, 0x0001],
    [0x0110, 7],
    [0x0700, 0],
    [0x0800, 0x0000],
    [0x1000, sopInstanceUid],
  ]);

test('a C-STORE-RQ whose Affected SOP Instance UID is not a UID (1.2.3a) is answered at once', async () => {
  const handlers = new HandlerRegistry().register('C-STORE-RQ', storageHandler({ onInstance: (i) => i.dataset.resume() }));
  await withServer({ handlers, presentationContexts: { supported: [{ abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] }, { abstractSyntax: VERIFICATION }] } }, async (port) => {
    const peer = await rawPeer(port);
    try {
      peer.write(rawAssociateRq({ contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] }] }));
      assert.equal((await next(peer))?.type, 'A-ASSOCIATE-AC');
      peer.write(rawPData(1, true, true, cStoreRq('1.2.3a')));
      peer.write(rawPData(1, false, true, Uint8Array.of(0x08, 0, 0x18, 0, 0, 0, 0, 0)));
      const rsp = await next(peer);
      assert.equal(rsp?.type, 'P-DATA-TF');
      const cmd = decodeCommandSet((rsp as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs[0]!.data);
      assert.equal(cmd.CommandField, 0x8001);
      assert.equal(cmd.MessageIDBeingRespondedTo, 7);
      // The peer's value could not be echoed and is left out (U(=), PS3.7 Table 9.3-2).
      assert.equal(cmd.AffectedSOPInstanceUID, undefined);
    } finally {
      peer.socket.destroy();
    }
    await echoStillWorks(port);
  });
});

test('a handler answer that cannot be encoded still gets a response: Processing failure, no hang', async () => {
  let calls = 0;
  const handlers = new HandlerRegistry().register('C-ECHO-RQ', {
    // The first answer carries a "dataset" the fragmenter cannot send; later ones are fine.
    handle: () => (++calls === 1 ? { status: Status.Success, dataset: 42 as never } : { status: Status.Success }),
  });
  await withServer({ handlers }, async (port) => {
    const peer = await rawPeer(port);
    try {
      peer.write(rawAssociateRq());
      assert.equal((await next(peer))?.type, 'A-ASSOCIATE-AC');
      peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, VERIFICATION], [0x0100, 0x0030], [0x0110, 1], [0x0800, 0x0101]])));
      const answer = await next(peer);
      assert.equal(answer?.type, 'P-DATA-TF');
      const cmd = decodeCommandSet((answer as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs[0]!.data);
      assert.equal(cmd.Status, Status.ProcessingFailure);
      assert.equal(cmd.ErrorComment, 'the response could not be built');
    } finally {
      peer.socket.destroy();
    }
    await echoStillWorks(port);
  });
});

test('a peer Maximum Length of 6 or less, or under the floor, is refused at negotiation (1/1/1)', async () => {
  await withServer({}, async (port) => {
    for (const max of [1, 6, 7, 255]) {
      const peer = await rawPeer(port);
      try {
        peer.write(rawAssociateRq({ userItems: [maxLengthItem(max)] }));
        assert.deepEqual(await next(peer), { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 1 }, `maximum length ${max}`);
      } finally {
        peer.socket.destroy();
      }
    }
    await echoStillWorks(port);
  });
  // With the floor lowered to 7, a 7-byte maximum still gets its C-ECHO answered, one byte a PDU.
  await withServer({ minPeerMaximumLength: 7 }, async (port) => {
    const peer = await rawPeer(port);
    try {
      peer.write(rawAssociateRq({ userItems: [maxLengthItem(7)] }));
      assert.equal((await next(peer))?.type, 'A-ASSOCIATE-AC');
      peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, VERIFICATION], [0x0100, 0x0030], [0x0110, 1], [0x0800, 0x0101]])));
      const parts: Uint8Array[] = [];
      for (;;) {
        const pdu = await next(peer);
        assert.equal(pdu?.type, 'P-DATA-TF');
        const pdv = (pdu as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs[0]!;
        assert.ok(pdv.data.length <= 1, 'one byte per PDV');
        parts.push(pdv.data);
        if (pdv.isLast) break;
      }
      const cmd = decodeCommandSet(Uint8Array.from(parts.flatMap((p) => [...p])));
      assert.equal(cmd.Status, Status.Success);
    } finally {
      peer.socket.destroy();
    }
  });
});

test('Error Comments sent to peers never carry server paths', async () => {
  const handlers = new HandlerRegistry().register('C-ECHO-RQ', {
    handle: () => {
      throw new Error("EACCES: permission denied, open '/srv/secret/store/1.2.3/x.dcm'");
    },
  });
  await withServer({ handlers }, async (port) => {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'CHECK', calledAeTitle: 'ANY', timeouts: quick });
    const messages: { errorComment?: string }[] = [];
    client.association.on('message', (m) => messages.push(m.command as { errorComment?: string }));
    await client.echo().catch(() => undefined);
    await client.release();
    const comment = messages.find((m) => m.errorComment !== undefined)?.errorComment ?? '';
    assert.match(comment, /EACCES/);
    assert.doesNotMatch(comment, /srv|secret|\.dcm/);
  });
});

test('an association we aborted gives its slot back when the peer closes its socket', async () => {
  await withServer({ maxAssociations: 1 }, async (port) => {
    for (let i = 0; i < 3; i++) {
      const peer = await rawPeer(port);
      peer.write(rawAssociateRq());
      assert.equal((await next(peer))?.type, 'A-ASSOCIATE-AC');
      // A PDV on an even context ID: malformed, we abort (PS3.8 Sta13, ARTIM running).
      peer.write(Uint8Array.of(0x04, 0, 0, 0, 0, 8, 0, 0, 0, 2, 2, 3, 0, 0));
      assert.equal((await next(peer))?.type, 'A-ABORT');
      peer.socket.destroy();
      await peer.closed;
      // The next association is accepted, not refused 2/3/2 until ARTIM (30 s) ran out.
      await echoStillWorks(port);
    }
  });
});

test('an association we aborted gives its slot back at once, even while the peer holds its socket open', async () => {
  await withServer({ maxAssociations: 1 }, async (port) => {
    const held: ScriptedPeer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const peer = await rawPeer(port);
        held.push(peer);
        peer.write(rawAssociateRq());
        assert.equal((await next(peer))?.type, 'A-ASSOCIATE-AC');
        peer.write(Uint8Array.of(0x04, 0, 0, 0, 0, 8, 0, 0, 0, 2, 2, 3, 0, 0));
        assert.equal((await next(peer))?.type, 'A-ABORT');
        // The peer neither closes nor answers: the association is over all the same.
        await echoStillWorks(port);
      }
    } finally {
      for (const p of held) p.socket.destroy();
    }
  });
});
