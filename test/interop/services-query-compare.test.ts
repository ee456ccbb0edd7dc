/**
 * C-FIND over the network, compared end to end: the known data set (test/helpers/query-dataset.ts)
 * is sent by our client with C-STORE to our StorageServer and to DCMTK's dcmqrscp; the same
 * queries (each level, single value, wildcard, range, UID list) then go by our client's C-FIND to
 * both, and the sets of matches must be equal.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { IndexDb } from '../../src/store/index-db.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { freePort, hasDcmtk } from '../helpers/dcmtk.js';
import { waitListening } from '../helpers/free-port.js';
import { tempDir } from '../helpers/dicom-data.js';
import { storeKnownDataset } from '../helpers/query-dataset.js';

const skip = hasDcmtk('dcmqrscp') ? false : 'dcmqrscp missing';
const quick = { connect: 5000, association: 5000, dimse: 20000 };

type Q = readonly ['PATIENT_ROOT' | 'STUDY_ROOT', Record<string, string>, string];
const queries: readonly Q[] = [
  ['PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientName: 'DOE*' }, 'PatientID'],
  ['PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '?ID00?' }, 'PatientID'],
  ['PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientBirthDate: '19800101-' }, 'PatientID'],
  ['PATIENT_ROOT', { QueryRetrieveLevel: 'STUDY', PatientID: 'PID001' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyDate: '20200101-20211231' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyDate: '-20191231' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyTime: '0800-1100' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.2.1\\1.2.826.0.2.3' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', AccessionNumber: 'ACC?' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', ReferringPhysicianName: 'SMITH*' }, 'StudyInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1', Modality: 'MR' }, 'SeriesInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1' }, 'SeriesInstanceUID'],
  ['PATIENT_ROOT', { QueryRetrieveLevel: 'IMAGE', PatientID: 'PID002', StudyInstanceUID: '1.2.826.0.2.3', SeriesInstanceUID: '1.2.826.0.2.3.1', InstanceNumber: '2' }, 'SOPInstanceUID'],
  ['STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: '1.2.826.0.2.1', SeriesInstanceUID: '1.2.826.0.2.1.1' }, 'SOPInstanceUID'],
];

let dir: string;
let remove: () => Promise<void>;
let ours: StorageServer;
let oursPort: number;
let qrPort: number;
let scp: ChildProcess | undefined;

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('services-qcompare'));
  const seedIndex = new IndexDb(':memory:');
  await storeKnownDataset(join(dir, 'seed'), seedIndex);
  seedIndex.close();
  ours = await StorageServer.create({ aeTitle: 'OURS', storeRoot: join(dir, 'ours'), fsync: 'none' });
  ({ port: oursPort } = await ours.listen(0));
  const db = join(dir, 'qrdb');
  await mkdir(db);
  qrPort = await freePort();
  const config = [`NetworkTCPPort = ${qrPort}`, 'MaxPDUSize = 16384', 'MaxAssociations = 4', 'HostTable BEGIN', 'HostTable END', 'VendorTable BEGIN', 'VendorTable END', 'AETable BEGIN', `QRSCP ${db} RW (100, 1024mb) ANY`, 'AETable END'];
  await writeFile(join(dir, 'qr.cfg'), `${config.join('\n')}\n`);
  scp = spawn('dcmqrscp', ['-c', join(dir, 'qr.cfg'), String(qrPort)], { stdio: 'ignore' });
  await waitListening(qrPort, scp);
  // The same files, sent by our client to both.
  const sources = [join(dir, 'seed')];
  for (const [port, called] of [[oursPort, 'OURS'], [qrPort, 'QRSCP']] as const) {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'LOADER', calledAeTitle: called, presentationContexts: await storageContextsFor(sources), timeouts: quick });
    const results = await client.store(sources);
    assert.ok(results.length === 7 && results.every((r) => r.status === 0), JSON.stringify(results.map((r) => [r.path, r.status, r.errorComment])));
    await client.release();
  }
});

after(async () => {
  if (scp !== undefined && scp.exitCode === null) {
    const exited = new Promise((r) => scp!.once('exit', r));
    scp.kill('SIGTERM');
    await exited;
  }
  await ours?.close({ timeout: 1000 });
  await remove?.();
});

test('our client C-FIND to our server and to dcmqrscp: the same matches for every query', { skip }, async () => {
  const contexts = [QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }));
  const a = await DicomClient.associate({ host: '127.0.0.1', port: oursPort, callingAeTitle: 'Q', calledAeTitle: 'OURS', presentationContexts: contexts, timeouts: quick });
  const b = await DicomClient.associate({ host: '127.0.0.1', port: qrPort, callingAeTitle: 'Q', calledAeTitle: 'QRSCP', presentationContexts: contexts, timeouts: quick });
  const values = async (c: DicomClient, [model, id, key]: Q): Promise<string[]> => {
    const out: string[] = [];
    for await (const m of c.find(model, { [key]: '', ...id })) out.push(String(m[key]));
    return out.sort();
  };
  const differences: string[] = [];
  let nonEmpty = 0;
  for (const q of queries) {
    const [x, y] = [await values(a, q), await values(b, q)];
    if (y.length > 0) nonEmpty++;
    if (JSON.stringify(x) !== JSON.stringify(y)) differences.push(`${JSON.stringify(q)}: ours ${JSON.stringify(x)}, dcmqrscp ${JSON.stringify(y)}`);
  }
  assert.deepEqual(differences, []);
  assert.ok(nonEmpty >= queries.length - 2, 'most queries found something');
  await a.release();
  await b.release();
});
