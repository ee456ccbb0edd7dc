/**
 * A peer that follows its A-ASSOCIATE-AC with something that is no PDU makes our upper layer
 * abort (PS3.8 Table 9-10 Sta6/Evt19 → AA-8: A-ABORT sent, Sta13 until the peer closes). A
 * request made after that (the SCU's C-ECHO-RQ, sent as soon as the AC was read) must fail with
 * the reason of that abort, not with the state machine's "Evt9 is not valid in Sta13", which
 * reads as our own bug (DICOM_ERR_UL_INVALID_EVENT, the CLI's "internal error" exit code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VerificationSopClass } from '../../src/dictionary/uids.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { PduDecodeError } from '../../src/ul/errors.js';
import { AssociationAbortedError } from '../../src/ul/upper-layer-errors.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { proposeToScriptedPeer } from '../helpers/scripted-association.js';
import { acFor } from '../ul/fixtures.js';

for (const [name, junk] of [
  ['an unknown PDU type', Buffer.from('ff000000000461626364', 'hex')],
  ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
] as const) {
  test(`${name} right after the A-ASSOCIATE-AC: the next request fails with the provider abort`, { timeout: 60_000 }, async () => {
    const listener = await listenForScriptedPeer();
    try {
      const { associating, peer, rq } = await proposeToScriptedPeer(listener, {
        calledAeTitle: 'HOSTILE', abstractSyntax: VerificationSopClass, timeouts: { connect: 10_000, association: 600_000, dimse: 0 },
      });
      // The AC and the junk in one write: the client reads both before it sends anything.
      peer.write(Buffer.concat([encodePdu(acFor(rq)), junk]));
      const client = await associating.catch((e: unknown) => e as Error);
      if (client instanceof Error) {
        // Read together with the AC, the junk may end the association before it is handed out.
        assert.ok(client instanceof PduDecodeError || client instanceof AssociationAbortedError, `associate failed with ${String(client)}`);
        return;
      }
      assert.equal((await peer.nextPdu())?.[0], 0x07, 'we abort at the junk');
      const echo = client.association.request({ type: 'C-ECHO-RQ', affectedSopClassUid: VerificationSopClass }, { timeout: 0 });
      const error = await echo.response.then(() => undefined, (e: unknown) => e);
      // The reason the upper layer aborted: the PDU it could not decode.
      assert.ok(error instanceof PduDecodeError, `request failed with ${String(error)}`);
      assert.doesNotMatch(error.message, /Evt9|Sta13/);
      await assert.rejects(client.release(), (e: unknown) => e === error);
      peer.socket.destroy();
      const closed = await client.association.whenClosed();
      assert.equal(closed.error, error, 'the association closes with the same reason');
    } finally {
      await listener.close();
    }
  });
}
