/**
 * What a peer sends reaches people's terminals through find's table and the other lines for
 * people (a certificate's subject in diagnose, notes): its control characters are written as
 * escapes (escape-controls.ts), so a hostile SCP's ESC sequence (set the title, clear the screen)
 * does not drive the terminal, and a CR or LF in a Patient Name cannot forge a line ("error: …").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu, Pdu } from '../../src/ul/pdu/types.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { listenForScriptedPeer, type ScriptedPeer } from '../helpers/scripted-peer.js';
import { A_RELEASE_RP, rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { acFor } from '../ul/fixtures.js';
import { Output } from '../../src/cli/io.js';
import { Writable } from 'node:stream';

const HOSTILE = 'DOE\u001b]0;owned\u0007\u001b[2J\r\nerror: forged line [DICOM_ERR_INTERNAL]\u009b';
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** An implicit VR little endian data set of raw string elements (tag → value), sorted. */
function implicitDataset(elements: readonly (readonly [tag: number, value: string])[]): Buffer {
  return Buffer.concat([...elements].sort((a, b) => a[0] - b[0]).map(([tag, v]) => {
    const value = Buffer.from(v.length % 2 === 1 ? `${v} ` : v, 'latin1');
    const h = Buffer.alloc(8);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.writeUInt32LE(value.length, 4);
    return Buffer.concat([h, value]);
  }));
}

/** Accept every context in implicit VR LE, read the request, answer with `answer`, release. */
async function scripted(args: (port: number) => string[], answer: (pcId: number, messageId: number) => Uint8Array[]): Promise<CliResult> {
  const { port, connection, close } = await listenForScriptedPeer();
  try {
    const running = runCli(args(port));
    const peer: ScriptedPeer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    const implicit = TransferSyntax.ImplicitVrLittleEndian;
    peer.write(encodePdu({ ...acFor(rq), presentationContexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: pc.transferSyntaxes.includes(implicit) ? 0 : 4, transferSyntax: implicit })) as never }));
    let pcId = 0;
    let messageId = 0;
    for (let last = false; !last;) {
      const pdu = decodePdu((await peer.nextPdu())!) as Extract<Pdu, { type: 'P-DATA-TF' }>;
      for (const pdv of pdu.pdvs) {
        if (pdv.isCommand) {
          pcId = pdv.presentationContextId;
          const data = Buffer.from(pdv.data);
          messageId = data.readUInt16LE(data.indexOf(Buffer.from([0, 0, 0x10, 0x01])) + 8);
        } else if (pdv.isLast) last = true;
      }
    }
    for (const b of answer(pcId, messageId)) peer.write(b);
    for (;;) {
      const b = await peer.nextPdu();
      if (b === undefined || b[0] === 0x07) break;
      if (b[0] === 0x05) peer.write(A_RELEASE_RP);
    }
    return await running;
  } finally {
    await close();
  }
}

test("find: a match's control characters are escaped in the table, one line per match", { timeout: 60_000 }, async () => {
  const r = await scripted((port) => ['find', `127.0.0.1:${port}`, '--no-tls', '--timeout', '30', '-k', 'PatientName=*'], (pcId, id) => [
    rawPData(pcId, true, true, rawCommandSet([[0x0002, '1.2.840.10008.5.1.4.1.2.2.1'], [0x0100, 0x8020], [0x0120, id], [0x0800, 0x0000], [0x0900, 0xff00]])),
    rawPData(pcId, false, true, implicitDataset([[0x0008_0052, 'STUDY'], [0x0010_0010, HOSTILE]])),
    rawPData(pcId, true, true, rawCommandSet([[0x0002, '1.2.840.10008.5.1.4.1.2.2.1'], [0x0100, 0x8020], [0x0120, id], [0x0800, 0x0101], [0x0900, 0x0000]])),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, CONTROLS, JSON.stringify(r.stdout));
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual([lines.length, lines[3]], [4, '1 match'], r.stdout);
  assert.ok(lines[2]!.includes('DOE\\u001b]0;owned\\u0007\\u001b[2J\\r\\nerror: forged line'), lines[2]);
});

test('every line for people (line, note, debug) escapes control characters but its line breaks: a CR cannot overwrite it', () => {
  // A multi-line text (a table) keeps its breaks; a cell of it is escaped whole by table().
  const hostile = HOSTILE.replace('\n', '');
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => new Writable({ write(chunk: Buffer, _e, cb) { add(chunk.toString()); cb(); } });
  const io = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), stdin: process.stdin, env: {}, cwd: '.' };
  const out = new Output(io, { verbose: true });
  out.line(`subject CN=${hostile}\nsecond line`);
  out.note(`note ${hostile}`);
  out.debug(`debug ${hostile}`);
  assert.doesNotMatch(stdout + stderr, CONTROLS, JSON.stringify(stdout + stderr));
  assert.deepEqual(stdout.split('\n').map((l) => l.slice(0, 11)), ['subject CN=', 'second line', '']);
  assert.equal(stderr.split('\n').length, 3, stderr);
});
