/**
 * What a peer's requests may cost the acceptor: the negotiated Asynchronous Operations Window is
 * enforced (PS3.7 D.3.3.3: a request beyond it aborts the association), request data sets held
 * in memory stop the socket being read once a per-association or per-server budget is full (and
 * reading goes on as handlers take them), and a peer that stops reading our responses is
 * aborted after the DIMSE timeout instead of holding the association forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';
import type { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type DicomServerOptions } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { Status } from '../../src/dictionary/status.js';
import type { AsynchronousOperationsWindow } from '../../src/acse/asynchronous-operations.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { encodeDataset } from '../helpers/dicom-data.js';
import { associateScu, findIdentifier as identifier, findRequest as find, STUDY_ROOT_FIND } from '../helpers/find-scu.js';
import { scenarioPki } from '../helpers/pki.js';

const FIND = STUDY_ROOT_FIND;
const MiB = 1024 * 1024;
const quick = { connect: 5000, association: 5000, dimse: 0 };

/** A C-FIND handler that holds every request until `open()`. */
function gatedFind(): { registry: HandlerRegistry; started: () => number; open: () => void; firstStarted: Promise<void> } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let first!: () => void;
  const firstStarted = new Promise<void>((resolve) => (first = resolve));
  let started = 0;
  const registry = new HandlerRegistry();
  registry.register('C-FIND-RQ', {
    async handle() {
      started++;
      first();
      await gate;
      return { status: Status.Success };
    },
  });
  return { registry, started: () => started, open, firstStarted };
}

async function serverWith(options: DicomServerOptions): Promise<{ server: DicomServer; port: number; next: () => Promise<Association> }> {
  const server = new DicomServer({ aeTitle: 'SCP', presentationContexts: { supported: [{ abstractSyntax: FIND }] }, ...options });
  const { port } = await server.listen(0);
  const queue: Association[] = [];
  const waiters: ((a: Association) => void)[] = [];
  server.on('association', (a) => {
    const w = waiters.shift();
    if (w !== undefined) w(a);
    else queue.push(a);
  });
  const next = (): Promise<Association> => {
    const a = queue.shift();
    return a !== undefined ? Promise.resolve(a) : new Promise((resolve) => waiters.push(resolve));
  };
  return { server, port, next };
}

function connect(port: number, window?: AsynchronousOperationsWindow, dimse = 0, tls?: SecureContext): Promise<DicomClient> {
  return associateScu(port, { abstractSyntaxes: [FIND], timeouts: { ...quick, dimse }, tls, asynchronousOperations: window });
}

/** The budgets named by 'reading-paused' messages on the association channel while `fn` runs. */
async function pausesDuring(fn: () => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  const on = (m: unknown): void => {
    const e = m as { kind?: string; detail?: { budget?: string; held?: number; limit?: number } };
    if (e.kind === 'reading-paused' && (e.detail?.held ?? 0) >= (e.detail?.limit ?? Infinity)) seen.add(String(e.detail?.budget));
  };
  diagnosticsChannel.subscribe(channelNames.association, on);
  try {
    await fn();
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, on);
  }
  return seen;
}

/** Resolves when `check` holds, polling; rejects after `guard` ms (a hang guard, not a timing bound). */
async function until(check: () => boolean, what: string, guard = 30_000): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > guard) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('no window negotiated (synchronous): a second request while the first is unanswered aborts the association', async () => {
  const g = gatedFind();
  const { server, port, next } = await serverWith({ handlers: g.registry });
  try {
    const client = await connect(port);
    const scp = await next();
    assert.equal(scp.info.asynchronousOperations.performed, 1);
    const first = find(client, identifier(100));
    await g.firstStarted;
    const second = find(client, identifier(100));
    await assert.rejects(first.response);
    await assert.rejects(second.response);
    const { error } = await scp.whenClosed();
    assert.equal(error?.code, 'DICOM_ERR_OPERATIONS_WINDOW_EXCEEDED', String(error));
    assert.match(String(error?.message), /Asynchronous Operations Window of 1/);
    assert.equal(g.started(), 1, 'the request beyond the window was never handled');
  } finally {
    g.open();
    await server.close({ timeout: 1000 });
  }
});

