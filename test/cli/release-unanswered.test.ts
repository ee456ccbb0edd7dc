/**
 * A peer that answers every request and then never answers our A-RELEASE-RQ: the work is done,
 * so echo, find, move and get report it and exit 0 with a warning, as store does; the association
 * is aborted after the timeout. Before, echo, find and move exited 9 with no result: a move that
 * had moved everything looked failed, and its user would move it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu, Pdu } from '../../src/ul/pdu/types.js';
import { scriptedServer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { ctInstance, hostileGetScp } from '../helpers/hostile-get-scp.js';
import { acFor } from '../ul/fixtures.js';

/** Answers C-ECHO, C-FIND (no match) and C-MOVE (nothing to move) with Success; A-RELEASE-RQ never. */
async function silentOnRelease(): Promise<{ port: number; releases(): number; close(): Promise<void> }> {
  let releases = 0;
  const scp = await scriptedServer(async (peer) => {
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    peer.write(encodePdu(acFor(rq)));
    let command: Buffer | undefined;
    for (let pdu = await peer.nextPdu(); pdu !== undefined; pdu = await peer.nextPdu()) {
      if (pdu[0] === 0x05) releases++;
      if (pdu[0] !== 0x04) continue;
      for (const pdv of (decodePdu(pdu) as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs) {
        if (pdv.isCommand) command = Buffer.from(pdv.data);
        const field = command!.readUInt16LE(command!.indexOf(Buffer.from([0, 0, 0, 1, 2, 0, 0, 0])) + 8);
        // A request with a data set is answered once the data set is in.
        if (pdv.isCommand && field !== 0x0030) continue;
        if (!pdv.isLast) continue;
        const sop = field === 0x0030 ? '1.2.840.10008.1.1' : rq.presentationContexts.find((pc) => pc.id === pdv.presentationContextId)!.abstractSyntax;
        peer.write(rawPData(pdv.presentationContextId, true, true, rawCommandSet([[0x0002, sop], [0x0100, field | 0x8000], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0],
          ...(field === 0x0021 ? [[0x1020, 0], [0x1021, 0], [0x1022, 0], [0x1023, 0]] as const : [])])));
      }
    }
  });
  return { port: scp.port, releases: () => releases, close: () => scp.close() };
}

test('echo, find and move against a peer that never answers the release: the result, a warning, exit 0', { timeout: 120_000 }, async () => {
  const peer = await silentOnRelease();
  try {
    const common = [`127.0.0.1:${peer.port}`, '--no-tls', '--timeout', '2'];
    const echo = await runCli(['echo', ...common]);
    assert.equal(echo.code, 0, echo.stderr);
    assert.match(echo.stdout, /^C-ECHO .*: Success/m);
    const find = await runCli(['find', ...common, '-k', 'PatientName']);
    assert.equal(find.code, 0, find.stderr);
    assert.match(find.stdout, /^0 matches$/m);
    const move = await runCli(['move', ...common, '--dest', 'ELSEWHERE', '-k', 'StudyInstanceUID=1.2.3']);
    assert.equal(move.code, 0, move.stderr);
    assert.match(move.stdout, /^C-MOVE: completed 0, warnings 0, failed 0$/m);
    for (const r of [echo, find, move]) assert.match(r.stderr, /^warning: the release failed: no A-RELEASE-RP within 2000 ms; association aborted$/m);
    assert.equal(peer.releases(), 3);
  } finally {
    await peer.close();
  }
});

test('get against a peer that never answers the release: the instances are kept and counted, a warning, exit 0', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('get-release-');
  const scp = await hostileGetScp(async (s) => {
    s.storeRq(100, '1.2.3.4.5');
    s.data(ctInstance('1.2.3.4.5'), true);
    assert.equal(await s.storeStatus(), 0);
    s.getRsp(0, { completed: 1, failed: 0, warning: 0 });
    // The A-RELEASE-RQ, left unanswered.
    await s.peer.nextPdu();
    await s.peer.closed;
  });
  try {
    const r = await runCli(['get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '2', '-k', 'StudyInstanceUID=1.2.3', '--out', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1 instance written under /m);
    assert.match(r.stdout, /^C-GET: completed 1, warnings 0, failed 0$/m);
    assert.ok(existsSync(join(dir, '1.2.3', '1.2.3.4', '1.2.3.4.5.dcm')));
    assert.match(r.stderr, /^warning: the release failed: no A-RELEASE-RP within 2000 ms; association aborted$/m);
  } finally {
    await scp.close();
    cleanup();
  }
});
