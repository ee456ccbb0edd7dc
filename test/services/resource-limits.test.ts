/**
 * The storing server, in a child process, under load that used to exhaust it; the bounds are the
 * design limits (budgets × a small factor), never a time:
 * - a peer pipelining C-FIND-RQs with large identifiers while reading no responses: the server
 *   stops reading at its per-association budget; its peak RSS grows by a fraction of what was sent;
 * - concurrent C-FINDs of 10 000 matches each: a C-ECHO on a new association is answered while
 *   they run, and every query completes;
 * - a C-MOVE destination that accepts the association and then reads nothing (zero window): the
 *   move ends with a final status (A702, the instance counted failed) instead of hanging.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { userInformation } from '../helpers/user-information.js';
import { DicomClient } from '../../src/ae/client.js';
import type { Association, PendingRequest } from '../../src/ae/association.js';
import { DicomServer } from '../../src/ae/server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { IndexDb } from '../../src/store/index-db.js';
import { QueryRetrieveSopClass, StorageSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { QueryRetrieveStatus, Status } from '../../src/dictionary/status.js';
import { encodeDataset as encodeNatural } from '../../src/dataset/codec.js';
import type { StorageServerConfig } from '../../src/services/scp/storage-server.js';
import { encodeDataset, tempDir } from '../helpers/dicom-data.js';
import { spec, writeBigInstance } from '../helpers/services.js';
import { addStudies } from '../helpers/many-studies.js';
import { startStorageServerProcess, vmHwm, type StorageServerProcess } from '../helpers/storage-server-process.js';

const STUDY_FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const STUDY_MOVE = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove;
const EXPLICIT = TransferSyntax.ExplicitVrLittleEndian;
const MiB = 1024 * 1024;
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

let dir: string;
let remove: () => Promise<void>;
/** A store root whose index holds 10 000 studies. */
let loaded: string;

before(async () => {
  ({ dir, remove } = await tempDir('resource-limits'));
  loaded = join(dir, 'loaded');
  await mkdir(loaded, { recursive: true });
  const index = new IndexDb(join(loaded, '.index.sqlite'), { synchronous: 'normal' });
  await addStudies(index, 10_000);
  index.close();
});
after(async () => {
  await remove();
});

type Child = StorageServerProcess;

function startChild(storeRoot: string, extra: { limits?: StorageServerConfig['limits']; destinations?: Record<string, { host: string; port: number }> } = {}): Promise<Child> {
  return startStorageServerProcess({ storeRoot, aeTitle: 'LOAD-SCP', maxPduLength: 65536, ...extra });
}

