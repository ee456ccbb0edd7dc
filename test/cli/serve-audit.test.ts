/**
 * `serve --audit` / the config's "audit" block, as a user runs it: the audit trail of a serve
 * process to rsyslog over TLS (mutual authentication with the config's audit.tls identity),
 * with the repository down during a first run (queued on disk) and up for a second run (the
 * queue is sent first). DCMTK's storescu stores over plain DICOM; a client without a certificate
 * is refused at the TLS port.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serveSettings } from '../../src/cli/serve-config.js';
import { CLI, runCli, tempDir } from '../helpers/cli.js';
import { scenarioPki } from '../helpers/pki.js';
import { writeInstance, spec } from '../helpers/services.js';
import { Rsyslog, freePort } from '../helpers/rsyslog.js';
import { assertSchemaValid } from '../helpers/audit-schema.js';

const run = promisify(execFile);
const tmp = tempDir('cli-serve-audit-');
const daemons: Rsyslog[] = [];
after(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  tmp.cleanup();
});

test('serve config "audit": url, queue, identity; --audit wins; mistakes name the field', () => {
  const dir = join(tmp.dir, 'cfg');
  mkdirSync(dir, { recursive: true });
  const write = (audit: unknown): void => writeFileSync(join(dir, 'c.json'), JSON.stringify({ data: 'd', audit }));
  write({ url: 'syslog+tls://arr:6514', auditSourceId: 'PACS', tls: { cert: 'a.pem', key: 'a-key.pem', ca: ['ca.pem'] } });
  const s = serveSettings({ config: 'c.json' }, dir).audit!;
  assert.equal(s.url, 'syslog+tls://arr:6514');
  assert.equal(s.queue, join(dir, 'd', 'audit-queue'));
  assert.equal(s.maxQueued, 10000);
  assert.equal(s.auditSourceId, 'PACS');
  assert.deepEqual(s.tls, { cert: join(dir, 'a.pem'), key: join(dir, 'a-key.pem'), ca: [join(dir, 'ca.pem')] });
  assert.equal(serveSettings({ config: 'c.json', audit: 'file:///x/audit.log' }, dir).audit!.url, 'file:///x/audit.log');
  assert.equal(serveSettings({}, dir).audit, undefined);
  for (const [audit, message] of [
    [{ url: 'http://x' }, /scheme must be syslog\+tls:, syslog\+udp: or file:/],
    [{ url: 'syslog+tls://h', maxQueued: 0 }, /audit\.maxQueued must be a whole number ≥ 1/],
    [{ url: 'syslog+tls://h', queu: 'x' }, /unknown field "audit\.queu"/],
    [{ queue: 'x' }, /audit needs "url"/],
    [{ url: 'syslog+tls://h', tls: { ca: 'ca.pem' } }, /audit\.tls\.ca must be an array/],
  ] as const) {
    write(audit);
    assert.throws(() => serveSettings({ config: 'c.json' }, dir), (e: unknown) => message.test((e as Error).message), JSON.stringify(audit));
  }
});

function startServe(cwd: string, args: string[]): { child: ChildProcessWithoutNullStreams; out: () => string; waitFor: (re: RegExp) => Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const waitFor = (re: RegExp): Promise<RegExpExecArray> => new Promise((resolve, reject) => {
    // A hang guard, not a timed assertion.
    const guard = setTimeout(() => reject(new Error(`no line ${re} in the serve log:\n${out}`)), 30_000);
    const check = (): void => {
      const m = re.exec(out);
      if (m !== null) { clearTimeout(guard); child.stdout.off('data', check); resolve(m); }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => { clearTimeout(guard); reject(new Error(`serve exited (${code}) before ${re}:\n${out}`)); });
    check();
  });
  return { child, out: () => out, waitFor };
}

test('serve with the repository down, then up: every audit message of both runs arrives once, schema-valid', async () => {
  const pki = scenarioPki();
  const cwd = join(tmp.dir, 'run');
  mkdirSync(join(cwd, 'in'), { recursive: true });
  const file = (await writeInstance(join(cwd, 'in'), spec(1))).path;
  const port = await freePort();
  writeFileSync(join(cwd, 'serve.json'), JSON.stringify({
    aet: 'AUDITED', data: 'data',
    audit: { url: `syslog+tls://127.0.0.1:${port}`, auditSourceId: 'SERVE-TEST', tls: { cert: pki.valid.cert, key: pki.valid.key, ca: [pki.root.cert] } },
  }));
  const args = ['--config', 'serve.json', '--dev-pki', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0'];

  // Run 1: nobody listens on the audit port.
  const first = startServe(cwd, args);
  const m = await first.waitFor(/listening for DICOM over TLS on 127\.0\.0\.1:(\d+) as AE AUDITED, plain DICOM on 127\.0\.0\.1:(\d+)/);
  await first.waitFor(/audit repository .* unreachable/);
  await run('storescu', ['-aec', 'AUDITED', '-aet', 'MODALITY', '127.0.0.1', m[2]!, file]);
  // No client certificate at the TLS port: refused by our side (peer certificate required).
  const refused = await runCli(['echo', `127.0.0.1:${m[1]}`, '--call', 'AUDITED', '--ca', join(cwd, 'data', 'pki', 'ca.pem')]);
  assert.notEqual(refused.code, 0);
  first.child.kill('SIGTERM');
  await new Promise((r) => first.child.once('exit', r));
  assert.match(first.out(), /audit: \d+ message\(s\) stay queued/);

  // Run 2: the repository is up; the queue of run 1 goes first.
  const r = new Rsyslog({ dir: join(cwd, 'rsyslog'), port, cert: pki.valid.cert, key: pki.valid.key, ca: pki.root.cert });
  daemons.push(r);
  await r.start();
  const second = startServe(cwd, args);
  await second.waitFor(/audit: \d+ message\(s\) queued by an earlier run will be sent first/);
  await second.waitFor(/listening for DICOM over TLS/);
  second.child.kill('SIGTERM');
  await new Promise((res) => second.child.once('exit', res));
  const lines = await r.waitFor((l) => l.filter((x) => x.includes('csd-code="110121"')).length >= 2);
  const xml = lines.map((l) => l.slice(l.indexOf('<?xml')));
  await assertSchemaValid(xml);
  const count = (re: RegExp): number => xml.filter((x) => re.test(x)).length;
  assert.equal(count(/csd-code="110120"/), 2, 'Application Start of each run');
  assert.equal(count(/csd-code="110121"/), 2, 'Application Stop of each run');
  assert.equal(count(/csd-code="110104"[\s\S]*ParticipantObjectID="1\.2\.826\.0\.1\.3680043\.9\.7777\.1"/), 1, 'the stored study, once');
  assert.ok(xml.some((x) => x.includes('UserID="MODALITY"') && x.includes('csd-code="110104"')));
  const alerts = xml.filter((x) => x.includes('csd-code="110113"'));
  assert.equal(alerts.filter((x) => !x.includes('codeSystemName="99DICOMTLS"')).length, 1, 'the refused handshake, once');
  assert.equal(alerts.filter((x) => x.includes('csd-code="ASSOCIATION-ACCEPTED"') && x.includes('UserID="MODALITY"')).length, 1, 'the accepted association, once');
  assert.equal(new Set(xml).size, xml.length, 'no message twice');
  // Run 1's messages before run 2's.
  const starts = xml.map((x, i) => [x, i] as const).filter(([x]) => x.includes('csd-code="110120"')).map(([, i]) => i);
  const stops = xml.map((x, i) => [x, i] as const).filter(([x]) => x.includes('csd-code="110121"')).map(([, i]) => i);
  assert.ok(starts[0]! < stops[0]! && stops[0]! < starts[1]! && starts[1]! < stops[1]!);
});

test('store --audit: Application Start and Stop around the run, a Security Alert when the peer certificate is refused', async () => {
  const { StorageServer } = await import('../../src/services/scp/storage-server.js');
  const { SecureContext } = await import('../../src/transport/tls/context.js');
  const pki = scenarioPki();
  const cwd = join(tmp.dir, 'client');
  mkdirSync(join(cwd, 'in'), { recursive: true });
  await writeInstance(join(cwd, 'in'), spec(2));
  const server = await StorageServer.create({ aeTitle: 'SCP', storeRoot: join(cwd, 'store'), fsync: 'none', tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) });
  try {
    const { port } = await server.listen(0);
    const log = join(cwd, 'audit.log');
    const base = [`127.0.0.1:${port}`, join(cwd, 'in'), '--call', 'SCP', '--aet', 'MODALITY', '--cert', pki.valid.cert, '--key', pki.valid.key, '--audit', `file://${log}`, '--audit-queue', join(cwd, 'q')];
    const ok = await runCli(['store', ...base, '--ca', pki.root.cert], { cwd });
    assert.equal(ok.code, 0, ok.stderr);
    // Our side refuses the server's certificate: its CA is not the one we trust.
    const refused = await runCli(['store', ...base, '--ca', pki.unknownCa.cert], { cwd });
    assert.notEqual(refused.code, 0);
    const { readFileSync } = await import('node:fs');
    const xml = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.slice(l.indexOf('<?xml')));
    await assertSchemaValid(xml);
    const kinds = xml.map((x) => /<EventID csd-code="(\d+)"/.exec(x)![1]! + (/<EventTypeCode csd-code="(\d+)"/.exec(x)?.[1] ?? '') + (x.includes('99DICOMTLS') ? '+association' : ''));
    // Run 1: the association the server accepted, what was sent; run 2: the refused handshake.
    assert.deepEqual(kinds, ['110100110120', '110113110126+association', '110104', '110100110121', '110100110120', '110113110126', '110100110121']);
    assert.match(xml[0]!, /UserID="dicom-tls store\[\d+\]" AlternativeUserID="AETITLES=MODALITY"/);
    const value = /type="X509Error" value="([^"]*)"/.exec(xml[5]!)?.[1];
    assert.equal(Buffer.from(value ?? '', 'base64').toString(), 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  } finally {
    await server.close({ timeout: 1000 });
  }
});
