/**
 * AuditTrail against a real StorageServer over TLS: what it records for stores, queries, a refused
 * certificate binding and refused handshakes (expired, unknown CA, wrong purpose, revoked), each
 * message checked against the schema with xmllint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditTrail } from '../../src/audit/trail.js';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { tempDir } from '../helpers/dicom-data.js';
import { scenarioPki, type Identity } from '../helpers/pki.js';
import { spec, writeInstance } from '../helpers/services.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';
import { recordAudit } from '../helpers/audit-recorded.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
let dir: string;
let remove: () => Promise<void>;
let server: StorageServer;
let port: number;
let trail: AuditTrail;
const audit = recordAudit();
const recorded = audit.xml;

function clientTls(identity: Identity = scenarioPki().valid): SecureContext {
  return new SecureContext({ role: 'client', identity: { cert: identity.cert, key: identity.key }, ca: [scenarioPki().root.cert] });
}
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const detail = (xml: string, type: string): string | undefined => {
  const v = new RegExp(`<ParticipantObjectDetail type="${type}" value="([^"]*)"/>`).exec(xml)?.[1];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};
const since = (n: number): string[] => recorded.slice(n);
/** The acceptor records at its side's release, which may come just after the requestor's. */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setTimeout(r, 10));
}

before(async () => {
  ({ dir, remove } = await tempDir('audit-trail'));
  await mkdir(join(dir, 'in'));
  for (const n of [1, 4, 2]) await writeInstance(join(dir, 'in'), spec(n));
  const pki = scenarioPki();
  audit.start();
  trail = new AuditTrail({ auditSourceId: 'AUDIT-TEST', application: { name: 'dicom-tls serve', aeTitles: ['TLS-SCP'] } }).start();
  server = await StorageServer.create({
    aeTitle: 'TLS-SCP',
    storeRoot: join(dir, 'store'),
    fsync: 'none',
    tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert], crl: [pki.root.crl], crlCheck: 'leaf' }),
    certificateBindings: [{ aeTitle: 'HOSPITAL-A', certificates: [{ sha256Fingerprint: new X509Certificate(await readFile(pki.valid.cert)).fingerprint256 }] }],
    requireCertificateBinding: true,
  });
  ({ port } = await server.listen(0));
});

after(async () => {
  await server.close({ timeout: 1000 });
  await trail.stop();
  audit.stop();
  await remove();
});

