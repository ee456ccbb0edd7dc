/**
 * The CLI as a new site uses it against Orthanc 1.10.1 with DICOM TLS (mutual authentication,
 * certificates made at test time): `get` of a large multi-frame instance, `get` of compressed and
 * uncommon instances, `find --json`, and what C-GET does to the character set of an instance.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findOrthanc, makeOrthancPki, startOrthanc, type OrthancInstance, type OrthancPki } from '../helpers/orthanc.js';
import { run, tempDir } from '../helpers/dicom-data.js';
import { datasetHash, spec, writeBigInstance } from '../helpers/services.js';
import { runCli } from '../helpers/cli.js';
import { readFile } from 'node:fs/promises';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { FileStore } from '../../src/store/file-store.js';
import { channelNames } from '../../src/diagnostics.js';
import { StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { decodePart10Header } from '../../src/dataset/part10.js';
import { writeInstance } from '../helpers/services.js';

const skip = findOrthanc() === undefined ? 'Orthanc is not installed' : false;

let dir: string;
let remove: () => Promise<void>;
let pki: OrthancPki;
let orthanc: OrthancInstance | undefined;

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('orthanc-cli'));
  await mkdir(join(dir, 'pki'));
  await mkdir(join(dir, 'in'));
  pki = makeOrthancPki(join(dir, 'pki'));
  orthanc = await startOrthanc({
    aet: 'ORTHANC',
    tls: { certificate: pki.orthanc.cert, privateKey: pki.orthanc.key, trustedCertificates: pki.ca },
    // Orthanc answers C-FIND/C-GET only for known modalities.
    modalities: { ourscu: { aet: 'OURSCU', port: 1, useDicomTls: true } },
  });
});

after(async () => {
  await orthanc?.stop();
  await remove?.();
});

function tls(): string[] {
  return ['--aet', 'OURSCU', '--call', 'ORTHANC', '--ca', pki.ca, '--cert', pki.peer.cert, '--key', pki.peer.key, '--timeout', '60'];
}

test('get: a 25 MB multi-frame instance (Multi-frame Grayscale Word SC) from Orthanc arrives whole, over DICOM TLS', { skip }, async () => {
  const uid = '1.2.826.0.1.3680043.9.7782.1.1.1';
  const big = await writeBigInstance(join(dir, 'in'), spec(1, {
    SOPInstanceUID: uid, SOPClassUID: StorageSopClass.MultiFrameGrayscaleWordSecondaryCaptureImageStorage, PatientID: 'BIGMF',
    StudyInstanceUID: '1.2.826.0.1.3680043.9.7782.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7782.1.1',
  }), 25 << 20);
  await orthanc!.upload(await readFile(big.path));
  const out = join(dir, 'got-big');
  const r = await runCli(['get', `127.0.0.1:${orthanc!.dicomPort}`, ...tls(), '--level', 'STUDY', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7782.1', '--out', out], { killAfter: 240_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const files = await readdir(out, { recursive: true });
  const dcm = files.filter((f) => f.endsWith('.dcm'));
  assert.equal(dcm.length, 1, files.join(', '));
  assert.equal(await datasetHash(join(out, dcm[0]!)), big.hash);
});

test('C-GET that Orthanc cannot carry out: its final response (status detail in the command set) is read, warned about, and names the failed instance', { skip }, async () => {
  const uid = '1.2.826.0.1.3680043.9.7782.2.1.1';
  const f = await writeInstance(join(dir, 'in'), spec(2, {
    SOPInstanceUID: uid, SOPClassUID: StorageSopClass.MultiFrameGrayscaleByteSecondaryCaptureImageStorage, PatientID: 'NOCTX',
    StudyInstanceUID: '1.2.826.0.1.3680043.9.7782.2', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7782.2.1',
  }));
  await orthanc!.upload(await readFile(f.path));
  // Only CT is proposed for storage: Orthanc has no context to send this instance on.
  const { presentationContexts, roles } = getContexts({ models: ['STUDY_ROOT'], storageSopClasses: [StorageSopClass.CtImageStorage] });
  const client = await DicomClient.associate({
    host: '127.0.0.1', port: orthanc!.dicomPort, callingAeTitle: 'OURSCU', calledAeTitle: 'ORTHANC', roles,
    presentationContexts: [...presentationContexts, { abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
    tls: new SecureContext({ role: 'client', identity: { cert: pki.peer.cert, key: pki.peer.key }, ca: [pki.ca] }),
    timeouts: { connect: 10000, association: 10000, dimse: 30000 },
  });
  const warnings: string[] = [];
  const listener = (m: unknown): void => void warnings.push((m as { warning: string }).warning);
  diagnosticsChannel.subscribe(channelNames.dimseWarning, listener);
  try {
    const store = await FileStore.open({ root: join(dir, 'got-noctx'), fsync: 'none' });
    await assert.rejects(
      client.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7782.2' }, { store }),
      (e: { code?: string; progress?: { failed: number }; failedSopInstanceUids?: string[] }) =>
        e.code === 'DICOM_ERR_DIMSE_STATUS' && e.progress?.failed === 1 && e.failedSopInstanceUids?.[0] === uid,
    );
    // The association is still usable after the failed C-GET.
    await client.echo();
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.dimseWarning, listener);
    await client.release().catch(() => undefined);
  }
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /group 0008 follow the command group/);
});

test('find --json against Orthanc: every match in the DICOM JSON Model, no internals; the table shows only attributes', { skip }, async () => {
  const uid = '1.2.826.0.1.3680043.9.7782.3.1.1';
  const f = await writeInstance(join(dir, 'in'), spec(3, {
    SOPInstanceUID: uid, PatientID: 'JSONPAT', PatientName: 'JSON^PATIENT', StudyDate: '20240102',
    StudyInstanceUID: '1.2.826.0.1.3680043.9.7782.3', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7782.3.1',
  }));
  await orthanc!.upload(await readFile(f.path));
  const peer = `127.0.0.1:${orthanc!.dicomPort}`;
  const j = await runCli(['find', peer, ...tls(), '--level', 'STUDY', '-k', 'PatientID=JSONPAT', '-k', 'PatientName', '-k', 'StudyDate', '-k', 'NumberOfStudyRelatedInstances', '--json']);
  assert.equal(j.code, 0, j.stderr);
  assert.doesNotMatch(j.stdout, /_vrMap|_meta/);
  const matches = JSON.parse(j.stdout) as Record<string, { vr: string; Value?: unknown[] }>[];
  assert.equal(matches.length, 1);
  const m = matches[0]!;
  assert.ok(Object.keys(m).every((k) => /^[0-9A-F]{8}$/.test(k)), Object.keys(m).join());
  assert.deepEqual(m['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'JSON^PATIENT' }] });
  assert.deepEqual(m['00100020'], { vr: 'LO', Value: ['JSONPAT'] });
  assert.deepEqual(m['00080020'], { vr: 'DA', Value: ['20240102'] });
  // IS is a JSON number (PS3.18 F.2.3.1).
  assert.deepEqual(m['00201208'], { vr: 'IS', Value: [1] });
  assert.deepEqual(m['00080052'], { vr: 'CS', Value: ['STUDY'] });
  // Without keys, the table's columns are what came back, never dcmjs's bookkeeping.
  const t = await runCli(['find', peer, ...tls(), '--level', 'STUDY', '-k', 'PatientID=JSONPAT']);
  assert.equal(t.code, 0, t.stderr);
  assert.doesNotMatch(t.stdout, /_vrMap/);
  const bare = await runCli(['find', peer, ...tls(), '--level', 'STUDY']);
  assert.equal(bare.code, 0, bare.stderr);
  assert.doesNotMatch(bare.stdout.split('\n')[0]!, /_vrMap/);
  assert.match(bare.stdout.split('\n')[0]!, /QueryRetrieveLevel/);
});

/** A one-frame 16-bit image of `sopClass`, compressed by DCMTK's `tool` (dcmcjpeg, dcmcjpls, dcmcrle). */
async function compressed(name: string, sopClass: string, tool: string, n: number): Promise<{ path: string; uid: string; ts: string }> {
  const uid = `1.2.826.0.1.3680043.9.7782.4.1.${n}`;
  const raw = await writeBigInstance(join(dir, 'raw'), spec(n, {
    SOPInstanceUID: uid, SOPClassUID: sopClass, PatientID: 'COMPRESSED',
    StudyInstanceUID: '1.2.826.0.1.3680043.9.7782.4', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7782.4.1',
  }), 512 * 512 * 2);
  const path = join(dir, 'compressed', `${name}.dcm`);
  await run(tool, [raw.path, path]);
  const header = decodePart10Header(await readFile(path), { final: true });
  return { path, uid, ts: header.meta.TransferSyntaxUID };
}

