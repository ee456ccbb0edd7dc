/**
 * Messages go out whole and in the order asked (PS3.8 Annex E: no interleaving), even when one
 * is asked from inside the sending of another: a `message` listener (or a diagnostics
 * subscriber) that makes a request when it sees a message go out. The C-STORE-RQ below streams
 * its data set, so its sending waits between chunks; the C-ECHO-RQ asked at its start must wait
 * for its last fragment, not slip between its command and its data set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { writableSink } from '../../src/dimse/assembler.js';
import { Writable } from 'node:stream';
import { Status } from '../../src/dictionary/status.js';
import { StorageSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import type { PendingRequest } from '../../src/ae/association.js';

const SC = StorageSopClass.SecondaryCaptureImageStorage;
const contexts = [
  { abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] },
  { abstractSyntax: SC, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
];

for (const mode of ['stream', 'memory'] as const) {
  test(`a request made by a 'message' listener while a C-STORE-RQ (${mode} data set) goes out is sent after it, whole`, { timeout: 60_000 }, async () => {
    const server = new DicomServer({
      presentationContexts: { supported: contexts.map((c) => ({ abstractSyntax: c.abstractSyntax })) },
      asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 4 },
      maxPduLength: 4096,
    });
    const order: string[] = [];
    server.handlers.register('C-STORE-RQ', {
      datasetSink: () => writableSink(new Writable({ write: (_c, _e, cb) => setImmediate(cb) })),
      handle: () => (order.push('store'), { status: Status.Success }),
    });
    server.handlers.unregister('C-ECHO-RQ').register('C-ECHO-RQ', { handle: () => (order.push('echo'), { status: Status.Success }) });
    const { port } = await server.listen(0);
    try {
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: contexts,
        asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 4 },
        timeouts: { connect: 10_000, association: 10_000, dimse: 10_000 },
      });
      const a = client.association;
      let echo: PendingRequest | undefined;
      a.on('message', ({ direction, command }) => {
        if (direction === 'sent' && command.type === 'C-STORE-RQ' && echo === undefined) {
          echo = a.request({ type: 'C-ECHO-RQ', affectedSopClassUid: VerificationSopClass });
        }
      });
      const chunks = Array.from({ length: 20 }, (_, i) => new Uint8Array(20_000).fill(i));
      async function* source(): AsyncGenerator<Uint8Array> {
        for (const c of chunks) yield c;
      }
      const store = a.request(
        { type: 'C-STORE-RQ', affectedSopClassUid: SC, affectedSopInstanceUid: '1.2.3.4', priority: 0 },
        { dataset: mode === 'stream' ? source() : Buffer.concat(chunks) },
      );
      const [s, e] = await Promise.all([store.response, (async () => { while (echo === undefined) await new Promise((r) => setImmediate(r)); return echo.response; })()]);
      assert.equal(s.command.status, Status.Success);
      assert.equal(e.command.status, Status.Success);
      assert.deepEqual(order, ['store', 'echo']);
      await client.release();
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}