test('a negotiated window of 2: two requests outstanding are answered in order, a third aborts', async () => {
  const g = gatedFind();
  const { server, port, next } = await serverWith({ handlers: g.registry, asynchronousOperations: { maxOperationsInvoked: 2, maxOperationsPerformed: 1 } });
  try {
    // Within the window: both answered once the handler may go on.
    const ok = await connect(port, { maxOperationsInvoked: 5, maxOperationsPerformed: 1 });
    assert.equal((await next()).info.asynchronousOperations.performed, 2);
    const a = find(ok, identifier(100));
    const b = find(ok, identifier(100));
    await g.firstStarted;
    await Promise.all([a.sent, b.sent]);
    g.open();
    assert.equal((await a.response).command.status, Status.Success);
    assert.equal((await b.response).command.status, Status.Success);
    // The final response frees the place: the next request is fine.
    assert.equal((await find(ok, identifier(100)).response).command.status, Status.Success);
    await ok.release();

    // Beyond it: three requests sent back to back, none answered before the third arrives.
    const g2 = gatedFind();
    const { server: s2, port: p2, next: next2 } = await serverWith({ handlers: g2.registry, asynchronousOperations: { maxOperationsInvoked: 2, maxOperationsPerformed: 1 } });
    try {
      const bad = await connect(p2, { maxOperationsInvoked: 5, maxOperationsPerformed: 1 });
      const scp = await next2();
      const three = [find(bad, identifier(100)), find(bad, identifier(100)), find(bad, identifier(100))];
      for (const r of three) await assert.rejects(r.response);
      assert.equal((await scp.whenClosed()).error?.code, 'DICOM_ERR_OPERATIONS_WINDOW_EXCEEDED');
    } finally {
      g2.open();
      await s2.close({ timeout: 1000 });
    }
  } finally {
    g.open();
    await server.close({ timeout: 1000 });
  }
});

for (const tls of [false, true]) {
test(`pipelined identifiers past the per-association budget${tls ? ' over TLS' : ''}: the server stops reading, then answers them all`, async () => {
  const g = gatedFind();
  const cap = 4 * MiB;
  const pki = scenarioPki();
  const serverTls = tls ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }) } : {};
  const clientTls = tls ? new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] }) : undefined;
  const { server, port } = await serverWith({ handlers: g.registry, asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 }, maxBufferedBytesPerAssociation: cap, ...serverTls });
  try {
    const client = await connect(port, { maxOperationsInvoked: 0, maxOperationsPerformed: 0 }, 0, clientTls);
    const bytes = identifier(MiB);
    const total = 64;
    let sent = 0;
    let peak = 0;
    const requests = Array.from({ length: total }, () => find(client, bytes));
    for (const r of requests) void r.sent.then(() => sent++, () => undefined);
    const sample = setInterval(() => (peak = Math.max(peak, server.bufferedBytes)), 5);
    try {
      await g.firstStarted;
      // The budget fills up, then the server reads no more: our sends stall on a full socket.
      const paused = await pausesDuring(async () => {
        await until(() => server.bufferedBytes >= cap && client.association.upperLayer.needsDrain, 'the budget to fill');
        await new Promise((r) => setTimeout(r, 300));
      });
      assert.deepEqual([...paused], ['association'], 'reading-paused published, naming the association budget');
      const stalledAt = sent;
      // 64 MiB offered; what the server took is its budget, one identifier arriving and the
      // kernel's socket buffers (a few MiB), nowhere near all of it.
      assert.ok(stalledAt < total / 2, `${stalledAt} of ${total} 1 MiB requests were taken while the handler was held`);
      // The server's count: the association's budget, the identifier arriving, and the one the
      // held handler works on (counted by the server until its handler is done).
      assert.ok(server.bufferedBytes <= cap + 2 * bytes.length, `held ${server.bufferedBytes} bytes with a budget of ${cap}`);
    } finally {
      clearInterval(sample);
    }
    assert.ok(peak <= cap + 2 * bytes.length, `held at most ${peak} bytes with a budget of ${cap}`);
    // Handlers go on: reading resumes and every request is answered, in order.
    g.open();
    for (const r of requests) assert.equal((await r.response).command.status, Status.Success);
    assert.equal(server.bufferedBytes, 0);
    await client.release();
  } finally {
    g.open();
    await server.close({ timeout: 1000 });
  }
});
}

