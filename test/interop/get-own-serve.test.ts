/**
 * `dicom-tls get` from our own StorageServer of instances stored compressed by DCMTK (JPEG
 * lossless, JPEG-LS, RLE) and of a class beyond the common ones: each arrives as stored. With
 * --sop-class/--ts narrowed so that an instance cannot travel, the run names it and says why.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { decodePart10Header } from '../../src/dataset/part10.js';
import { StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { hasDcmtk } from '../helpers/dcmtk.js';
import { run, tempDir } from '../helpers/dicom-data.js';
import { datasetHash, spec, writeBigInstance } from '../helpers/services.js';
import { runCli } from '../helpers/cli.js';

const skip = ['dcmcjpeg', 'dcmcjpls', 'dcmcrle'].every((t) => hasDcmtk(t)) ? false : 'DCMTK codecs missing';

let dir: string;
let remove: () => Promise<void>;
let server: StorageServer;
let port: number;
const items: { path: string; uid: string; ts: string }[] = [];
const study = '1.2.826.0.1.3680043.9.7784.1';

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('get-own'));
  await mkdir(join(dir, 'raw'));
  await mkdir(join(dir, 'in'));
  const make = async (name: string, sopClass: string, tool: string | undefined, n: number): Promise<void> => {
    const uid = `${study}.1.${n}`;
    const raw = await writeBigInstance(join(dir, 'raw'), spec(n, { SOPInstanceUID: uid, SOPClassUID: sopClass, StudyInstanceUID: study, SeriesInstanceUID: `${study}.1` }), 512 * 512 * 2);
    const path = join(dir, 'in', `${name}.dcm`);
    if (tool === undefined) await run('cp', [raw.path, path]);
    else await run(tool, [raw.path, path]);
    items.push({ path, uid, ts: decodePart10Header(await readFile(path), { final: true }).meta.TransferSyntaxUID });
  };
  await make('ct-jpeg', StorageSopClass.CtImageStorage, 'dcmcjpeg', 1);
  await make('mr-jpls', StorageSopClass.MrImageStorage, 'dcmcjpls', 2);
  await make('sc-rle', StorageSopClass.SecondaryCaptureImageStorage, 'dcmcrle', 3);
  await make('rtimage', StorageSopClass.RtImageStorage, undefined, 4);
  server = await StorageServer.create({ aeTitle: 'OURPACS', storeRoot: join(dir, 'store'), fsync: 'none' });
  ({ port } = await server.listen(0));
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'LOADER', calledAeTitle: 'OURPACS', presentationContexts: await storageContextsFor(items.map((i) => i.path)) });
  const results = await client.store(items.map((i) => i.path));
  await client.release();
  assert.deepEqual(results.map((r) => r.status), [0, 0, 0, 0]);
});
after(async () => {
  await server?.close({ timeout: 1000 });
  await remove?.();
});

async function received(out: string): Promise<Map<string, { ts: string; hash: string }>> {
  const got = new Map<string, { ts: string; hash: string }>();
  for (const f of (await readdir(out, { recursive: true })).filter((x) => x.endsWith('.dcm'))) {
    const header = decodePart10Header(await readFile(join(out, f)), { final: true });
    got.set(header.meta.MediaStorageSOPInstanceUID, { ts: header.meta.TransferSyntaxUID, hash: await datasetHash(join(out, f)) });
  }
  return got;
}

test('get from our serve: JPEG lossless, JPEG-LS, RLE and an RT Image arrive as stored, byte for byte', { skip }, async () => {
  assert.deepEqual(items.map((i) => i.ts), [TransferSyntax.JpegLosslessSv1, TransferSyntax.JpegLsLossless, TransferSyntax.RleLossless, TransferSyntax.ExplicitVrLittleEndian]);
  const out = join(dir, 'got');
  const r = await runCli(['get', `127.0.0.1:${port}`, '--no-tls', '--call', 'OURPACS', '--level', 'STUDY', '-k', `StudyInstanceUID=${study}`, '--out', out]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /C-GET: completed 4, warnings 0, failed 0/);
  const got = await received(out);
  for (const i of items) {
    assert.equal(got.get(i.uid)?.ts, i.ts, i.path);
    assert.equal(got.get(i.uid)?.hash, await datasetHash(i.path), i.path);
  }
});

test('get --sop-class/--ts narrowed: what cannot travel is named with the reason, exit 16', { skip }, async () => {
  const out = join(dir, 'got-narrow');
  const r = await runCli(['get', `127.0.0.1:${port}`, '--no-tls', '--call', 'OURPACS', '--level', 'STUDY', '-k', `StudyInstanceUID=${study}`, '--out', out,
    '--sop-class', 'CtImageStorage', '--sop-class', StorageSopClass.RtImageStorage, '--ts', 'ExplicitVrLittleEndian', '--json']);
  assert.equal(r.code, 16, r.stdout + r.stderr);
  const doc = JSON.parse(r.stdout) as { completed: number; failed: number; failures: { sopInstanceUid: string; reason: string }[] };
  assert.equal(doc.completed, 1);
  assert.equal(doc.failed, 3);
  assert.deepEqual(doc.failures.map((f) => f.sopInstanceUid).sort(), items.slice(0, 3).map((i) => i.uid).sort());
  assert.ok(doc.failures.every((f) => /no accepted presentation context for its SOP class and transfer syntax/.test(f.reason)), JSON.stringify(doc.failures));
  const text = await runCli(['get', `127.0.0.1:${port}`, '--no-tls', '--call', 'OURPACS', '--level', 'STUDY', '-k', `StudyInstanceUID=${study}`, '--out', out, '--sop-class', 'CtImageStorage', '--ts', 'ExplicitVrLittleEndian']);
  assert.equal(text.code, 16);
  assert.match(text.stdout, new RegExp(`failed ${items[0]!.uid.replace(/\./g, '\\.')}: not sent to us`));
  const bad = await runCli(['get', `127.0.0.1:${port}`, '--no-tls', '-k', `StudyInstanceUID=${study}`, '--sop-class', 'NoSuchStorage']);
  assert.equal(bad.code, 2, bad.stderr);
});

test('get: an association aborted after the first instance still says what was written, exit 14', { skip }, async () => {
  const { default: diagnosticsChannel } = await import('node:diagnostics_channel');
  const { channelNames } = await import('../../src/diagnostics.js');
  // Our serve aborts its side as soon as the first C-STORE sub-operation is answered.
  const onDimse = (m: unknown): void => {
    const d = m as { direction: string; command: { type: string }; association: { role: string; abort(): Promise<void> } };
    if (d.direction === 'received' && d.command.type === 'C-STORE-RSP' && d.association.role === 'acceptor') void d.association.abort().catch(() => undefined);
  };
  diagnosticsChannel.subscribe(channelNames.dimse, onDimse);
  try {
    const out = join(dir, 'got-aborted');
    const r = await runCli(['get', `127.0.0.1:${port}`, '--no-tls', '--call', 'OURPACS', '--level', 'STUDY', '-k', `StudyInstanceUID=${study}`, '--out', out]);
    assert.equal(r.code, 14, r.stdout + r.stderr);
    assert.match(r.stdout, /^1 instance written under .* before the C-GET ended$/m);
    assert.match(r.stderr, /\[DICOM_ERR_ASSOCIATION_ABORTED\]/);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.dimse, onDimse);
  }
});

test('move: an association aborted after the first sub-operation still reports the counts the peer sent, exit 14', { skip }, async () => {
  const { default: diagnosticsChannel } = await import('node:diagnostics_channel');
  const { channelNames } = await import('../../src/diagnostics.js');
  const { startListening } = await import('../helpers/dcmtk.js');
  await mkdir(join(dir, 'dest'));
  const scp = await startListening('storescp', ['+xa', '-od', join(dir, 'dest'), '-aet', 'DEST']);
  const mover = await StorageServer.create({ aeTitle: 'MOVER', storeRoot: join(dir, 'store'), index: server.index, fsync: 'none', destinations: { DEST: { host: '127.0.0.1', port: scp.port } } });
  const { port: movePort } = await mover.listen(0);
  // The serve aborts its side as it is about to send the second Pending C-MOVE-RSP (the
  // message is published before it is written: the abort goes out first).
  let pending = 0;
  const onDimse = (m: unknown): void => {
    const d = m as { direction: string; command: { type: string; status?: number }; association: { role: string; abort(): Promise<void> } };
    if (d.direction === 'sent' && d.command.type === 'C-MOVE-RSP' && d.command.status === 0xff00 && ++pending === 2) void d.association.abort().catch(() => undefined);
  };
  diagnosticsChannel.subscribe(channelNames.dimse, onDimse);
  try {
    const r = await runCli(['move', `127.0.0.1:${movePort}`, '--no-tls', '--call', 'MOVER', '--dest', 'DEST', '--level', 'STUDY', '-k', `StudyInstanceUID=${study}`]);
    assert.equal(r.code, 14, r.stdout + r.stderr);
    assert.match(r.stdout, /^C-MOVE: completed 1, warnings 0, failed 0, remaining 3 before the C-MOVE ended$/m);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.dimse, onDimse);
    await mover.close({ timeout: 1000 });
    await scp.stop();
  }
});
