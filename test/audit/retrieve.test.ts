/**
 * AuditTrail for what a StorageServer sends on retrieves: Begin Transferring (A.5.3.3), Instances
 * Accessed (A.5.3.6) and Instances Transferred with action R (A.5.3.7), one per study, for C-MOVE
 * sub-operations (to a third destination) and C-GET (back to the requestor); each schema-valid.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditTrail } from '../../src/audit/trail.js';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';
import { DicomServer } from '../../src/ae/server.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { scenarioPki } from '../helpers/pki.js';
import { freePort } from '../helpers/dcmtk.js';
import { recordAudit } from '../helpers/audit-recorded.js';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { encodeDataset } from '../../src/dataset/codec.js';
import { QueryRetrieveStatus } from '../../src/dictionary/status.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
const STUDY1 = '1.2.826.0.1.3680043.9.7777.1';
const STUDY2 = '1.2.826.0.1.3680043.9.7777.2';
const CT = '1.2.840.10008.5.1.4.1.1.2';
let dir: string;
let remove: () => Promise<void>;
let src: StorageServer;
let dest: StorageServer;
let dups: StorageServer;
/** Refuses SRC's calling AE title; a TLS server whose certificate SRC's context does not trust. */
let picky: DicomServer;
let tlsDest: DicomServer;
/** Takes connections and never answers an A-ASSOCIATE-RQ: a move to it waits until cancelled. */
let silent: Server;
const silentSockets: Socket[] = [];
let silentConnected: () => void = () => undefined;
let port: number;
let trail: AuditTrail;
const audit = recordAudit();
const recorded = audit.xml;
const event = (code: string) => (x: string): boolean => x.includes(`<EventID csd-code="${code}"`);
/** What the server sent (action R); the C-MOVE requestor in this same process records its own view ("C-MOVE to …"), not counted here. */
const sentBy = (x: string): boolean => /EventActionCode="R"/.test(x) && !x.includes('>C-MOVE to ');
const forStudy = (uid: string) => (x: string): boolean => x.includes(`ParticipantObjectID="${uid}"`);

before(async () => {
  ({ dir, remove } = await tempDir('audit-retrieve'));
  await mkdir(join(dir, 'in'));
  for (const n of [1, 4, 2]) await writeInstance(join(dir, 'in'), spec(n));
  audit.start();
  trail = new AuditTrail({ auditSourceId: 'AUDIT-TEST', application: { name: 'dicom-tls serve', aeTitles: ['SRC'] } }).start();
  dest = await StorageServer.create({ aeTitle: 'DEST', storeRoot: join(dir, 'dest'), fsync: 'none' });
  const { port: destPort } = await dest.listen(0);
  // Refuses a re-sent instance (0111): a second move of the same instances fails there.
  dups = await StorageServer.create({ aeTitle: 'DUPS', storeRoot: join(dir, 'dups'), fsync: 'none', duplicates: 'reject' });
  const { port: dupsPort } = await dups.listen(0);
  picky = new DicomServer({ aeTitle: 'PICKY', callingAeTitles: ['SOMEONE-ELSE'] });
  const { port: pickyPort } = await picky.listen(0);
  const pki = scenarioPki();
  tlsDest = new DicomServer({ aeTitle: 'TLSDEST', tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key } }) });
  const { port: tlsPort } = await tlsDest.listen(0);
  silent = createServer((socket) => {
    silentSockets.push(socket);
    socket.on('error', () => undefined);
    silentConnected();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as AddressInfo).port;
  src = await StorageServer.create({
    aeTitle: 'SRC', storeRoot: join(dir, 'store'), fsync: 'none',
    destinations: {
      DEST: { host: '127.0.0.1', port: destPort }, DUPS: { host: '127.0.0.1', port: dupsPort },
      CLOSED: { host: '127.0.0.1', port: await freePort() },
      PICKY: { host: '127.0.0.1', port: pickyPort },
      SILENT: { host: '127.0.0.1', port: silentPort },
      // SRC trusts another CA than the one that issued TLSDEST's certificate.
      TLSDEST: { host: '127.0.0.1', port: tlsPort, tls: new SecureContext({ role: 'client', ca: [pki.unknownCa.cert] }) },
    },
  });
  ({ port } = await src.listen(0));
  const loader = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'LOADER', calledAeTitle: 'SRC', presentationContexts: await storageContextsFor([join(dir, 'in')]), timeouts: quick });
  assert.deepEqual((await loader.store([join(dir, 'in')])).map((r) => r.status), [0, 0, 0]);
  await loader.release();
});