test('Application Start, then per-study Instances Transferred and a Query with the identifier, all schema-valid', async () => {
  assert.match(recorded[0] ?? '', /csd-code="110100".*csd-code="110120"/);
  const mark = recorded.length;
  const client = await DicomClient.associate({
    host: '127.0.0.1', port, tls: clientTls(), callingAeTitle: 'HOSPITAL-A', calledAeTitle: 'TLS-SCP',
    presentationContexts: [
      ...(await storageContextsFor([join(dir, 'in')])),
      { abstractSyntax: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
    ],
    timeouts: quick,
  });
  const stored = await client.store([join(dir, 'in')]);
  assert.deepEqual(stored.map((r) => r.status), [0, 0, 0]);
  for await (const _ of client.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', PatientID: 'PID1', StudyInstanceUID: '' })) void _;
  await client.release();
  // Both sides are in this process: the server records what it received (C), the client what it sent (R).
  await until(() => since(mark).filter((x) => x.includes('csd-code="110104"')).length >= 4);
  const msgs = since(mark);
  const transferred = msgs.filter((x) => x.includes('csd-code="110104"') && x.includes('EventActionCode="C"'));
  // spec(1) and spec(4) are study .7777.1 (patient PID1), spec(2) is .7777.2 (PID2): two messages.
  assert.equal(transferred.length, 2, msgs.join('\n'));
  const s1 = transferred.find((x) => x.includes('ParticipantObjectID="1.2.826.0.1.3680043.9.7777.1"'))!;
  assert.match(s1, /<SOPClass UID="1.2.840.10008.5.1.4.1.1.2" NumberOfInstances="2">/);
  assert.match(s1, /ParticipantObjectID="PID1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">/);
  assert.match(s1, /UserID="HOSPITAL-A"[^>]*UserIsRequestor="true" NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110153"/);
  assert.match(s1, /UserID="TLS-SCP"[^>]*UserIsRequestor="false"><RoleIDCode csd-code="110152"/);
  // The client's view: action R (it is not the receiver), itself the Source and requestor, the
  // study and patient read from the data sets as they went out, what the peer took.
  const sent = msgs.filter((x) => x.includes('csd-code="110104"') && x.includes('EventActionCode="R"'));
  assert.equal(sent.length, 2, msgs.join('\n'));
  const c1 = sent.find((x) => x.includes('ParticipantObjectID="1.2.826.0.1.3680043.9.7777.1"'))!;
  assert.match(c1, /EventOutcomeIndicator="0"/);
  assert.match(c1, /UserID="HOSPITAL-A"[^>]*UserIsRequestor="true"><RoleIDCode csd-code="110153"/);
  assert.match(c1, /UserID="TLS-SCP"[^>]*UserIsRequestor="false" NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152"/);
  assert.match(c1, /<SOPClass UID="1.2.840.10008.5.1.4.1.1.2" NumberOfInstances="2">/);
  assert.match(c1, /ParticipantObjectID="PID1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">/);
  assert.ok(sent.some((x) => x.includes('ParticipantObjectID="PID2"')));
  // A query is recorded by both: the SCP that received it and the SCU that issued it, same identifier.
  const queries = msgs.filter((x) => x.includes('csd-code="110112"'));
  assert.equal(queries.length, 2);
  for (const query of queries) {
    const q = Buffer.from(/<ParticipantObjectQuery>([^<]*)</.exec(query)![1]!, 'base64');
    assert.ok(q.includes(Buffer.from('PID1')), 'the identifier as sent and received');
    assert.equal(detail(query, 'TransferSyntax'), TransferSyntax.ExplicitVrLittleEndian);
    assert.match(query, /UserID="HOSPITAL-A"[^>]*UserIsRequestor="true"[^>]*><RoleIDCode csd-code="110153"/);
  }
  assert.equal(/<ParticipantObjectQuery>([^<]*)</.exec(queries[0]!)![1], /<ParticipantObjectQuery>([^<]*)</.exec(queries[1]!)![1]);
  await assertSchemaValid(msgs);
});

test('a calling AE title not bound to the certificate: one Security Alert naming the certificate', async () => {
  const mark = recorded.length;
  await assert.rejects(DicomClient.associate({ host: '127.0.0.1', port, tls: clientTls(), callingAeTitle: 'HOSPITAL-B', calledAeTitle: 'TLS-SCP', timeouts: quick }));
  // The client in this same process records the rejection it received as an association event.
  const alerts = since(mark).filter((x) => x.includes('csd-code="110113"') && detail(x, 'Association') === undefined);
  assert.equal(alerts.length, 1);
  assert.equal(detail(alerts[0]!, 'Failure'), 'certificate-binding');
  // The one alert is the association's rejection too: the RJ's reason, no second message for it.
  assert.equal(detail(alerts[0]!, 'RejectReason'), '3 calling-AE-title-not-recognized');
  assert.match(alerts[0]!, /<EventTypeCode csd-code="ASSOCIATION-REJECTED"/);
  assert.deepEqual(since(mark).filter((x) => detail(x, 'Association') !== undefined).map((x) => detail(x, 'RejectedBy')), ['peer']);
  assert.equal(detail(alerts[0]!, 'CertificateSHA256'), new X509Certificate(await readFile(scenarioPki().valid.cert)).fingerprint256);
  assert.match(alerts[0]!, /UserID="HOSPITAL-B"/);
  await assertSchemaValid(since(mark));
});

for (const [name, identity, error] of [
  ['expired', 'expired', 'X509_V_ERR_CERT_HAS_EXPIRED'],
  ['unknown CA', 'unknownCaLeaf', 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  ['wrong purpose', 'wrongPurpose', 'X509_V_ERR_INVALID_PURPOSE'],
  ['revoked', 'revoked', 'X509_V_ERR_CERT_REVOKED'],
] as const) {
  test(`a refused client certificate (${name}): one Security Alert with ${error}, subject and fingerprint`, async () => {
    const pki = scenarioPki();
    const id = pki[identity];
    const mark = recorded.length;
    const failed = new Promise((resolve) => server.server.once('handshakeError', resolve));
    await assert.rejects(DicomClient.associate({ host: '127.0.0.1', port, tls: clientTls(id), callingAeTitle: 'HOSPITAL-A', calledAeTitle: 'TLS-SCP', timeouts: quick }));
    await failed;
    const alerts = since(mark).filter((x) => x.includes('csd-code="110113"'));
    // The server's refusal carries the X509 error; the client in this same process may record the alert it received.
    const ours = alerts.filter((x) => detail(x, 'RefusedBy') === 'local');
    assert.equal(ours.length, 1, alerts.join('\n'));
    const a = ours[0]!;
    assert.equal(detail(a, 'X509Error'), error);
    assert.equal(detail(a, 'X509ErrorDepth'), '0');
    assert.equal(detail(a, 'CertificateSHA256'), new X509Certificate(await readFile(id.cert)).fingerprint256);
    assert.match(detail(a, 'CertificateSubject') ?? '', /CN ?= ?/);
    assert.match(a, /NetworkAccessPointID="127.0.0.1"/);
    for (const other of alerts.filter((x) => x !== a)) assert.equal(detail(other, 'RefusedBy'), 'peer');
    await assertSchemaValid(since(mark));
  });
}

test('user identity: accepted → User Authentication 0; wrong passcode → Security Alert and User Authentication 4, no passcode recorded', async () => {
  const plain = await StorageServer.create({
    aeTitle: 'ID-SCP', storeRoot: join(dir, 'id-store'), fsync: 'none',
    server: { userIdentity: (id: { username?: string; passcode?: string }) => id.username === 'bob' && id.passcode === 'hunter2' },
  });
  try {
    const { port: p } = await plain.listen(0);
    const mark = recorded.length;
    const ok = await DicomClient.associate({ host: '127.0.0.1', port: p, callingAeTitle: 'SCU', calledAeTitle: 'ID-SCP', userIdentity: { type: 'username-passcode', username: 'bob', passcode: 'hunter2' }, timeouts: quick });
    await ok.echo();
    await ok.release();
    await assert.rejects(DicomClient.associate({ host: '127.0.0.1', port: p, callingAeTitle: 'SCU', calledAeTitle: 'ID-SCP', userIdentity: { type: 'username-passcode', username: 'bob', passcode: 'wrong-secret' }, timeouts: quick }));
    const msgs = since(mark);
    const auth = msgs.filter((x) => x.includes('csd-code="110114"'));
    assert.deepEqual(auth.map((x) => /EventOutcomeIndicator="(\d+)"/.exec(x)![1]), ['0', '4']);
    for (const a of auth) assert.match(a, /<ActiveParticipant UserID="bob" UserIsRequestor="true" NetworkAccessPointID="127.0.0.1"/);
    const alerts = msgs.filter((x) => x.includes('csd-code="110113"') && detail(x, 'Association') === undefined);
    assert.equal(alerts.length, 1);
    assert.equal(detail(alerts[0]!, 'Failure'), 'user-identity');
    assert.equal(detail(alerts[0]!, 'UserIdentity'), 'bob');
    assert.ok(!msgs.some((x) => x.includes('wrong-secret') || x.includes(b64('wrong-secret'))), 'the passcode is never recorded');
    await assertSchemaValid(msgs);
  } finally {
    await plain.close({ timeout: 1000 });
  }
});

test('a certificate OpenSSL accepts but our verify callback refuses: RefusedBy verify-callback, X509_V_ERR_CERT_REJECTED', async () => {
  const pki = scenarioPki();
  const strict = await StorageServer.create({
    aeTitle: 'CB-SCP', storeRoot: join(dir, 'cb-store'), fsync: 'none',
    tls: new SecureContext({
      role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert],
      // Refuses the leaf whatever OpenSSL says (a site policy, e.g. a pinned key).
      verifyCallback: (ok, _s, _e, _es, ctx) => (ctx.depth === 0 ? 0 : ok),
    }),
  });
  try {
    const { port: p } = await strict.listen(0);
    const mark = recorded.length;
    const failed = new Promise((resolve) => strict.server.once('handshakeError', resolve));
    await assert.rejects(DicomClient.associate({ host: '127.0.0.1', port: p, tls: clientTls(), callingAeTitle: 'A', calledAeTitle: 'CB-SCP', timeouts: quick }));
    await failed;
    const ours = since(mark).filter((x) => x.includes('csd-code="110113"') && detail(x, 'RefusedBy') === 'verify-callback');
    assert.equal(ours.length, 1, since(mark).join('\n'));
    assert.equal(detail(ours[0]!, 'X509Error'), 'X509_V_ERR_CERT_REJECTED');
    assert.equal(detail(ours[0]!, 'CertificateSHA256'), new X509Certificate(await readFile(pki.valid.cert)).fingerprint256);
    await assertSchemaValid(since(mark));
  } finally {
    await strict.close({ timeout: 1000 });
  }
});
