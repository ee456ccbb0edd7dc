/**
 * Where the server deletes a stored instance, the audit trail says so: DICOM Instances Accessed
 * with action D (PS3.15 A.5.3.6) when duplicates 'overwrite' replaces a held copy (and the
 * transfer that replaced it has action U, A.5.3.7), and when opening a store removes a copy an
 * interrupted run left behind that another indexed copy supersedes. A re-send kept as first
 * stored is a transfer with action R. Every message schema-valid.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { AuditTrail } from '../../src/audit/trail.js';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { FileStore } from '../../src/store/file-store.js';
import { IndexDb, type InstanceRecord } from '../../src/store/index-db.js';
import { encodeFileMetaInformation } from '../../src/dataset/part10.js';
import { ctImageStorage, encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';
import { recordAudit } from '../helpers/audit-recorded.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
const STUDY1 = '1.2.826.0.1.3680043.9.7777.1';
let dir: string;
let remove: () => Promise<void>;
let trail: AuditTrail;
const audit = recordAudit();
const recorded = audit.xml;
const event = (code: string) => (x: string): boolean => x.includes(`<EventID csd-code="${code}"`);
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setTimeout(r, 10));
}

before(async () => {
  ({ dir, remove } = await tempDir('audit-deleted'));
  await mkdir(join(dir, 'in'));
  await writeInstance(join(dir, 'in'), spec(1));
  audit.start();
  trail = new AuditTrail({ auditSourceId: 'AUDIT-TEST', application: { name: 'dicom-tls serve', aeTitles: ['SCP'] } }).start();
});

after(async () => {
  await trail.stop();
  audit.stop();
  await assertSchemaValid(recorded);
  await remove();
});

/** Store the one instance twice, on two associations; what the server (acceptor) recorded for each. */
async function storeTwice(duplicates: 'overwrite' | 'keep-first'): Promise<[string[], string[]]> {
  const server = await StorageServer.create({ aeTitle: 'SCP', storeRoot: join(dir, duplicates), fsync: 'none', duplicates });
  try {
    const { port } = await server.listen(0);
    const rounds: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const mark = recorded.length;
      const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'MODALITY', calledAeTitle: 'SCP', presentationContexts: await storageContextsFor([join(dir, 'in')]), timeouts: quick });
      assert.deepEqual((await client.store([join(dir, 'in')])).map((r) => r.outcome), ['Success']);
      await client.release();
      // The client in this process records what it sent (action R, us the Source); the server's record has MODALITY as Source.
      const received = (x: string): boolean => event('110104')(x) && /UserID="MODALITY"[^>]*UserIsRequestor="true" NetworkAccessPointID/.test(x);
      await until(() => recorded.slice(mark).some(received));
      rounds.push(recorded.slice(mark).filter((x) => received(x) || event('110103')(x)));
    }
    return rounds as [string[], string[]];
  } finally {
    await server.close({ timeout: 1000 });
  }
}

test("duplicates 'overwrite': the replaced copy is an Instances Accessed with action D, the transfer that replaced it action U", async () => {
  const [first, second] = await storeTwice('overwrite');
  assert.equal(first.length, 1);
  assert.match(first[0]!, /EventActionCode="C"/);
  const transferred = second.filter(event('110104'));
  const deleted = second.filter(event('110103'));
  assert.equal(transferred.length, 1, second.join('\n'));
  assert.match(transferred[0]!, /EventActionCode="U"/);
  assert.equal(deleted.length, 1, second.join('\n'));
  const d = deleted[0]!;
  assert.match(d, /EventActionCode="D"[^>]*EventOutcomeIndicator="0"/);
  assert.match(d, /<EventOutcomeDescription>stored copy replaced by a re-sent instance \(duplicates: overwrite\)</);
  assert.match(d, /<ActiveParticipant UserID="MODALITY"[^>]*UserIsRequestor="true"/);
  assert.match(d, /<ActiveParticipant UserID="SCP"[^>]*UserIsRequestor="false"/);
  assert.match(d, new RegExp(`ParticipantObjectID="${STUDY1}"[\\s\\S]*<Instance UID="${STUDY1}\\.1\\.1"/>`));
  assert.match(d, /ParticipantObjectID="PID1" ParticipantObjectTypeCode="1"/);
  await assertSchemaValid(second);
});

