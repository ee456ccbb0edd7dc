/**
 * store / find / get / move as a user runs them, against `dicom-tls serve` started from a JSON
 * config (AE title, AE-title ↔ certificate binding, a C-MOVE destination that is a real DCMTK
 * storescp), with DCMTK-made files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CLI, runCli, oneSentenceError, tempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { startListening } from '../helpers/dcmtk.js';

const tmp = tempDir('cli-services-');
let server: ChildProcessWithoutNullStreams;
let storescp: ChildProcess;
let log = '';
let port = 0;
const data = join(tmp.dir, 'data');
const pki = (f: string): string => join(data, 'pki', f);
const tls = (aet = 'MODALITY'): string[] => ['--aet', aet, '--call', 'PACS', '--ca', pki('ca.pem'), '--cert', pki('client.pem'), '--key', pki('client-key.pem')];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]);
}

/** The first match of `re` in the server's log after position `from`, once it is there. */
function logAfter(from: number, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve) => {
    const check = (): void => {
      const m = re.exec(log.slice(from));
      if (m === null) return;
      server.stdout.off('data', check);
      resolve(m);
    };
    server.stdout.on('data', check);
    check();
  });
}

/** A CT instance made with DCMTK's dump2dcm (no committed binaries). */
function makeInstance(dir: string, n: number, patientId: string): string {
  const dump = join(dir, `i${n}.dump`);
  writeFileSync(dump, ['(0008,0016) UI =CTImageStorage', `(0008,0018) UI [1.2.826.0.1.3680043.2.1125.7.${n}]`, '(0008,0020) DA [20240115]',
    '(0008,0060) CS [CT]', `(0010,0010) PN [PATIENT^${patientId}]`, `(0010,0020) LO [${patientId}]`,
    `(0020,000d) UI [1.2.826.0.1.3680043.2.1125.7.${patientId.length}]`, `(0020,000e) UI [1.2.826.0.1.3680043.2.1125.7.${patientId.length}.1]`, ''].join('\n'));
  const file = join(dir, `i${n}.dcm`);
  execFileSync('dump2dcm', ['+te', dump, file]);
  return file;
}

