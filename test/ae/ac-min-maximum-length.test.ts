/**
 * The requestor's floor for the acceptor's Maximum Length, as the acceptor has one for the
 * requestor's (minPeerMaximumLength, default 256): an A-ASSOCIATE-AC announcing 8 (two data bytes
 * per P-DATA-TF) made our SCU hold ~150 bytes of PDV objects per two bytes of data, 600 MB for a
 * 4 MB instance. Now the association is aborted with a NegotiationError (the CLI's exit 13);
 * a user who must talk to such a peer lowers the floor, and the fragments are made a slice at a
 * time (fragmenter.ts MAX_FRAGMENTS_AT_ONCE).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { InvalidOptionError } from '../../src/errors.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { acFor } from '../ul/fixtures.js';

async function associateWithAcMaximum(maximumLength: number, minPeerMaximumLength?: number): Promise<{ client?: DicomClient; error?: { code?: string; message?: string }; abortSeen: boolean }> {
  const { port, connection, close } = await listenForScriptedPeer();
  try {
    const associating = DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'PEER',
      presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
      ...(minPeerMaximumLength === undefined ? {} : { minPeerMaximumLength }),
      timeouts: { connect: 10_000, association: 600_000, dimse: 600_000 },
    }).then(
      (client): { client?: DicomClient; error?: { code?: string; message?: string } } => ({ client }),
      (error: unknown): { client?: DicomClient; error?: { code?: string; message?: string } } => ({ error: error as { code?: string; message?: string } }),
    );
    const peer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    peer.write(encodePdu(acFor(rq, maximumLength)));
    const r = await associating;
    if (r.client !== undefined) {
      // Usable: an echo goes out in PDUs of the announced size and is answered.
      const echo = r.client.echo();
      // The command's PDUs, each within the announced length, up to the last fragment.
      for (let pdu = await peer.nextPdu(); ; pdu = await peer.nextPdu()) {
        assert.equal(pdu?.[0], 0x04);
        if (maximumLength > 0) assert.ok(pdu!.length - 6 <= maximumLength, `a P-DATA-TF of ${pdu!.length - 6} bytes`);
        if ((pdu![11]! & 2) !== 0) break;
      }
      peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, VerificationSopClass], [0x0100, 0x8030], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0x0000]])));
      assert.equal((await echo).status, 0);
      await r.client.abort();
      return { client: r.client, abortSeen: false };
    }
    return { error: r.error!, abortSeen: (await peer.nextPdu())?.[0] === 0x07 };
  } finally {
    await close();
  }
}

test("an A-ASSOCIATE-AC whose Maximum Length is under the floor (8 < 256) is a NegotiationError: the requestor aborts", { timeout: 120_000 }, async () => {
  const r = await associateWithAcMaximum(8);
  assert.equal(r.error?.code, 'DICOM_ERR_NEGOTIATION', String(r.error?.message));
  assert.match(String(r.error?.message), /maximum length 8 is below the 256/);
  assert.equal(r.abortSeen, true);
});

test('at the floor, and with no limit (0), the association is made', { timeout: 120_000 }, async () => {
  assert.ok((await associateWithAcMaximum(256)).client !== undefined);
  assert.ok((await associateWithAcMaximum(0)).client !== undefined);
});

test('minPeerMaximumLength lowers the floor (7 at least)', { timeout: 120_000 }, async () => {
  assert.ok((await associateWithAcMaximum(8, 8)).client !== undefined);
  await assert.rejects(
    DicomClient.associate({ host: '127.0.0.1', port: 1, callingAeTitle: 'SCU', calledAeTitle: 'PEER', minPeerMaximumLength: 6 }),
    (e: unknown) => e instanceof InvalidOptionError && /minPeerMaximumLength/.test(e.message),
  );
});
