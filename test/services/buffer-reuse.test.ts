/**
 * TLS receive buffers are reused (internal/buffer-pool.ts) once every view of them is released,
 * and plain TCP socket reads are freed then: these tests store many instances over TLS and over
 * plain TCP, re-chunked at random by a proxy, into receivers
 * that hold the bytes for a while (a file store, a sink that copies fragments only some time
 * after it got them, diagnostics subscribers that keep PDUs and request data sets) and compare
 * every byte received with what was sent. Reusing a buffer while a view of it is live changes
 * bytes under that view, freeing it empties the view: a mismatch. Each test also checks that
 * buffers were in fact reused (TLS) or freed (plain TCP), and that aborted associations give
 * their buffers back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdir, readdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { channelNames } from '../../src/diagnostics.js';
import { releaseFragment, type DatasetSink } from '../../src/dimse/assembler.js';
import { Status } from '../../src/dictionary/status.js';
import { poolStats } from '../../src/internal/buffer-pool.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { StorageServer, STORAGE_TRANSFER_SYNTAXES } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { ctImageStorage } from '../helpers/dicom-data.js';
import { tempDir } from '../helpers/dicom-data.js';
import { scenarioPki } from '../helpers/pki.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';
import type { PresentationDataValue } from '../../src/ul/pdu/types.js';

const quick = { connect: 10_000, association: 10_000, dimse: 60_000 };
let dir: string;
let remove: () => Promise<void>;
/** Source instances: path, SOP Instance UID, data set hash. */
const instances: { path: string; uid: string; hash: string }[] = [];

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function serverTls(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
}
function clientTls(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] });
}

/**
 * A TCP proxy that forwards the client's bytes in random pieces (1 byte to 48 KiB), now and then
 * after a pause, so TLS records reach the receiver split and joined every which way; with
 * `cutAfter`, it drops both connections once that many client bytes have gone through.
 */
