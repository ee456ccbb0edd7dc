/**
 * Our client ↔ Orthanc with DICOM TLS enabled (mutual authentication, certificates made at test
 * time, Orthanc started on its own ports by test/helpers/orthanc.ts): C-STORE (data sets
 * byte-identical in Orthanc's files), C-FIND at each level, C-MOVE to our StorageServer over TLS,
 * C-GET back on the same association; and Orthanc → our server (C-STORE and C-FIND over TLS,
 * driven through its REST API).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { FileStore } from '../../src/store/file-store.js';
import { decodePart10Header } from '../../src/dataset/part10.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { findOrthanc, makeOrthancPki, startOrthanc, type OrthancInstance, type OrthancPki } from '../helpers/orthanc.js';
import { tempDir } from '../helpers/dicom-data.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const skip = findOrthanc() === undefined ? 'Orthanc is not installed' : false;
const quick = { connect: 10000, association: 10000, dimse: 20000 };

let dir: string;
let remove: () => Promise<void>;
let pki: OrthancPki;
let orthanc: OrthancInstance | undefined;
let ours: StorageServer;
const files: { path: string; hash: string; uid: string }[] = [];

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('services-orthanc'));
  await mkdir(join(dir, 'pki'));
  await mkdir(join(dir, 'in'));
  pki = makeOrthancPki(join(dir, 'pki'));
  for (let n = 1; n <= 4; n++) files.push({ ...(await writeInstance(join(dir, 'in'), spec(n, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.${n % 3}.1.${n}` }), { pixels: 5000 + n })), uid: `1.2.826.0.1.3680043.9.7777.${n % 3}.1.${n}` });
  ours = await StorageServer.create({
    aeTitle: 'OURSCP',
    storeRoot: join(dir, 'ours'),
    fsync: 'none',
    // Orthanc sends again what C-MOVE already brought: the default (keep-first) answers Success.
    tls: new SecureContext({ role: 'server', identity: { cert: pki.peer.cert, key: pki.peer.key }, ca: [pki.ca] }),
  });
  const { port } = await ours.listen(0);
  orthanc = await startOrthanc({
    aet: 'ORTHANC',
    tls: { certificate: pki.orthanc.cert, privateKey: pki.orthanc.key, trustedCertificates: pki.ca },
    // Orthanc answers C-FIND/C-MOVE/C-GET only for known modalities; OURSCP is also the move destination.
    modalities: { ourscp: { aet: 'OURSCP', port, useDicomTls: true }, ourscu: { aet: 'OURSCU', port, useDicomTls: true } },
  });
});

after(async () => {
  await orthanc?.stop();
  await ours?.close({ timeout: 1000 });
  await remove?.();
});

function clientTls(): SecureContext {
  return new SecureContext({ role: 'client', identity: { cert: pki.peer.cert, key: pki.peer.key }, ca: [pki.ca] });
}

async function connect(): Promise<DicomClient> {
  const { presentationContexts, roles } = getContexts({ scuRole: true, maxContexts: 100 });
  const qr = Object.values(QueryRetrieveSopClass)
    .filter((u) => u !== QueryRetrieveSopClass.ModalityWorklistInformationModelFind && !presentationContexts.some((c) => c.abstractSyntax === u))
    .map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] }));
  const storage = (await storageContextsFor([join(dir, 'in')])).map((c) => ({ ...c, separateContextPerTransferSyntax: false }));
  return DicomClient.associate({
    host: '127.0.0.1',
    port: orthanc!.dicomPort,
    tls: clientTls(),
    callingAeTitle: 'OURSCU',
    calledAeTitle: 'ORTHANC',
    // The storage classes are proposed once each (with role selection for C-GET).
    presentationContexts: [...presentationContexts.filter((c) => !storage.some((s) => s.abstractSyntax === c.abstractSyntax)), ...storage, ...qr],
    roles,
    timeouts: quick,
  });
}

test('our client → Orthanc over DICOM TLS: C-STORE byte-identical, C-FIND at each level, C-MOVE to our TLS server, C-GET', { skip }, async () => {
  const client = await connect();
  assert.match(client.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  const results = await client.store([join(dir, 'in')]);
  assert.deepEqual(results.map((r) => [r.sopInstanceUid, r.status]), files.map((f) => [f.uid, 0]).sort());
  // Orthanc keeps the file as received: its data set is ours, byte for byte.
  for (const id of await orthanc!.instances()) {
    const file = await orthanc!.file(id);
    const header = decodePart10Header(file, { final: true });
    const f = files.find((x) => x.uid === header.meta.MediaStorageSOPInstanceUID);
    assert.ok(f, header.meta.MediaStorageSOPInstanceUID);
    assert.equal(createHash('sha256').update(file.subarray(header.datasetOffset)).digest('hex'), f.hash);
  }
  const collect = async (model: 'PATIENT_ROOT' | 'STUDY_ROOT', id: Record<string, unknown>, key: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const m of client.find(model, { [key]: '', ...id })) out.push(String(m[key]));
    return out.sort();
  };
  assert.deepEqual(await collect('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientName: 'TEST*' }, 'PatientID'), ['PID0', 'PID1', 'PID2']);
  assert.deepEqual(await collect('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyDate: '20200102-20200103' }, 'StudyInstanceUID'), ['1.2.826.0.1.3680043.9.7777.1', '1.2.826.0.1.3680043.9.7777.2']);
  assert.deepEqual(await collect('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, 'SeriesInstanceUID'), ['1.2.826.0.1.3680043.9.7777.1.1']);
  const images = await collect('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1' }, 'SOPInstanceUID');
  assert.deepEqual(images, files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.1.1.')).map((f) => f.uid).sort());
  // C-MOVE: Orthanc opens a TLS association to our server and sends the study.
  const progress: number[] = [];
  const moved = await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, 'OURSCP', { onProgress: (p) => progress.push(p.completed) });
  assert.equal(moved.outcome, 'Success');
  const expected = files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.1.'));
  for (const f of expected) assert.equal(await datasetHash((await ours.storedInstance(f.uid))!.path), f.hash);
  // C-GET: the study comes back on this association.
  const local = await FileStore.open({ root: join(dir, 'got'), fsync: 'none' });
  const got: string[] = [];
  const r = await client.get('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: 'PID2' }, { store: local, onStored: (i) => got.push(i.path) });
  assert.equal(r.outcome, 'Success');
  const pid2 = files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.2.'));
  assert.equal(got.length, pid2.length);
  for (const path of got) assert.ok(pid2.some((f) => path.endsWith(`${f.uid}.dcm`)));
  for (const f of pid2) assert.equal(await datasetHash(got.find((p) => p.endsWith(`${f.uid}.dcm`))!), f.hash);
  await client.release();
});

test('Orthanc → our server over DICOM TLS: C-STORE and C-FIND (Orthanc as SCU)', { skip }, async () => {
  const ids = await orthanc!.instances();
  assert.ok(ids.length >= 4);
  await orthanc!.store('ourscp', ids);
  for (const f of files) assert.equal(await datasetHash((await ours.storedInstance(f.uid))!.path), f.hash);
  const answers = await orthanc!.query('ourscp', 'Study', { PatientID: 'PID1', StudyInstanceUID: '' });
  assert.equal(answers.length, 1);
  assert.match(JSON.stringify(answers[0]), /1\.2\.826\.0\.1\.3680043\.9\.7777\.1/);
});
