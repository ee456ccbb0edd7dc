/**
 * A C-FIND whose caller stops early sends C-CANCEL-RQ and waits for the final response (PS3.7
 * C.4.1.3.2). A peer that ignores the cancel and goes on sending Pending responses forever must
 * not hold that wait: the final response is due within the DIMSE timeout of the cancel (Pending
 * responses no longer restart it), then the association is aborted with a TimeoutError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeoutError } from '../../src/errors.js';
import { findEncoded, sopClassFor } from '../../src/services/scu/find.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { proposeToScriptedPeer } from '../helpers/scripted-association.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { acFor } from '../ul/fixtures.js';

test('a peer that answers our C-CANCEL-RQ with endless Pending responses: the wait for the final one ends with a TimeoutError', { timeout: 60_000 }, async () => {
  const listener = await listenForScriptedPeer();
  let flood: NodeJS.Timeout | undefined;
  try {
    const sopClass = sopClassFor('STUDY_ROOT', 'find');
    const { associating, peer, rq } = await proposeToScriptedPeer(listener, {
      calledAeTitle: 'ENDLESS', abstractSyntax: sopClass, timeouts: { connect: 10_000, association: 10_000, dimse: 1_000 },
    });
    const pcId = rq.presentationContexts[0]!.id;
    peer.write(encodePdu(acFor(rq)));
    const client = await associating;
    // Pending responses to message ID 1, more often than the DIMSE timeout, whatever we send.
    const pendingRsp = Buffer.concat([
      rawPData(pcId, true, true, rawCommandSet([[0x0002, sopClass], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0000], [0x0900, 0xff00]])),
      rawPData(pcId, false, true, Uint8Array.of(0x10, 0, 0x10, 0, 4, 0, 0, 0, 0x58, 0x5e, 0x59, 0x20)),
    ]);
    let cancelled = false;
    void (async () => {
      for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
        // CommandField (0000,0100) = 0x0FFF: C-CANCEL-RQ
        if (pdu.includes(Buffer.from([0, 0, 0, 1, 2, 0, 0, 0, 0xff, 0x0f]))) cancelled = true;
        if (pdu[0] === 0x07) {
          clearInterval(flood);
          peer.socket.destroy();
        }
      }
    })();
    flood = setInterval(() => peer.write(pendingRsp), 20);
    let seen = 0;
    const stopped = (async () => {
      for await (const _ of findEncoded(client.association, 'STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', PatientName: '' })) {
        if (++seen === 3) break;
      }
    })();
    await stopped;
    assert.equal(seen, 3);
    assert.ok(cancelled, 'the peer got our C-CANCEL-RQ');
    const { error } = await client.association.whenClosed();
    assert.ok(error instanceof TimeoutError, `closed with ${String(error)}`);
    assert.match(error.message, /C-CANCEL-RQ/);
  } finally {
    if (flood !== undefined) clearInterval(flood);
    await listener.close();
  }
});