before(async () => {
  const moveDir = join(tmp.dir, 'moved');
  mkdirSync(moveDir);
  // The move destination, ready (listening) before the server is told about it: a spawned
  // storescp may still be starting when the move test runs.
  const archive = await startListening('storescp', ['-od', moveDir, '-aet', 'ARCHIVE']);
  storescp = archive.child;
  const movePort = archive.port;
  const plainPort = await freePort();
  // The subject as `dicom-tls pki inspect` prints it: the client certificate may call itself MODALITY.
  writeFileSync(join(tmp.dir, 'serve.json'), JSON.stringify({
    aet: 'PACS', host: '127.0.0.1', port: 0, plainPort, data: 'data', asyncWindow: 3, store: { duplicates: 'reject' },
    bindings: [{ aet: 'MODALITY', subject: 'CN = dicom-tls client, O = dicom-tls development PKI' }],
    // PACS is the server itself (its plain port): what it already holds is refused there as a duplicate.
    moveDestinations: { ARCHIVE: { host: '127.0.0.1', port: movePort, tls: false }, PACS: { host: '127.0.0.1', port: plainPort, tls: false } },
  }));
  server = spawn(process.execPath, [CLI, 'serve', '--config', join(tmp.dir, 'serve.json'), '--dev-pki'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  server.stdout.setEncoding('utf8').on('data', (d: string) => { log += d; });
  server.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
  port = await new Promise<number>((resolve, reject) => {
    const check = (): void => { const m = /on 127\.0\.0\.1:(\d+) as AE PACS/.exec(log); if (m) resolve(Number(m[1])); };
    server.stdout.on('data', check);
    server.once('exit', (c) => reject(new Error(`serve exited ${c}: ${log}`)));
  });
  mkdirSync(join(tmp.dir, 'in', 'sub'), { recursive: true });
  makeInstance(join(tmp.dir, 'in'), 1, 'P1');
  makeInstance(join(tmp.dir, 'in', 'sub'), 2, 'P22');
  makeInstance(join(tmp.dir, 'in', 'sub'), 3, 'P22');
});

after(async () => {
  for (const p of [server, storescp]) if (p.exitCode === null && p.signalCode === null) { p.kill('SIGTERM'); await new Promise((r) => p.once('exit', r)); }
  tmp.cleanup();
});

test('store a folder recursively and a glob: summary and JSON results', async () => {
  const r = await runCli(['store', `127.0.0.1:${port}`, join(tmp.dir, 'in', 'sub'), ...tls()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sent 2, warnings 0, failed 0, skipped 0 \(of 2\)/);
  const g = await runCli(['store', `127.0.0.1:${port}`, 'in/*.dcm', ...tls(), '--json'], { cwd: tmp.dir });
  assert.equal(g.code, 0, g.stderr);
  const doc = JSON.parse(g.stdout) as { sent: number; results: { sopInstanceUid: string }[] };
  assert.equal(doc.sent, 1);
  assert.equal(doc.results[0]!.sopInstanceUid, '1.2.826.0.1.3680043.2.1125.7.1');
  assert.equal(walk(join(data, 'files')).filter((f) => f.endsWith('.dcm')).length, 3);
});

test('store proposes an Asynchronous Operations Window (default 8), narrowed to the config\'s asyncWindow 3; --async-window 1 proposes none', async () => {
  const before = log.length;
  const r = await runCli(['store', `127.0.0.1:${port}`, join(tmp.dir, 'in'), ...tls(), '--verbose']);
  assert.equal(r.code, 16, r.stderr); // stored by the test above: duplicates now
  assert.match(r.stdout + r.stderr, /asynchronous operations window: 3 C-STOREs outstanding \(proposed 8\)/);
  assert.match(r.stdout, /sent 0, warnings 0, failed 3, skipped 0 \(of 3\)/);
  await logAfter(before, /association MODALITY → PACS from [^\n]*, up to 3 requests outstanding[;\n]/);
  const mark = log.length;
  const one = await runCli(['store', `127.0.0.1:${port}`, join(tmp.dir, 'in', 'i1.dcm'), ...tls(), '--async-window', '1', '--verbose']);
  assert.equal(one.code, 16, one.stderr);
  assert.match(one.stdout + one.stderr, /asynchronous operations window: 1 C-STORE outstanding\n/);
  const line = await logAfter(mark, /association MODALITY → PACS from [^\n]*\n/);
  assert.ok(!line[0].includes('outstanding'), line[0]);
  const bad = await runCli(['store', `127.0.0.1:${port}`, join(tmp.dir, 'in', 'i1.dcm'), ...tls(), '--async-window', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--async-window must be a whole number 1–65535, got "0"/);
});

test('storing a duplicate: the failed instance is listed, exit 16', async () => {
  const r = await runCli(['store', `127.0.0.1:${port}`, join(tmp.dir, 'in', 'i1.dcm'), ...tls()]);
  assert.equal(r.code, 16);
  // The whole Error Comment, not a cut-off UID or a server path.
  assert.match(r.stdout, /failed +0x0111 +duplicate: this SOP Instance is already stored \(policy reject\)$/m);
  assert.match(r.stderr, /^error: 1 of 1 instances were not stored\. \[DICOM_ERR_PARTIAL\]$/m);
});

test('find: a table of the keys asked for, and JSON', async () => {
  const r = await runCli(['find', `127.0.0.1:${port}`, ...tls(), '--level', 'STUDY', '-k', 'PatientID=P2*', '-k', 'PatientName', '-k', '0020,000D']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^PatientID +PatientName +StudyInstanceUID$/m);
  assert.match(r.stdout, /^P22 +PATIENT\^P22 +1\.2\.826\.0\.1\.3680043\.2\.1125\.7\.3$/m);
  assert.match(r.stdout, /^1 match$/m);
  const j = await runCli(['find', `127.0.0.1:${port}`, ...tls(), '--level', 'IMAGE', '-k', 'PatientID=P22', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.2.1125.7.3', '-k', 'SeriesInstanceUID=1.2.826.0.1.3680043.2.1125.7.3.1', '-k', 'SOPInstanceUID', '--json']);
  // The DICOM JSON Model (PS3.18 F.2): tag → { vr, Value }, nothing of dcmjs's own.
  const matches = JSON.parse(j.stdout) as Record<string, { vr: string; Value?: unknown[] }>[];
  assert.deepEqual(matches.map((m) => m['00080018']?.Value?.[0]).sort(), ['1.2.826.0.1.3680043.2.1125.7.2', '1.2.826.0.1.3680043.2.1125.7.3']);
  for (const m of matches) {
    assert.ok(Object.keys(m).every((k) => /^[0-9A-F]{8}$/.test(k)), Object.keys(m).join());
    assert.deepEqual(m['00100020'], { vr: 'LO', Value: ['P22'] });
  }
  const bad = await runCli(['find', `127.0.0.1:${port}`, ...tls(), '-k', 'NoSuchKeyword=1']);
  assert.equal(bad.code, 2);
  oneSentenceError(bad);
});

test('get: the study arrives in the folder, the data set byte-identical', async () => {
  const out = join(tmp.dir, 'got');
  const r = await runCli(['get', `127.0.0.1:${port}`, ...tls(), '--level', 'STUDY', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.2.1125.7.3', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /C-GET: completed 2, warnings 0, failed 0/);
  const files = walk(out).filter((f) => f.endsWith('.dcm'));
  assert.equal(files.length, 2);
  const original = readFileSync(join(tmp.dir, 'in', 'sub', 'i2.dcm'));
  const got = readFileSync(files.find((f) => f.endsWith('.7.2.dcm'))!);
  const tail = (b: Buffer): Buffer => b.subarray(b.indexOf(Buffer.from([0x08, 0x00, 0x16, 0x00])));
  assert.ok(tail(got).equals(tail(original)), 'data set differs');
});

test('find and get with a UID list longer than one UID may be (64 characters): every listed study, none cut off', async () => {
  // An unknown UID first, so the list's end lies past 64 characters: cut there, the last study was lost.
  const list = ['1.2.826.0.1.3680043.2.1125.7.99', '1.2.826.0.1.3680043.2.1125.7.2', '1.2.826.0.1.3680043.2.1125.7.3'].join('\\');
  assert.ok(list.length > 64);
  const f = await runCli(['find', `127.0.0.1:${port}`, ...tls(), '--level', 'STUDY', '-k', `StudyInstanceUID=${list}`]);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /^1\.2\.826\.0\.1\.3680043\.2\.1125\.7\.2$/m);
  assert.match(f.stdout, /^1\.2\.826\.0\.1\.3680043\.2\.1125\.7\.3$/m);
  assert.match(f.stdout, /^2 matches$/m);
  const g = await runCli(['get', `127.0.0.1:${port}`, ...tls(), '--level', 'STUDY', '-k', `StudyInstanceUID=${list}`, '--out', join(tmp.dir, 'got-list')]);
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stdout, /C-GET: completed 3, warnings 0, failed 0/);
});

test('move to the configured destination (a DCMTK storescp); an unknown destination is exit 15', async () => {
  const r = await runCli(['move', `127.0.0.1:${port}`, ...tls(), '--dest', 'ARCHIVE', '--level', 'PATIENT', '--root', 'patient', '-k', 'PatientID=P1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /C-MOVE: completed 1, warnings 0, failed 0/);
  assert.equal(readdirSync(join(tmp.dir, 'moved')).length, 1);
  const bad = await runCli(['move', `127.0.0.1:${port}`, ...tls(), '--dest', 'NOWHERE', '-k', 'PatientID=P1', '--level', 'PATIENT', '--root', 'patient']);
  assert.equal(bad.code, 15);
  assert.equal(oneSentenceError(bad).code, 'DICOM_ERR_DIMSE_STATUS');
});

test('move where every sub-operation fails (the peer answers A702): the counts and exit 16, as for some failures', async () => {
  const r = await runCli(['move', `127.0.0.1:${port}`, ...tls(), '--dest', 'PACS', '--level', 'PATIENT', '--root', 'patient', '-k', 'PatientID=P1']);
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stdout, /C-MOVE: completed 0, warnings 0, failed 1/);
  assert.match(r.stderr, /1 sub-operations failed\. \[DICOM_ERR_PARTIAL\]/);
  const j = await runCli(['move', `127.0.0.1:${port}`, ...tls(), '--dest', 'PACS', '--level', 'PATIENT', '--root', 'patient', '-k', 'PatientID=P1', '--json']);
  assert.equal(j.code, 16, j.stderr);
  const doc = JSON.parse(j.stdout) as { status: number; failed: number; failedSopInstanceUids: string[] };
  assert.equal(doc.status, 0xa702);
  assert.equal(doc.failed, 1);
  assert.deepEqual(doc.failedSopInstanceUids, ['1.2.826.0.1.3680043.2.1125.7.1']);
});

test('the AE title is bound to the certificate: another AE title with the same certificate is rejected, exit 13', async () => {
  const r = await runCli(['echo', `127.0.0.1:${port}`, ...tls('SPOOFER')]);
  assert.equal(r.code, 13);
  assert.match(oneSentenceError(r).sentence, /calling-AE-title-not-recognized/);
});

test('get of a study with one stored file gone: that sub-operation fails, the other instance arrives, exit 16, and the server\'s log says which file could not be read', { timeout: 120_000 }, async () => {
  // Last in this file: it removes what the tests above retrieve.
  const file = walk(join(data, 'files')).find((f) => f.endsWith('.7.2.dcm'));
  assert.ok(file !== undefined, 'the stored file of 1.2.826.0.1.3680043.2.1125.7.2');
  rmSync(file);
  const from = log.length;
  const out = join(tmp.dir, 'got-gone');
  const r = await runCli(['get', `127.0.0.1:${port}`, ...tls(), '--level', 'STUDY', '-k', 'StudyInstanceUID=1.2.826.0.1.3680043.2.1125.7.3', '--out', out]);
  assert.equal(r.code, 16, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /C-GET: completed 1, warnings 0, failed 1/);
  assert.match(r.stdout, /failed 1\.2\.826\.0\.1\.3680043\.2\.1125\.7\.2: /);
  assert.deepEqual(walk(out).map((f) => f.slice(f.lastIndexOf('/') + 1)), ['1.2.826.0.1.3680043.2.1125.7.3.dcm']);
  const [line] = await logAfter(from, /warning: a C-GET sub-operation failed: the stored copy of 1\.2\.826\.0\.1\.3680043\.2\.1125\.7\.2 could not be read \(.*\): .*ENOENT.*/);
  assert.ok(line.includes(file), line);
});
