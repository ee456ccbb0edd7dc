/**
 * The server's budget for request data sets held in memory (`maxBufferedBytes`) counts a data
 * set while it is still arriving, and bounds it: many associations each sending a large
 * identifier at once hold at most the budget plus one data set (not one data set per
 * association), every request is still answered (the oldest collection always goes on, so no
 * deadlock), and an association aborted mid-collection gives its bytes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import type { PendingRequest } from '../../src/ae/association.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { NormalizedSopClass } from '../../src/dictionary/uids.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { scenarioPki } from '../helpers/pki.js';
import { Status } from '../../src/dictionary/status.js';
import { associateScu, findIdentifier as identifier, findRequest as find, STUDY_ROOT_FIND } from '../helpers/find-scu.js';
import { hangGuard, until } from '../helpers/hang-guard.js';
import { watchPeak } from '../helpers/budget-peak.js';

const FIND = STUDY_ROOT_FIND;
const COMMIT = NormalizedSopClass.StorageCommitmentPushModel;
const MiB = 1024 * 1024;
const CAP = 8 * MiB;
const MAX_PDU = 16_384;
const quick = { connect: 10_000, association: 10_000, dimse: 0 };

async function findServer(tls?: SecureContext): Promise<{ server: DicomServer; port: number; handled: () => number }> {
  let handled = 0;
  const registry = new HandlerRegistry();
  registry.register('C-FIND-RQ', {
    async handle() {
      handled++;
      return { status: Status.Success };
    },
  });
  registry.register('N-ACTION-RQ', {
    async handle() {
      handled++;
      return { status: Status.Success };
    },
  });
  // One budget per association too large to matter: the server's is the one under test.
  const server = new DicomServer({
    aeTitle: 'SCP',
    presentationContexts: { supported: [{ abstractSyntax: FIND }, { abstractSyntax: COMMIT }] },
    handlers: registry,
    ...(tls === undefined ? {} : { tls }),
    maxBufferedBytes: CAP,
    maxBufferedBytesPerAssociation: 0,
    // Fragments of at most MAX_PDU - 6 bytes: a waiting collection leaves less than that free.
    maxPduLength: MAX_PDU,
  });
  const { port } = await server.listen(0);
  return { server, port, handled: () => handled };
}

function connect(port: number, tls?: SecureContext): Promise<DicomClient> {
  return associateScu(port, { abstractSyntaxes: [FIND, COMMIT], timeouts: quick, tls });
}

/** An N-ACTION-RQ whose action information is `bytes` (collected for its handler like an identifier). */
function action(client: DicomClient, bytes: Uint8Array): PendingRequest {
  return client.association.request(
    { type: 'N-ACTION-RQ', requestedSopClassUid: COMMIT, requestedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, actionTypeId: 1, hasDataset: true },
    { dataset: bytes },
  );
}

for (const tls of [false, true]) {
test(`six associations each sending a 6 MiB C-FIND identifier or N-ACTION data set at once${tls ? ' over TLS' : ''}: at most the server budget plus one data set held, every request answered`, async () => {
  const pki = tls ? scenarioPki() : undefined;
  const serverTls = pki && new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
  const clientTls = pki && new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] });
  const { server, port, handled } = await findServer(serverTls);
  const watch = watchPeak(CAP);
  try {
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect(port, clientTls)));
    const bytes = identifier(6 * MiB);
    const requests = clients.map((c, i) => (i % 2 === 0 ? find(c, bytes) : action(c, bytes)));
    const answers = await hangGuard(Promise.all(requests.map((r) => r.response)), 'six concurrent data sets against an 8 MiB budget');
    for (const a of answers) assert.equal(a.command.status, Status.Success);
    assert.equal(handled(), 6);
    assert.ok(watch.peak() <= CAP + bytes.length, `held at most ${watch.peak()} bytes with a server budget of ${CAP} and ${bytes.length}-byte data sets`);
    // Each data set was held in the budget whole at some point.
    assert.ok(watch.peak() >= bytes.length);
    assert.equal(server.bufferedBytes, 0);
    await Promise.all(clients.map((c) => c.release()));
  } finally {
    watch.stop();
    await server.close({ timeout: 1000 });
  }
});
}

test('an association aborted mid-collection gives its bytes back; the collections waiting behind it go on', async () => {
  const { server, port, handled } = await findServer();
  const watch = watchPeak(CAP);
  try {
    // The first collection on the server: a C-FIND-RQ whose identifier never ends.
    const stuck = await connect(port);
    const ul = stuck.association.upperLayer;
    const pcId = stuck.association.contexts.select(FIND).id;
    ul.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: true, isLast: true, data: encodeCommand({ type: 'C-FIND-RQ', messageId: 1, affectedSopClassUid: FIND, priority: 0 }) }] });
    const fragment = identifier(3 * MiB);
    for (let o = 0; o < fragment.length; o += 16_000) {
      ul.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: false, isLast: false, data: fragment.subarray(o, o + 16_000) }] });
    }
    await until(() => server.bufferedBytes >= 3 * MiB, 'the partial identifier to be collected');
    // Five more associations fill what is left of the budget and wait behind the stuck one.
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(port)));
    const bytes = identifier(6 * MiB);
    const requests = clients.map((c) => find(c, bytes));
    await until(() => server.bufferedBytes > CAP - MAX_PDU, 'the budget to fill');
    assert.equal(handled(), 0, 'no identifier completes while the oldest collection holds the budget');
    stuck.abort();
    await stuck.association.whenClosed();
    const answers = await hangGuard(Promise.all(requests.map((r) => r.response)), 'the waiting identifiers after the abort');
    for (const a of answers) assert.equal(a.command.status, Status.Success);
    assert.ok(watch.peak() <= CAP + bytes.length, `held at most ${watch.peak()} bytes with a server budget of ${CAP}`);
    await Promise.all(clients.map((c) => c.release()));
    await until(() => server.associations.size === 0, 'every association to end');
    assert.equal(server.bufferedBytes, 0);
  } finally {
    watch.stop();
    await server.close({ timeout: 1000 });
  }
});

