/**
 * Sending a file from two read buffers used in turn (in chunks, or whole for small files): the
 * bytes are right in every case, a buffer is refilled only when the sender says nothing can still
 * refer to it, and instances sent that way (plain and TLS, with and without a watcher of sent
 * PDUs) arrive byte-identical.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { mkdir, open, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { WholeFiles, fileChunks } from '../../src/services/scu/file-chunks.js';
import { storageContextsFor, type StoreResult } from '../../src/services/scu/store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { tempDir } from '../helpers/dicom-data.js';
import { scenarioPki } from '../helpers/pki.js';
import { datasetHash, spec, writeBigInstance, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 60_000 };
let dir: string;
let remove: () => Promise<void>;

before(async () => {
  ({ dir, remove } = await tempDir('file-chunks'));
});
after(async () => {
  await remove();
});

async function sample(name: string, n: number): Promise<{ path: string; bytes: Buffer }> {
  const bytes = Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, bytes };
}

/** Store `paths` while a watcher of sent PDUs keeps every data set fragment it sees, as a subscriber may. */
async function storeWatched(client: DicomClient, paths: string[]): Promise<{ results: StoreResult[]; kept: Uint8Array[] }> {
  const kept: Uint8Array[] = [];
  const onPdu = (m: unknown): void => {
    const { association, pdu } = m as { association: unknown; pdu: { type: string; pdvs?: { isCommand: boolean; data: Uint8Array }[] } };
    if (association !== client.association.upperLayer || pdu.type !== 'P-DATA-TF') return;
    for (const v of pdu.pdvs ?? []) if (!v.isCommand) kept.push(v.data);
  };
  diagnosticsChannel.subscribe(channelNames.pduSent, onPdu);
  try {
    return { results: await client.store(paths), kept };
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.pduSent, onPdu);
  }
}

test('chunks from an offset, the last one short; two buffers in turn while reuse is allowed, fresh ones when not', async () => {
  const { path, bytes } = await sample('seven.bin', 7000);
  for (const reuse of [true, false]) {
    const got: Uint8Array[] = [];
    const copies: Buffer[] = [];
    let asked = 0;
    for await (const c of fileChunks(await open(path, 'r'), 100, 1000, () => (asked++, reuse))) {
      // What a sender still holds (the fragmenter keeps the previous chunk's last piece) is intact.
      if (copies.length > 0) assert.deepEqual(Buffer.from(got.at(-1)!), copies.at(-1));
      got.push(c);
      copies.push(Buffer.from(c));
    }
    assert.deepEqual(Buffer.concat(copies), bytes.subarray(100));
    assert.deepEqual(copies.map((c) => c.length), [1000, 1000, 1000, 1000, 1000, 1000, 900]);
    const buffers = new Set(got.map((c) => c.buffer));
    assert.equal(buffers.size, reuse ? 2 : 7);
    assert.notEqual(got[0]!.buffer, got[1]!.buffer, 'never the buffer of the chunk just before');
    assert.equal(asked, 6, 'asked before each refill of a buffer used two chunks ago');
  }
});

async function isOpen(path: string): Promise<boolean> {
  for (const fd of await readdir('/proc/self/fd')) if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === path) return true;
  return false;
}

/** Whether `path` gets closed: a destroy closes it in the thread pool, which a loaded machine may run late (polled, a hang guard). */
async function closesSoon(path: string): Promise<boolean> {
  for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 5))) if (!(await isOpen(path))) return true;
  return false;
}

test('the file is closed at the end, on destroy mid-way, and on destroy before the first read', async () => {
  const { path } = await sample('three.bin', 3000);
  const whole: number[] = [];
  for await (const c of fileChunks(await open(path, 'r'), 0, 1000, () => true)) whole.push(c.length);
  assert.deepEqual(whole, [1000, 1000, 1000]);
  assert.equal(await isOpen(path), false, 'closed after the last chunk');

  const midway = fileChunks(await open(path, 'r'), 0, 1000, () => true);
  const seen: number[] = [];
  for await (const c of midway) {
    seen.push(c.length);
    midway.destroy();
  }
  assert.deepEqual(seen, [1000]);
  assert.equal(await closesSoon(path), true, 'closed by destroy mid-way');

  fileChunks(await open(path, 'r'), 0, 1000, () => true).destroy();
  assert.equal(await closesSoon(path), true, 'closed by destroy before any read');

  const empty: Uint8Array[] = [];
  for await (const c of fileChunks(await open(path, 'r'), 3000, 1000, () => true)) empty.push(c);
  assert.deepEqual(empty, []);
});

test('whole files: two buffers in turn while reuse is allowed, fresh ones when not, grown for a larger file', async () => {
  const files = [await sample('w1.bin', 5000), await sample('w2.bin', 3000), await sample('w3.bin', 200_000), await sample('w4.bin', 10)];
  for (const reuse of [true, false]) {
    const whole = new WholeFiles();
    const got = files.map((f) => whole.read(f.path, reuse));
    got.forEach((g, i) => assert.deepEqual(g, files[i]!.bytes));
    assert.notEqual(got[0]!.buffer, got[1]!.buffer, 'never the buffer of the file just before');
    // The 200 KB file does not fit the first buffer: a larger one takes its place.
    assert.notEqual(got[2]!.buffer, got[0]!.buffer);
    assert.equal(got[3]!.buffer === got[1]!.buffer, reuse);
  }
  assert.throws(() => new WholeFiles().read(join(dir, 'no-such-file.dcm'), true), { code: 'ENOENT' });
});

