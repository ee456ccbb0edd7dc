/**
 * Two ways an association could be held up by the server's budget for request data sets
 * (`maxBufferedBytes`), each over plain TCP and TLS:
 * - a peer that stops sending in the middle of the data set allowed beyond the budget: after
 *   `timeouts.datasetStall` without a fragment, while others wait, its association is aborted
 *   with DatasetStalledError (named on the association channel) and the others go on;
 * - a C-GET handler waiting for its peer's C-STORE-RSP, which is behind a pipelined data set
 *   that has no room: that data set goes first (the response is behind it on the wire), so the
 *   sub-operation completes instead of timing out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type DicomServerOptions } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { DatasetStalledError } from '../../src/ae/errors.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { channelNames } from '../../src/diagnostics.js';
import { scenarioPki } from '../helpers/pki.js';
import { Status } from '../../src/dictionary/status.js';
import { findIdentifier as identifier } from '../helpers/find-scu.js';
import { hangGuard, until } from '../helpers/hang-guard.js';
import { watchPeak } from '../helpers/budget-peak.js';

const FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const GET = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet;
const SC = '1.2.840.10008.5.1.4.1.1.7';
const MiB = 1024 * 1024;
const CAP = 8 * MiB;
const MAX_PDU = 16_384;
const quick = { connect: 10_000, association: 10_000, dimse: 0 };

function tlsPair(tls: boolean): { server?: SecureContext; client?: SecureContext } {
  if (!tls) return {};
  const pki = scenarioPki();
  return {
    server: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }),
    client: new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] }),
  };
}

async function serverWith(options: Partial<DicomServerOptions>, tls: SecureContext | undefined): Promise<{ server: DicomServer; port: number; accepted: Association[] }> {
  const server = new DicomServer({
    aeTitle: 'SCP',
    presentationContexts: { supported: [{ abstractSyntax: FIND }, { abstractSyntax: GET }, { abstractSyntax: SC, roles: { scu: true, scp: true } }] },
    ...(tls === undefined ? {} : { tls }),
    maxBufferedBytes: CAP,
    maxBufferedBytesPerAssociation: 0,
    maxPduLength: MAX_PDU,
    ...options,
  });
  const accepted: Association[] = [];
  server.on('association', (a) => void accepted.push(a));
  const { port } = await server.listen(0);
  return { server, port, accepted };
}

function connect(port: number, tls: SecureContext | undefined, more: Partial<Parameters<typeof DicomClient.associate>[0]> = {}): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1',
    port,
    ...(tls === undefined ? {} : { tls }),
    callingAeTitle: 'SCU',
    calledAeTitle: 'SCP',
    presentationContexts: [
      { abstractSyntax: FIND, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
      { abstractSyntax: GET, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
      { abstractSyntax: SC, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
    ],
    timeouts: quick,
    ...more,
  });
}

/** A C-FIND-RQ whose identifier stops after `size` bytes: the peer never sends the rest. */
function startStuckFind(client: DicomClient, size: number): void {
  const ul = client.association.upperLayer;
  const pcId = client.association.contexts.select(FIND).id;
  ul.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: true, isLast: true, data: encodeCommand({ type: 'C-FIND-RQ', messageId: 1, affectedSopClassUid: FIND, priority: 0 }) }] });
  const bytes = identifier(size);
  for (let o = 0; o < size; o += 16_000) {
    ul.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: false, isLast: false, data: bytes.subarray(o, Math.min(o + 16_000, size)) }] });
  }
}