test('get: compressed and uncommon instances arrive as stored (JPEG lossless, JPEG-LS, RLE), and a class beyond the common ones, from Orthanc', { skip }, async () => {
  await mkdir(join(dir, 'raw'), { recursive: true });
  await mkdir(join(dir, 'compressed'), { recursive: true });
  const items = [
    await compressed('ct-jpeg', StorageSopClass.CtImageStorage, 'dcmcjpeg', 1),
    await compressed('mr-jpls', StorageSopClass.MrImageStorage, 'dcmcjpls', 2),
    await compressed('us-rle', StorageSopClass.UltrasoundImageStorage, 'dcmcrle', 3),
    await compressed('nm-jpeg', StorageSopClass.NuclearMedicineImageStorage, 'dcmcjpeg', 4),
  ];
  assert.deepEqual(items.map((i) => i.ts), [TransferSyntax.JpegLosslessSv1, TransferSyntax.JpegLsLossless, TransferSyntax.RleLossless, TransferSyntax.JpegLosslessSv1]);
  for (const i of items) await orthanc!.upload(await readFile(i.path));
  const out = join(dir, 'got-compressed');
  const r = await runCli(['get', `127.0.0.1:${orthanc!.dicomPort}`, ...tls(), '--level', 'STUDY', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7782.4', '--out', out, '--json'], { killAfter: 120_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal((JSON.parse(r.stdout) as { completed: number }).completed, 4);
  const got = new Map<string, { ts: string; hash: string }>();
  for (const f of (await readdir(out, { recursive: true })).filter((x) => x.endsWith('.dcm'))) {
    const header = decodePart10Header(await readFile(join(out, f)), { final: true });
    got.set(header.meta.MediaStorageSOPInstanceUID, { ts: header.meta.TransferSyntaxUID, hash: await datasetHash(join(out, f)) });
  }
  // The common classes come as stored, byte for byte.
  for (const i of items.slice(0, 3)) {
    assert.equal(got.get(i.uid)?.ts, i.ts, i.path);
    assert.equal(got.get(i.uid)?.hash, await datasetHash(i.path), i.path);
  }
  // NM is beyond the common classes (an uncompressed context only): Orthanc decompresses it.
  assert.equal(got.get(items[3]!.uid)?.ts, TransferSyntax.ExplicitVrLittleEndian);
});

test('C-MOVE from Orthanc to our serve (the move destination side): compressed instances are stored as Orthanc holds them', { skip }, async () => {
  const { StorageServer } = await import('../../src/services/scp/storage-server.js');
  const { SecureContext: Ctx } = await import('../../src/transport/tls/context.js');
  await mkdir(join(dir, 'raw'), { recursive: true });
  await mkdir(join(dir, 'compressed'), { recursive: true });
  const items = [
    await compressed('mv-ct-jpeg', StorageSopClass.CtImageStorage, 'dcmcjpeg', 11),
    await compressed('mv-nm-jpls', StorageSopClass.NuclearMedicineImageStorage, 'dcmcjpls', 12),
  ];
  for (const i of items) await orthanc!.upload(await readFile(i.path));
  const server = await StorageServer.create({
    aeTitle: 'MOVEDEST', storeRoot: join(dir, 'movedest'), fsync: 'none',
    tls: new Ctx({ role: 'server', identity: { cert: pki.peer.cert, key: pki.peer.key }, ca: [pki.ca] }),
  });
  const { port } = await server.listen(0);
  try {
    await orthanc!.putModality('movedest', { aet: 'MOVEDEST', port, useDicomTls: true });
    const r = await runCli(['move', `127.0.0.1:${orthanc!.dicomPort}`, ...tls(), '--dest', 'MOVEDEST', '--level', 'SERIES',
      '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.9.7782.4', '-k', 'SeriesInstanceUID=1.2.826.0.1.3680043.9.7782.4.1']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const i of items) {
      const stored = (await server.storedInstance(i.uid));
      assert.ok(stored, `${i.uid}\n${r.stdout}${r.stderr}\n${orthanc!.log().slice(-2000)}`);
      const header = decodePart10Header(await readFile(stored.path), { final: true });
      assert.equal(header.meta.TransferSyntaxUID, i.ts, i.path);
      assert.equal(await datasetHash(stored.path), await datasetHash(i.path), i.path);
    }
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('store to Orthanc over DICOM TLS: a deflated data set of odd length (made by dump2dcm +td) is stored, not left waiting', { skip }, async () => {
  await mkdir(join(dir, 'deflated'), { recursive: true });
  let odd: { path: string; uid: string } | undefined;
  for (let n = 1; n <= 8 && odd === undefined; n++) {
    const uid = `1.2.826.0.1.3680043.9.7782.5.1.${n}`;
    const dump = join(dir, 'deflated', `d${n}.dump`);
    await writeFile(dump, ['(0008,0016) UI =SecondaryCaptureImageStorage', `(0008,0018) UI [${uid}]`, `(0010,0010) PN [ODD^${'x'.repeat(n)}]`,
      '(0010,0020) LO [DEFLATED]', '(0020,000d) UI [1.2.826.0.1.3680043.9.7782.5]', '(0020,000e) UI [1.2.826.0.1.3680043.9.7782.5.1]', ''].join('\n'));
    const path = join(dir, 'deflated', `d${n}.dcm`);
    await run('dump2dcm', ['-q', '+td', dump, path]);
    const file = await readFile(path);
    if ((file.length - decodePart10Header(file, { final: true }).datasetOffset) % 2 === 1) odd = { path, uid };
  }
  assert.ok(odd, 'dump2dcm made a deflated data set of odd length');
  const r = await runCli(['store', `127.0.0.1:${orthanc!.dicomPort}`, ...tls(), '--timeout', '20', odd.path]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /sent 1, warnings 0, failed 0, skipped 0 \(of 1\)/);
  assert.equal((await orthanc!.find('Instance', { SOPInstanceUID: odd.uid })).length, 1);
});