for (const tls of [false, true]) {
  test(`a 6 MB instance${tls ? ' over TLS' : ''} sent from reused buffers is stored byte-identical; a watcher of sent PDUs keeps intact views`, async () => {
    const pki = scenarioPki();
    const server = await StorageServer.create({
      aeTitle: 'STORE-SCP',
      storeRoot: join(dir, `store-${tls}`),
      fsync: 'none',
      ...(tls ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
    });
    const { port } = await server.listen(0);
    try {
      await mkdir(join(dir, `in-${tls}`), { recursive: true });
      const a = await writeBigInstance(join(dir, `in-${tls}`), spec(300, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.30.${tls ? 1 : 0}.1` }), 6 * 1024 * 1024);
      const b = await writeBigInstance(join(dir, `in-${tls}`), spec(301, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.30.${tls ? 1 : 0}.2` }), 6 * 1024 * 1024);
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'STORE-SCP', timeouts: quick,
        presentationContexts: await storageContextsFor([a.path, b.path]),
        ...(tls ? { tls: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
      });
      try {
        // No watcher: buffers are reused.
        assert.equal((await client.store([a.path]))[0]?.status, 0);
        // A watcher keeping every sent data set fragment: what it holds must still be the file.
        const { results: [rb], kept } = await storeWatched(client, [b.path]);
        assert.equal(rb?.status, 0);
        const file = await readFile(b.path);
        const datasetStart = file.length - b.size;
        assert.ok(Buffer.concat(kept).equals(file.subarray(datasetStart)), 'the views a watcher kept are the bytes sent');
      } finally {
        await client.release();
      }
      for (const x of [a, b]) {
        const uid = x === a ? `1.2.826.0.1.3680043.9.7777.30.${tls ? 1 : 0}.1` : `1.2.826.0.1.3680043.9.7777.30.${tls ? 1 : 0}.2`;
        const stored = (await server.storedInstance(uid));
        assert.ok(stored, uid);
        assert.equal(await datasetHash(stored.path), x.hash);
      }
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}

for (const tls of [false, true]) {
  test(`small instances${tls ? ' over TLS' : ''} read whole into reused buffers are stored byte-identical, with and without a watcher`, async () => {
    const pki = scenarioPki();
    const server = await StorageServer.create({
      aeTitle: 'STORE-SCP',
      storeRoot: join(dir, `small-store-${tls}`),
      fsync: 'none',
      ...(tls ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
    });
    const { port } = await server.listen(0);
    try {
      const inDir = join(dir, `small-in-${tls}`);
      await mkdir(inDir, { recursive: true });
      // Sizes around the 128 KiB first buffer, and one far larger (the buffers grow).
      const sent = [];
      for (const [i, pixels] of [[0, 1000], [1, 120_000], [2, 140_000], [3, 10], [4, 900_000], [5, 50_000], [6, 60_000]] as const) {
        sent.push({ uid: `1.2.826.0.1.3680043.9.7777.31.${tls ? 1 : 0}.${i}`, ...(await writeInstance(inDir, spec(400 + i, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.31.${tls ? 1 : 0}.${i}` }), { pixels })) });
      }
      const paths = sent.map((x) => x.path);
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'STORE-SCP', timeouts: quick,
        presentationContexts: await storageContextsFor(paths),
        ...(tls ? { tls: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
      });
      try {
        assert.deepEqual((await client.store(paths.slice(0, 4))).map((r) => r.status), [0, 0, 0, 0]);
        const { results: rest, kept } = await storeWatched(client, paths.slice(4));
        assert.deepEqual(rest.map((r) => r.status), [0, 0, 0]);
        const expected = await Promise.all(paths.slice(4).map(async (p, k) => {
          const file = await readFile(p);
          return file.subarray(file.length - rest[k]!.bytes);
        }));
        assert.ok(Buffer.concat(kept).equals(Buffer.concat(expected)), 'the views a watcher kept are the bytes sent');
      } finally {
        await client.release();
      }
      for (const x of sent) {
        const stored = (await server.storedInstance(x.uid));
        assert.ok(stored, x.uid);
        assert.equal(await datasetHash(stored.path), await datasetHash(x.path), x.uid);
      }
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}

test('a large file gone between listing and sending fails alone; the association goes on', async () => {
  const server = await StorageServer.create({ aeTitle: 'STORE-SCP', storeRoot: join(dir, 'store-gone'), fsync: 'none' });
  const { port } = await server.listen(0);
  try {
    await mkdir(join(dir, 'in-gone'), { recursive: true });
    const files = await Promise.all([310, 311, 312].map((n) => writeBigInstance(join(dir, 'in-gone'), spec(n, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.31.${n}` }), 5 * 1024 * 1024)));
    const paths = files.map((f) => f.path);
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'STORE-SCP', timeouts: quick, presentationContexts: await storageContextsFor(paths) });
    try {
      const results = await client.store(paths, {
        onProgress: (p) => {
          if (p.phase === 'sending' && p.index === 0) rmSync(paths[1]!);
        },
      });
      assert.deepEqual(results.map((r) => r.outcome), ['Success', 'Failure', 'Success']);
      assert.match(results[1]!.errorComment ?? '', /ENOENT.*open/);
      assert.equal(results[1]!.response, undefined, 'nothing was sent for it');
    } finally {
      await client.release();
    }
  } finally {
    await server.close({ timeout: 1000 });
  }
});
