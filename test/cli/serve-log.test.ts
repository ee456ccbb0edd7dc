/**
 * serve's log: levels, JSON lines (time, level, msg, event, fields), per-instance lines at debug,
 * and patient fields redacted in fields and messages unless --log-phi.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, oneSentenceError, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

const tmp = tempDir('cli-serve-log-');
after(() => tmp.cleanup());

function instance(name: string, uid: string): string {
  const file = join(tmp.dir, `${name}.dcm`);
  writeFileSync(join(tmp.dir, `${name}.dump`), [
    '(0008,0016) UI =CTImageStorage', `(0008,0018) UI [${uid}]`, '(0008,0050) SH [ACC-777]', '(0008,0060) CS [CT]',
    '(0010,0010) PN [SECRET^PATIENT]', '(0010,0020) LO [PID-4242]', '(0010,0030) DA [19700101]',
    '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.7]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.7.2]', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', `${name}.dump`, file], { cwd: tmp.dir, stdio: 'pipe' });
  return file;
}

async function storeOne(args: string[], uid: string): Promise<{ lines: Record<string, unknown>[]; raw: string }> {
  const data = join(tmp.dir, `data-${uid}`);
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', data, ...args], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(p);
    execFileSync('storescu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(plainPort), instance(uid, uid)], { stdio: 'pipe' });
    await p.waitFor(/association-end|released|Stop with Ctrl-C/);
    p.child.kill('SIGTERM');
    await p.exited;
    const raw = p.output();
    const lines = args.includes('json') ? raw.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    return { lines, raw };
  } finally { await p.kill(); }
}

test('--log-format json: one object per line with time, level, msg, event; stored instances at debug with patient fields redacted', async () => {
  const { lines, raw } = await storeOne(['--log-format', 'json', '--log-level', 'debug'], '1.2.826.0.1.3680043.2.1125.7.1');
  assert.ok(lines.length >= 4, raw);
  for (const l of lines) {
    assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(String(l.level)), JSON.stringify(l));
    assert.equal(typeof l.msg, 'string');
    assert.equal(typeof l.event, 'string');
  }
  const stored = lines.find((l) => l.event === 'stored')!;
  assert.ok(stored !== undefined, raw);
  assert.equal(stored.level, 'debug');
  assert.equal(stored.sopInstanceUid, '1.2.826.0.1.3680043.2.1125.7.1');
  assert.equal(stored.patientName, '[redacted]');
  assert.equal(stored.patientId, '[redacted]');
  assert.equal(stored.patientBirthDate, '[redacted]');
  assert.equal(stored.accessionNumber, '[redacted]');
  assert.equal(stored.modality, 'CT');
  assert.ok(!/SECRET|PID-4242|19700101|ACC-777/.test(raw), raw);
  assert.deepEqual(lines.filter((l) => l.event === 'listening').map((l) => l.level), ['info']);
});

test('--log-phi keeps patient fields; the default level (info) leaves per-instance lines out', async () => {
  const phi = await storeOne(['--log-format', 'json', '--log-level', 'debug', '--log-phi'], '1.2.826.0.1.3680043.2.1125.7.3');
  const stored = phi.lines.find((l) => l.event === 'stored')!;
  assert.equal(stored.patientName, 'SECRET^PATIENT');
  assert.equal(stored.patientId, 'PID-4242');
  const info = await storeOne([], '1.2.826.0.1.3680043.2.1125.7.4');
  assert.match(info.raw, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ listening for DICOM over TLS/m);
  assert.match(info.raw, /association STORESCU → DICOM-TLS/);
  assert.doesNotMatch(info.raw, /stored 1\.2\.826/);
  const warn = await storeOne(['--log-level', 'warn'], '1.2.826.0.1.3680043.2.1125.7.5');
  assert.doesNotMatch(warn.raw, /association STORESCU|listening for/);
});

test('a PHI value in a message is redacted there too', async () => {
  const { createServeLog } = await import('../../src/cli/serve-log.js');
  let out = '';
  const sink = { write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WritableStream;
  const log = createServeLog(sink as never, { format: 'json' });
  log('x', 'from patient DOE^JANE (ID 123-45)', { patientName: 'DOE^JANE', patientId: '123-45' });
  const l = JSON.parse(out) as { msg: string; patientName: string };
  assert.equal(l.msg, 'from patient [redacted] (ID [redacted])');
  assert.equal(l.patientName, '[redacted]');
});

test('a wrong --log-level or --log-format is a usage error naming the choices', async () => {
  const r = await runCli(['serve', '--log-level', 'loud']);
  assert.equal(r.code, 2);
  assert.match(oneSentenceError(r).sentence, /--log-level must be one of trace, debug, info, warn, error, fatal, silent \(or off\)/);
  const f = await runCli(['serve', '--log-format', 'xml']);
  assert.equal(f.code, 2);
  assert.match(oneSentenceError(f).sentence, /--log-format must be one of text, json/);
});

test('a config file that names no certificate refuses to start unless the development PKI is asked for', async () => {
  const dir = join(tmp.dir, 'nocert');
  const { mkdirSync, existsSync } = await import('node:fs');
  mkdirSync(dir);
  writeFileSync(join(dir, 'serve.json'), JSON.stringify({ aet: 'PACS', data: 'data' }));
  const r = await runCli(['serve', '--config', 'serve.json', '--port', '0'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(oneSentenceError(r).sentence, /names no server certificate: set tls\.cert and tls\.key \(or tls\.pkcs12\), or ask for the development PKI with tls\.devPki: true or --dev-pki/);
  assert.ok(!existsSync(join(dir, 'data')), 'nothing written');
  for (const [config, args] of [[{ aet: 'PACS', data: 'data', tls: { devPki: true } }, []], [{ aet: 'PACS', data: 'data2' }, ['--dev-pki']]] as const) {
    writeFileSync(join(dir, 'serve.json'), JSON.stringify(config));
    const p = spawnServe(['--config', 'serve.json', '--host', '127.0.0.1', '--port', '0', ...args], { cwd: dir });
    try {
      await listening(p);
      assert.match(p.output(), /created a development PKI/);
    } finally { await p.kill(); }
  }
});

test('DCMTK spelling -ll sets serve\'s log level (off = nothing logged)', async () => {
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'll'), '-ll', 'off'], { cwd: tmp.dir });
  try {
    await listening(p);
    assert.doesNotMatch(p.output(), /listening for DICOM|created a development PKI/);
  } finally { await p.kill(); }
});

test('text log: what a peer sent cannot break a line or reach the terminal (a user name with a line break and an escape sequence)', async () => {
  const { DicomClient } = await import('../../src/ae/client.js');
  const forged = '2026-01-01T00:00:00Z association FORGED → DICOM-TLS from 10.0.0.1:1';
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, 'data-forge')], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(p);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: plainPort!, callingAeTitle: 'FORGER', calledAeTitle: 'DICOM-TLS',
      userIdentity: { type: 'username', username: `bob\n${forged}\r\u001b[2J\u009b` },
    });
    await client.release();
    await p.waitFor(/association from FORGER .* released/);
    const out = p.output();
    assert.ok(!out.split('\n').some((l) => l.startsWith(forged)), `a forged line:\n${out}`);
    assert.doesNotMatch(out, /[\u001b\u009b\r]/, 'control characters reached the log');
    assert.ok(out.includes(`user bob\\n${forged}\\r\\u001b[2J\\u009b`), out);
  } finally { await p.kill(); }
});

test('log lines stay short whatever a peer sent: long strings in the message and the fields are clipped, saying how much was cut', async () => {
  const { createServeLog, MAX_LOGGED_STRING } = await import('../../src/cli/serve-log.js');
  const { Writable } = await import('node:stream');
  for (const format of ['json', 'text']) {
    let written = '';
    const out = new Writable({ write(chunk: Buffer, _e, cb) { written += chunk.toString(); cb(); } });
    const log = createServeLog(out, { format });
    const name = 'U'.repeat(64_000);
    log('association', `association X from 127.0.0.1:1, user ${name}`, { user: name, tls: { subject: name }, permissions: ['echo'] });
    const line = written.trimEnd();
    assert.equal(line.split('\n').length, 1);
    assert.ok(line.length < 3 * MAX_LOGGED_STRING + 1000, `${format}: a line of ${line.length} characters`);
    assert.match(line, /…\(\d+ more characters\)/);
    if (format === 'json') {
      const o = JSON.parse(line) as { user: string; tls: { subject: string }; permissions: string[] };
      assert.equal(o.user.length < MAX_LOGGED_STRING + 40, true);
      assert.ok(o.tls.subject.startsWith('UUU') && o.tls.subject.endsWith(`(${64_000 - MAX_LOGGED_STRING} more characters)`));
      assert.deepEqual(o.permissions, ['echo']);
    }
  }
});
