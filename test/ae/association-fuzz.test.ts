/**
 * Property: whatever PDVs a peer sends on an established association (random flags, contexts
 * and bytes), our server ends that association by release or abort, never throws, never hangs,
 * and keeps serving others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { VerificationSopClass } from '../../src/dictionary/uids.js';

const quick = { connect: 5000, association: 5000, dimse: 5000 };

const echoRq = encodeCommand({ type: 'C-ECHO-RQ', messageId: 7, affectedSopClassUid: VerificationSopClass });
const pdvArb = fc.record({
  isCommand: fc.boolean(),
  isLast: fc.boolean(),
  // Mostly valid context 1, sometimes another; data random or a real command's bytes.
  presentationContextId: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(3, 5, 255) }),
  data: fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.constant(echoRq), fc.constant(echoRq.subarray(0, 20))),
});

test('random PDV sequences end the association cleanly (release or abort) and the server keeps serving', async () => {
  const server = new DicomServer();
  const { port } = await server.listen(0);
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(pdvArb, { minLength: 1, maxLength: 8 }), async (pdvs) => {
        const accepted = new Promise<Association>((resolve) => server.once('association', resolve));
        const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'FUZZ', calledAeTitle: 'SCP', timeouts: quick });
        const serverSide = await accepted;
        const ul = client.association.upperLayer;
        for (const pdv of pdvs) {
          if (ul.state !== 'Sta6') break;
          ul.sendPData({ type: 'P-DATA-TF', pdvs: [pdv] });
        }
        // Either the server aborted already, or it is mid-message / idle: a release must end it.
        if (ul.state === 'Sta6') await client.release().catch(() => undefined);
        await client.association.whenClosed();
        await serverSide.whenClosed();
        assert.equal(server.associations.size, 0);
      }),
      { numRuns: 40 },
    );
    const c = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'AFTER', calledAeTitle: 'SCP', timeouts: quick });
    assert.equal((await c.echo()).status, 0);
    await c.release();
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    await server.close({ timeout: 1000 });
  }
});
