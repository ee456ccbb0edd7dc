/**
 * A response's Affected SOP Class UID and Affected SOP Instance UID are "U(=)" (PS3.7 9.3, 10.3):
 * when present they equal the request's. A response naming another class or instance is not
 * taken as the request's outcome: the request fails with ResponseMismatchError (the response
 * kept). A final one leaves the association usable; a Pending one aborts it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { ResponseMismatchError } from '../../src/ae/errors.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer, type ScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { acFor } from '../ul/fixtures.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const implicit = [TransferSyntax.ImplicitVrLittleEndian];

async function associated(abstractSyntaxes: readonly string[]): Promise<{ client: DicomClient; peer: ScriptedPeer; close(): Promise<void> }> {
  const { port, connection, close } = await listenForScriptedPeer();
  const associating = DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'PEER',
    presentationContexts: abstractSyntaxes.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: implicit })),
    timeouts: { connect: 10_000, association: 600_000, dimse: 600_000 },
  });
  const peer = await connection;
  const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
  peer.write(encodePdu(acFor(rq)));
  return { client: await associating, peer, close };
}

/** The next message's command PDU (the data set PDUs, if any, are read and dropped). */
async function nextCommand(peer: ScriptedPeer, withDataset: boolean): Promise<Buffer> {
  const pdu = (await peer.nextPdu())!;
  assert.equal(pdu[0], 0x04, 'a P-DATA-TF');
  // The data set follows in a P-DATA-TF of its own unless it rode in this one, after the command's PDV.
  if (withDataset && pdu.readUInt32BE(2) === pdu.readUInt32BE(6) + 4) await peer.nextPdu();
  return pdu;
}

function echoRsp(messageId: number, sopClass: string): Uint8Array {
  return rawPData(1, true, true, rawCommandSet([[0x0002, sopClass], [0x0100, 0x8030], [0x0120, messageId], [0x0800, 0x0101], [0x0900, 0x0000]]));
}

test('a C-ECHO-RSP naming another SOP class fails the echo; the association stays usable', { timeout: 60_000 }, async () => {
  const { client, peer, close } = await associated([VerificationSopClass]);
  try {
    const first = client.echo();
    await nextCommand(peer, false);
    peer.write(echoRsp(1, CT));
    const e = await first.then(() => assert.fail('a mismatched C-ECHO-RSP was taken as success'), (err: unknown) => err);
    assert.ok(e instanceof ResponseMismatchError, String(e));
    assert.equal(e.code, 'DICOM_ERR_DIMSE_RESPONSE_MISMATCH');
    assert.equal(e.field, 'affectedSopClassUid');
    assert.equal(e.expected, VerificationSopClass);
    assert.equal(e.received, CT);
    assert.equal(e.response.status, 0);
    assert.equal(client.association.isClosed, false);
    // The next request on the same association is answered and matched as usual.
    const second = client.echo();
    await nextCommand(peer, false);
    peer.write(echoRsp(2, VerificationSopClass));
    assert.equal((await second).status, 0);
    // Present but empty (some peers send the element with no value) names nothing: no mismatch.
    const third = client.echo();
    await nextCommand(peer, false);
    peer.write(echoRsp(3, ''));
    assert.equal((await third).status, 0);
  } finally {
    await client.abort();
    await close();
  }
});

test('a C-STORE-RSP naming another SOP instance fails that instance, and the next is stored', { timeout: 60_000 }, async () => {
  const { client, peer, close } = await associated([CT]);
  try {
    const dataset = (): AsyncIterable<Uint8Array> => (async function* () { yield Uint8Array.of(0x08, 0, 0x18, 0, 4, 0, 0, 0, 0x31, 0x2e, 0x32, 0); })();
    const storing = client.store([
      { sopClassUid: CT, sopInstanceUid: '1.2.3.1', transferSyntaxUid: implicit[0]!, dataset: dataset() },
      { sopClassUid: CT, sopInstanceUid: '1.2.3.2', transferSyntaxUid: implicit[0]!, dataset: dataset() },
    ]);
    for (const [id, named] of [[1, '1.2.3.999'], [2, '1.2.3.2']] as const) {
      await nextCommand(peer, true);
      peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, CT], [0x0100, 0x8001], [0x0120, id], [0x0800, 0x0101], [0x0900, 0x0000], [0x1000, named]])));
    }
    const [wrong, right] = await storing;
    assert.equal(wrong!.outcome, 'Failure');
    assert.ok(wrong!.error instanceof ResponseMismatchError, String(wrong!.error));
    assert.equal((wrong!.error as ResponseMismatchError).field, 'affectedSopInstanceUid');
    assert.equal(right!.outcome, 'Success');
  } finally {
    await client.abort();
    await close();
  }
});

test('a Pending C-FIND-RSP naming another SOP class fails the find and aborts the association', { timeout: 60_000 }, async () => {
  const { client, peer, close } = await associated([STUDY_FIND]);
  try {
    const matches = (async () => {
      const got = [];
      for await (const m of client.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', PatientName: '' })) got.push(m);
      return got;
    })();
    await nextCommand(peer, true);
    peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, CT], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0000], [0x0900, 0xff00]])));
    peer.write(rawPData(1, false, true, Uint8Array.of(0x10, 0, 0x10, 0, 4, 0, 0, 0, 0x58, 0x5e, 0x59, 0x20)));
    await assert.rejects(matches, (e: unknown) => e instanceof ResponseMismatchError && e.field === 'affectedSopClassUid');
    assert.equal((await peer.nextPdu())?.[0], 0x07, 'the peer got the A-ABORT');
    await client.association.whenClosed();
  } finally {
    await close();
  }
});