after(async () => {
  await src.close({ timeout: 1000 });
  await dest.close({ timeout: 1000 });
  await dups.close({ timeout: 1000 });
  await picky.close({ timeout: 1000 });
  await tlsDest.close({ timeout: 1000 });
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await trail.stop();
  audit.stop();
  await remove();
});

/** MOVER's association to SRC, proposing Study Root C-MOVE. */
function associateMover(): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'MOVER', calledAeTitle: 'SRC', timeouts: quick,
    presentationContexts: [{ abstractSyntax: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
  });
}

test('C-MOVE of two studies to a third AE: per study Begin Transferring, Instances Accessed, Instances Transferred (R, Source us, Destination DEST, requestor MOVER)', async () => {
  const mark = recorded.length;
  const client = await associateMover();
  const result = await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: [STUDY1, STUDY2] }, 'DEST');
  assert.equal(result.completed, 3);
  await client.release();
  const msgs = recorded.slice(mark);
  const begin = msgs.filter(event('110102'));
  const accessed = msgs.filter(event('110103'));
  const sent = msgs.filter(event('110104')).filter(sentBy);
  assert.equal(begin.length, 2, msgs.join('\n'));
  assert.equal(accessed.length, 2);
  assert.equal(sent.length, 2);
  // Each study's begin comes before its transferred record.
  for (const uid of [STUDY1, STUDY2]) assert.ok(msgs.findIndex(forStudy(uid)) < msgs.indexOf(sent.find(forStudy(uid))!));
  const s1 = sent.find(forStudy(STUDY1))!;
  assert.match(s1, /EventOutcomeIndicator="0"/);
  assert.match(s1, new RegExp(`<SOPClass UID="${CT}" NumberOfInstances="2">`));
  assert.match(s1, /ParticipantObjectID="PID1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">/);
  assert.match(s1, /UserID="SRC"[^>]*UserIsRequestor="false"><RoleIDCode csd-code="110153"/);
  assert.match(s1, /UserID="DEST"[^>]*UserIsRequestor="false" NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152"/);
  assert.match(s1, /UserID="MOVER"[^>]*UserIsRequestor="true"/);
  const s2 = sent.find(forStudy(STUDY2))!;
  assert.match(s2, new RegExp(`<SOPClass UID="${CT}" NumberOfInstances="1">`));
  assert.match(s2, /ParticipantObjectID="PID2"/);
  const b1 = begin.find(forStudy(STUDY1))!;
  assert.match(b1, /EventActionCode="E"/);
  assert.match(b1, /UserID="SRC"[^>]*><RoleIDCode csd-code="110153"/);
  const a1 = accessed.find(forStudy(STUDY1))!;
  assert.match(a1, /EventActionCode="R"/);
  assert.match(a1, /UserID="MOVER"[^>]*UserIsRequestor="true"/);
  assert.match(a1, /ParticipantObjectID="PID1"/);
  await assertSchemaValid(msgs);
});

test('C-GET: Instances Transferred (R) names the requestor as the Destination and requestor', async () => {
  const mark = recorded.length;
  const { presentationContexts, roles } = getContexts();
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'GETTER', calledAeTitle: 'SRC', presentationContexts, roles, timeouts: quick });
  const result = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: STUDY1 }, { onInstance: async (i) => { for await (const _ of i.dataset) void _; } });
  assert.equal(result.completed, 2);
  await client.release();
  const msgs = recorded.slice(mark);
  const sent = msgs.filter(event('110104')).filter(sentBy);
  assert.equal(sent.length, 1, msgs.join('\n'));
  assert.equal(msgs.filter(event('110102')).length, 1);
  assert.equal(msgs.filter(event('110103')).length, 1);
  assert.match(sent[0]!, new RegExp(`ParticipantObjectID="${STUDY1}"`));
  assert.match(sent[0]!, new RegExp(`<SOPClass UID="${CT}" NumberOfInstances="2">`));
  assert.match(sent[0]!, /UserID="SRC"[^>]*UserIsRequestor="false"><RoleIDCode csd-code="110153"/);
  assert.match(sent[0]!, /UserID="GETTER"[^>]*UserIsRequestor="true" NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152"/);
  assert.doesNotMatch(sent[0]!, /UserID="GETTER"[\s\S]*UserID="GETTER"/, 'the requestor is not listed twice');
  await assertSchemaValid(msgs);
});