async function chunkingProxy(target: number, seed: number, cutAfter?: number): Promise<{ port: number; close: () => Promise<void> }> {
  const rnd = random(seed);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let forwarded = 0;
    let queue: Buffer[] = [];
    let pumping = false;
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    const pump = async (): Promise<void> => {
      if (pumping) return;
      pumping = true;
      while (queue.length > 0 && !upstream.destroyed) {
        let data = Buffer.concat(queue);
        queue = [];
        while (data.length > 0 && !upstream.destroyed) {
          const n = Math.min(data.length, rnd() < 0.2 ? 1 + Math.floor(rnd() * 64) : 1 + Math.floor(rnd() * 48 * 1024));
          upstream.write(data.subarray(0, n));
          forwarded += n;
          data = data.subarray(n);
          if (cutAfter !== undefined && forwarded >= cutAfter) return cut();
          if (rnd() < 0.1) await sleep(1);
        }
      }
      pumping = false;
    };
    client.on('data', (d: Buffer) => {
      queue.push(d);
      void pump();
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('end', () => void (async () => {
      while (pumping) await sleep(1);
      upstream.end();
    })());
    upstream.on('end', () => client.end());
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Slabs handed out and plain reads adopted that are still held. */
function outstanding(): number {
  const s = poolStats();
  return s.created + s.reused - s.recycled - s.pinned + (s.adopted - s.freed - s.adoptedPinned);
}

/** Every slab handed out has come back (or was pinned): waits for connections to wind down. */
async function allReturned(base: number): Promise<void> {
  // Polled with a hang guard: the sockets' last reads may be freed late on a loaded machine.
  for (const end = Date.now() + 60_000; outstanding() !== base && Date.now() < end;) await sleep(10);
  assert.equal(outstanding(), base, 'pooled receive buffers still held after every association ended');
  assert.ok(poolStats().free <= poolStats().maxFree);
}

/** TLS: a slab reused since `before` (poolStats()); plain TCP: a socket read freed since. */
function assertRecycled(secure: boolean, before: { reused: number; freed: number }): void {
  if (secure) assert.ok(poolStats().reused > before.reused, 'no receive buffer was reused: the test proves nothing');
  else assert.ok(poolStats().freed > before.freed, 'no socket read was freed: the test proves nothing');
}

const transports = [
  { name: 'TLS', secure: true },
  { name: 'plain TCP', secure: false },
] as const;

async function storeAll(port: number, calledAeTitle: string, paths: readonly string[], secure = true): Promise<void> {
  const client = await DicomClient.associate({
    host: '127.0.0.1',
    port,
    ...(secure ? { tls: clientTls() } : {}),
    callingAeTitle: 'HOSPITAL-A',
    calledAeTitle,
    presentationContexts: await storageContextsFor([...paths]),
    timeouts: quick,
  });
  try {
    const results = await client.store([...paths]);
    for (const r of results) assert.equal(r.status, Status.Success, `${r.sopInstanceUid}: ${String(r.error)}`);
  } finally {
    await client.release();
  }
}

before(async () => {
  ({ dir, remove } = await tempDir('buffer-reuse'));
  await mkdir(join(dir, 'in'));
  // Sizes across the store's paths: whole in memory (< 1 MiB) and written behind the network.
  const sizes = [1_000, 100_000, 700_000, 2_600_000, 40_000, 300_000, 1_500_000, 5_000, 260_000];
  for (let n = 1; n <= 27; n++) {
    const s = spec(n, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7778.${n}` });
    const written = await writeInstance(join(dir, 'in'), s, { pixels: sizes[n % sizes.length]! + n * 2 });
    instances.push({ path: written.path, uid: s.SOPInstanceUID, hash: written.hash });
  }
});

after(async () => {
  await remove();
});

for (const { name, secure } of transports) {
  test(`a file store over ${name}, random chunking: every stored file is byte-for-byte the one sent, and buffers are ${secure ? 'reused' : 'freed'}`, async () => {
    const base = outstanding();
    const before = poolStats();
    const server = await StorageServer.create({ aeTitle: 'REUSE-SCP', storeRoot: join(dir, secure ? 'store' : 'store-plain'), fsync: 'none', ...(secure ? { tls: serverTls() } : {}) });
    const stored = new Map<string, string>();
    server.on('stored', (instance) => stored.set(instance.sopInstanceUid, instance.path));
    const { port } = await server.listen(0);
    const proxy = await chunkingProxy(port, secure ? 1 : 11);
    try {
      await storeAll(proxy.port, 'REUSE-SCP', instances.map((i) => i.path), secure);
      await storeAll(proxy.port, 'REUSE-SCP', instances.slice(0, 9).map((i) => i.path), secure); // again: kept as first stored
    } finally {
      await proxy.close();
      await server.close({ timeout: 2000 });
    }
    assert.equal(stored.size, instances.length);
    for (const i of instances) assert.equal(await datasetHash(stored.get(i.uid)!), i.hash, `${i.uid} stored differs from what was sent`);
    assertRecycled(secure, before);
    await allReturned(base);
  });
}

/**
 * A C-STORE SCP whose sink looks at each fragment only some time after it was handed over,
 * as a slow disk would: with `fragmentUse: 'release'` it gives the fragment back then; with
 * 'write' its write's promise settles then.
 */
function slowSinkServer(use: 'release' | 'write', seed: number, hashes: Map<string, string>, secure = true, seen?: Set<ArrayBufferLike>): DicomServer {
  const rnd = random(seed);
  const handlers = new HandlerRegistry();
  handlers.register('C-STORE-RQ', {
    datasetSink(request): DatasetSink {
      const hash = createHash('sha256');
      const late: Promise<void>[] = [];
      // Fragments are hashed in order: each waits for the one before.
      let last: Promise<void> = Promise.resolve();
      return {
        fragmentUse: use,
        write(fragment) {
          seen?.add(fragment.buffer);
          const delay = Math.floor(rnd() * (use === 'release' ? 20 : 3));
          const prev = last;
          const done = (async () => {
            await sleep(delay);
            await prev;
            hash.update(fragment);
            if (use === 'release') releaseFragment(fragment);
          })();
          last = done;
          if (use === 'write') return done;
          late.push(done);
          return undefined;
        },
        async end() {
          await Promise.all(late);
          await last;
          hashes.set(request.affectedSopInstanceUid, hash.digest('hex'));
        },
      };
    },
    handle: () => ({ status: Status.Success }),
  });
  return new DicomServer({
    aeTitle: 'SLOW-SCP',
    ...(secure ? { tls: serverTls() } : {}),
    presentationContexts: { supported: [{ abstractSyntax: ctImageStorage, transferSyntaxes: STORAGE_TRANSFER_SYNTAXES }] },
    handlers,
  });
}

for (const { name, secure } of transports) {
  for (const use of ['release', 'write'] as const) {
    test(`a sink that uses fragments late (fragmentUse '${use}') over ${name}, random chunking: every byte as sent`, async () => {
      const base = outstanding();
      const before = poolStats();
      const hashes = new Map<string, string>();
      const seen = new Set<ArrayBufferLike>();
      const server = slowSinkServer(use, (use === 'release' ? 2 : 3) + (secure ? 0 : 10), hashes, secure, seen);
      const { port } = await server.listen(0);
      const proxy = await chunkingProxy(port, (use === 'release' ? 4 : 5) + (secure ? 0 : 10));
      try {
        await storeAll(proxy.port, 'SLOW-SCP', instances.map((i) => i.path), secure);
      } finally {
        await proxy.close();
        await server.close({ timeout: 2000 });
      }
      for (const i of instances) assert.equal(hashes.get(i.uid), i.hash, `${i.uid} arrived changed`);
      assertRecycled(secure, before);
      if (!secure) {
        // The memory behind the fragments went back once they were released, not at a later collection.
        const freed = [...seen].filter((b) => b.byteLength === 0).length;
        assert.ok(freed > 0, `none of the ${seen.size} receive buffers behind the fragments was freed`);
      }
      await allReturned(base);
    });
  }
}

for (const { name, secure } of transports) {
  test(`diagnostics subscribers that keep received PDUs and request data sets see the bytes as sent (${name})`, async () => {
    const hashes = new Map<string, string>();
    const server = slowSinkServer('release', secure ? 6 : 16, hashes, secure);
    // A second SCP that collects data sets in memory, published on the request-dataset channel.
    const handlers = new HandlerRegistry();
    handlers.register('C-STORE-RQ', { handle: () => ({ status: Status.Success }) });
    const collecting = new DicomServer({
      aeTitle: 'COLLECT-SCP',
      ...(secure ? { tls: serverTls() } : {}),
      presentationContexts: { supported: [{ abstractSyntax: ctImageStorage, transferSyntaxes: STORAGE_TRANSFER_SYNTAXES }] },
      handlers,
    });
    // Kept PDV values, per association, and the request data sets.
    const pdvs = new Map<object, PresentationDataValue[]>();
    const requestDatasets: { uid: string; dataset: Uint8Array }[] = [];
    const onPdu = (m: unknown): void => {
      const { association, pdu } = m as { association: object; pdu: { type: string; pdvs?: PresentationDataValue[] } };
      if (pdu.type !== 'P-DATA-TF') return;
      const list = pdvs.get(association) ?? [];
      list.push(...pdu.pdvs!);
      pdvs.set(association, list);
    };
    const onDataset = (m: unknown): void => {
      const { command, dataset } = m as { command: { affectedSopInstanceUid: string }; dataset: Uint8Array };
      requestDatasets.push({ uid: command.affectedSopInstanceUid, dataset });
    };
    diagnosticsChannel.subscribe(channelNames.pduReceived, onPdu);
    diagnosticsChannel.subscribe(channelNames.requestDataset, onDataset);
    const proxies: { close: () => Promise<void> }[] = [];
    try {
      const { port } = await server.listen(0);
      const { port: port2 } = await collecting.listen(0);
      const p1 = await chunkingProxy(port, secure ? 7 : 17);
      const p2 = await chunkingProxy(port2, secure ? 8 : 18);
      proxies.push(p1, p2);
      // Smaller instances for the collecting SCP (in memory), all of them for the other.
      await storeAll(p1.port, 'SLOW-SCP', instances.map((i) => i.path), secure);
      await storeAll(p2.port, 'COLLECT-SCP', instances.filter((_, n) => n % 3 !== 0).map((i) => i.path), secure);
      // The data sets the subscriber kept, rebuilt from the held PDVs (data set fragments only).
      const rebuilt: string[] = [];
      for (const list of pdvs.values()) {
        let parts: Uint8Array[] = [];
        for (const pdv of list) {
          if (pdv.isCommand) continue;
          parts.push(pdv.data);
          if (pdv.isLast) {
            rebuilt.push(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
            parts = [];
          }
        }
      }
      const expected = [...instances.map((i) => i.hash), ...instances.filter((_, n) => n % 3 !== 0).map((i) => i.hash)];
      assert.deepEqual(rebuilt.sort(), expected.sort(), 'a PDU kept by a subscriber changed under it');
      const byUid = new Map(instances.map((i) => [i.uid, i.hash]));
      assert.equal(requestDatasets.length, instances.filter((_, n) => n % 3 !== 0).length);
      for (const r of requestDatasets) assert.equal(createHash('sha256').update(r.dataset).digest('hex'), byUid.get(r.uid), `request data set ${r.uid} changed`);
      for (const i of instances) assert.equal(hashes.get(i.uid), i.hash);
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.pduReceived, onPdu);
      diagnosticsChannel.unsubscribe(channelNames.requestDataset, onDataset);
      for (const p of proxies) await p.close();
      await server.close({ timeout: 2000 });
      await collecting.close({ timeout: 2000 });
    }
  });
}

for (const { name, secure } of transports) {
  test(`associations cut mid-instance give their receive buffers back; no partial file is left (${name})`, async () => {
    const base = outstanding();
    const root = join(dir, secure ? 'cut' : 'cut-plain');
    const server = await StorageServer.create({ aeTitle: 'CUT-SCP', storeRoot: root, fsync: 'none', ...(secure ? { tls: serverTls() } : {}) });
    const { port } = await server.listen(0);
    const big = instances.filter((i) => /\.(3|12|21)$/.test(i.uid)).map((i) => i.path); // the 2.6 MB ones
    assert.equal(big.length, 3);
    try {
      for (let k = 0; k < 6; k++) {
        const proxy = await chunkingProxy(port, 20 + k, 400_000 + k * 350_000);
        await assert.rejects(storeAll(proxy.port, 'CUT-SCP', big, secure));
        await proxy.close();
      }
      await allReturned(base);
    } finally {
      await server.close({ timeout: 2000 });
    }
    const left = (await readdir(root, { recursive: true })).filter((f) => f.includes('.partial-'));
    assert.deepEqual(left, []);
  });
}
