/**
 * `dicom-tls store` reads its files' heads to plan the presentation contexts before it connects.
 * A run whose files turn out to be unusable ends with its file error and leaves no connection
 * open and nothing sent; a file that disappears once the association has begun fails alone,
 * with its reason, and the others are sent. The files named are looked up (stat) once, by the
 * input expansion.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { spec, writeInstance } from '../helpers/services.js';
import { tempDir } from '../helpers/dicom-data.js';
import { CLI, collect, oneSentenceError, runCli } from '../helpers/cli.js';

let dir: string;
let remove: () => Promise<void>;

before(async () => {
  ({ dir, remove } = await tempDir('cli-store-start'));
});

after(async () => {
  await remove();
});

test('none of the files is a Part 10 file: a file error, exit 3, no connection left open and not a byte sent', async () => {
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not DICOM\n');
  let bytes = 0;
  const connections: net.Socket[] = [];
  const closed: Promise<unknown>[] = [];
  const peer = net.createServer((s) => {
    connections.push(s);
    closed.push(once(s, 'close'));
    s.on('data', (d: Buffer) => { bytes += d.length; });
    s.on('error', () => undefined);
  });
  peer.listen(0, '127.0.0.1');
  await once(peer, 'listening');
  try {
    const port = (peer.address() as net.AddressInfo).port;
    const r = await runCli(['store', `127.0.0.1:${port}`, '--no-tls', '--call', 'ANY', text]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(oneSentenceError(r), { sentence: 'None of the 1 files is a DICOM Part 10 file.', code: 'DICOM_ERR_FILE' });
    await Promise.all(closed);
    assert.ok(connections.every((s) => s.destroyed || s.readableEnded), 'every connection closed');
    assert.equal(bytes, 0, 'no A-ASSOCIATE-RQ or anything else was sent');
  } finally {
    await new Promise<void>((r) => peer.close(() => r()));
  }
});

test('a file removed after the association began fails alone, with its reason; the others are sent, exit 16', async () => {
  const files: string[] = [];
  for (let n = 1; n <= 8; n++) files.push((await writeInstance(dir, spec(n, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.21.${n}` }))).path);
  const server = await StorageServer.create({ aeTitle: 'START-SCP', storeRoot: join(dir, 'store'), fsync: 'none' });
  const port = (await server.listen(0)).port;
  // The last file goes when the first instance has arrived: the client sends one at a time
  // (--async-window 1) and reads at most one file ahead, so it has not opened the last one yet.
  const last = files.at(-1)!;
  server.once('stored', () => unlinkSync(last));
  try {
    const r = await runCli(['store', `127.0.0.1:${port}`, '--no-tls', '--call', 'START-SCP', '--async-window', '1', '--json', ...files]);
    assert.equal(r.code, 16, r.stderr);
    const doc = JSON.parse(r.stdout) as { sent: number; failed: number; results: { file: string; outcome: string; error?: string }[] };
    assert.equal(doc.sent, 7);
    assert.equal(doc.failed, 1);
    const failed = doc.results.find((x) => x.outcome === 'failed')!;
    assert.equal(failed.file, last);
    assert.match(failed.error ?? '', /ENOENT|no such file/);
    assert.deepEqual(doc.results.map((x) => x.file), files, 'results in the order given');
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('each file named is looked up once (the input expansion), not again by the plan or the send; all are stored, exit 0', async () => {
  const sub = join(dir, 'once');
  mkdirSync(sub);
  const files: string[] = [];
  for (let n = 1; n <= 6; n++) files.push((await writeInstance(sub, spec(n, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.22.${n}` }))).path);
  const counts = join(dir, 'stat-counts.json');
  const preload = join(dir, 'stat-probe.cjs');
  // Counts the stat calls on the test's files (the bundle takes statSync from node:fs when it is loaded, after this).
  writeFileSync(preload, [
    "const fs = require('node:fs'); const seen = {}; const dir = process.env.STAT_PROBE_DIR;",
    "const count = (p) => { if (String(p).startsWith(dir)) seen[p] = (seen[p] ?? 0) + 1; };",
    "for (const name of ['statSync', 'lstatSync']) { const f = fs[name]; fs[name] = function (p, ...a) { count(p); return f.call(this, p, ...a); }; }",
    "process.on('exit', () => fs.writeFileSync(process.env.STAT_PROBE_OUT, JSON.stringify(seen)));",
  ].join('\n'));
  const server = await StorageServer.create({ aeTitle: 'START-SCP', storeRoot: join(dir, 'store-once'), fsync: 'none' });
  const port = (await server.listen(0)).port;
  try {
    const child = spawn(process.execPath, ['--require', preload, CLI, 'store', `127.0.0.1:${port}`, '--no-tls', '--call', 'START-SCP', '--json', ...files], {
      env: { ...process.env, STAT_PROBE_DIR: sub, STAT_PROBE_OUT: counts }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const r = await collect(child);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { sent: number }).sent, files.length);
    const seen = JSON.parse(readFileSync(counts, 'utf8')) as Record<string, number>;
    assert.deepEqual(Object.keys(seen).sort(), [...files].sort());
    for (const f of files) assert.equal(seen[f], 1, `${f} stat'ed ${seen[f]} times`);
  } finally {
    await server.close({ timeout: 1000 });
  }
});
