/**
 * The audit trail against rsyslog as the audit record repository (RFC 5425 syslog over TLS,
 * mutual authentication, octet counting): every message arrives exactly once and schema-valid;
 * a repository down at start, killed mid-run and back, or with an untrusted certificate.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditTrail } from '../../src/audit/trail.js';
import { AuditQueue } from '../../src/audit/queue.js';
import { AuditSender } from '../../src/audit/sender.js';
import { applicationActivity } from '../../src/audit/events.js';
import { channelNames } from '../../src/diagnostics.js';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { tempDir } from '../helpers/dicom-data.js';
import { scenarioPki, type Identity } from '../helpers/pki.js';
import { spec, writeInstance } from '../helpers/services.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';
import { Rsyslog, freePort } from '../helpers/rsyslog.js';

let dir: string;
let remove: () => Promise<void>;
const daemons: Rsyslog[] = [];

before(async () => { ({ dir, remove } = await tempDir('audit-rsyslog')); });
after(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await remove();
});

function repository(name: string, port: number, identity: Identity = scenarioPki().valid, ca = scenarioPki().root.cert): Rsyslog {
  const r = new Rsyslog({ dir: join(dir, name), port, cert: identity.cert, key: identity.key, ca });
  daemons.push(r);
  return r;
}

function sender(port: number, queueDir: string): AuditSender {
  const pki = scenarioPki();
  return new AuditSender({
    target: { kind: 'tls', host: '127.0.0.1', port, context: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) },
    queue: new AuditQueue({ directory: queueDir }),
    confirmAfter: 300,
    reconnectMin: 50,
    reconnectMax: 400,
  });
}

const src = { auditSourceId: 'RSYSLOG-TEST' };
/** Distinct messages: Application Activity of process "run-<tag>-<i>". */
function numbered(trail: AuditTrail, tag: string, from: number, to: number): void {
  for (let i = from; i < to; i++) trail.record(applicationActivity(src, { name: `run-${tag}-${i}` }, 'start'));
}
const xmlOf = (line: string): string => line.slice(line.indexOf('<?xml'));
const countOf = (lines: string[], tag: string, i: number): number => lines.filter((l) => l.includes(`UserID="run-${tag}-${i}"`)).length;

test('every message arrives exactly once, RFC 5424 with the XML as MSG, schema-valid', async () => {
  const port = await freePort();
  const r = repository('basic', port);
  await r.start();
  const sent: string[] = [];
  const onAudit = (m: unknown): void => { const e = m as { kind: string; xml?: string }; if (e.kind === 'recorded') sent.push(e.xml!); };
  diagnosticsChannel.subscribe(channelNames.audit, onAudit);
  try {
    const trail = new AuditTrail({ sender: sender(port, join(dir, 'q-basic')), auditSourceId: 'RSYSLOG-TEST' }).start();
    numbered(trail, 'b', 0, 25);
    // The flush is waited for (a hang guard): the default 5 s may end it on a loaded machine,
    // leaving messages queued that the assertions below expect delivered.
    await trail.stop({ flushTimeout: 60_000 });
    const lines = await r.waitFor((m) => m.length >= sent.length);
    assert.equal(lines.length, sent.length);
    for (let i = 0; i < 25; i++) assert.equal(countOf(lines, 'b', i), 1, `run-b-${i}`);
    // In order, byte for byte: octet counting kept every message whole.
    assert.deepEqual(lines.map(xmlOf), sent);
    for (const l of lines) assert.match(l, /^<85>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ dicom-tls \d+ IHE\+RFC-3881 - \ufeff<\?xml/);
    await assertSchemaValid(lines.map(xmlOf));
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.audit, onAudit);
  }
});

test('repository down at start: messages wait in the on-disk queue, then arrive in order, once', async () => {
  const port = await freePort();
  const s = sender(port, join(dir, 'q-down'));
  const trail = new AuditTrail({ sender: s, auditSourceId: 'RSYSLOG-TEST' }).start();
  numbered(trail, 'd', 0, 10);
  assert.equal(s.queue.length, 11, 'Application Start and the ten wait for the repository');
  const r = repository('down', port);
  await r.start();
  const lines = await r.waitFor((m) => m.filter((l) => l.includes('run-d-')).length >= 10);
  for (let i = 0; i < 10; i++) assert.equal(countOf(lines, 'd', i), 1);
  const order = lines.map((l) => /run-d-(\d+)/.exec(l)?.[1]).filter((x) => x !== undefined).map(Number);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  await trail.stop();
  await assertSchemaValid(r.messages().map(xmlOf));
});

