/**
 * `echo` against a peer whose C-ECHO-RSP names another SOP class (PS3.7 9.3.5.2: the response's
 * Affected SOP Class UID equals the request's): not a success, but exit 14 with
 * DICOM_ERR_DIMSE_RESPONSE_MISMATCH, in one sentence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { oneSentenceError, runCli } from '../helpers/cli.js';
import { acFor } from '../ul/fixtures.js';

test('echo: a C-ECHO-RSP naming another SOP class exits 14 with DICOM_ERR_DIMSE_RESPONSE_MISMATCH', { timeout: 60_000 }, async () => {
  const { port, connection, close } = await listenForScriptedPeer();
  try {
    const running = runCli(['echo', `127.0.0.1:${port}`, '--no-tls', '--timeout', '30']);
    const peer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    peer.write(encodePdu(acFor(rq)));
    assert.equal((await peer.nextPdu())?.[0], 0x04, 'the C-ECHO-RQ');
    peer.write(rawPData(rq.presentationContexts[0]!.id, true, true,
      rawCommandSet([[0x0002, '1.2.840.10008.5.1.4.1.1.2'], [0x0100, 0x8030], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0x0000]])));
    const r = await running;
    assert.equal(r.code, 14, r.stderr);
    const { code, sentence } = oneSentenceError(r);
    assert.equal(code, 'DICOM_ERR_DIMSE_RESPONSE_MISMATCH');
    assert.match(sentence, /Affected SOP Class UID 1\.2\.840\.10008\.5\.1\.4\.1\.1\.2, not the request's 1\.2\.840\.10008\.1\.1/);
    assert.equal(r.stdout, '');
  } finally {
    await close();
  }
});
