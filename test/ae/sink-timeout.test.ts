/**
 * While the application has not taken a PDU (a `datasetSink` promise, a sink's `write` or `end`),
 * the association reads nothing, so the peer's A-ABORT and its close go unseen. A sink that never
 * settles must not hold the association and its slot after the peer has gone: the wait is bounded
 * by the DIMSE timeout, then the association is aborted with a TimeoutError (timer 'sink') and
 * the sink is told (abort), so a half-written instance is dropped, never kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type ServerTimeouts } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { HandlerRegistry, type DimseHandler } from '../../src/services/scp/registry.js';
import type { DatasetSink } from '../../src/dimse/assembler.js';
import { TimeoutError } from '../../src/errors.js';
import { hangGuard } from '../helpers/hang-guard.js';

const SC = '1.2.840.10008.5.1.4.1.1.7';
const never = (): Promise<never> => new Promise(() => undefined);

function associate(port: number): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP',
    presentationContexts: [{ abstractSyntax: SC, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
    timeouts: { connect: 30_000, association: 30_000, dimse: 200 },
  });
}

/** A listening server whose C-STORE handler is `handler`, and the associations it accepts. */
async function storeServer(handler: DimseHandler<'C-STORE-RQ'>, timeouts: ServerTimeouts, maxAssociations?: number): Promise<{ server: DicomServer; port: number; accepted: Association[] }> {
  const handlers = new HandlerRegistry();
  handlers.register('C-STORE-RQ', handler);
  const server = new DicomServer({ ...(maxAssociations === undefined ? {} : { maxAssociations }), handlers, presentationContexts: { supported: [{ abstractSyntax: SC }] }, timeouts });
  const accepted: Association[] = [];
  server.on('association', (a) => accepted.push(a));
  const { port } = await server.listen(0);
  return { server, port, accepted };
}

const aborted: unknown[] = [];
const sinks: readonly [string, () => DimseHandler<'C-STORE-RQ'>][] = [
  ['a datasetSink that never resolves', () => ({ datasetSink: never, handle: () => ({ status: 0 }) })],
  ['a sink whose write never settles', () => ({ datasetSink: (): DatasetSink => ({ write: never, end: () => undefined, abort: (e) => void aborted.push(e) }), handle: () => ({ status: 0 }) })],
  ['a sink whose end never settles', () => ({ datasetSink: (): DatasetSink => ({ write: () => undefined, end: never, abort: (e) => void aborted.push(e) }), handle: () => ({ status: 0 }) })],
];

for (const [name, handler] of sinks) {
  test(`${name}: the association is aborted at the DIMSE timeout and its slot given back`, { timeout: 120_000 }, async () => {
    aborted.length = 0;
    const { server, port, accepted } = await storeServer(handler(), { dimse: 300 }, 1);
    try {
      const client = await associate(port);
      // The requestor gives up first (its DIMSE timeout), aborts and closes: unseen by the server,
      // whose reading waits for the sink.
      await assert.rejects(
        client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3', priority: 0 }, { dataset: [new Uint8Array(100_000)] }).response,
        (e: unknown) => e instanceof TimeoutError,
      );
      const { error } = await hangGuard(accepted[0]!.whenClosed(), 'the server side to end');
      assert.ok(error instanceof TimeoutError, String(error));
      assert.equal(error.timer, 'sink');
      if (!name.startsWith('a datasetSink')) assert.equal(aborted.length, 1, 'the sink was told to drop what it had');
      const second = await hangGuard(associate(port), 'second association');
      await second.release();
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}

test('a sink that takes its time, each write under the DIMSE timeout, is not cut off', { timeout: 120_000 }, async () => {
  let writes = 0;
  // Far longer in all than one DIMSE timeout: each write restarts it.
  const { server, port } = await storeServer({
    datasetSink: (): DatasetSink => ({ write: () => new Promise((r) => setTimeout(() => { writes++; r(); }, 10)), end: () => undefined }),
    handle: () => ({ status: 0 }),
  }, { dimse: 1000 });
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', maxPduLength: 16_384,
      presentationContexts: [{ abstractSyntax: SC, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
      timeouts: { connect: 30_000, association: 30_000, dimse: 0 },
    });
    const rsp = await client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3', priority: 0 }, { dataset: [new Uint8Array(3_000_000)] }).response;
    assert.equal(rsp.command.status, 0);
    assert.ok(writes >= 150, `${writes} writes`);
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('a datasetSink that resolves after the association ended: the late sink is told to abort, never left open', { timeout: 120_000 }, async () => {
  let resolveSink!: (s: DatasetSink) => void;
  const { server, port, accepted } = await storeServer({ datasetSink: () => new Promise<DatasetSink>((r) => (resolveSink = r)), handle: () => ({ status: 0 }) }, { dimse: 300 });
  try {
    const client = await associate(port);
    await assert.rejects(client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3', priority: 0 }, { dataset: [new Uint8Array(1000)] }).response);
    await hangGuard(accepted[0]!.whenClosed(), 'the server side to end');
    const late: unknown[] = [];
    let written = 0;
    let abortedWith: unknown;
    const lateAborted = new Promise<void>((done) => resolveSink({ write: () => void written++, end: () => void late.push('end'), abort: (e) => { abortedWith = e; done(); } }));
    await hangGuard(lateAborted, 'the late sink to be aborted', 20_000);
    assert.ok(abortedWith instanceof Error);
    assert.equal(written, 0);
    assert.deepEqual(late, []);
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('where an idle timeout is set (StorageServer), it bounds the wait for a sink instead of the shorter DIMSE timeout', { timeout: 120_000 }, async () => {
  const { server, port, accepted } = await storeServer({ datasetSink: (): DatasetSink => ({ write: never, end: () => undefined }), handle: () => ({ status: 0 }) }, { dimse: 100, idle: 1500 });
  try {
    const client = await associate(port);
    await assert.rejects(client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3', priority: 0 }, { dataset: [new Uint8Array(100_000)] }).response);
    const { error } = await hangGuard(accepted[0]!.whenClosed(), 'the server side to end');
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.timer, 'idle');
  } finally {
    await server.close({ timeout: 1000 });
  }
});
