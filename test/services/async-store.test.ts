/**
 * C-STORE within an Asynchronous Operations Window (PS3.7 D.3.3.3): our client against our
 * StorageServer over real sockets. The server's C-STORE handler is wrapped with a gate that holds
 * the answer to request i until request min(i + k, N) has arrived: a client that does not keep k
 * requests outstanding never gets its answers (the test then fails on the DIMSE timeout), and
 * one that kept more would be seen doing so by the counter of outstanding requests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import type { Association } from '../../src/ae/association.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor, type StoreProgress, type StoreSource } from '../../src/services/scu/store.js';
import type { DimseHandler } from '../../src/services/scp/registry.js';
import type { AsynchronousOperationsWindow } from '../../src/acse/asynchronous-operations.js';
import { tempDir } from '../helpers/dicom-data.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
const N = 10;

let dir: string;
let remove: () => Promise<void>;
let fileNo = 100;

before(async () => {
  ({ dir, remove } = await tempDir('async-store'));
});
after(async () => {
  await remove();
});

async function instances(name: string, count: number): Promise<{ path: string; hash: string; uid: string }[]> {
  const folder = join(dir, name);
  await mkdir(folder);
  const out = [];
  for (let i = 0; i < count; i++) {
    const s = spec(fileNo++);
    out.push({ ...(await writeInstance(folder, s, { pixels: 1024 + i * 64 })), uid: s.SOPInstanceUID });
  }
  return out;
}

/** A StorageServer whose C-STORE answers wait for the gate, and a count of the requests it saw outstanding. */
async function gatedServer(name: string, limits: { asynchronousOperations?: AsynchronousOperationsWindow } = {}) {
  const server = await StorageServer.create({ aeTitle: 'ASYNC-SCP', storeRoot: join(dir, `${name}-store`), fsync: 'none', duplicates: 'reject', limits });
  const handlers = server.server.handlers;
  const inner = handlers.get('C-STORE-RQ')!;
  let arrived = 0;
  let answered = 0;
  let need = (_i: number): number => 0;
  const waiters = new Set<() => void>();
  const gated: DimseHandler<'C-STORE-RQ'> = {
    datasetSink(request, context) {
      arrived++;
      for (const w of waiters) w();
      return inner.datasetSink!(request, context);
    },
    async handle(request, context) {
      // Handlers run one at a time in arrival order (Association #handlerTail): i is this request's place.
      const i = answered++;
      while (arrived < need(i)) {
        await new Promise<void>((resolve) => {
          const w = (): void => {
            waiters.delete(w);
            resolve();
          };
          waiters.add(w);
        });
      }
      return inner.handle(request, context);
    },
  };
  handlers.unregister('C-STORE-RQ').register('C-STORE-RQ', gated);
  const seen = { max: 0, associations: [] as Association[] };
  server.server.on('association', (a) => {
    seen.associations.push(a);
    let outstanding = 0;
    a.on('message', (m) => {
      if (m.direction === 'received' && m.command.type === 'C-STORE-RQ') seen.max = Math.max(seen.max, ++outstanding);
      if (m.direction === 'sent' && m.command.type === 'C-STORE-RSP') outstanding--;
    });
  });
  const { port } = await server.listen(0);
  return {
    server,
    port,
    seen,
    /** Answer request i only once min(i + k, total) requests have arrived (k = 1: no gate). */
    gate(k: number, total: number): void {
      arrived = 0;
      answered = 0;
      need = (i) => Math.min(i + k, total);
    },
  };
}

async function connect(port: number, sources: readonly StoreSource[], asynchronousOperations?: AsynchronousOperationsWindow): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1',
    port,
    callingAeTitle: 'ASYNC-SCU',
    calledAeTitle: 'ASYNC-SCP',
    presentationContexts: await storageContextsFor(sources),
    timeouts: quick,
    ...(asynchronousOperations === undefined ? {} : { asynchronousOperations }),
  });
}

