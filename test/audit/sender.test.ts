/** AuditSender's UDP and file transports, the bounded queue, and audit URLs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditQueue } from '../../src/audit/queue.js';
import { AuditSender, parseAuditUrl } from '../../src/audit/sender.js';
import { AuditTrail } from '../../src/audit/trail.js';
import { applicationActivity } from '../../src/audit/events.js';
import { channelNames } from '../../src/diagnostics.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { scenarioPki } from '../helpers/pki.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';

const src = { auditSourceId: 'T' };

test('audit URLs: syslog+tls (6514), syslog+udp / syslog (514), file; anything else is refused', () => {
  assert.deepEqual(parseAuditUrl('syslog+tls://arr.example'), { kind: 'tls', host: 'arr.example', port: 6514 });
  assert.deepEqual(parseAuditUrl('syslog+tls://[::1]:7000'), { kind: 'tls', host: '::1', port: 7000 });
  assert.deepEqual(parseAuditUrl('syslog://10.0.0.1'), { kind: 'udp', host: '10.0.0.1', port: 514 });
  assert.deepEqual(parseAuditUrl('syslog+udp://h:5514'), { kind: 'udp', host: 'h', port: 5514 });
  assert.deepEqual(parseAuditUrl('file:///var/log/a%20b.log'), { kind: 'file', path: '/var/log/a b.log' });
  assert.throws(() => parseAuditUrl('https://h'), /scheme/);
  assert.throws(() => parseAuditUrl('not a url'), /not a URL/);
});

test('file transport: one RFC 5424 message per line, schema-valid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-file-'));
  try {
    const path = join(dir, 'audit.log');
    const trail = new AuditTrail({ sender: new AuditSender({ target: { kind: 'file', path }, queue: new AuditQueue() }), auditSourceId: 'T' }).start();
    trail.record(applicationActivity(src, { name: 'x' }, 'start'));
    await trail.stop();
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 3);
    for (const l of lines) assert.match(l, /^<85>1 /);
    await assertSchemaValid(lines.map((l) => l.slice(l.indexOf('<?xml'))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('UDP transport (RFC 5426): one message per datagram', async () => {
  const server = createSocket('udp4');
  const got: Buffer[] = [];
  const three = new Promise<void>((resolve) => server.on('message', (m) => { got.push(m); if (got.length === 3) resolve(); }));
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  try {
    const port = server.address().port;
    const trail = new AuditTrail({ sender: new AuditSender({ target: { kind: 'udp', host: '127.0.0.1', port }, queue: new AuditQueue() }), auditSourceId: 'T' }).start();
    trail.record(applicationActivity(src, { name: 'x' }, 'start'));
    await trail.stop();
    await three;
    for (const g of got) assert.match(g.toString('utf8'), /^<85>1 .* IHE\+RFC-3881 - \ufeff<\?xml.*<\/AuditMessage>$/);
  } finally {
    server.close();
  }
});

test('a full queue drops the new message, says so on the audit channel, and never waits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-full-'));
  const events: { kind: string; dropped?: number }[] = [];
  const on = (m: unknown): void => void events.push(m as { kind: string });
  diagnosticsChannel.subscribe(channelNames.audit, on);
  try {
    const pki = scenarioPki();
    // A repository nobody listens on (port 1 on loopback): everything stays queued.
    const sender = new AuditSender({
      target: { kind: 'tls', host: '127.0.0.1', port: 1, context: new SecureContext({ role: 'client', ca: [pki.root.cert] }) },
      queue: new AuditQueue({ directory: dir, maxMessages: 3 }),
      reconnectMin: 60_000,
    });
    const accepted = [1, 2, 3, 4, 5].map((i) => sender.send(Buffer.from(`m${i}`)));
    assert.deepEqual(accepted, [true, true, true, false, false]);
    assert.equal(sender.dropped, 2);
    assert.deepEqual(events.filter((e) => e.kind === 'queue-full').map((e) => e.dropped), [1, 2]);
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.syslog')).length, 3);
    // A new queue on the same directory has the three, in order.
    const again = new AuditQueue({ directory: dir });
    assert.deepEqual([0, 1, 2].map((i) => again.at(i)?.toString()), ['m1', 'm2', 'm3']);
    void sender.close({ flush: false });
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.audit, on);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS 1.3 to a repository that sends no session ticket: the first write waits for its answer, then answerWait, and everything arrives', async () => {
  const { SecureServer } = await import('../../src/transport/tls/server.js');
  const { splitOctetCounted } = await import('../../src/audit/syslog.js');
  const pki = scenarioPki();
  // sessionResumption false: no NewSessionTicket after the handshake, nothing at all from the repository.
  const serverContext = new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert], sessionResumption: false });
  const repository = new SecureServer(serverContext);
  const received: Buffer[] = [];
  let gotAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (gotAll = resolve));
  let protocol: string | undefined;
  repository.on('secureConnection', (conn) => {
    protocol = conn.protocol;
    conn.on('data', (d: Buffer) => {
      received.push(d);
      const { messages } = splitOctetCounted(Buffer.concat(received));
      if (messages.length >= 2) gotAll();
    });
  });
  const { port } = await repository.listen(0);
  const context = new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] });
  const sender = new AuditSender({ target: { kind: 'tls', host: '127.0.0.1', port, context }, queue: new AuditQueue(), answerWait: 50 });
  const trail = new AuditTrail({ sender, auditSourceId: 'T' }).start();
  try {
    trail.record(applicationActivity(src, { name: 'x' }, 'start'));
    await all; // hang guard: the test's own timeout
    const { messages } = splitOctetCounted(Buffer.concat(received));
    // Application Start and the message recorded, over TLS 1.3, with nothing ever read from the repository.
    assert.equal(messages.length, 2);
    assert.equal(protocol, 'TLSv1.3');
    await assertSchemaValid(messages.map((m) => { const t = m.toString('utf8'); return t.slice(t.indexOf('<?xml')); }));
  } finally {
    await trail.stop({ flushTimeout: 1000 });
    await repository.close();
    context.dispose();
    serverContext.dispose();
  }
});
