/**
 * The Association's extension points and rules, between our client and server on 127.0.0.1:
 * requests with a streamed dataset into a handler's sink, pending responses as an async
 * iterator, C-CANCEL, DIMSE/idle/association timers, protocol violations aborting one
 * association only, limits, user identity and graceful close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Writable } from 'node:stream';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type DicomServerOptions } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { writableSink } from '../../src/dimse/assembler.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { TimeoutError } from '../../src/errors.js';
import { AssociationAbortedError } from '../../src/ul/upper-layer-errors.js';
import { Status } from '../../src/dictionary/status.js';
import { channelNames } from '../../src/diagnostics.js';
import { QueryRetrieveSopClass, StorageSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';

const quick = { connect: 5000, association: 5000, dimse: 5000 };
const SC = StorageSopClass.SecondaryCaptureImageStorage;
const FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const contexts = [
  { abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] },
  { abstractSyntax: SC, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
  { abstractSyntax: FIND, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
];
const policy = { supported: contexts.map((c) => ({ abstractSyntax: c.abstractSyntax })) };

async function withServer(options: DicomServerOptions, fn: (port: number, server: DicomServer) => Promise<void>): Promise<void> {
  const server = new DicomServer({ presentationContexts: policy, ...options });
  const { port } = await server.listen(0);
  try {
    await fn(port, server);
  } finally {
    await server.close({ timeout: 1000 });
  }
}
const connect = (port: number, extra: Partial<Parameters<typeof DicomClient.associate>[0]> = {}) =>
  DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: contexts, timeouts: quick, ...extra });

test('a request with a streamed dataset reaches the handler sink whole, in PDUs within the server maximum, with backpressure', async () => {
  const chunks = Array.from({ length: 40 }, (_, i) => new Uint8Array(25_000).fill(i));
  const received: Buffer[] = [];
  let slowWrites = 0;
  await withServer({ maxPduLength: 4096 }, async (port, server) => {
    server.handlers.register('C-STORE-RQ', {
      datasetSink: () =>
        writableSink(
          new Writable({
            highWaterMark: 1024,
            write(chunk: Buffer, _e, cb) {
              received.push(Buffer.from(chunk));
              slowWrites++;
              setImmediate(cb); // a slow disk
            },
          }),
        ),
      handle: (rq, ctx) => {
        assert.equal(ctx.dataset, undefined, 'a sink took the dataset');
        assert.equal(ctx.presentationContext.abstractSyntax, SC);
        return { status: Status.Success, errorComment: rq.affectedSopInstanceUid.slice(0, 10) };
      },
    });
    const client = await connect(port);
    assert.equal(client.association.peerMaxPduLength, 4096);
    async function* source() {
      for (const c of chunks) yield c;
    }
    const pending = client.association.request(
      { type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3.4', priority: 0 },
      { dataset: source() },
    );
    const rsp = await pending.response;
    assert.equal(rsp.command.type, 'C-STORE-RSP');
    assert.equal(rsp.command.status, Status.Success);
    assert.deepEqual(Buffer.concat(received), Buffer.concat(chunks));
    assert.ok(slowWrites >= Math.ceil(1_000_000 / (4096 - 6)), 'one sink write per PDV of at most 4090 bytes');
    await client.release();
  });
});

test('pending responses (C-FIND style) come through the async iterator with their datasets; C-CANCEL reaches the handler', async () => {
  await withServer({}, async (port, server) => {
    server.handlers.register('C-FIND-RQ', {
      handle: async (_rq, ctx) => {
        assert.deepEqual([...(ctx.dataset ?? [])], [9, 9]);
        for (let i = 0; i < 3; i++) {
          if (ctx.signal.aborted) return { status: Status.Cancel };
          await ctx.respond({ status: Status.Pending, dataset: new Uint8Array([i, i]) });
        }
        if (ctx.signal.aborted) return { status: Status.Cancel };
        await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve())));
        return { status: Status.Cancel };
      },
    });
    const client = await connect(port);
    const pending = client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 }, { dataset: new Uint8Array([9, 9]) });
    const statuses: number[] = [];
    const datasets: number[][] = [];
    for await (const r of pending) {
      statuses.push(r.command.status);
      if (r.dataset !== undefined) datasets.push([...r.dataset]);
      if (statuses.length === 3) await pending.cancel();
    }
    assert.deepEqual(statuses, [Status.Pending, Status.Pending, Status.Pending, Status.Cancel]);
    assert.deepEqual(datasets, [[0, 0], [1, 1], [2, 2]]);
    assert.equal((await pending.response).command.status, Status.Cancel);
    assert.equal(client.association.outstandingRequests, 0);
    await client.release();
  });
});

test('DIMSE timeout: TimeoutError("dimse"), the association is aborted on both sides', async () => {
  await withServer({}, async (port, server) => {
    server.handlers.register('C-ECHO-RQ', { handle: (_rq, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ status: 0 }))) });
    const accepted = new Promise<Association>((resolve) => server.once('association', resolve));
    const client = await connect(port);
    const serverSide = await accepted;
    await assert.rejects(client.echo({ timeout: 100 }), (e: unknown) => e instanceof TimeoutError && e.timer === 'dimse');
    const c = await client.association.whenClosed();
    assert.ok(c.error instanceof TimeoutError);
    const s = await serverSide.whenClosed();
    assert.ok(s.error instanceof AssociationAbortedError && s.error.origin === 'peer-user');
  });
});

test('DIMSE timeout: an answer waiting unread after the event loop was held past the timeout is read, not taken for no answer', async () => {
  // Timers run before the event loop reads its sockets (see the idle test below).
  const timeout = 100;
  await withServer({}, async (port) => {
    const client = await connect(port);
    let dataPdus = 0;
    // Held right after the server's C-ECHO-RSP (the second P-DATA) went to the socket, before
    // we could read it, for longer than our DIMSE timeout.
    const hold = (m: unknown): void => {
      if ((m as { pdu: { type: string } }).pdu.type !== 'P-DATA-TF' || ++dataPdus !== 2) return;
      process.nextTick(() => {
        const until = performance.now() + 3 * timeout;
        while (performance.now() < until);
      });
    };
    diagnosticsChannel.subscribe(channelNames.pduSent, hold);
    try {
      const rsp = await client.echo({ timeout });
      assert.equal(dataPdus, 2);
      assert.equal(rsp.status, Status.Success, 'answered, not aborted for want of an answer');
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.pduSent, hold);
    }
    await client.release();
  });
});

test('DIMSE timeout: a short timeout after a long one still expires first, naming its own request; the others fail with it', async () => {
  await withServer({ asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 4 } }, async (port, server) => {
    server.handlers.register('C-ECHO-RQ', { handle: (_rq, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ status: 0 }))) });
    const client = await connect(port, { asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 4 } });
    const rq = { type: 'C-ECHO-RQ', affectedSopClassUid: VerificationSopClass } as const;
    const long = client.association.request(rq, { timeout: 600_000 });
    const short = client.association.request(rq, { timeout: 100 });
    const failed = await short.response.then(() => undefined, (e: unknown) => e);
    assert.ok(failed instanceof TimeoutError && failed.timer === 'dimse', String(failed));
    assert.match(failed.message, new RegExp(`\\(message ID ${short.messageId}\\) within 100 ms`));
    // One timeout aborts the association: the long request fails with the same error, now.
    assert.equal(await long.response.then(() => undefined, (e: unknown) => e), failed);
    assert.ok((await client.association.whenClosed()).error instanceof TimeoutError);
  });
});

test('a DIMSE protocol violation aborts that association only; a concurrent one keeps working', async () => {
  await withServer({}, async (port, server) => {
    const one = await connect(port);
    const two = await connect(port);
    assert.equal(server.associations.size, 2);
    const pcId = one.association.contexts.select(VerificationSopClass).id;
    // A dataset fragment before any command (PS3.8 Annex E): the server aborts.
    one.association.upperLayer.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: false, isLast: true, data: new Uint8Array(4) }] });
    const closed = await one.association.whenClosed();
    assert.ok(closed.error instanceof AssociationAbortedError);
    assert.equal((await two.echo()).status, Status.Success);
    await two.release();
  });
});

test('limits: one association too many is rejected 2/3/2 local-limit-exceeded; the slot frees on release', async () => {
  await withServer({ maxAssociations: 1 }, async (port, server) => {
    const accepted = new Promise<Association>((resolve) => server.once('association', resolve));
    const first = await connect(port);
    const serverSide = await accepted;
    await assert.rejects(connect(port), (e: unknown) => {
      assert.ok(e instanceof AssociationRejectedError);
      assert.deepEqual([e.result, e.source, e.reason], [2, 3, 2]);
      assert.equal(e.description.reason, 'local-limit-exceeded');
      return true;
    });
    await first.release();
    await serverSide.whenClosed(); // the slot frees when the server side has ended, just after our release
    const again = await connect(port);
    await again.echo();
    await again.release();
  });
});

test('idle timeout: the server aborts an association nobody uses', async () => {
  await withServer({ timeouts: { idle: 100 } }, async (port) => {
    const client = await connect(port);
    const closed = await client.association.whenClosed();
    assert.ok(closed.error instanceof AssociationAbortedError && closed.error.origin === 'peer-user');
  });
});

test('idle timeout: traffic keeps an association alive past the idle time; silence then ends it', async () => {
  // Client and server share this event loop: a stall of the process longer than the idle time
  // would end the association while in use, so the idle time is long against the stalls of a
  // loaded machine (300 ms was not).
  const idle = 1000;
  await withServer({ timeouts: { idle } }, async (port) => {
    const client = await connect(port);
    const started = Date.now();
    let closedAt: number | undefined;
    const closed = client.association.whenClosed().then((c) => { closedAt = Date.now(); return c; });
    // An echo every 30 ms for twice the idle time, never near the idle time of silence.
    let lastSent = started;
    while (Date.now() - started < 2 * idle) {
      lastSent = Date.now();
      await client.echo();
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(closedAt, undefined, 'still open while used');
    const c = await closed;
    assert.ok(c.error instanceof AssociationAbortedError && c.error.origin === 'peer-user');
    // The server's timer restarted no earlier than when the last request was sent: the abort
    // comes an idle time after that at the soonest (a margin for the clocks' rounding).
    assert.ok(closedAt! - lastSent >= idle - 50, `aborted ${closedAt! - lastSent} ms after the last echo was sent`);
  });
});

test('idle timeout: a request waiting unread after the event loop was held past the idle time is traffic, not silence', async () => {
  // Timers run before the event loop reads its sockets: once the loop has been busy past the
  // idle time, the idle timer's turn comes before the read of what the peer sent meanwhile.
  const idle = 100;
  await withServer({ timeouts: { idle } }, async (port) => {
    const client = await connect(port);
    let held = false;
    // Held right after our C-ECHO-RQ went to the socket (the flush is queued before this tick),
    // before the server could read it, for longer than the server's idle time.
    const hold = (m: unknown): void => {
      if (held || (m as { pdu: { type: string } }).pdu.type !== 'P-DATA-TF') return;
      held = true;
      process.nextTick(() => {
        const until = performance.now() + 3 * idle;
        while (performance.now() < until);
      });
    };
    diagnosticsChannel.subscribe(channelNames.pduSent, hold);
    try {
      const rsp = await client.echo();
      assert.equal(held, true);
      assert.equal(rsp.status, Status.Success, 'answered, not aborted as idle');
      assert.equal(client.association.isClosed, false);
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.pduSent, hold);
    }
    await client.release();
  });
});

test('association timer: a peer that accepts the connection and never answers the RQ gives TimeoutError("association")', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: { association: 100 } }),
      (e: unknown) => e instanceof TimeoutError && e.timer === 'association',
    );
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

test('user identity between our client and server: username+passcode accepted (positive response), wrong passcode rejected', async () => {
  const checked: string[] = [];
  await withServer(
    {
      userIdentity: (id, ctx) => {
        checked.push(`${ctx.callingAeTitle}:${id.username}:${id.passcode}`);
        return id.username === 'bob' && id.passcode === 'hunter2';
      },
    },
    async (port, server) => {
      const accepted = new Promise<Association>((resolve) => server.once('association', resolve));
      const ok = await connect(port, { userIdentity: { type: 'username-passcode', username: 'bob', passcode: 'hunter2', positiveResponseRequested: true } });
      assert.equal(ok.association.info.userIdentityResult?.confirmed, true);
      assert.equal((await accepted).info.userIdentity?.username, 'bob');
      await ok.release();
      await assert.rejects(connect(port, { userIdentity: { type: 'username-passcode', username: 'bob', passcode: 'wrong' } }), (e: unknown) => {
        assert.ok(e instanceof AssociationRejectedError);
        assert.deepEqual([e.result, e.source, e.reason], [1, 2, 1]);
        return true;
      });
      assert.deepEqual(checked, ['SCU:bob:hunter2', 'SCU:bob:wrong']);
    },
  );
});

test('user identity: a server response that fits its sub-item but not the AC\'s user information item gets an A-ASSOCIATE-RJ (1, 1, 1), not an abort; the next association is accepted', async () => {
  await withServer(
    { userIdentity: (id) => (id.token?.[0] === 1 ? { accept: true, serverResponse: new Uint8Array(65_500) } : true) },
    async (port, server) => {
      const rejected = new Promise<{ why: string }>((resolve) => server.once('rejected', resolve));
      await assert.rejects(connect(port, { userIdentity: { type: 'jwt', token: new Uint8Array([1]), positiveResponseRequested: true } }), (e: unknown) => {
        assert.ok(e instanceof AssociationRejectedError, String(e));
        assert.deepEqual([e.result, e.source, e.reason], [1, 1, 1]);
        return true;
      });
      assert.match((await rejected).why, /A-ASSOCIATE-AC cannot be encoded/);
      const ok = await connect(port, { userIdentity: { type: 'jwt', token: new Uint8Array([2]), positiveResponseRequested: true } });
      assert.equal(ok.association.info.userIdentityResult?.confirmed, true);
      await ok.release();
    },
  );
});

test('graceful close waits for the association to be released; new connections are refused meanwhile', async () => {
  const server = new DicomServer({ presentationContexts: policy });
  const { port } = await server.listen(0);
  const client = await connect(port);
  let closed = false;
  const closing = server.close({ timeout: 30_000 }).then(() => (closed = true));
  await assert.rejects(connect(port), (e: unknown) => (e as { code?: string }).code === 'DICOM_ERR_CONNECTION_REFUSED');
  assert.equal(closed, false);
  assert.equal((await client.echo()).status, Status.Success);
  await client.release();
  await closing;
  assert.equal(server.associations.size, 0);
});

test('message IDs are unique among outstanding requests and wrap after 65535', async () => {
  await withServer({}, async (port) => {
    const client = await connect(port);
    const a = client.association;
    const ids = new Set<number>();
    for (let i = 0; i < 70_000; i++) ids.add(a.nextMessageId());
    assert.equal(ids.size, 65535);
    assert.ok(!ids.has(0));
    await client.echo();
    await client.release();
  });
});

test('the acceptor sends a request to the requestor (C-GET style sub-operation): role selection, client-side handler with a sink', async () => {
  const got: Buffer[] = [];
  const clientHandlers = new (await import('../../src/services/scp/registry.js')).HandlerRegistry();
  clientHandlers.register('C-STORE-RQ', {
    datasetSink: () => ({ write: (f) => void got.push(Buffer.from(f)), end: () => undefined }),
    handle: () => ({ status: Status.Success }),
  });
  const subStatuses: number[] = [];
  await withServer(
    { presentationContexts: { supported: [...policy.supported.filter((s) => s.abstractSyntax !== SC), { abstractSyntax: SC, roles: { scu: true, scp: true } }] } },
    async (port, server) => {
      server.handlers.register('C-ECHO-RQ', {
        handle: async (_rq, ctx) => {
          const sub = ctx.association.request(
            { type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3', priority: 0 },
            { dataset: [new Uint8Array([1, 2]), new Uint8Array([3, 4])] },
          );
          subStatuses.push((await sub.response).command.status);
          return { status: Status.Success };
        },
      });
      const client = await connect(port, { handlers: clientHandlers, roles: [{ sopClassUid: SC, scuRole: true, scpRole: true }] });
      assert.equal(client.association.contexts.select(SC, { requestorRole: 'scp' }).abstractSyntax, SC);
      assert.equal((await client.echo()).status, Status.Success);
      await client.release();
    },
  );
  assert.deepEqual(subStatuses, [Status.Success]);
  assert.deepEqual([...Buffer.concat(got)], [1, 2, 3, 4]);
});

test('connect timer: a TLS peer that accepts TCP and never answers the ClientHello gives TimeoutError("connect")', async () => {
  const { SecureContext } = await import('../../src/transport/tls/context.js');
  const { scenarioPki } = await import('../helpers/pki.js');
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    const tls = new SecureContext({ role: 'client', ca: [scenarioPki().root.cert] });
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port, tls, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: { connect: 100 } }),
      (e: unknown) => e instanceof TimeoutError && e.timer === 'connect',
    );
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

test('responseDatasetSink streams each response dataset to the caller\'s sink; the message event sees every message', async () => {
  await withServer({}, async (port, server) => {
    server.handlers.register('C-FIND-RQ', {
      handle: async (_rq, ctx) => {
        await ctx.respond({ status: Status.Pending, dataset: new Uint8Array(10_000).fill(7) });
        return { status: Status.Success };
      },
    });
    const client = await connect(port, { maxPduLength: 4096 });
    const seen: string[] = [];
    client.association.on('message', (m) => seen.push(`${m.direction}:${m.command.type}`));
    const streamed: number[] = [];
    const pending = client.association.request(
      { type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 },
      { dataset: new Uint8Array([1]), responseDatasetSink: () => ({ write: (f) => void streamed.push(f.length), end: () => undefined }) },
    );
    const all = [];
    for await (const r of pending) all.push(r);
    assert.deepEqual(all.map((r) => [r.command.status, r.dataset]), [[Status.Pending, undefined], [Status.Success, undefined]]);
    assert.equal(streamed.reduce((a, b) => a + b, 0), 10_000);
    // The server fragments to our 4096 maximum: one sink write per PDV of at most 4090 bytes.
    assert.deepEqual(streamed, [4090, 4090, 1820]);
    assert.deepEqual(seen, ['sent:C-FIND-RQ', 'received:C-FIND-RSP', 'received:C-FIND-RSP']);
    await client.release();
  });
});

test('a datasetSink that throws: the dataset is dropped, the request answered 0x0110, the association goes on', async () => {
  await withServer({}, async (port, server) => {
    let handled = 0;
    server.handlers.register('C-STORE-RQ', {
      datasetSink: () => {
        throw new Error('disk not mounted');
      },
      handle: () => ((handled += 1), { status: Status.Success }),
    });
    const client = await connect(port);
    const rsp = await client.association.request(
      { type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3', priority: 0 },
      { dataset: new Uint8Array(100_000) },
    ).response;
    assert.equal(rsp.command.status, Status.ProcessingFailure);
    assert.equal((rsp.command as { errorComment?: string }).errorComment, 'disk not mounted');
    assert.equal(handled, 0);
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
  });
});

test('within an agreed window: requests queue behind a running handler, a C-CANCEL reaches a queued one, answers go back in order; `sent` precedes the response', { timeout: 30_000 }, async () => {
  await withServer({ asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 1 } }, async (port, server) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    server.handlers.register('C-FIND-RQ', {
      handle: async (rq, ctx) => {
        const tag = String(ctx.dataset?.[0]);
        started.push(`${tag}${ctx.signal.aborted ? ':cancelled' : ''}`);
        if (ctx.signal.aborted) return { status: Status.Cancel };
        if (tag === '1') await gate;
        return { status: Status.Success };
      },
    });
    // What the acceptor has read, from the moment the association exists.
    const acceptorSeen: string[] = [];
    const wakers = new Set<() => void>();
    server.once('association', (a: Association) =>
      a.on('message', (m) => {
        if (m.direction === 'received') acceptorSeen.push(m.command.type);
        for (const w of wakers) w();
      }),
    );
    const acceptorHasRead = (type: string): Promise<void> =>
      new Promise((resolve) => {
        const w = (): void => {
          if (!acceptorSeen.includes(type)) return;
          wakers.delete(w);
          resolve();
        };
        wakers.add(w);
        w();
      });
    const client = await connect(port, { asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 1 } });
    assert.deepEqual(client.association.info.asynchronousOperations, { invoked: 4, performed: 1 });
    const received: string[] = [];
    client.association.on('message', (m) => {
      if (m.direction === 'received') received.push(`${m.command.type}:${'messageIdBeingRespondedTo' in m.command ? m.command.messageIdBeingRespondedTo : ''}`);
    });
    const rq = { type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 } as const;
    const p1 = client.association.request(rq, { dataset: new Uint8Array([1, 0]) });
    const p2 = client.association.request(rq, { dataset: new Uint8Array([2, 0]) });
    const p3 = client.association.request(rq, { dataset: new Uint8Array([3, 0]) });
    // All three are on the wire while the first handler still waits: the sends do not wait for responses.
    await Promise.all([p1.sent, p2.sent, p3.sent]);
    assert.equal(client.association.outstandingRequests, 3);
    await p2.cancel();
    // The acceptor has read all three (and the cancel) while handler 1 holds the others back.
    await acceptorHasRead('C-CANCEL-RQ');
    assert.deepEqual(acceptorSeen, ['C-FIND-RQ', 'C-FIND-RQ', 'C-FIND-RQ', 'C-CANCEL-RQ']);
    assert.deepEqual(started, ['1']);
    release();
    const statuses = await Promise.all([p1, p2, p3].map(async (p) => (await p.response).command.status));
    assert.deepEqual(statuses, [Status.Success, Status.Cancel, Status.Success]);
    assert.deepEqual(started, ['1', '2:cancelled', '3']);
    assert.deepEqual(received, [`C-FIND-RSP:${p1.messageId}`, `C-FIND-RSP:${p2.messageId}`, `C-FIND-RSP:${p3.messageId}`]);
    await client.release();
  });
});