test('C-MOVE where the destination refuses some instances: outcome 4 listing what it took; none taken: outcome 8', async () => {
  const client = await associateMover();
  try {
    const first = `${STUDY1}.1.1`;
    assert.equal((await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: STUDY1, SeriesInstanceUID: `${STUDY1}.1`, SOPInstanceUID: first }, 'DUPS')).completed, 1);
    let mark = recorded.length;
    const some = await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: STUDY1 }, 'DUPS');
    assert.deepEqual([some.completed, some.failed], [1, 1]);
    let sent = recorded.slice(mark).filter(event('110104')).filter(sentBy);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /EventOutcomeIndicator="4"/);
    assert.match(sent[0]!, /EventOutcomeDescription>1 of 2 instance\(s\) not transferred</);
    assert.match(sent[0]!, new RegExp(`<SOPClass UID="${CT}" NumberOfInstances="1"><Instance UID="${STUDY1}.1.4"/>`));
    await assertSchemaValid(recorded.slice(mark));
    mark = recorded.length;
    await assert.rejects(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: STUDY1 }, 'DUPS'));
    sent = recorded.slice(mark).filter(event('110104')).filter(sentBy);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /EventOutcomeIndicator="8"/);
    assert.match(sent[0]!, /EventOutcomeDescription>2 of 2 instance\(s\) not transferred</);
    await assertSchemaValid(recorded.slice(mark));
  } finally {
    await client.release();
  }
});

for (const [dest, what, extra] of [
  ['NOBODY', 'an unknown move destination', 'move destination NOBODY unknown'],
  ['CLOSED', 'a destination that refuses the connection', 'cannot reach move destination CLOSED'],
  ['PICKY', 'a destination that rejects the association', 'cannot reach move destination PICKY'],
  ['TLSDEST', 'a destination whose certificate we refuse', 'cannot reach move destination TLSDEST'],
] as const) {
  test(`C-MOVE to ${what}: Instances Transferred with outcome 8, nothing transferred, and why`, async () => {
    const mark = recorded.length;
    const client = await associateMover();
    try {
      await assert.rejects(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: STUDY1 }, dest));
    } finally {
      await client.release();
    }
    const msgs = recorded.slice(mark);
    const sent = msgs.filter(event('110104')).filter(sentBy);
    assert.equal(sent.length, 1, msgs.join('\n'));
    assert.match(sent[0]!, /EventActionCode="R"[^>]*EventOutcomeIndicator="8"/);
    assert.ok(sent[0]!.includes(`<EventOutcomeDescription>2 of 2 instance(s) not transferred: ${extra}`), sent[0]);
    assert.match(sent[0]!, new RegExp(`UserID="${dest}"[^>]*UserIsRequestor="false"[^>]*><RoleIDCode csd-code="110152"`));
    assert.match(sent[0]!, /UserID="MOVER"[^>]*UserIsRequestor="true"/);
    assert.equal(msgs.filter(event('110102')).length, 0, 'no Begin Transferring: nothing began');
    if (dest === 'PICKY') {
      // The rejection is also its own association event, seen from our side as the requestor.
      assert.ok(msgs.some((x) => x.includes('csd-code="ASSOCIATION-REJECTED"') && x.includes('UserID="SRC"')));
    }
    if (dest === 'TLSDEST') {
      // A refused node authentication is a Security Alert of its own, with the X509 error.
      const alert = msgs.find((x) => x.includes('csd-code="110126"') && x.includes(Buffer.from('X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY').toString('base64')));
      assert.ok(alert !== undefined, msgs.join('\n'));
    }
    await assertSchemaValid(msgs);
  });
}

test('C-MOVE cancelled before its destination answered: Instances Transferred with outcome 8, nothing transferred, cancelled', async () => {
  const mark = recorded.length;
  const client = await associateMover();
  try {
    const connected = new Promise<void>((resolve) => (silentConnected = resolve));
    const move = client.association.request(
      { type: 'C-MOVE-RQ', affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, priority: 0, moveDestination: 'SILENT' },
      { dataset: encodeDataset({ QueryRetrieveLevel: 'STUDY', StudyInstanceUID: STUDY1 }, TransferSyntax.ExplicitVrLittleEndian), timeout: 0 },
    );
    await connected;
    await move.cancel();
    assert.equal((await move.response).command.status, QueryRetrieveStatus.Cancel);
  } finally {
    await client.release();
  }
  const msgs = recorded.slice(mark);
  const sent = msgs.filter(event('110104')).filter(sentBy);
  assert.equal(sent.length, 1, msgs.join('\n'));
  assert.match(sent[0]!, /EventActionCode="R"[^>]*EventOutcomeIndicator="8"/);
  assert.ok(sent[0]!.includes('<EventOutcomeDescription>2 of 2 instance(s) not transferred: retrieve cancelled before move destination SILENT was reached'), sent[0]);
  assert.match(sent[0]!, /UserID="SILENT"[^>]*UserIsRequestor="false"/);
  assert.equal(msgs.filter(event('110102')).length, 0, 'no Begin Transferring: nothing began');
  await assertSchemaValid(msgs);
});
