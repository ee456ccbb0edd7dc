/**
 * A requestor that aborts because of its peer (an unrecognised PDU: AA-8, an A-ABORT with the
 * service-provider source) also closes the connection right after its A-ABORT, as after its own
 * abort: a peer that keeps the connection open does not hold the association until ARTIM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { acFor } from '../ul/fixtures.js';

test('an unrecognised PDU: A-ABORT (provider source), then our close, though the peer never closes (ARTIM far away)', { timeout: 60_000 }, async () => {
  const { port, connection, close } = await listenForScriptedPeer();
  try {
    const associating = DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ODD',
      presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
      // ARTIM (the association timeout) ten minutes: longer than the hang guard above.
      timeouts: { connect: 10_000, association: 600_000, dimse: 0 },
    });
    const peer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    peer.write(encodePdu(acFor(rq)));
    const client = await associating;
    // PDU type 0x0A does not exist (PS3.8 9.3.1): Evt19.
    peer.write(Uint8Array.of(0x0a, 0, 0, 0, 0, 2, 0, 0));
    const abort = (await peer.nextPdu())!;
    assert.equal(abort[0], 0x07, 'the peer got an A-ABORT');
    assert.equal(abort[8], 2, 'service-provider source');
    await peer.ended();
    const { error } = await client.association.whenClosed();
    assert.match(String(error), /unrecognized PDU type 0x0a/);
  } finally {
    await close();
  }
});
