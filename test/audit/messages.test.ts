/** Every audit message builder's output against the schema written from PS3.15 A.5.1, with xmllint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applicationActivity, beginTransferring, instancesAccessed, instancesTransferred, query, securityAlert, userAuthentication,
} from '../../src/audit/events.js';
import { auditMessageToXml } from '../../src/audit/message.js';
import { octetCounted, splitOctetCounted, syslogMessage, AUDIT_PRI } from '../../src/audit/syslog.js';
import { assertSchemaValid, xmllintAudit } from '../helpers/audit-schema.js';

const src = { auditSourceId: 'TEST-NODE', auditEnterpriseSiteId: 'Site & <Co>' };
const study = {
  studyInstanceUid: '1.2.3.4', patientId: 'PAT-1', patientName: 'Doe^Jane', accessionNumber: 'ACC1',
  sopClasses: new Map([['1.2.840.10008.5.1.4.1.1.2', ['1.2.3.4.1', '1.2.3.4.2']], ['1.2.840.10008.5.1.4.1.1.7', ['1.2.3.4.3']]]),
};
const scu = { aeTitle: 'SCU', address: '127.0.0.1' };
const scp = { aeTitle: 'SCP' };

function all(): string[] {
  return [
    applicationActivity(src, { name: 'dicom-tls', aeTitles: ['A', 'B'], launcher: 'root' }, 'start'),
    applicationActivity(src, { name: 'dicom-tls' }, 'stop'),
    securityAlert(src, {
      kind: 'tls-handshake', peer: { address: '::ffff:127.0.0.1' }, local: scp, localRole: 'acceptor', description: 'refused "x" <y>',
      certificateSubject: 'CN = Test, O = "A&B"', certificateFingerprint: 'AB:CD', x509Error: 'X509_V_ERR_CERT_HAS_EXPIRED', depth: 0, refusedBy: 'local',
    }),
    securityAlert(src, { kind: 'user-identity', peer: scu, local: scp, localRole: 'acceptor', description: 'bad password', userIdentity: 'alice' }),
    userAuthentication(src, 'alice', scu, scp, false, 'refused'),
    instancesTransferred(src, { source: scu, destination: scp, requestor: 'source', study }, 'C'),
    instancesTransferred(src, { source: scp, destination: scu, requestor: 'destination', study: { ...study, patientId: undefined, patientName: undefined } }, 'R'),
    beginTransferring(src, { source: scp, destination: scu, requestor: 'destination', study }),
    instancesAccessed(src, scu, scp, study),
    query(src, { source: scu, destination: scp, sopClassUid: '1.2.840.10008.5.1.4.1.2.2.1', dataset: new Uint8Array([8, 0, 0x52, 0, 6, 0, 0, 0, 0x53, 0x54, 0x55, 0x44, 0x59, 0x20]), transferSyntaxUid: '1.2.840.10008.1.2' }),
  ].map(auditMessageToXml);
}

test('every message the builders make is valid against schema/dicom-audit-message.rng', async () => {
  await assertSchemaValid(all());
});

test('the schema is not a rubber stamp: wrong codes, order and missing parts are refused', async () => {
  const good = all()[0]!;
  const bad = [
    good.replace('EventOutcomeIndicator="0"', 'EventOutcomeIndicator="3"'),
    good.replace('EventActionCode="E"', 'EventActionCode="X"'),
    good.replace(/<ActiveParticipant.*?<\/ActiveParticipant>/g, ''),
    good.replace(/<AuditSourceIdentification.*?<\/AuditSourceIdentification>/, ''),
    good.replace('UserIsRequestor="false"', 'UserIsRequestor="maybe"'),
    good.replace(' csd-code="110100"', ''),
  ];
  for (const b of bad) assert.notEqual(b, good);
  const results = await xmllintAudit(bad);
  assert.deepEqual(results.map((r) => r.ok), bad.map(() => false));
});

test('A.5.1.1 requires a name or a query in every participant object: the messages always carry one, the schema refuses neither', async () => {
  const transferred = all()[5]!;
  // The study has no name of its own: it is named by its UID; a patient without a name by its ID.
  assert.match(transferred, /ParticipantObjectID="1.2.3.4"[^>]*><ParticipantObjectIDTypeCode[^>]*\/><ParticipantObjectName>1.2.3.4<\/ParticipantObjectName>/);
  assert.match(all()[6]!, /ParticipantObjectID="unknown"[^>]*><ParticipantObjectIDTypeCode[^>]*\/><ParticipantObjectName>unknown<\/ParticipantObjectName>/);
  const nameless = transferred.replace('<ParticipantObjectName>1.2.3.4</ParticipantObjectName>', '');
  assert.notEqual(nameless, transferred);
  assert.deepEqual((await xmllintAudit([nameless])).map((r) => r.ok), [false]);
});

test('field values follow PS3.15 A.5.3: codes, roles, participant objects', () => {
  const [start, , alert, , , transferred, , , , q] = all() as [string, string, string, string, string, string, string, string, string, string];
  assert.match(start, /<EventID csd-code="110100" codeSystemName="DCM" originalText="Application Activity"\/><EventTypeCode csd-code="110120"/);
  assert.match(start, /AlternativeUserID="AETITLES=A;B"/);
  assert.match(start, /<RoleIDCode csd-code="110150"/);
  assert.match(alert, /csd-code="110113".*csd-code="110126"/);
  assert.match(alert, /EventOutcomeIndicator="4"/);
  assert.match(alert, /NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"/);
  assert.match(alert, /ParticipantObjectID="127.0.0.1".*csd-code="110182"/);
  assert.ok(alert.includes(`type="X509Error" value="${Buffer.from('X509_V_ERR_CERT_HAS_EXPIRED').toString('base64')}"`));
  assert.match(transferred, /EventActionCode="C"/);
  assert.match(transferred, /UserID="SCU"[^>]*UserIsRequestor="true"[^>]*><RoleIDCode csd-code="110153"/);
  assert.match(transferred, /UserID="SCP"[^>]*UserIsRequestor="false"[^>]*><RoleIDCode csd-code="110152"/);
  assert.match(transferred, /ParticipantObjectID="1.2.3.4" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3"><ParticipantObjectIDTypeCode csd-code="110180"/);
  assert.match(transferred, /<SOPClass UID="1.2.840.10008.5.1.4.1.1.2" NumberOfInstances="2">/);
  assert.match(transferred, /ParticipantObjectID="PAT-1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881"/);
  assert.match(q, /csd-code="110112"/);
  assert.match(q, /<ParticipantObjectQuery>CAAAUgAAAAAAU1RVRFkg|<ParticipantObjectQuery>/);
  assert.ok(q.includes(`type="TransferSyntax" value="${Buffer.from('1.2.840.10008.1.2').toString('base64')}"`));
});

test('RFC 5424 header and octet counting round-trip', () => {
  const xml = all()[0]!;
  const m = syslogMessage(xml, new Date('2026-01-02T03:04:05.678Z'), { hostname: 'node a', appName: 'dicom-tls', procId: '42' });
  assert.equal(AUDIT_PRI, 85);
  assert.ok(m.toString('utf8').startsWith('<85>1 2026-01-02T03:04:05.678Z nodea dicom-tls 42 IHE+RFC-3881 - \ufeff<?xml'));
  const framed = Buffer.concat([octetCounted(m), octetCounted(m).subarray(0, 10)]);
  const { messages, rest } = splitOctetCounted(framed);
  assert.equal(messages.length, 1);
  assert.deepEqual(messages[0], m);
  assert.equal(rest.length, 10);
  assert.throws(() => splitOctetCounted(Buffer.from('x12 abc')), /octet-counted/);
});

test('a peer\'s line breaks and tabs (a user name, an AE title, an error text) keep the message on one line: written as character references, still valid', async () => {
  const hostile = 'alice\n<85>1 2026-12-07T00:00:00Z host dicom-tls - fake\r\tline';
  const xml = [
    securityAlert(src, { kind: 'user-identity', peer: { aeTitle: 'S\nCU', address: '127.0.0.1' }, local: scp, localRole: 'acceptor', description: `refused: ${hostile}`, userIdentity: hostile }),
    userAuthentication(src, hostile, scu, scp, false, hostile),
  ].map(auditMessageToXml);
  for (const x of xml) {
    assert.doesNotMatch(x, /[\n\r\t]/);
    assert.match(x, /alice&#10;&lt;85&gt;1 2026/);
    assert.doesNotMatch(syslogMessage(x, new Date(0)).toString('utf8'), /[\n\r]/);
  }
  await assertSchemaValid(xml);
});
