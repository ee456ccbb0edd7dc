/**
 * `store`, `find`, `get` and `move --audit`, as a user runs them: what each sends or receives is in
 * the audit log (a file repository), between Application Start and Stop, every message valid
 * against the schema. Real peers: DCMTK's storescp takes what `store` sends and is the C-MOVE
 * destination; our StorageServer answers find, get and move.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { freePort, startListening, type Daemon } from '../helpers/dcmtk.js';
import { writeInstance, spec } from '../helpers/services.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';

const STUDY1 = '1.2.826.0.1.3680043.9.7777.1';
const STUDY2 = '1.2.826.0.1.3680043.9.7777.2';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const tmp = tempDir('cli-client-audit-');
let storescp: Daemon;
let archive: StorageServer;
let archivePort: number;
let inDir: string;

const detail = (xml: string, type: string): string | undefined => {
  const v = new RegExp(`<ParticipantObjectDetail type="${type}" value="([^"]*)"/>`).exec(xml)?.[1];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};
const eventOf = (x: string): string => /<EventID csd-code="(\d+)"/.exec(x)![1]!;

/** Run the CLI with --audit to a file of its own; the messages it wrote, checked against the schema. */
async function audited(name: string, args: readonly string[]): Promise<{ code: number | null; stderr: string; xml: string[] }> {
  const log = join(tmp.dir, `${name}.log`);
  rmSync(log, { force: true });
  const r = await runCli([...args, '--audit', `file://${log}`, '--audit-queue', join(tmp.dir, `${name}-queue`)], { cwd: tmp.dir });
  const xml = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.slice(l.indexOf('<?xml')));
  await assertSchemaValid(xml);
  // Application Start first, Application Stop last.
  assert.match(xml[0]!, /csd-code="110100"[\s\S]*csd-code="110120"/);
  assert.match(xml.at(-1)!, /csd-code="110100"[\s\S]*csd-code="110121"/);
  return { code: r.code, stderr: r.stderr, xml };
}

before(async () => {
  inDir = join(tmp.dir, 'in');
  mkdirSync(inDir, { recursive: true });
  for (const n of [1, 4, 2]) await writeInstance(inDir, spec(n));
  mkdirSync(join(tmp.dir, 'scp'), { recursive: true });
  storescp = await startListening('storescp', ['-od', join(tmp.dir, 'scp'), '-aet', 'STORESCP']);
  archive = await StorageServer.create({
    aeTitle: 'ARCHIVE', storeRoot: join(tmp.dir, 'archive'), fsync: 'none',
    destinations: { DEST: { host: '127.0.0.1', port: storescp.port }, NOWHERE: { host: '127.0.0.1', port: await freePort() } },
  });
  ({ port: archivePort } = await archive.listen(0));
  const loader = await DicomClient.associate({ host: '127.0.0.1', port: archivePort, callingAeTitle: 'LOADER', calledAeTitle: 'ARCHIVE', presentationContexts: await storageContextsFor([inDir]), timeouts: { connect: 5000, association: 5000, dimse: 10000 } });
  assert.deepEqual((await loader.store([inDir])).map((r) => r.status), [0, 0, 0]);
  await loader.release();
});

after(async () => {
  await archive.close({ timeout: 1000 });
  await storescp.stop();
  tmp.cleanup();
});