test('two associations against the per-server budget: together they hold no more than it and one identifier', async () => {
  const g = gatedFind();
  const cap = 4 * MiB;
  const { server, port } = await serverWith({ handlers: g.registry, asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 }, maxBufferedBytes: cap });
  try {
    const clients = [await connect(port, { maxOperationsInvoked: 0, maxOperationsPerformed: 0 }), await connect(port, { maxOperationsInvoked: 0, maxOperationsPerformed: 0 })];
    const bytes = identifier(MiB);
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, server.bufferedBytes)), 5);
    const requests = clients.flatMap((c) => Array.from({ length: 32 }, () => find(c, bytes)));
    try {
      const paused = await pausesDuring(async () => {
        await until(() => server.bufferedBytes >= cap && clients.every((c) => c.association.upperLayer.needsDrain), 'both associations to stall');
        await new Promise((r) => setTimeout(r, 300));
      });
      assert.deepEqual([...paused], ['server']);
    } finally {
      clearInterval(sample);
    }
    assert.ok(peak <= cap + bytes.length, `held at most ${peak} bytes with a server budget of ${cap}`);
    g.open();
    for (const r of requests) assert.equal((await r.response).command.status, Status.Success);
    assert.equal(server.bufferedBytes, 0);
    for (const c of clients) await c.release();
  } finally {
    g.open();
    await server.close({ timeout: 1000 });
  }
});

test('a requestor that stops reading our responses is aborted after the DIMSE timeout (no idle timer needed)', async () => {
  const registry = new HandlerRegistry();
  const match = encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x00081030, 'LO', 'X'.repeat(60)], [0x00420011, 'OB', Buffer.alloc(64 * 1024)]]);
  let responded = 0;
  registry.register('C-FIND-RQ', {
    async handle(_rq, context) {
      // Far more than the socket buffers hold.
      for (let i = 0; i < 2000; i++) {
        await context.respond({ status: Status.Pending, dataset: match });
        responded++;
      }
      return { status: Status.Success };
    },
  });
  const { server, port, next } = await serverWith({ handlers: registry, timeouts: { dimse: 1000 } });
  try {
    const client = await connect(port);
    const scp = await next();
    const r = find(client, identifier(100));
    await r.sent;
    // Stop reading: the server's writes fill the socket buffers and wait for 'drain'.
    client.association.upperLayer.transport!.stream.pause();
    let guard: NodeJS.Timeout | undefined;
    const closed = await Promise.race([scp.whenClosed(), new Promise<'hang'>((resolve) => (guard = setTimeout(() => resolve('hang'), 60_000)))]);
    clearTimeout(guard);
    assert.notEqual(closed, 'hang', 'the server association never ended');
    const error = (closed as { error: { code?: string; timer?: string; message: string } | undefined }).error;
    assert.equal(error?.code, 'DICOM_ERR_TIMEOUT', String(error?.message));
    assert.equal(error?.timer, 'dimse');
    assert.ok(responded < 2000);
    client.association.upperLayer.transport!.stream.resume();
    await assert.rejects(r.response);
  } finally {
    await server.close({ timeout: 1000 });
  }
});
