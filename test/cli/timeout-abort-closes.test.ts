/**
 * After a response or release timeout the CLI aborts and reports at once (an echo answered before
 * the release timed out stands, with a warning): its A-ABORT is followed
 * by the end of its connection, not by a wait in Sta13 for a peer that never closes (that wait
 * ends only at ARTIM, a second timeout of the same length). The peer here answers nothing and
 * never closes; the CLI's own state machine, read from the diagnostics channel by a preloaded
 * module, must leave Sta13 because the transport closed (Evt17), never because ARTIM ran out
 * (Evt18). Plain TCP and TLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { CLI, collect, oneSentenceError, tempDir } from '../helpers/cli.js';
import { scenarioPki } from '../helpers/pki.js';
import { spawn } from 'node:child_process';
import { acFor, VERIFICATION } from '../ul/fixtures.js';
import { spec, writeInstance } from '../helpers/services.js';

const tmp = tempDir('cli-timeout-abort-');
test.after(() => tmp.cleanup());

const preload = join(tmp.dir, 'transitions.mjs');
writeFileSync(preload, [
  "import dc from 'node:diagnostics_channel';",
  "import { appendFileSync } from 'node:fs';",
  "dc.subscribe('dicom-tls:ul:transition', (t) => appendFileSync(process.env.TRANSITIONS_OUT, `${t.from} ${t.event} ${t.action} ${t.to}\\n`));",
].join('\n'));

type Stall = 'response' | 'release';

/** A peer that accepts, then stalls at `stall`; records what it saw after that, in order. */
async function stallingPeer(useTls: boolean, stall: Stall): Promise<{ port: number; seen: Promise<string[]>; close(): void }> {
  const sockets: net.Socket[] = [];
  let done!: (events: string[]) => void;
  const seen = new Promise<string[]>((resolve) => (done = resolve));
  const script = async (socket: net.Socket): Promise<void> => {
    sockets.push(socket);
    const peer = new ScriptedPeer(socket);
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    const pc = rq.presentationContexts[0]!;
    peer.write(encodePdu({ ...acFor(rq), presentationContexts: rq.presentationContexts.map((c) => ({ id: c.id, result: 0 as const, transferSyntax: c.transferSyntaxes[0]! })) }));
    const request = await peer.nextPdu();
    if (request?.[0] !== 0x04) { done([`PDU type ${request?.[0]}`]); return; }
    if (stall === 'release') {
      peer.write(rawPData(pc.id, true, true, rawCommandSet([[0x0002, VERIFICATION], [0x0100, 0x8030], [0x0120, 1], [0x0800, 0x0101], [0x0900, 0x0000]])));
      assert.equal((await peer.nextPdu())?.[0], 0x05, 'the A-RELEASE-RQ');
    }
    // Nothing answered from here on, and the connection is never closed by this side.
    const events: string[] = [];
    let next = await peer.nextPdu();
    while (next?.[0] === 0x04) next = await peer.nextPdu(); // the rest of a C-STORE-RQ's data set
    if (next !== undefined) events.push(next[0] === 0x07 ? 'A-ABORT' : `PDU type ${next[0]}`);
    await peer.ended();
    events.push('closed by the CLI');
    done(events);
  };
  let server: net.Server;
  if (useTls) {
    const pki = scenarioPki();
    server = tls.createServer({ cert: readFileSync(pki.valid.cert), key: readFileSync(pki.valid.key) }, (s) => void script(s));
  } else {
    server = net.createServer((s) => void script(s));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

for (const useTls of [false, true]) {
  for (const stall of ['response', 'release'] as const) {
    // No C-ECHO-RSP: exit 9. No A-RELEASE-RP after the C-ECHO-RSP: the echo stands (exit 0) with a warning.
    test(`echo over ${useTls ? 'TLS' : 'plain TCP'}, no ${stall === 'response' ? 'C-ECHO-RSP' : 'A-RELEASE-RP'}: ${stall === 'response' ? 'exit 9' : 'a warning'} after A-ABORT and our close, not after ARTIM`, { timeout: 120_000 }, async () => {
      const peer = await stallingPeer(useTls, stall);
      const out = join(tmp.dir, `transitions-${useTls ? 'tls' : 'plain'}-${stall}.txt`);
      try {
        const pki = scenarioPki();
        const tlsArgs = useTls ? ['--ca', pki.trustRoot, '--cert', pki.valid.cert, '--key', pki.valid.key] : ['--no-tls'];
        const child = spawn(process.execPath, ['--import', preload, CLI, 'echo', `127.0.0.1:${peer.port}`, ...tlsArgs, '--timeout', '2'], {
          env: { ...process.env, TRANSITIONS_OUT: out }, stdio: ['pipe', 'pipe', 'pipe'],
        });
        const r = await collect(child);
        if (stall === 'response') {
          assert.equal(r.code, 9, r.stderr);
          const { code, sentence } = oneSentenceError(r);
          assert.equal(code, 'DICOM_ERR_TIMEOUT');
          assert.match(sentence, /^No response to C-ECHO-RQ/);
        } else {
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, /^warning: the release failed: no A-RELEASE-RP within 2000 ms; association aborted$/m);
        }
        assert.deepEqual(await peer.seen, ['A-ABORT', 'closed by the CLI']);
        assert.ok(existsSync(out), 'the preloaded module saw the state machine');
        const transitions = readFileSync(out, 'utf8').trim().split('\n');
        const aborted = transitions.findIndex((t) => / AA-1 Sta13$/.test(t));
        assert.ok(aborted >= 0, transitions.join('\n'));
        assert.deepEqual(transitions.slice(aborted + 1), ['Sta13 Evt17 AR-5 Sta1'], 'left Sta13 by our own close, not by ARTIM (Evt18)');
      } finally {
        peer.close();
      }
    });
  }
}

test('store over plain TCP, no C-STORE-RSP: exit 9 naming the file in flight, no release attempted, our close ends Sta13', { timeout: 120_000 }, async () => {
  const peer = await stallingPeer(false, 'response');
  const out = join(tmp.dir, 'transitions-store.txt');
  try {
    const file = await writeInstance(tmp.dir, spec(1));
    const child = spawn(process.execPath, ['--import', preload, CLI, 'store', `127.0.0.1:${peer.port}`, file.path, '--no-tls', '--timeout', '2'], {
      env: { ...process.env, TRANSITIONS_OUT: out }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const r = await collect(child);
    assert.equal(r.code, 9, r.stderr + r.stdout);
    // The association ended under the batch: reported as such, without an A-RELEASE tried in
    // Sta13 (that used to fail with a warning about the state machine, and exit 16).
    const { code, sentence } = oneSentenceError(r);
    assert.equal(code, 'DICOM_ERR_TIMEOUT');
    assert.ok(sentence.startsWith(`the association ended while sending ${file.path}: No response to C-STORE-RQ (message ID 1) within 2000 ms`), sentence);
    assert.deepEqual(await peer.seen, ['A-ABORT', 'closed by the CLI']);
    const transitions = readFileSync(out, 'utf8').trim().split('\n');
    const aborted = transitions.findIndex((t) => / AA-1 Sta13$/.test(t));
    assert.deepEqual(transitions.slice(aborted + 1), ['Sta13 Evt17 AR-5 Sta1']);
  } finally {
    peer.close();
  }
});
