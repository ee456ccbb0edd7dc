/**
 * The start-up warm-up: real loopback associations from a peer process (TLS and plain, one at a
 * time and windowed) into a scratch store that is gone afterwards, and what a killed warm-up left
 * removed by the next one.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmUpStoragePath } from '../../src/services/scp/warm-up.js';
import { channelNames } from '../../src/diagnostics.js';
import { InvalidOptionError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'warm-up-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Seen { kinds: string[]; callingAeTitles: Set<string>; handshakes: number; windows: number[] }

async function watching<T>(run: () => Promise<T>): Promise<{ result: T; seen: Seen }> {
  const seen: Seen = { kinds: [], callingAeTitles: new Set(), handshakes: 0, windows: [] };
  const onAssociation = (m: unknown): void => void seen.kinds.push((m as { kind: string }).kind);
  const onHandshake = (): void => void seen.handshakes++;
  // The A-ASSOCIATE-ACs the scratch servers sent: who asked, and the window agreed.
  const onPdu = (m: unknown): void => {
    const pdu = (m as { pdu: { type: string; callingAeTitle?: string; userInformation?: { asynchronousOperationsWindow?: { maxOperationsInvoked: number } } } }).pdu;
    if (pdu.type !== 'A-ASSOCIATE-AC') return;
    seen.callingAeTitles.add(pdu.callingAeTitle ?? '?');
    seen.windows.push(pdu.userInformation?.asynchronousOperationsWindow?.maxOperationsInvoked ?? 1);
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssociation);
  diagnosticsChannel.subscribe(channelNames.tlsHandshake, onHandshake);
  diagnosticsChannel.subscribe(channelNames.pduSent, onPdu);
  try {
    return { result: await run(), seen };
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
    diagnosticsChannel.unsubscribe(channelNames.tlsHandshake, onHandshake);
    diagnosticsChannel.unsubscribe(channelNames.pduSent, onPdu);
  }
}

test('warmUpStoragePath stores every instance through real associations of all four kinds and leaves nothing behind', async () => {
  const where = join(dir, 'all-kinds');
  mkdirSync(where);
  const { result, seen } = await watching(() => warmUpStoragePath({ instances: 20, directory: where, fsync: 'none' }));
  assert.equal(result.instances, 20);
  assert.equal(result.associations, 7, '20 instances in associations of ceil(20 / 8) = 3');
  // Seen from the acceptor's end (the requestor is a process of its own): accepted, released, never aborted.
  const count = (kind: string): number => seen.kinds.filter((k) => k === kind).length;
  assert.equal(count('accepted'), 7);
  assert.equal(count('released'), 7);
  assert.equal(count('aborted'), 0);
  assert.equal(seen.callingAeTitles.size, 1);
  assert.match([...seen.callingAeTitles][0]!, /^WARM-UP-[0-9A-F]{8}$/, "this run's own AE title");
  // Every other association is TLS.
  assert.equal(seen.handshakes, 4, 'four TLS associations');
  assert.deepEqual(seen.windows, [1, 1, 16, 16, 1, 1, 16], 'one at a time and windowed, in turn');
  assert.deepEqual(readdirSync(where), [], 'the scratch directory is removed');
});

test('warmUpStoragePath without TLS, and with none to store', async () => {
  const where = join(dir, 'plain');
  mkdirSync(where);
  const { result, seen } = await watching(() => warmUpStoragePath({ instances: 8, directory: where, tls: false, fsync: 'none' }));
  assert.equal(result.associations, 8);
  assert.equal(seen.handshakes, 0);
  const none = await warmUpStoragePath({ instances: 0, directory: where });
  assert.equal(none.associations, 0);
  assert.deepEqual(readdirSync(where), []);
});

test('warmUpStoragePath removes the scratch directories of killed warm-ups, not those of running ones', async () => {
  const where = join(dir, 'stale');
  mkdirSync(where);
  // A process id that has ended: a child that exited.
  const gone = Number(execFileSync(process.execPath, ['-p', 'process.pid'], { encoding: 'utf8' }).trim());
  const stale = join(where, `.dicom-tls-warm-up-${gone}-abc123`);
  const running = join(where, `.dicom-tls-warm-up-${process.ppid}-def456`);
  // Named with this process's id but not one of its warm-ups: an earlier process had the id.
  const reused = join(where, `.dicom-tls-warm-up-${process.pid}-ghi789`);
  const unrelated = join(where, 'dicom-tls-warm-up-notours');
  for (const d of [stale, running, unrelated, reused]) {
    mkdirSync(join(d, '0'), { recursive: true });
    writeFileSync(join(d, '0', 'x.dcm'), 'left');
  }
  await warmUpStoragePath({ instances: 1, directory: where, fsync: 'none', tls: false });
  assert.deepEqual(readdirSync(where).sort(), [`.dicom-tls-warm-up-${process.ppid}-def456`, 'dicom-tls-warm-up-notours']);
});

test('warmUpStoragePath: a count that is not a whole number is an InvalidOptionError; a directory that cannot hold it rejects', async () => {
  for (const instances of [-1, 1.5, Number.NaN]) {
    await assert.rejects(warmUpStoragePath({ instances }), (e: unknown) => e instanceof InvalidOptionError && e.code === 'DICOM_ERR_INVALID_OPTION' && /instances/.test(e.message));
  }
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  await assert.rejects(warmUpStoragePath({ instances: 1, directory: file }), /ENOTDIR/);
});

test('warmUpStoragePath: a peer that cannot run rejects with its reason, and the scratch directory is removed', async () => {
  const where = join(dir, 'peer-fails');
  mkdirSync(where);
  // A broken NODE_OPTIONS, inherited by the peer process: it exits before it connects.
  const saved = process.env['NODE_OPTIONS'];
  process.env['NODE_OPTIONS'] = `--require ${join(dir, 'no-such-module.cjs')}`;
  try {
    await assert.rejects(warmUpStoragePath({ instances: 4, directory: where, fsync: 'none' }), /the warm-up's peer failed \(exit \d+\): .*no-such-module/s);
  } finally {
    if (saved === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = saved;
  }
  assert.deepEqual(readdirSync(where), []);
});

test('warmUpStoragePath: an abort while the peer stores ends it with the abort\'s reason, and the scratch directory is removed', async () => {
  const where = join(dir, 'aborted');
  mkdirSync(where);
  const controller = new AbortController();
  // Aborted at the first association the scratch servers accept: the peer is running.
  const onAssociation = (m: unknown): void => { if ((m as { kind: string }).kind === 'accepted') controller.abort(new Error('stop asked for')); };
  diagnosticsChannel.subscribe(channelNames.association, onAssociation);
  try {
    await assert.rejects(warmUpStoragePath({ instances: 4000, directory: where, fsync: 'none', signal: controller.signal }), /^Error: stop asked for$/);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
  }
  assert.deepEqual(readdirSync(where), []);
  await assert.rejects(warmUpStoragePath({ instances: 1, directory: where, signal: AbortSignal.abort(new Error('before')) }), /before/);
});

test('warmUpStoragePath keeps no more than a few instances in the scratch store at any time', async () => {
  const where = join(dir, 'few');
  mkdirSync(where);
  // Counted at each association's end: eight of 25 instances each.
  let most = 0;
  const onAssociation = (m: unknown): void => {
    if ((m as { kind: string }).kind !== 'released') return;
    const files = readdirSync(where, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.dcm')).length;
    most = Math.max(most, files);
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssociation);
  try {
    await warmUpStoragePath({ instances: 200, directory: where, fsync: 'none', tls: false });
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
  }
  assert.ok(most < 25, `${most} instances were in the scratch store at once: fewer than one association's 25 expected`);
});