/** Poll until `check` holds; a hang guard, not a timing bound. */
async function until(check: () => boolean, what: string, guard = 120_000): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > guard) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A hang guard around a promise: rejects (failing the test) only if it never settles. */
function guarded<T>(p: Promise<T>, what: string, ms = 180_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} never finished`)), ms)))]).finally(() => clearTimeout(timer));
}

const discard = () => ({ write() {}, end() {} });

/**
 * A raw peer: associates (proposing an unlimited window), then writes `total` C-FIND-RQs with
 * `identifier` as fast as the server takes them and never reads another byte. Resolves once its
 * writes have stalled (the server reads no more).
 */
async function rawPipeliner(port: number, identifier: Uint8Array, total: number): Promise<{ socket: net.Socket; requestsWritten: () => number }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.setNoDelay(true);
  const rq: AAssociateRqPdu = {
    type: 'A-ASSOCIATE-RQ',
    protocolVersion: 1,
    calledAeTitle: 'LOAD-SCP',
    callingAeTitle: 'PIPE',
    applicationContextName: '1.2.840.10008.3.1.1.1',
    presentationContexts: [{ id: 1, abstractSyntax: STUDY_FIND, transferSyntaxes: [EXPLICIT] }],
    userInformation: userInformation({ maximumLength: 16384, implementationClassUid: '1.2.826.0.1.3680043.10.1', asynchronousOperationsWindow: { maxOperationsInvoked: 0, maxOperationsPerformed: 1 } }),
  };
  socket.write(encodePdu(rq));
  const [first] = (await once(socket, 'data')) as [Buffer];
  assert.equal(first[0], 0x02, 'A-ASSOCIATE-AC');
  // From here on nothing is read: no 'data' listener, paused; the kernel buffers fill, then the window closes.
  socket.pause();
  let requests = 0;
  void (async () => {
    for (let id = 1; id <= total; id++) {
      const pdus = [encodePdu({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: 1, isCommand: true, isLast: true, data: encodeCommand({ type: 'C-FIND-RQ', messageId: id, affectedSopClassUid: STUDY_FIND, priority: 0 }) }] })];
      const step = 16384 - 6;
      for (let o = 0; o < identifier.length; o += step) {
        const data = identifier.subarray(o, Math.min(identifier.length, o + step));
        pdus.push(encodePdu({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: 1, isCommand: false, isLast: o + step >= identifier.length, data }] }));
      }
      for (const pdu of pdus) if (!socket.write(pdu)) await once(socket, 'drain');
      requests = id;
    }
  })().catch(() => undefined);
  return { socket, requestsWritten: () => requests };
}

test('pipelined C-FIND identifiers from a raw peer that reads nothing: the server stops reading at its budget; its peak RSS stays far below what was sent', async (t) => {
  const budget = 16 * MiB;
  // No identifier limit of its own (64 KiB by default): the budget is what is tested here.
  const server = await startChild(loaded, { limits: { asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 1 }, maxBufferedBytesPerAssociation: budget, maxIdentifierLength: 0 } });
  try {
    // Each identifier: every study (10 000 matches, ~2.5 MB of responses nobody reads) and 2 MiB
    // of an element the index does not keep.
    const identifier = encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x0020000d, 'UI', ''], [0x00420011, 'OB', Buffer.alloc(2 * MiB, 3)]]);
    // Warm-up on a normal association, so the baseline includes what answering such a query costs.
    const warm = await DicomClient.associate({
      host: '127.0.0.1', port: server.port, callingAeTitle: 'WARM', calledAeTitle: 'LOAD-SCP',
      presentationContexts: [{ abstractSyntax: STUDY_FIND, transferSyntaxes: [EXPLICIT] }], timeouts: { connect: 5000, association: 5000, dimse: 60_000 },
    });
    const w = warm.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: STUDY_FIND, priority: 0 }, { dataset: identifier, responseDatasetSink: discard });
    assert.equal((await w.response).command.status, Status.Success);
    await warm.release();
    const base = await vmHwm(server.child.pid!);
    const total = 96;
    const peer = await rawPipeliner(server.port, identifier, total);
    try {
      // Wait for the peer's writes to stall for good: nothing more taken for 3 s on end. (The
      // first query's matches keep the server busy for a moment before its handler waits on the
      // full socket; a server without a budget reads everything once it does.)
      let last = -1;
      let still = 0;
      await until(() => {
        still = peer.socket.bytesWritten === last && peer.socket.writableNeedDrain ? still + 1 : 0;
        last = peer.socket.bytesWritten;
        return still >= 150;
      }, 'the server to stop reading');
      const taken = peer.requestsWritten();
      const grew = (await vmHwm(server.child.pid!)) - base;
      const offered = total * identifier.length;
      t.diagnostic(`${taken} of ${total} requests written (${mib(peer.socket.bytesWritten)} of ${mib(offered)}); peak RSS +${mib(grew)}`);
      // What was written: the budget, one identifier arriving, the one being answered and the
      // socket buffers of both kernels; nowhere near all 192 MiB.
      assert.ok(taken < total / 2, `${taken} of ${total} requests of ${mib(identifier.length)} were taken`);
      // Peak RSS: the budget held, plus the identifier a handler decodes, the query it runs and
      // the heap's slack between collections (measured +20 to +50 MiB; without the budget +190 MiB
      // and more, every identifier read).
      assert.ok(grew < 6 * budget, `server peak RSS grew by ${mib(grew)} (budget ${mib(budget)}, offered ${mib(offered)})`);
    } finally {
      peer.socket.destroy();
    }
  } finally {
    await server.stop();
  }
});

test('20 concurrent C-FINDs of 10 000 matches each: a C-ECHO on a new association is answered while they run; all complete', async (t) => {
  const server = await startChild(loaded);
  try {
    const connect = (title: string): Promise<DicomClient> =>
      DicomClient.associate({
        host: '127.0.0.1', port: server.port, callingAeTitle: title, calledAeTitle: 'LOAD-SCP',
        presentationContexts: [STUDY_FIND, VerificationSopClass].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [EXPLICIT] })),
        timeouts: { connect: 120_000, association: 120_000, dimse: 120_000 },
      });
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => connect(`Q${i}`)));
    const base = await vmHwm(server.child.pid!);
    const identifier = encodeNatural({ QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '', StudyDescription: '', AccessionNumber: '' }, EXPLICIT);
    const pending = clients.map(() => 0);
    let finished = 0;
    const queries = clients.map(async (c, i) => {
      const r = c.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: STUDY_FIND, priority: 0 }, { dataset: identifier, responseDatasetSink: discard });
      const seen: number[] = [];
      for await (const m of r) {
        if (m.command.status === Status.Pending) pending[i]!++;
        else seen.push(m.command.status);
      }
      finished++;
      return seen;
    });
    // Awaited below; an early failure must not also surface as an unhandled rejection.
    for (const q of queries) q.catch(() => undefined);
    // Queries are under way (matches flowing), none has finished yet.
    await until(() => pending.some((n) => n > 0), 'the first matches');
    const echoClient = await guarded(connect('ECHO'), 'the association for C-ECHO');
    const echo = await guarded(echoClient.echo(), 'the C-ECHO').catch((e: unknown) => {
      throw new Error(`${String(e)}; server: ${JSON.stringify(server.lines)}`);
    });
    const finishedAtEcho = finished;
    assert.equal(echo.status, Status.Success);
    assert.ok(finishedAtEcho < clients.length, `the C-ECHO was answered only after all ${clients.length} queries had finished`);
    await echoClient.release();
    const finals = await guarded(Promise.all(queries), 'the queries').catch((e: unknown) => {
      throw new Error(`${String(e)}; server: ${JSON.stringify(server.lines)}`);
    });
    assert.deepEqual(finals, clients.map(() => [Status.Success]));
    assert.deepEqual(pending, clients.map(() => 10_000));
    // Matches stream out page by page and at most 4 queries run at once: a loose ceiling
    // (measured ~165 MiB, most of it V8 heap between collections), far below 20 × 10 000 held.
    const grew = (await vmHwm(server.child.pid!)) - base;
    t.diagnostic(`C-ECHO answered with ${finishedAtEcho} of ${clients.length} queries finished; peak RSS +${mib(grew)}`);
    assert.ok(grew < 256 * MiB, `server peak RSS grew by ${mib(grew)} answering ${clients.length} × 10 000 matches`);
    await Promise.all(clients.map((c) => c.release()));
  } finally {
    await server.stop();
  }
});

test('a C-MOVE destination that accepts and then reads nothing: the move ends with A702 and the instance counted failed', async (t) => {
  // The destination: accepts CT storage, then never reads from its socket again.
  const destination = new DicomServer({ aeTitle: 'ZEROWIN', presentationContexts: { supported: [{ abstractSyntax: StorageSopClass.CtImageStorage, transferSyntaxes: [EXPLICIT, TransferSyntax.ImplicitVrLittleEndian] }] } });
  const stalled: Association[] = [];
  destination.on('association', (a) => {
    stalled.push(a);
    a.upperLayer.transport!.stream.pause();
  });
  const { port: destinationPort } = await destination.listen(0);
  const root = join(dir, 'move-source');
  const server = await startChild(root, { limits: { moveTimeout: 2000 }, destinations: { ZEROWIN: { host: '127.0.0.1', port: destinationPort } } });
  try {
    // 32 MiB: more than the socket buffers of both kernels hold.
    await mkdir(join(dir, 'move-in'), { recursive: true });
    const s = spec(300, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.30.1.1', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.30', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.30.1' });
    const big = await writeBigInstance(join(dir, 'move-in'), s, 32 * MiB);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: server.port, callingAeTitle: 'MOVER', calledAeTitle: 'LOAD-SCP',
      presentationContexts: [...(await storageContextsFor([big.path])), ...[STUDY_MOVE, VerificationSopClass].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [EXPLICIT] }))],
      maxPduLength: 65536,
      timeouts: { connect: 5000, association: 5000, dimse: 60_000 },
    });
    assert.equal((await client.store([big.path]))[0]?.status, Status.Success);
    const base = await vmHwm(server.child.pid!);
    // A final failure status comes back as a DimseStatusError carrying the counts.
    const moved = guarded(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: s.StudyInstanceUID }, 'ZEROWIN'), 'the C-MOVE', 120_000);
    const error = await moved.then(() => undefined, (e: unknown) => e as { status?: number; progress?: { completed: number; failed: number }; failedSopInstanceUids?: string[] });
    assert.equal(stalled.length, 1, 'the destination accepted the sub-association');
    assert.equal(error?.status, QueryRetrieveStatus.OutOfResourcesUnableToPerformSuboperations, String(error));
    assert.equal(error?.progress?.failed, 1);
    assert.equal(error?.progress?.completed, 0);
    assert.deepEqual(error?.failedSopInstanceUids, [s.SOPInstanceUID]);
    // The instance was streamed from its file, not loaded: the stall cost no copy of it.
    const grew = (await vmHwm(server.child.pid!)) - base;
    t.diagnostic(`peak RSS +${mib(grew)} for a ${mib(big.size)} instance`);
    assert.ok(grew < big.size / 2, `server peak RSS grew by ${mib(grew)} for a ${mib(big.size)} instance`);
    // The server goes on: the same association is answered.
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
  } finally {
    await server.stop();
    // Read again, so the destination sees that the move's side has gone.
    for (const a of stalled) a.upperLayer.transport?.stream.resume();
    await destination.close({ timeout: 500 });
  }
});