test('repository killed mid-run and back: nothing lost; only unconfirmed messages may come twice', async () => {
  const port = await freePort();
  const r = repository('killed', port);
  await r.start();
  const s = sender(port, join(dir, 'q-killed'));
  const trail = new AuditTrail({ sender: s, auditSourceId: 'RSYSLOG-TEST' }).start();
  numbered(trail, 'k', 0, 10);
  await r.waitFor((m) => m.filter((l) => l.includes('run-k-')).length >= 10);
  // Wait until the sender counts them delivered (confirmAfter elapsed on a live connection).
  await new Promise<void>((resolve) => {
    const check = (): void => { if (s.queue.length === 0) resolve(); else setTimeout(check, 20); };
    check();
  });
  await r.stop('SIGKILL');
  numbered(trail, 'k', 10, 20);
  await r.start();
  const lines = await r.waitFor((m) => Array.from({ length: 20 }, (_, i) => countOf(m, 'k', i)).every((c) => c >= 1));
  for (let i = 0; i < 10; i++) assert.equal(countOf(lines, 'k', i), 1, `run-k-${i} was confirmed before the kill`);
  for (let i = 10; i < 20; i++) assert.ok(countOf(lines, 'k', i) >= 1, `run-k-${i}`);
  await trail.stop();
  await assertSchemaValid(r.messages().map(xmlOf));
});

test('restart resends what the previous process left queued', async () => {
  const port = await freePort();
  const q = join(dir, 'q-restart');
  const first = sender(port, q);
  const t1 = new AuditTrail({ sender: first, auditSourceId: 'RSYSLOG-TEST' }).start();
  numbered(t1, 'r', 0, 5);
  await t1.stop({ flushTimeout: 100 });
  assert.equal(new AuditQueue({ directory: q }).length, 7, 'start, five, stop stayed on disk');
  const r = repository('restart', port);
  await r.start();
  const t2 = new AuditTrail({ sender: sender(port, q), auditSourceId: 'RSYSLOG-TEST' }).start();
  const lines = await r.waitFor((m) => m.length >= 8);
  for (let i = 0; i < 5; i++) assert.equal(countOf(lines, 'r', i), 1);
  await t2.stop();
});

test('an untrusted repository certificate: one local Security Alert, and DICOM service goes on', async () => {
  const pki = scenarioPki();
  const port = await freePort();
  const r = repository('untrusted', port, pki.unknownCaLeaf);
  await r.start();
  const local: { description: string; message: unknown }[] = [];
  const onAudit = (m: unknown): void => { const e = m as { kind: string; description: string; message: unknown }; if (e.kind === 'local-security-alert') local.push(e); };
  diagnosticsChannel.subscribe(channelNames.audit, onAudit);
  const s = sender(port, join(dir, 'q-untrusted'));
  const trail = new AuditTrail({ sender: s, auditSourceId: 'RSYSLOG-TEST' }).start();
  const server = await StorageServer.create({ aeTitle: 'SCP', storeRoot: join(dir, 'untrusted-store'), fsync: 'none' });
  try {
    const { port: dicomPort } = await server.listen(0);
    await mkdir(join(dir, 'untrusted-in'));
    await writeInstance(join(dir, 'untrusted-in'), spec(1));
    // Several reconnect attempts happen while the DICOM work runs; the alert is recorded once.
    const client = await DicomClient.associate({ host: '127.0.0.1', port: dicomPort, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: await storageContextsFor([join(dir, 'untrusted-in')]) });
    assert.deepEqual((await client.store([join(dir, 'untrusted-in')])).map((x) => x.status), [0]);
    await client.release();
    await new Promise<void>((resolve) => {
      const check = (): void => { if (local.length > 0) resolve(); else setTimeout(check, 20); };
      check();
    });
    assert.equal(local.length, 1);
    assert.match(local[0]!.description, /audit repository connection/);
    assert.match(local[0]!.description, /X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY|unable to get local issuer/);
    assert.deepEqual(r.messages(), []);
    assert.ok(s.queue.length >= 3, 'start, the alert and the transfer wait in the queue');
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.audit, onAudit);
    await server.close({ timeout: 1000 });
    await trail.stop({ flushTimeout: 100 });
  }
});

