/**
 * Ctrl-C during `get` (PS3.7 9.3.3.3): the CLI, a real child process, sends C-CANCEL-RQ for the
 * C-GET on its presentation context, still writes the instance the peer sends after the cancel,
 * reads the final Cancel response, prints the counts, releases and exits 130 — leaving whole
 * files only. The peer is scripted byte by byte; the signal is sent once the first Pending
 * response is out, never after a delay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import type { Pdu } from '../../src/ul/pdu/types.js';
import { CLI, collect, tempDir } from '../helpers/cli.js';
import { ctInstance, hostileGetScp } from '../helpers/hostile-get-scp.js';
import type { ScriptedPeer } from '../helpers/scripted-peer.js';

/** The next command set the requestor sends: its presentation context and elements (tag → value bytes). */
async function nextCommand(peer: ScriptedPeer): Promise<{ pcId: number; elements: Map<number, Buffer> } | undefined> {
  for (;;) {
    const b = await peer.nextPdu();
    if (b === undefined || b[0] !== 0x04) return undefined;
    const pdv = (decodePdu(b) as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs.find((p) => p.isCommand && p.isLast);
    if (pdv === undefined) continue;
    const data = Buffer.from(pdv.data);
    const elements = new Map<number, Buffer>();
    for (let o = 0; o + 8 <= data.length;) {
      const length = data.readUInt32LE(o + 4);
      elements.set(((data.readUInt16LE(o) << 16) | data.readUInt16LE(o + 2)) >>> 0, data.subarray(o + 8, o + 8 + length));
      o += 8 + length;
    }
    return { pcId: pdv.presentationContextId, elements };
  }
}

const u16 = (c: { elements: Map<number, Buffer> } | undefined, tag: number): number | undefined => c?.elements.get(tag)?.readUInt16LE(0);


/** `count` files under `dir`, none of them a partial one. */
function assertWholeFiles(dir: string, count: number): void {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  assert.equal(files.length, count, files.join('\n'));
  assert.deepEqual(files.filter((f) => f.includes('.partial')), []);
}
test('get: SIGINT sends C-CANCEL-RQ, keeps the instance still sent, reads the final Cancel, releases and exits 130', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir('get-cancel-');
  const events: string[] = [];
  let child: ReturnType<typeof spawn> | undefined;
  let cancel: { pcId: number; messageIdBeingRespondedTo: number | undefined; commandField: number | undefined } | undefined;
  let ids: { getPc: number; getId: number } | undefined;
  const scp = await hostileGetScp(async (s) => {
    ids = { getPc: s.getPc, getId: s.getId };
    s.storeRq(100, '1.2.3.4.5');
    s.data(ctInstance('1.2.3.4.5'), true);
    events.push(`store-rsp ${u16(await nextCommand(s.peer), 0x0000_0900)}`);
    s.getRsp(0xff00, { completed: 1, failed: 0, warning: 0, remaining: 2 });
    events.push('pending');
    child!.kill('SIGINT');
    const c = await nextCommand(s.peer);
    cancel = { pcId: c!.pcId, messageIdBeingRespondedTo: u16(c, 0x0000_0120), commandField: u16(c, 0x0000_0100) };
    events.push('cancel');
    // The sub-operation under way when the cancel came: sent whole, and kept by the CLI.
    s.storeRq(101, '1.2.3.4.6');
    s.data(ctInstance('1.2.3.4.6'), true);
    events.push(`store-rsp ${u16(await nextCommand(s.peer), 0x0000_0900)}`);
    s.getRsp(0xfe00, { completed: 2, failed: 0, warning: 0, remaining: 1 });
    events.push(await s.end());
  });
  try {
    child = spawn(process.execPath, [CLI, 'get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '30', '-k', 'StudyInstanceUID=1.2.3', '--out', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    const r = await collect(child as never);
    await scp.done;
    assert.deepEqual(events, ['store-rsp 0', 'pending', 'cancel', 'store-rsp 0', 'release'], r.stderr);
    assert.deepEqual(cancel, { pcId: ids!.getPc, messageIdBeingRespondedTo: ids!.getId, commandField: 0x0fff });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /^SIGINT: cancelling the C-GET \(C-CANCEL-RQ sent\)/m);
    assert.match(r.stdout, /^2 instances written under /m);
    assert.match(r.stdout, /^C-GET: completed 2, warnings 0, failed 0, not performed 1$/m);
    assert.match(r.stderr, /^error: C-GET cancelled on SIGINT: the peer's final response is Cancel \(0xfe00\), 1 sub-operations not performed; the association was released\. \[DICOM_ERR_INTERRUPTED\]$/m);
    assertWholeFiles(dir, 2);
  } finally {
    child?.kill('SIGKILL');
    await scp.close();
    cleanup();
  }
});

test('get: a peer that ignores the cancel, sending half an instance, is aborted at the second SIGINT; exit 130, no partial file left', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir('get-cancel-abort-');
  const events: string[] = [];
  let child: ReturnType<typeof spawn> | undefined;
  const scp = await hostileGetScp(async (s) => {
    s.storeRq(100, '1.2.3.4.5');
    s.data(ctInstance('1.2.3.4.5'), true);
    events.push(`store-rsp ${u16(await nextCommand(s.peer), 0x0000_0900)}`);
    s.getRsp(0xff00, { completed: 1, failed: 0, warning: 0, remaining: 2 });
    child!.kill('SIGINT');
    events.push(`command 0x${u16(await nextCommand(s.peer), 0x0000_0100)?.toString(16)}`);
    // Ignoring the cancel: the next instance starts and stops half-way.
    const half = ctInstance('1.2.3.4.6', 100_000);
    s.storeRq(101, '1.2.3.4.6');
    for (let o = 0; o < 50_000; o += 8_000) s.data(half.subarray(o, o + 8_000), false);
    child!.kill('SIGINT');
    events.push(await s.end());
  });
  try {
    child = spawn(process.execPath, [CLI, 'get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '30', '-k', 'StudyInstanceUID=1.2.3', '--out', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    const r = await collect(child as never);
    await scp.done;
    assert.deepEqual(events, ['store-rsp 0', 'command 0xfff', 'abort'], r.stderr);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /^SIGINT again: aborting the association \(A-ABORT\)$/m);
    assert.match(r.stderr, /^error: C-GET cancelled on SIGINT, then the association was aborted \(A-ABORT\) before the peer's final response\. \[DICOM_ERR_INTERRUPTED\]$/m);
    assertWholeFiles(dir, 1);
  } finally {
    child?.kill('SIGKILL');
    await scp.close();
    cleanup();
  }
});
