/**
 * A response that does not match its request, against a scripted peer:
 * - a final response with the request's Message ID that names another SOP class or instance
 *   (PS3.7 9.3, 10.3: U(=)) is the peer's error in an exchange that is complete: every command
 *   (echo, find, move, get, store) reports it (exit 14, DICOM_ERR_DIMSE_RESPONSE_MISMATCH for the
 *   single-request ones) and still releases the association (A-RELEASE-RQ, not A-ABORT);
 * - a response answering a Message ID we never used breaks the protocol (nothing says which
 *   request it answers, or whether ours will still come): A-ABORT, exit 14 with
 *   DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE, as DCMTK's echoscu does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu, Pdu } from '../../src/ul/pdu/types.js';
import { commandHasDataset, decodeCommand, type DimseCommand } from '../../src/dimse/messages.js';
import { listenForScriptedPeer, type ScriptedPeer } from '../helpers/scripted-peer.js';
import { A_RELEASE_RP, rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { oneSentenceError, runCli } from '../helpers/cli.js';
import { IMPLICIT_LE, spec, writeInstance } from '../helpers/services.js';
import { acFor } from '../ul/fixtures.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const OTHER_CLASS = '1.2.840.10008.5.1.4.1.1.7';

/** The next request the CLI sends: its command and context (its data set fragments read and dropped). */
async function nextRequest(peer: ScriptedPeer): Promise<{ command: DimseCommand; pcId: number }> {
  let command: DimseCommand | undefined;
  let pcId = 0;
  let parts: Buffer[] = [];
  for (;;) {
    const b = await peer.nextPdu();
    assert.ok(b !== undefined, 'the CLI closed before its request');
    const pdu = decodePdu(b) as Pdu;
    assert.equal(pdu.type, 'P-DATA-TF');
    for (const pdv of (pdu as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs) {
      if (pdv.isCommand) {
        parts.push(Buffer.from(pdv.data));
        if (pdv.isLast) {
          command = decodeCommand(Buffer.concat(parts));
          pcId = pdv.presentationContextId;
          parts = [];
          if (!commandHasDataset(command)) return { command, pcId };
        }
      } else if (pdv.isLast && command !== undefined) return { command, pcId };
    }
  }
}

/** How the CLI ended the association after the scripted response: 'release' or 'abort'. */
async function ending(peer: ScriptedPeer): Promise<string> {
  const b = await peer.nextPdu();
  if (b === undefined) return 'closed';
  const type = decodePdu(b).type;
  if (type === 'A-RELEASE-RQ') {
    peer.write(A_RELEASE_RP);
    return 'release';
  }
  return type === 'A-ABORT' ? 'abort' : type;
}

async function scripted(args: (port: number) => string[], answer: (rq: DimseCommand) => [number, string | number][]): Promise<{ r: Awaited<ReturnType<typeof runCli>>; end: string }> {
  const { port, connection, close } = await listenForScriptedPeer();
  try {
    const running = runCli(args(port));
    const peer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    // Every context accepted in the first syntax proposed (a C-GET proposes compressed-only ones too).
    peer.write(encodePdu({ ...acFor(rq), presentationContexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: 0, transferSyntax: pc.transferSyntaxes[0]! })) as never }));
    const { command, pcId } = await nextRequest(peer);
    peer.write(rawPData(pcId, true, true, rawCommandSet(answer(command))));
    const end = await ending(peer);
    return { r: await running, end };
  } finally {
    await close();
  }
}

const messageId = (c: DimseCommand): number => (c as { messageId: number }).messageId;

test('echo: a C-ECHO-RSP naming another SOP class exits 14 with DICOM_ERR_DIMSE_RESPONSE_MISMATCH, and the association is released', { timeout: 60_000 }, async () => {
  const { r, end } = await scripted((port) => ['echo', `127.0.0.1:${port}`, '--no-tls', '--timeout', '30'],
    (c) => [[0x0002, CT], [0x0100, 0x8030], [0x0120, messageId(c)], [0x0800, 0x0101], [0x0900, 0x0000]]);
  assert.equal(r.code, 14, r.stderr);
  const { code, sentence } = oneSentenceError(r);
  assert.equal(code, 'DICOM_ERR_DIMSE_RESPONSE_MISMATCH');
  assert.match(sentence, /Affected SOP Class UID 1\.2\.840\.10008\.5\.1\.4\.1\.1\.2, not the request's 1\.2\.840\.10008\.1\.1/);
  assert.equal(r.stdout, '');
  assert.equal(end, 'release');
});

test('echo: a C-ECHO-RSP answering a Message ID never used is a protocol violation: A-ABORT, exit 14 with DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE', { timeout: 60_000 }, async () => {
  const { r, end } = await scripted((port) => ['echo', `127.0.0.1:${port}`, '--no-tls', '--timeout', '30'],
    (c) => [[0x0002, '1.2.840.10008.1.1'], [0x0100, 0x8030], [0x0120, (messageId(c) + 7) & 0xffff], [0x0800, 0x0101], [0x0900, 0x0000]]);
  assert.equal(r.code, 14, r.stderr);
  assert.equal(oneSentenceError(r).code, 'DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE');
  assert.equal(end, 'abort');
});

test('find: a final C-FIND-RSP naming another SOP class is reported and the association released', { timeout: 60_000 }, async () => {
  const { r, end } = await scripted((port) => ['find', `127.0.0.1:${port}`, '--no-tls', '--timeout', '30', '-k', 'PatientID=1'],
    (c) => [[0x0002, OTHER_CLASS], [0x0100, 0x8020], [0x0120, messageId(c)], [0x0800, 0x0101], [0x0900, 0x0000]]);
  assert.equal(r.code, 14, r.stderr);
  assert.equal(oneSentenceError(r).code, 'DICOM_ERR_DIMSE_RESPONSE_MISMATCH');
  assert.equal(end, 'release');
});

for (const verb of ['move', 'get'] as const) {
  test(`${verb}: a final C-${verb.toUpperCase()}-RSP naming another SOP class is reported and the association released`, { timeout: 60_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'mismatch-'));
    try {
      const { r, end } = await scripted(
        (port) => [verb, `127.0.0.1:${port}`, '--no-tls', '--timeout', '30', '-k', 'StudyInstanceUID=1.2.3', ...(verb === 'move' ? ['--dest', 'ELSEWHERE'] : ['--out', out])],
        (c) => [[0x0002, OTHER_CLASS], [0x0100, verb === 'move' ? 0x8021 : 0x8010], [0x0120, messageId(c)], [0x0800, 0x0101], [0x0900, 0x0000], [0x1021, 0], [0x1022, 0], [0x1023, 0]]);
      assert.equal(r.code, 14, r.stderr);
      assert.equal(oneSentenceError(r).code, 'DICOM_ERR_DIMSE_RESPONSE_MISMATCH');
      assert.equal(end, 'release');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test('store: a C-STORE-RSP naming another SOP instance fails that file, and the association is released', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mismatch-store-'));
  try {
    const { path: file } = await writeInstance(dir, spec(1), { ts: IMPLICIT_LE });
    const { r, end } = await scripted((port) => ['store', `127.0.0.1:${port}`, '--no-tls', '--timeout', '30', file],
      (c) => [[0x0002, CT], [0x0100, 0x8001], [0x0120, messageId(c)], [0x0800, 0x0101], [0x0900, 0x0000], [0x1000, '1.2.3.4.5.6.7']]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /1\.2\.3\.4\.5\.6\.7/);
    assert.equal(end, 'release');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
