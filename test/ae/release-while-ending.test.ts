/**
 * release() and request() on an association that is already ending: no A-RELEASE-RQ or P-DATA is
 * valid then (PS3.8 Table 9-10 has no action for Evt11 or Evt9 in Sta13). A requestor that aborted
 * at a peer's protocol error (a second response to an answered request) reports that error; one
 * whose peer asked for the release first ends released. Neither is an internal state-machine
 * error (DICOM_ERR_UL_INVALID_EVENT, the CLI's exit 1 "a bug").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer, type ScriptedPeer } from '../helpers/scripted-peer.js';
import { A_RELEASE_RQ, rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { hangGuard } from '../helpers/hang-guard.js';
import { acFor } from '../ul/fixtures.js';

async function associated(): Promise<{ client: DicomClient; peer: ScriptedPeer; close(): Promise<void> }> {
  const { port, connection, close } = await listenForScriptedPeer();
  const associating = DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'PEER',
    presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
    timeouts: { connect: 10_000, association: 600_000, dimse: 600_000 },
  });
  const peer = await connection;
  const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
  peer.write(encodePdu(acFor(rq)));
  return { client: await associating, peer, close };
}

const echoRsp = (messageId: number): Uint8Array =>
  rawPData(1, true, true, rawCommandSet([[0x0002, VerificationSopClass], [0x0100, 0x8030], [0x0120, messageId], [0x0800, 0x0101], [0x0900, 0x0000]]));

test('after our abort at a second response, release() and a new request fail with that protocol error, not an invalid event', { timeout: 120_000 }, async () => {
  const { client, peer, close } = await associated();
  try {
    const echo = client.echo();
    assert.equal((await peer.nextPdu())?.[0], 0x04);
    // Both responses in one P-DATA-TF: the second is read (and we abort, Sta13) before the
    // echo's caller runs again, as when a CLI command releases right after its answer.
    const rsp = Buffer.from(echoRsp(1)).subarray(6);
    const both = Buffer.concat([Buffer.from([0x04, 0, 0, 0, 0, 0]), rsp, rsp]);
    both.writeUInt32BE(both.length - 6, 2);
    peer.write(both);
    assert.equal((await echo).status, 0);
    assert.equal(client.association.upperLayer.state, 'Sta13');
    const again = await client.echo().then(() => assert.fail('a request on an aborted association succeeded'), (e: unknown) => e as { code?: string });
    assert.equal(again.code, 'DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE', String(again));
    const e = await hangGuard(client.release(), 'release() on an aborting association').then(
      () => assert.fail('release() of an aborted association resolved'),
      (err: unknown) => err as { code?: string },
    );
    assert.equal(e.code, 'DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE', String(e));
    assert.equal((await peer.nextPdu())?.[0], 0x07, 'an A-ABORT reached the peer');
  } finally {
    await close();
  }
});

test("after the peer's A-RELEASE-RQ was answered, release() resolves with the association released", { timeout: 120_000 }, async () => {
  const { client, peer, close } = await associated();
  try {
    peer.write(A_RELEASE_RQ);
    assert.equal((await peer.nextPdu())?.[0], 0x06, 'our A-RELEASE-RP');
    const released = hangGuard(client.release(), 'release() after the peer released');
    peer.socket.end();
    await released;
    assert.equal((await client.association.whenClosed()).error, undefined);
  } finally {
    await close();
  }
});

test("the peer's A-RELEASE-RQ while our request is unanswered: the request fails at once (the peer can send no more P-DATA), the release is answered", { timeout: 120_000 }, async () => {
  const { client, peer, close } = await associated();
  try {
    const echo = client.echo();
    assert.equal((await peer.nextPdu())?.[0], 0x04);
    peer.write(A_RELEASE_RQ);
    const e = await hangGuard(echo.then(() => assert.fail('the echo succeeded'), (err: unknown) => err as { code?: string; message?: string }), 'the echo after the peer released');
    assert.equal(e.code, 'DICOM_ERR_ASSOCIATION_CLOSED', String(e.message));
    assert.match(String(e.message), /release/);
    assert.equal((await peer.nextPdu())?.[0], 0x06, 'our A-RELEASE-RP');
  } finally {
    await close();
  }
});
