/**
 * `find` collects the matches to print them as one table or JSON array: a peer sending Pending
 * responses without end would fill memory. It stops after --max-matches (default 50 000) with a
 * C-CANCEL-RQ, as findscu's --cancel does, or once the matches total --max-match-bytes (default
 * 128 MiB), and prints what it got with a note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { ScriptedPeer, scriptedServer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CLI, runCli } from '../helpers/cli.js';
import { hangGuard } from '../helpers/hang-guard.js';
import { acFor } from '../ul/fixtures.js';

/** A scripted C-FIND SCP: accepts the association, then hands each peer, its context id and the find SOP class to `run`. */
function scriptedFindScp(run: (peer: ScriptedPeer, pcId: number, sop: string) => Promise<void>): Promise<{ port: number; close(): Promise<void> }> {
  return scriptedServer(async (peer) => {
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    // acFor accepts implicit VR little endian: the identifiers are in it.
    peer.write(encodePdu(acFor(rq)));
    await run(peer, rq.presentationContexts[0]!.id, '1.2.840.10008.5.1.4.1.2.2.1');
  });
}

/** A C-FIND SCP sending Pending responses with `identifier` without end until a C-CANCEL-RQ, then Cancel. */
async function endlessMatches(identifier: Uint8Array): Promise<{ port: number; cancelled(): boolean; close(): Promise<void> }> {
  let cancelled = false;
  const scp = await scriptedFindScp(async (peer, pcId, sop) => {
    const pending = Buffer.concat([
      rawPData(pcId, true, true, rawCommandSet([[0x0002, sop], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0000], [0x0900, 0xff00]])),
      ...Array.from({ length: Math.ceil(identifier.length / 16000) }, (_, i) =>
        rawPData(pcId, false, (i + 1) * 16000 >= identifier.length, identifier.subarray(i * 16000, (i + 1) * 16000))),
    ]);
    const flood = setInterval(() => { if (peer.socket.writableLength < 4_000_000) peer.write(pending); }, 5);
    for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
      if (pdu.includes(Buffer.from([0, 0, 0, 1, 2, 0, 0, 0, 0xff, 0x0f]))) {
        // C-CANCEL-RQ: the final response, Cancel (FE00).
        cancelled = true;
        clearInterval(flood);
        peer.write(rawPData(pcId, true, true, rawCommandSet([[0x0002, sop], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0xfe00]])));
      }
      if (pdu[0] === 0x05) peer.write(Uint8Array.of(0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0));
      if (pdu[0] === 0x07) break;
    }
    clearInterval(flood);
  });
  return { port: scp.port, cancelled: () => cancelled, close: () => scp.close() };
}

/** (0010,0010) Patient's Name of `length` bytes, implicit VR little endian. */
function largeName(length: number): Buffer {
  const identifier = Buffer.alloc(8 + length, 0x41);
  identifier.set([0x10, 0, 0x10, 0]);
  identifier.writeUInt32LE(length, 4);
  return identifier;
}

/** (0010,0010) Patient's Name `name`, padded to even length, implicit VR little endian. */
function nameElement(name: string): Buffer {
  const value = name.length % 2 === 1 ? `${name} ` : name;
  const element = largeName(value.length);
  element.write(value, 8, 'latin1');
  return element;
}