for (const tls of [false, true]) {
test(`a data set counts while its handler works on it, and is given back when the handler is done${tls ? ' over TLS' : ''}`, async () => {
  const pki = tls ? scenarioPki() : undefined;
  const serverTls = pki && new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
  const clientTls = pki && new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] });
  let release!: () => void;
  const working = new Promise<void>((r) => (release = r));
  const seen: number[] = [];
  const registry = new HandlerRegistry();
  const server = new DicomServer({
    aeTitle: 'SCP',
    presentationContexts: { supported: [{ abstractSyntax: FIND }] },
    handlers: registry,
    ...(serverTls === undefined ? {} : { tls: serverTls }),
    maxBufferedBytes: CAP,
  });
  registry.register('C-FIND-RQ', {
    async handle(_rq, ctx) {
      seen.push(ctx.dataset!.length, server.bufferedBytes);
      await working;
      return { status: Status.Success };
    },
  });
  const { port } = await server.listen(0);
  try {
    const client = await connect(port, clientTls);
    const bytes = identifier(2 * MiB);
    const answer = find(client, bytes).response;
    await until(() => seen.length === 2, 'the handler to start');
    assert.deepEqual(seen, [bytes.length, bytes.length], 'the data set the handler holds is counted');
    release();
    assert.equal((await answer).command.status, Status.Success);
    await until(() => server.bufferedBytes === 0, 'the handler to be done');
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
  }
});
}

for (const tls of [false, true]) {
test(`an association whose reading is paused for room in the server's budget is not idle: its idle timeout does not abort it while it waits${tls ? ' over TLS' : ''}`, async () => {
  const pki = tls ? scenarioPki() : undefined;
  const serverTls = pki && new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
  const clientTls = pki && new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] });
  const IDLE = 300;
  let release!: () => void;
  const working = new Promise<void>((r) => (release = r));
  let handled = 0;
  const registry = new HandlerRegistry();
  registry.register('C-FIND-RQ', {
    async handle() {
      await working;
      handled++;
      return { status: Status.Success };
    },
  });
  const server = new DicomServer({
    aeTitle: 'SCP',
    presentationContexts: { supported: [{ abstractSyntax: FIND }] },
    handlers: registry,
    ...(serverTls === undefined ? {} : { tls: serverTls }),
    asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 },
    // The server's budget, not the association's: room in its own budget comes only from its
    // own handlers, and a wait for them is bounded like a sink's (handler-stalled.test.ts).
    maxBufferedBytes: MiB,
    maxBufferedBytesPerAssociation: 0,
    timeouts: { idle: IDLE },
  });
  const paused: unknown[] = [];
  const onPause = (m: unknown): void => {
    if ((m as { kind: string }).kind === 'reading-paused') paused.push(m);
  };
  const { default: dc } = await import('node:diagnostics_channel');
  const { channelNames } = await import('../../src/diagnostics.js');
  dc.subscribe(channelNames.association, onPause);
  const { port } = await server.listen(0);
  try {
    const client = await associateScu(port, {
      abstractSyntaxes: [FIND], tls: clientTls, asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 }, timeouts: quick,
    });
    // The first handler holds its identifier, which fills the server's budget; the next ones wait for room.
    const requests = Array.from({ length: 4 }, () => find(client, identifier(MiB)));
    // An abort before the pause (the idle timer taking a busy event loop for a silent peer)
    // fails here at once, not after the hang guard waiting for a pause that can no longer come.
    await until(() => paused.length > 0 || client.association.isClosed, 'reading to pause for the budget');
    assert.equal(client.association.isClosed, false, 'the association was not aborted (as idle) while its identifiers arrived');
    // Several idle timeouts pass (a timer armed after the idle timer, with a longer delay, fires after it).
    await new Promise((r) => setTimeout(r, 3 * IDLE));
    assert.equal(client.association.isClosed, false, 'the association waiting for room was not aborted as idle');
    release();
    const answers = await hangGuard(Promise.all(requests.map((r) => r.response)), 'the pipelined identifiers');
    for (const a of answers) assert.equal(a.command.status, Status.Success);
    assert.equal(handled, 4);
    await client.release();
  } finally {
    dc.unsubscribe(channelNames.association, onPause);
    await server.close({ timeout: 1000 });
  }
});
}
