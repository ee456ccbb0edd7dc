/**
 * Within an Asynchronous Operations Window the peer sends the data sets of its next requests
 * while the handler of the first runs. Those collected in memory wait in the association's
 * budget for their handlers; when it is full, reading pauses. If the handler in front never
 * finishes, nothing frees that room: the wait is the application's, like a sink that does not
 * take a PDU, and has the same bound (the DIMSE timeout, or the idle timeout where one is set).
 * Then the association is aborted with a HandlerStalledError, published on the `association`
 * channel (kind 'handler-stalled'), and the budgets get their bytes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type ServerTimeouts } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { HandlerStalledError } from '../../src/ae/errors.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { channelNames } from '../../src/diagnostics.js';
import { hangGuard } from '../helpers/hang-guard.js';

const SC = '1.2.840.10008.5.1.4.1.1.7';
const MiB = 1024 * 1024;
const PER_ASSOCIATION = 4 * MiB;

async function pipelinedServer(timeouts: ServerTimeouts): Promise<{ server: DicomServer; port: number; accepted: Association[]; handled: string[] }> {
  const handlers = new HandlerRegistry();
  const handled: string[] = [];
  // No datasetSink: each data set is collected in memory for its handler. The first never ends.
  handlers.register('C-STORE-RQ', {
    handle: (rq) => {
      handled.push(rq.affectedSopInstanceUid);
      return rq.affectedSopInstanceUid === '1.2.1' ? new Promise(() => undefined) : { status: 0 };
    },
  });
  const server = new DicomServer({
    handlers, presentationContexts: { supported: [{ abstractSyntax: SC }] }, timeouts,
    asynchronousOperations: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 },
    maxBufferedBytesPerAssociation: PER_ASSOCIATION,
  });
  const accepted: Association[] = [];
  server.on('association', (a) => accepted.push(a));
  const { port } = await server.listen(0);
  return { server, port, accepted, handled };
}

/** Associates with a window of 16 and sends 12 C-STOREs of 1 MiB without waiting for responses. */
async function pipeline(port: number): Promise<{ client: DicomClient; responses: Promise<unknown>[] }> {
  const client = await DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP',
    presentationContexts: [{ abstractSyntax: SC, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
    asynchronousOperations: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 },
    // The requestor never gives up by itself: only the server can end this.
    timeouts: { connect: 30_000, association: 30_000, dimse: 0 },
  });
  assert.equal(client.association.info.asynchronousOperations.invoked, 16);
  const responses: Promise<unknown>[] = [];
  for (let i = 1; i <= 12; i++) {
    const r = client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: `1.2.${i}`, priority: 0 }, { dataset: [new Uint8Array(MiB)] }).response;
    r.catch(() => undefined);
    responses.push(r);
  }
  return { client, responses };
}

for (const [bound, timeouts] of [['the DIMSE timeout', { dimse: 300 }], ['the idle timeout', { dimse: 0, idle: 500 }]] as const) {
  test(`data sets queued behind a handler that never finishes: reading pauses at the association's budget, then ${bound} aborts it (HandlerStalledError)`, { timeout: 120_000 }, async () => {
    const events: { kind: string; detail?: { budget?: string; error?: unknown } }[] = [];
    const onMessage = (m: unknown): void => void events.push(m as (typeof events)[number]);
    subscribe(channelNames.association, onMessage);
    const { server, port, accepted, handled } = await pipelinedServer(timeouts);
    let client: DicomClient | undefined;
    try {
      ({ client } = await pipeline(port));
      const { error } = await hangGuard(accepted[0]!.whenClosed(), 'the server side to end', 20_000);
      assert.ok(error instanceof HandlerStalledError, String(error));
      assert.equal(error.code, 'DICOM_ERR_HANDLER_STALLED');
      assert.ok(error.heldBytes >= PER_ASSOCIATION, `${error.heldBytes} bytes held`);
      // Reading paused for the association's own budget first; the handler in front never ended.
      assert.deepEqual(handled, ['1.2.1']);
      const kinds = events.filter((e) => e.kind === 'reading-paused' || e.kind === 'handler-stalled').map((e) => e.kind === 'reading-paused' ? `paused:${e.detail?.budget}` : e.kind);
      assert.equal(kinds.at(-1), 'handler-stalled');
      assert.ok(kinds.includes('paused:association'), kinds.join());
      assert.equal(events.find((e) => e.kind === 'handler-stalled')?.detail?.error, error);
      assert.equal(server.bufferedBytes, 0);
    } finally {
      unsubscribe(channelNames.association, onMessage);
      // Torn down, not aborted: a server that reads nothing more would never see an A-ABORT.
      client?.association.upperLayer.destroy();
      await server.close({ timeout: 1000 });
    }
  });
}