test('find against a peer whose matches never end: stops at --max-matches with C-CANCEL-RQ and prints them', { timeout: 120_000 }, async () => {
  const peer = await endlessMatches(Uint8Array.of(0x10, 0, 0x10, 0, 4, 0, 0, 0, 0x58, 0x5e, 0x59, 0x20));
  try {
    const r = await runCli(['find', `127.0.0.1:${peer.port}`, '--no-tls', '-k', 'PatientName', '--max-matches', '3', '--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(peer.cancelled(), 'the peer got a C-CANCEL-RQ');
    assert.match(r.stdout, /^3 matches$/m);
    assert.match(r.stderr, /stopped after 3 matches/);
  } finally {
    await peer.close();
  }
});

test('find against a peer whose matches are large: stops once they total --max-match-bytes, with C-CANCEL-RQ, and prints them', { timeout: 120_000 }, async () => {
  // 100 008 bytes a match: the tenth reaches 1 000 000.
  const peer = await endlessMatches(largeName(100_000));
  try {
    const r = await runCli(['find', `127.0.0.1:${peer.port}`, '--no-tls', '-k', 'PatientName', '--max-match-bytes', '1000000', '--timeout', '30', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped after 10 matches of 1000080 bytes in all \(--max-match-bytes 1000000\)/);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 10);
    assert.ok(peer.cancelled(), 'the peer got a C-CANCEL-RQ');
  } finally {
    await peer.close();
  }
});

test('find: output larger than a pipe holds reaches the pipe whole before the process exits (table and --json)', { timeout: 120_000 }, async () => {
  const peer = await endlessMatches(largeName(50_000));
  try {
    const table = await runCli(['find', `127.0.0.1:${peer.port}`, '--no-tls', '-k', 'PatientName', '--max-matches', '20', '--timeout', '30']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.split('\n').filter((l) => /^A{50000}$/.test(l.trimEnd())).length, 20);
    assert.match(table.stdout, /^20 matches\n$/m);
    const json = await runCli(['find', `127.0.0.1:${peer.port}`, '--no-tls', '-k', 'PatientName', '--max-matches', '20', '--timeout', '30', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const matches = JSON.parse(json.stdout) as { '00100010': { Value: { Alphabetic: string }[] } }[];
    assert.deepEqual(matches.map((m) => m['00100010'].Value[0]!.Alphabetic.length), new Array<number>(20).fill(50_000));
  } finally {
    await peer.close();
  }
});

test('find: a reader that leaves early (| head) ends the command with its own exit code, no EPIPE crash', { timeout: 120_000 }, async () => {
  const peer = await endlessMatches(largeName(50_000));
  try {
    const child = spawn(process.execPath, [CLI, 'find', `127.0.0.1:${peer.port}`, '--no-tls', '-k', 'PatientName', '--max-matches', '20', '--timeout', '30', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    // Read the first chunk, then close our end of the pipe as `head -c` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const [code] = await hangGuard(once(child, 'close'), 'find exiting after its reader left') as [number | null];
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  } finally {
    await peer.close();
  }
});

test('find: the matches that arrived before a failure status are printed, then the error with its exit code (table and --json)', { timeout: 120_000 }, async () => {
  const scp = await scriptedFindScp(async (peer, pcId, sop) => {
    for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
      if (pdu[0] === 0x04 && (pdu[11]! & 0x02) !== 0 && (pdu[11]! & 0x01) === 0) {
        // The identifier arrived: three matches, then A700 (Refused: Out of Resources) as a capped SCP answers.
        for (const name of ['ONE^A', 'TWO^B', 'THREE^C']) {
          peer.write(rawPData(pcId, true, true, rawCommandSet([[0x0002, sop], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0000], [0x0900, 0xff00]])));
          peer.write(rawPData(pcId, false, true, nameElement(name)));
        }
        peer.write(rawPData(pcId, true, true, rawCommandSet([[0x0002, sop], [0x0100, 0x8020], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0xa700], [0x0902, 'more than 3 matches: narrow the query']])));
      }
      if (pdu[0] === 0x05) peer.write(Uint8Array.of(0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0));
      if (pdu[0] === 0x07) break;
    }
  });
  const port = scp.port;
  try {
    const table = await runCli(['find', `127.0.0.1:${port}`, '--no-tls', '-k', 'PatientName', '--timeout', '30']);
    assert.equal(table.code, 15, table.stderr);
    assert.deepEqual(table.stdout.split('\n').map((l) => l.trim()).filter((l) => /^(ONE|TWO|THREE)\^/.test(l)), ['ONE^A', 'TWO^B', 'THREE^C']);
    assert.match(table.stdout, /^3 matches before the C-FIND ended$/m);
    assert.match(table.stderr, /^error: C-FIND failed: 0xA700 \(more than 3 matches: narrow the query\)\. \[DICOM_ERR_DIMSE_STATUS\]$/m);
    const json = await runCli(['find', `127.0.0.1:${port}`, '--no-tls', '-k', 'PatientName', '--timeout', '30', '--json']);
    assert.equal(json.code, 15, json.stderr);
    const doc = JSON.parse(json.stdout) as { error: { code: string; exitCode: number }; matches: { '00100010': { Value: { Alphabetic: string }[] } }[] };
    assert.equal(doc.error.code, 'DICOM_ERR_DIMSE_STATUS');
    assert.equal(doc.error.exitCode, 15);
    assert.deepEqual(doc.matches.map((m) => m['00100010'].Value[0]!.Alphabetic), ['ONE^A', 'TWO^B', 'THREE^C']);
  } finally {
    await scp.close();
  }
});