test('a repository refusing our client certificate (TLS 1.3: its alert on our first read): one local Security Alert, schema-valid', { timeout: 60000 }, async () => {
  const pki = scenarioPki();
  const port = await freePort();
  // The repository's own certificate is one we trust; the client certificates it takes come from another CA.
  const r = repository('refuses-us', port, pki.valid, pki.unknownCa.cert);
  await r.start();
  const local: { description: string; message: unknown }[] = [];
  const recorded: string[] = [];
  /** Per connection: was it refused (the alert read), and has it ended. */
  const connections: { refused: boolean; ended: boolean }[] = [];
  const onAudit = (m: unknown): void => {
    const e = m as { kind: string; description: string; message: unknown; xml: string };
    if (e.kind === 'local-security-alert') local.push(e);
    if (e.kind === 'recorded') recorded.push(e.xml);
    if (e.kind === 'connected') connections.push({ refused: false, ended: false });
    if (e.kind === 'certificate-refused') connections.at(-1)!.refused = true;
    if (e.kind === 'disconnected') connections.at(-1)!.ended = true;
  };
  diagnosticsChannel.subscribe(channelNames.audit, onAudit);
  const s = sender(port, join(dir, 'q-refuses-us'));
  const trail = new AuditTrail({ sender: s, auditSourceId: 'RSYSLOG-TEST' }).start();
  try {
    // Several refused connections (each one 'connected' first, then refused before the next): every
    // one is recognised as a refusal (the first write waits for the repository's answer, so its
    // alert is never lost to a reset), and still one alert for the streak.
    while (connections.filter((c) => c.ended).length < 5) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(connections.filter((c) => c.ended).map((c) => c.refused), connections.filter((c) => c.ended).map(() => true));
    assert.equal(local.length, 1);
    assert.match(local[0]!.description, /audit repository connection: the repository refused our certificate: TLS read failed: the peer sent the alert/);
    const alert = recorded.find((x) => x.includes('csd-code="110113"'))!;
    assert.match(alert, /csd-code="110126"/);
    assert.match(alert, /ParticipantObjectID="127.0.0.1"/);
    assert.match(alert, new RegExp(`ParticipantObjectDetail type="RefusedBy" value="${Buffer.from('peer').toString('base64')}"`));
    assert.deepEqual(r.messages(), []);
    assert.ok(s.queue.length >= 2, 'start and the alert wait in the queue');
    await assertSchemaValid(recorded);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.audit, onAudit);
    await trail.stop({ flushTimeout: 100 });
  }
});

test('100 kB messages with confirmations running between writes: the queue empties, each arrives once, whole', async () => {
  const port = await freePort();
  const r = repository('large', port);
  await r.start();
  const pki = scenarioPki();
  const s = new AuditSender({
    target: { kind: 'tls', host: '127.0.0.1', port, context: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) },
    queue: new AuditQueue({ directory: join(dir, 'q-large') }),
    // Confirmations run between writes (a message is confirmed 1 ms after its write completed).
    confirmAfter: 1,
  });
  const trail = new AuditTrail({ sender: s, auditSourceId: 'RSYSLOG-TEST' }).start();
  const big = 'x'.repeat(100_000);
  for (let i = 0; i < 60; i++) trail.record(applicationActivity(src, { name: `run-L-${i}`, launcher: big }, 'start'));
  await new Promise<void>((resolve) => {
    const check = (): void => { if (s.queue.length === 0) resolve(); else setTimeout(check, 20); };
    check();
  });
  const lines = await r.waitFor((m) => m.filter((l) => l.includes('run-L-')).length >= 60);
  for (let i = 0; i < 60; i++) assert.equal(countOf(lines, 'L', i), 1);
  await trail.stop();
});