test(`window 4: ${N} instances with 4 C-STOREs outstanding, all stored byte-identical, results in source order`, async () => {
  const files = await instances('w4', N);
  const { server, port, seen, gate } = await gatedServer('w4');
  try {
    gate(4, N);
    const client = await connect(port, files.map((f) => f.path), { maxOperationsInvoked: 4, maxOperationsPerformed: 1 });
    assert.deepEqual(client.association.info.asynchronousOperations, { invoked: 4, performed: 1 });
    const progress: StoreProgress[] = [];
    const results = await client.store(files.map((f) => f.path), { onProgress: (p) => progress.push(p) });
    await client.release();
    assert.deepEqual(seen.associations[0]?.info.asynchronousOperations, { invoked: 1, performed: 4 }, 'the acceptor sees the swapped terms');
    assert.equal(seen.max, 4, 'the SCP had exactly the window outstanding at most');
    assert.deepEqual(results.map((r) => r.sopInstanceUid), files.map((f) => f.uid));
    assert.deepEqual(results.map((r) => r.status), files.map(() => 0));
    for (const f of files) assert.equal(await datasetHash((await server.storedInstance(f.uid))!.path), f.hash);
    // Progress: one 'sending' and one 'done' per instance; the 4th is on its way before the 1st is answered.
    assert.equal(progress.filter((p) => p.phase === 'sending').length, N);
    assert.equal(progress.filter((p) => p.phase === 'done').length, N);
    const firstDone = progress.findIndex((p) => p.phase === 'done');
    assert.deepEqual(progress.slice(0, firstDone).map((p) => `${p.phase}:${p.index}`), ['sending:0', 'sending:1', 'sending:2', 'sending:3']);
    assert.equal(progress[firstDone]?.index, 0);
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('a refused instance in the middle of a window is its own result; the others are stored', async () => {
  const files = await instances('refused', 7);
  const { server, port, seen, gate } = await gatedServer('refused');
  try {
    // Stored once synchronously first: the duplicate policy 'reject' answers 0111 the second time.
    gate(1, 1);
    const first = await connect(port, [files[3]!.path]);
    assert.deepEqual((await first.store([files[3]!.path])).map((r) => r.status), [0]);
    await first.release();
    assert.equal(seen.max, 1);

    gate(3, files.length);
    const client = await connect(port, files.map((f) => f.path), { maxOperationsInvoked: 3, maxOperationsPerformed: 1 });
    const results = await client.store(files.map((f) => f.path));
    assert.equal(seen.max, 3);
    assert.deepEqual(results.map((r) => r.sopInstanceUid), files.map((f) => f.uid));
    assert.deepEqual(results.map((r) => r.status), [0, 0, 0, 0x0111, 0, 0, 0]);
    assert.equal(results[3]?.outcome, 'Failure');
    assert.ok(!client.association.isClosed, 'a refusal leaves the association usable');
    await client.release();
    for (const f of files) assert.equal(await datasetHash((await server.storedInstance(f.uid))!.path), f.hash);
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('no proposal, or an acceptor answering 1/1: one instance at a time, as before', async () => {
  const files = await instances('sync', 5);
  const paths = files.map((f) => f.path);
  const strict = await gatedServer('sync-strict', { asynchronousOperations: { maxOperationsInvoked: 1, maxOperationsPerformed: 1 } });
  const open = await gatedServer('sync-open');
  try {
    // Our client proposes 8 to a server that allows 1.
    strict.gate(1, files.length);
    const client = await connect(strict.port, paths, { maxOperationsInvoked: 8, maxOperationsPerformed: 1 });
    assert.deepEqual(client.association.info.asynchronousOperations, { invoked: 1, performed: 1 });
    const progress: string[] = [];
    const results = await client.store(paths, { onProgress: (p) => progress.push(`${p.phase}:${p.index}`) });
    await client.release();
    assert.deepEqual(results.map((r) => r.status), files.map(() => 0));
    assert.equal(strict.seen.max, 1);
    assert.deepEqual(progress, files.flatMap((_, i) => [`sending:${i}`, `done:${i}`]));

    // A server that would allow 16, and a client that proposes nothing (the library default).
    open.gate(1, files.length);
    const plain = await connect(open.port, paths);
    assert.deepEqual(plain.association.info.asynchronousOperations, { invoked: 1, performed: 1 });
    assert.deepEqual((await plain.store(paths)).map((r) => r.status), files.map(() => 0));
    await plain.release();
    assert.equal(open.seen.max, 1);
    assert.deepEqual(open.seen.associations[0]?.info.asynchronousOperations, { invoked: 1, performed: 1 });
  } finally {
    await strict.server.close({ timeout: 1000 });
    await open.server.close({ timeout: 1000 });
  }
});

test('0 = unlimited on both sides: the store keeps at most maxOutstanding', async () => {
  const files = await instances('unlimited', 8);
  const paths = files.map((f) => f.path);
  const { server, port, seen, gate } = await gatedServer('unlimited', { asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 } });
  try {
    gate(5, files.length);
    const client = await connect(port, paths, { maxOperationsInvoked: 0, maxOperationsPerformed: 0 });
    assert.deepEqual(client.association.info.asynchronousOperations, { invoked: 0, performed: 0 });
    const results = await client.store(paths, { maxOutstanding: 5 });
    await client.release();
    assert.deepEqual(results.map((r) => r.status), files.map(() => 0));
    assert.equal(seen.max, 5);
    await assert.rejects(client.store(paths, { maxOutstanding: 0 }), /maxOutstanding/);
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('a send that fails in the middle of a window aborts the association; its instance and the later ones fail, no exception', async () => {
  const files = await instances('send-fail', 6);
  const { server, port, gate } = await gatedServer('send-fail');
  try {
    gate(1, files.length);
    const uid = '1.2.826.0.1.3680043.9.7777.99.1';
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(64);
      throw new Error('source broke mid-data-set');
    }
    const sources: StoreSource[] = [
      ...files.slice(0, 3).map((f) => f.path),
      { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: uid, transferSyntaxUid: '1.2.840.10008.1.2.1', dataset: broken() },
      ...files.slice(3).map((f) => f.path),
    ];
    const client = await connect(port, files.map((f) => f.path), { maxOperationsInvoked: 4, maxOperationsPerformed: 1 });
    const results = await client.store(sources);
    assert.equal(results.length, 7);
    assert.equal(results[3]?.outcome, 'Failure');
    assert.match(results[3]?.errorComment ?? '', /source broke/);
    for (const r of results.slice(4)) assert.equal(r.outcome, 'Failure');
    assert.ok(client.association.isClosed);
  } finally {
    await server.close({ timeout: 1000 });
  }
});