for (const tls of [false, true]) {
  test(`a peer that stops in the middle of the data set allowed beyond the budget is aborted after timeouts.datasetStall, with DatasetStalledError; the waiting ones go on${tls ? ' (TLS)' : ''}`, async () => {
    const pair = tlsPair(tls);
    const events: string[] = [];
    const handlers = new HandlerRegistry();
    handlers.register('C-FIND-RQ', {
      handle() {
        events.push('handled');
        return { status: Status.Success };
      },
    });
    const { server, port, accepted } = await serverWith({ handlers, timeouts: { datasetStall: 300 } }, pair.server);
    const published: { kind: string; error?: unknown }[] = [];
    const onAssociation = (m: unknown): void => {
      const e = m as { kind: string; detail?: { error?: unknown } };
      if (e.kind !== 'dataset-stalled') return;
      published.push({ kind: e.kind, error: e.detail?.error });
      events.push('stalled');
    };
    diagnosticsChannel.subscribe(channelNames.association, onAssociation);
    const watch = watchPeak(CAP);
    try {
      const stuck = await connect(port, pair.client);
      await until(() => accepted.length === 1, 'the first association');
      const stuckOnServer = accepted[0]!;
      void stuckOnServer.whenClosed().then(() => events.push('stuck closed'));
      startStuckFind(stuck, 3 * MiB);
      await until(() => server.bufferedBytes >= 3 * MiB, 'the partial identifier to arrive');
      const clients = await Promise.all(Array.from({ length: 4 }, () => connect(port, pair.client)));
      const bytes = identifier(6 * MiB);
      const requests = clients.map((c) => c.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 }, { dataset: bytes }));
      const answers = await hangGuard(Promise.all(requests.map((r) => r.response)), 'the identifiers waiting behind a stalled one');
      for (const a of answers) assert.equal(a.command.status, Status.Success);
      const { error } = await stuckOnServer.whenClosed();
      assert.ok(error instanceof DatasetStalledError, `the stalled association ended with ${String(error)}`);
      assert.equal(error.code, 'DICOM_ERR_DATASET_STALLED');
      assert.equal(error.stalledMs, 300);
      assert.ok(error.heldBytes >= 3 * MiB);
      assert.ok(error.waiting >= 1);
      assert.equal(published.length, 1);
      assert.equal(published[0]!.error, error);
      assert.equal(events[0], 'stalled', `the stalled one was abandoned before any waiting identifier completed: ${events.join(', ')}`);
      assert.equal(events.filter((e) => e === 'handled').length, 4);
      assert.ok(watch.peak() <= CAP + bytes.length, `held at most ${watch.peak()}`);
      // The requestor saw its association aborted.
      await hangGuard(stuck.association.whenClosed(), 'the stalled requestor to see the abort');
      await Promise.all(clients.map((c) => c.release()));
      await until(() => server.associations.size === 0, 'every association to end');
      assert.equal(server.bufferedBytes, 0);
    } finally {
      watch.stop();
      diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
      await server.close({ timeout: 1000 });
    }
  });

  test(`a C-GET handler waiting for its C-STORE-RSP, behind a pipelined identifier that has no room in the server budget: the identifier goes first and the sub-operation completes${tls ? ' (TLS)' : ''}`, async () => {
    const pair = tlsPair(tls);
    const order: string[] = [];
    const handlers = new HandlerRegistry();
    handlers.register('C-GET-RQ', {
      async handle(_rq, ctx) {
        order.push('get started');
        const sub = ctx.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3.4', priority: 0 }, { dataset: new Uint8Array(64) });
        const status = (await sub.response).command.status;
        order.push(`sub-operation ${status.toString(16)}`);
        return { status: Status.Success, numberOfCompletedSuboperations: 1, numberOfFailedSuboperations: 0, numberOfWarningSuboperations: 0, numberOfRemainingSuboperations: 0 };
      },
    });
    handlers.register('C-FIND-RQ', {
      handle() {
        order.push('find handled');
        return { status: Status.Success };
      },
    });
    // Without the fix the sub-operation waits out this DIMSE timeout and the association is
    // aborted; the stall deadline is off so the stuck collection keeps the budget for good.
    const { server, port, accepted } = await serverWith({
      handlers,
      asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 },
      timeouts: { dimse: 20_000, datasetStall: 0 },
    }, pair.server);
    const watch = watchPeak(CAP);
    try {
      // Another peer's identifier, stuck under the budget, leaves room for less than the next one.
      const stuck = await connect(port, pair.client);
      startStuckFind(stuck, 6 * MiB);
      await until(() => server.bufferedBytes >= 6 * MiB, 'the partial identifier to arrive');
      const clientHandlers = new HandlerRegistry();
      clientHandlers.register('C-STORE-RQ', {
        handle() {
          order.push('client answers the C-STORE-RQ');
          return { status: Status.Success };
        },
      });
      const client = await connect(port, pair.client, {
        handlers: clientHandlers,
        roles: [{ sopClassUid: SC, scuRole: false, scpRole: true }],
        asynchronousOperations: { maxOperationsInvoked: 0, maxOperationsPerformed: 0 },
      });
      const get = client.association.request({ type: 'C-GET-RQ', affectedSopClassUid: GET, priority: 0 }, { dataset: identifier(16) });
      // Pipelined: sent while the C-GET runs, so the C-STORE-RSP goes out after it.
      const find = client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 }, { dataset: identifier(6 * MiB) });
      const [g, f] = await hangGuard(Promise.all([get.response, find.response]), 'the C-GET and the pipelined C-FIND');
      assert.equal(g.command.status, Status.Success);
      assert.equal(f.command.status, Status.Success);
      assert.deepEqual(order, ['get started', 'client answers the C-STORE-RQ', 'sub-operation 0', 'find handled']);
      assert.ok(watch.peak() <= CAP + 6 * MiB + 64, `held at most ${watch.peak()}`);
      // The stuck peer is still there (no stall deadline): nothing was taken from it.
      assert.equal(accepted[0]!.isClosed, false);
      await client.release();
      stuck.abort();
    } finally {
      watch.stop();
      await server.close({ timeout: 1000 });
    }
  });
}