test("duplicates 'keep-first': the re-send is a transfer with action R (the receiver held it, nothing changed), nothing deleted", async () => {
  const [first, second] = await storeTwice('keep-first');
  assert.match(first[0]!, /EventActionCode="C"/);
  assert.equal(second.length, 1, second.join('\n'));
  assert.match(second[0]!, /EventID csd-code="110104"/);
  assert.match(second[0]!, /EventActionCode="R"/);
});

function record(s: InstanceSpec, key: string): InstanceRecord {
  return {
    SpecificCharacterSet: '', PatientID: s.PatientID ?? '', PatientName: s.PatientName ?? '', PatientBirthDate: '', PatientSex: '',
    StudyInstanceUID: s.StudyInstanceUID, StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '',
    ReferringPhysicianName: '', SeriesInstanceUID: s.SeriesInstanceUID, Modality: 'CT', SeriesNumber: '', SeriesDescription: '',
    SOPInstanceUID: s.SOPInstanceUID, SOPClassUID: ctImageStorage, InstanceNumber: s.InstanceNumber ?? '', key, transferSyntaxUid: '1.2.840.10008.1.2.1', size: 100,
  };
}

test('opening a store removes a copy an interrupted run left that another indexed copy supersedes: Instances Accessed with action D', async () => {
  const root = join(dir, 'reconcile');
  const indexPath = join(dir, 'reconcile.sqlite');
  const index = new IndexDb(indexPath);
  const store = await FileStore.open({ root, index });
  const s: InstanceSpec = { PatientName: 'DOE^JOHN', PatientID: 'PID001', StudyInstanceUID: '1.2.826.0.9.1', SeriesInstanceUID: '1.2.826.0.9.1.2', SOPInstanceUID: '1.2.826.0.9.1.2.1', SOPClassUID: ctImageStorage, Modality: 'CT', InstanceNumber: '1' };
  const bytes = encodeDataset(specElements(s));
  await store.store({ sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () { yield bytes; })());
  // A crash left a second copy in place with its pending entry, the indexed copy still there.
  const leftover = join(root, 'other', 'series', `${s.SOPInstanceUID}.dcm`);
  await mkdir(dirname(leftover), { recursive: true });
  await writeFile(leftover, Buffer.concat([encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: '1.2.840.10008.1.2.1' }), bytes]));
  const key = relative(root, leftover).split(sep).join('/');
  await index.beginPending([{ key, sopInstanceUid: s.SOPInstanceUID, record: record(s, key) }]);
  await index.close();
  const mark = recorded.length;
  const reopened = new IndexDb(indexPath);
  await FileStore.open({ root, index: reopened });
  await reopened.close();
  const deleted = recorded.slice(mark).filter(event('110103'));
  assert.equal(deleted.length, 1, recorded.slice(mark).join('\n'));
  const d = deleted[0]!;
  assert.match(d, /EventActionCode="D"/);
  assert.ok(d.includes(`<EventOutcomeDescription>superseded copy ${leftover} removed at start`));
  assert.match(d, /<ActiveParticipant UserID="dicom-tls serve"[^>]*UserIsRequestor="true"/);
  assert.match(d, new RegExp(`ParticipantObjectID="1.2.826.0.9.1"[\\s\\S]*<SOPClass UID="${ctImageStorage}" NumberOfInstances="1"><Instance UID="1.2.826.0.9.1.2.1"/>`));
  assert.match(d, /ParticipantObjectID="PID001"/);
  await assertSchemaValid(deleted);
});
