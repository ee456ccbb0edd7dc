/**
 * Pending (FF00, FF01) is a status of C-FIND, C-GET and C-MOVE responses only (PS3.4 C.4,
 * PS3.7 9.1.2.1.6): a C-ECHO-RSP or C-STORE-RSP with it is a protocol violation. It was
 * taken as "more to come" and the request waited for the DIMSE timeout; now the association is
 * aborted at once and the request fails with DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer, type ScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { hangGuard } from '../helpers/hang-guard.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';
import { acFor } from '../ul/fixtures.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';

async function associated(abstractSyntax: string): Promise<{ client: DicomClient; peer: ScriptedPeer; close(): Promise<void> }> {
  const { port, connection, close } = await listenForScriptedPeer();
  const associating = DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'PEER',
    presentationContexts: [{ abstractSyntax, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
    // Far beyond the hang guard: only the fix can end the request.
    timeouts: { connect: 10_000, association: 600_000, dimse: 600_000 },
  });
  const peer = await connection;
  const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
  peer.write(encodePdu(acFor(rq)));
  return { client: await associating, peer, close };
}

/** Reads P-DATA-TF PDUs up to the last fragment of a message with or without a data set. */
async function readRequest(peer: ScriptedPeer, withDataset: boolean): Promise<void> {
  for (;;) {
    const pdu = (await peer.nextPdu())!;
    assert.equal(pdu[0], 0x04);
    // The last PDV's message control header: bit 0 command, bit 1 last.
    let o = 6;
    let mch = 0;
    while (o < pdu.length) {
      mch = pdu[o + 5]!;
      o += 4 + pdu.readUInt32BE(o);
    }
    if ((mch & 2) !== 0 && ((mch & 1) === 0) === withDataset) return;
  }
}

test('a C-ECHO-RSP with a Pending status aborts the association at once: the echo fails, it does not wait for the DIMSE timeout', { timeout: 120_000 }, async () => {
  const { client, peer, close } = await associated(VerificationSopClass);
  try {
    const echo = client.echo();
    await readRequest(peer, false);
    peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, VerificationSopClass], [0x0100, 0x8030], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0xff00]])));
    const e = await hangGuard(echo.then(() => assert.fail('a Pending C-ECHO-RSP was taken'), (err: unknown) => err as { code?: string }), 'the echo after a Pending C-ECHO-RSP', 60_000);
    assert.equal(e.code, 'DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE', String(e));
    assert.equal((await peer.nextPdu())?.[0], 0x07, 'A-ABORT');
  } finally {
    await close();
  }
});

test('a C-STORE-RSP with a Pending status (FF01) fails that instance with DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE, at once', { timeout: 120_000 }, async () => {
  const { dir, remove } = await tempDir('pending-store');
  const { client, peer, close } = await associated(CT);
  try {
    await mkdir(join(dir, 'in'));
    const s = spec(1);
    const { path } = await writeInstance(join(dir, 'in'), s, { ts: TransferSyntax.ImplicitVrLittleEndian });
    const storing = client.store([path]);
    await readRequest(peer, true);
    peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, CT], [0x0100, 0x8001], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0xff01], [0x1000, s.SOPInstanceUID]])));
    const outcome = await hangGuard(storing.then((r) => r, (err: unknown) => err), 'the store after a Pending C-STORE-RSP', 60_000);
    const code = Array.isArray(outcome) ? (outcome[0] as { error?: { code?: string } }).error?.code : (outcome as { code?: string }).code;
    assert.equal(code, 'DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE', JSON.stringify(outcome));
  } finally {
    await close();
    await remove();
  }
});
