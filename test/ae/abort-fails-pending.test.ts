/**
 * Our own A-ABORT ends what is outstanding at once, and the requestor closes the connection right
 * after it rather than waiting in Sta13 for the peer to close (at most ARTIM, PS3.8 9.2.3): a
 * peer that keeps the connection open must not hold our pending requests, `abort()`, and whoever
 * awaits them, for that long.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VerificationSopClass } from '../../src/dictionary/uids.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { proposeToScriptedPeer } from '../helpers/scripted-association.js';
import { acFor } from '../ul/fixtures.js';

test('a request outstanding when we abort fails at once, though the peer never closes the connection (ARTIM far away)', { timeout: 60_000 }, async () => {
  const listener = await listenForScriptedPeer();
  try {
    const { associating, peer, rq } = await proposeToScriptedPeer(listener, {
      calledAeTitle: 'SILENT', abstractSyntax: VerificationSopClass,
      // ARTIM (the association timeout) ten minutes: longer than the hang guard above.
      timeouts: { connect: 10_000, association: 600_000, dimse: 0 },
    });
    peer.write(encodePdu(acFor(rq)));
    const client = await associating;
    const echo = client.association.request({ type: 'C-ECHO-RQ', affectedSopClassUid: VerificationSopClass }, { timeout: 0 });
    assert.equal((await peer.nextPdu())?.[0], 0x04, 'the C-ECHO-RQ reached the peer');
    const aborted = client.association.abort();
    await assert.rejects(echo.response, /abort/i);
    assert.equal((await peer.nextPdu())?.[0], 0x07, 'the peer got the A-ABORT');
    // The peer never lets go: our side closes the connection itself, and abort() resolves.
    await peer.ended();
    await aborted;
    assert.equal(client.association.isClosed, true);
  } finally {
    await listener.close();
  }
});
