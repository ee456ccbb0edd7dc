/**
 * `move` and `get` never ask the peer to cancel: a final response that leaves sub-operations
 * unperformed (Cancel FE00, or a remaining count above 0 in any final response) is not a
 * success. Exit 16 with the counts and what was not performed; a plain final Success exits 0.
 * For C-GET the completed sub-operations are C-STOREs to us: a peer counting more than reached
 * us is not a success either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

const tmp = tempDir('cli-move-undone-');
test.after(() => tmp.cleanup());

const STUDY_MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
const STUDY_GET = '1.2.840.10008.5.1.4.1.2.2.3';

/** Runs `args` against a peer that answers the retrieve with one Pending and then `final`. */
async function retrieveAgainst(args: readonly string[], sopClass: string, final: readonly (readonly [number, number])[]): Promise<CliResult> {
  const { port, connection, close } = await listenForScriptedPeer();
  try {
    const running = runCli([args[0]!, `127.0.0.1:${port}`, ...args.slice(1), '--no-tls', '--timeout', '30']);
    const peer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    const pc = rq.presentationContexts.find((c) => c.abstractSyntax === sopClass)!;
    peer.write(encodePdu({
      type: 'A-ASSOCIATE-AC', protocolVersion: 1, calledAeTitle: rq.calledAeTitle, callingAeTitle: rq.callingAeTitle,
      applicationContextName: rq.applicationContextName, userInformation: rq.userInformation,
      presentationContexts: rq.presentationContexts.map((c) => ({ id: c.id, result: c === pc ? 0 as const : 3 as const, transferSyntax: c.transferSyntaxes[0]! })),
    }));
    const first = (await peer.nextPdu())!;
    if (first.readUInt32BE(2) === first.readUInt32BE(6) + 4) await peer.nextPdu(); // the identifier
    const field = sopClass === STUDY_MOVE ? 0x8021 : 0x8010;
    const rsp = (fields: readonly (readonly [number, number])[]): Uint8Array =>
      rawPData(pc.id, true, true, rawCommandSet([[0x0002, sopClass], [0x0100, field], [0x0120, 1], [0x0800, 0x0101], ...fields]));
    peer.write(rsp([[0x0900, 0xff00], [0x1020, 5], [0x1021, 0], [0x1022, 0], [0x1023, 0]]));
    peer.write(rsp(final));
    for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
      if (pdu[0] === 0x05) peer.write(Uint8Array.of(0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0));
    }
    return await running;
  } finally {
    await close();
  }
}

const move = ['move', '--dest', 'ELSEWHERE', '-k', 'StudyInstanceUID=1.2.3'];

test('move: a final Cancel we never asked for exits 16, saying how many were not performed', { timeout: 60_000 }, async () => {
  const r = await retrieveAgainst(move, STUDY_MOVE, [[0x0900, 0xfe00], [0x1020, 3], [0x1021, 2], [0x1022, 0], [0x1023, 0]]);
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stdout, /^C-MOVE: completed 2, warnings 0, failed 0, not performed 3$/m);
  assert.match(r.stderr, /^error: the peer ended the C-MOVE with Cancel \(0xfe00\), 3 sub-operations not performed\. \[DICOM_ERR_PARTIAL\]$/m);
});

test('move: a final Success that counts sub-operations remaining exits 16', { timeout: 60_000 }, async () => {
  const r = await retrieveAgainst([...move, '--json'], STUDY_MOVE, [[0x0900, 0x0000], [0x1020, 4], [0x1021, 1], [0x1022, 0], [0x1023, 0]]);
  assert.equal(r.code, 16, r.stderr);
  const doc = JSON.parse(r.stdout) as { completed: number; notPerformed: number; outcome: string };
  assert.deepEqual([doc.outcome, doc.completed, doc.notPerformed], ['Success', 1, 4]);
});

test('move: a final Success with nothing remaining still exits 0', { timeout: 60_000 }, async () => {
  const r = await retrieveAgainst(move, STUDY_MOVE, [[0x0900, 0x0000], [0x1021, 5], [0x1022, 0], [0x1023, 0]]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^C-MOVE: completed 5, warnings 0, failed 0$/m);
});

test('get: a final Cancel we never asked for exits 16', { timeout: 60_000 }, async () => {
  const r = await retrieveAgainst(['get', '-k', 'StudyInstanceUID=1.2.3', '--out', tmp.dir], STUDY_GET, [[0x0900, 0xfe00], [0x1021, 0], [0x1022, 0], [0x1023, 0]]);
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stderr, /the peer ended the C-GET with Cancel \(0xfe00\), sub-operations not performed\. \[DICOM_ERR_PARTIAL\]/);
});

test('get: a final Success counting instances that never reached us exits 16', { timeout: 60_000 }, async () => {
  const r = await retrieveAgainst(['get', '-k', 'StudyInstanceUID=1.2.3', '--out', tmp.dir], STUDY_GET, [[0x0900, 0x0000], [0x1021, 3], [0x1022, 0], [0x1023, 0]]);
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stdout, /^0 instances written under /m);
  assert.match(r.stderr, /^error: the peer counts 3 sub-operations completed, but 0 instances reached us\. \[DICOM_ERR_PARTIAL\]$/m);
});