test('store --audit to DCMTK storescp: per study Instances Transferred (R), us the Source and requestor, storescp the Destination', async () => {
  const r = await audited('store', ['store', `127.0.0.1:${storescp.port}`, inDir, '--no-tls', '--call', 'STORESCP', '--aet', 'MODALITY']);
  assert.equal(r.code, 0, r.stderr);
  const sent = r.xml.filter((x) => eventOf(x) === '110104');
  assert.equal(sent.length, 2, r.xml.join('\n'));
  const s1 = sent.find((x) => x.includes(`ParticipantObjectID="${STUDY1}"`))!;
  assert.match(s1, /EventActionCode="R"[^>]*EventOutcomeIndicator="0"/);
  assert.match(s1, /<ActiveParticipant UserID="MODALITY"[^>]*UserIsRequestor="true"><RoleIDCode csd-code="110153"/);
  assert.match(s1, /<ActiveParticipant UserID="STORESCP"[^>]*UserIsRequestor="false" NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152"/);
  assert.match(s1, new RegExp(`<SOPClass UID="${CT}" NumberOfInstances="2"><Instance UID="${STUDY1}\\.1\\.1"/><Instance UID="${STUDY1}\\.1\\.4"/></SOPClass>`));
  assert.match(s1, /ParticipantObjectID="PID1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881"/);
  assert.match(sent.find((x) => x.includes(`ParticipantObjectID="${STUDY2}"`))!, /ParticipantObjectID="PID2"/);
  // The association storescp accepted, from our side.
  const accepted = r.xml.filter((x) => x.includes('csd-code="ASSOCIATION-ACCEPTED"'));
  assert.ok(accepted.length >= 1);
  assert.equal(detail(accepted[0]!, 'CalledAETitle'), 'STORESCP');
  assert.equal(detail(accepted[0]!, 'Association'), 'accepted');
});

test('find --audit: a Query (A.5.3.10) with the identifier as sent, us the Source', async () => {
  const r = await audited('find', ['find', `127.0.0.1:${archivePort}`, '--no-tls', '--call', 'ARCHIVE', '--aet', 'VIEWER', '--level', 'STUDY', '-k', 'PatientID=PID1', '-k', 'StudyInstanceUID']);
  assert.equal(r.code, 0, r.stderr);
  const queries = r.xml.filter((x) => eventOf(x) === '110112');
  assert.equal(queries.length, 1, r.xml.join('\n'));
  const q = queries[0]!;
  assert.match(q, /EventActionCode="E"/);
  assert.match(q, /ParticipantObjectID="1.2.840.10008.5.1.4.1.2.2.1"[^>]*><ParticipantObjectIDTypeCode csd-code="110181"/);
  assert.ok(Buffer.from(/<ParticipantObjectQuery>([^<]*)</.exec(q)![1]!, 'base64').includes(Buffer.from('PID1')));
  assert.match(q, /<ActiveParticipant UserID="VIEWER"[^>]*UserIsRequestor="true"><RoleIDCode csd-code="110153"/);
  assert.match(q, /<ActiveParticipant UserID="ARCHIVE"[^>]*NetworkAccessPointID="127.0.0.1"[^>]*><RoleIDCode csd-code="110152"/);
});

test('get --audit: Instances Transferred (C), us the Destination and requestor, the archive the Source', async () => {
  const r = await audited('get', ['get', `127.0.0.1:${archivePort}`, '--no-tls', '--call', 'ARCHIVE', '--aet', 'GETTER', '--out', join(tmp.dir, 'got'), '--level', 'STUDY', '-k', `StudyInstanceUID=${STUDY1}`]);
  assert.equal(r.code, 0, r.stderr);
  const got = r.xml.filter((x) => eventOf(x) === '110104');
  assert.equal(got.length, 1, r.xml.join('\n'));
  assert.match(got[0]!, /EventActionCode="C"[^>]*EventOutcomeIndicator="0"/);
  assert.match(got[0]!, /<ActiveParticipant UserID="ARCHIVE"[^>]*UserIsRequestor="false" NetworkAccessPointID="127.0.0.1"[^>]*><RoleIDCode csd-code="110153"/);
  assert.match(got[0]!, /<ActiveParticipant UserID="GETTER"[^>]*UserIsRequestor="true"><RoleIDCode csd-code="110152"/);
  assert.match(got[0]!, new RegExp(`ParticipantObjectID="${STUDY1}"[\\s\\S]*<SOPClass UID="${CT}" NumberOfInstances="2">`));
  assert.match(got[0]!, /ParticipantObjectID="PID1"/);
});

test('move --audit to a third AE: Instances Transferred (R) from the archive to DEST, us the requestor, the counts', async () => {
  const r = await audited('move', ['move', `127.0.0.1:${archivePort}`, '--no-tls', '--call', 'ARCHIVE', '--aet', 'MOVER', '--dest', 'DEST', '--level', 'STUDY', '-k', `StudyInstanceUID=${STUDY1}`]);
  assert.equal(r.code, 0, r.stderr);
  const moved = r.xml.filter((x) => eventOf(x) === '110104');
  assert.equal(moved.length, 1, r.xml.join('\n'));
  const m = moved[0]!;
  assert.match(m, /EventActionCode="R"[^>]*EventOutcomeIndicator="0"/);
  assert.match(m, /<EventOutcomeDescription>C-MOVE to DEST: completed 2, warnings 0, failed 0; status 0x0000<\/EventOutcomeDescription>/);
  assert.match(m, /<ActiveParticipant UserID="ARCHIVE"[^>]*UserIsRequestor="false" NetworkAccessPointID="127.0.0.1"[^>]*><RoleIDCode csd-code="110153"/);
  assert.match(m, /<ActiveParticipant UserID="DEST"[^>]*UserIsRequestor="false"><RoleIDCode csd-code="110152"/);
  assert.match(m, /<ActiveParticipant UserID="MOVER"[^>]*UserIsRequestor="true"\/>/);
  assert.match(m, new RegExp(`ParticipantObjectID="${STUDY1}"`));
});

test('move --audit to an unreachable destination: the failure is recorded with outcome 8', async () => {
  const r = await audited('move-fail', ['move', `127.0.0.1:${archivePort}`, '--no-tls', '--call', 'ARCHIVE', '--aet', 'MOVER', '--dest', 'NOWHERE', '--level', 'STUDY', '-k', `StudyInstanceUID=${STUDY1}`]);
  assert.notEqual(r.code, 0);
  const moved = r.xml.filter((x) => eventOf(x) === '110104');
  assert.equal(moved.length, 1, r.xml.join('\n'));
  assert.match(moved[0]!, /EventOutcomeIndicator="8"/);
  assert.match(moved[0]!, /C-MOVE to NOWHERE: completed 0, warnings 0, failed 0; status 0xa7/);
});
