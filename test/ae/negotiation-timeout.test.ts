/**
 * The acceptor policy's callbacks (user identity, authorize, calling AE titles) may be async. One
 * that never settles must not hold its association slot: the slot is given back when the peer
 * leaves (its A-ABORT or close) and, at the latest, at the negotiation timeout, which refuses the
 * A-ASSOCIATE-RQ 2/1/1 with a TimeoutError (timer 'negotiation') on the 'rejected' event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer, type AssociationRejection, type DicomServerOptions } from '../../src/ae/server.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { InvalidOptionError, TimeoutError } from '../../src/errors.js';
import { hangGuard } from '../helpers/hang-guard.js';

const never = (): Promise<never> => new Promise(() => undefined);
/** The first call never answers, later ones accept. */
function firstHangs(): () => Promise<true> | true {
  let calls = 0;
  return () => (calls++ === 0 ? never() : true);
}

const callbacks: readonly [string, () => Partial<DicomServerOptions>][] = [
  ['userIdentity', () => ({ userIdentity: firstHangs() })],
  ['authorize', () => { const f = firstHangs(); return { authorize: () => (f() === true ? { permissions: ['echo'] } : never()) } as Partial<DicomServerOptions>; }],
  ['callingAeTitles', () => ({ callingAeTitles: firstHangs() })],
];

function associate(port: number, association = 30_000): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP',
    userIdentity: { type: 'username', username: 'alice' },
    timeouts: { connect: 30_000, association, dimse: 30_000 },
  });
}

for (const [name, policy] of callbacks) {
  test(`a ${name} callback that never settles: the peer's abort gives its slot back`, { timeout: 120_000 }, async () => {
    // Negotiation timeout far beyond the test: only the peer's leaving can free the slot.
    const server = new DicomServer({ maxAssociations: 1, ...policy(), timeouts: { negotiation: 600_000 } });
    const { port } = await server.listen(0);
    try {
      // The requestor's own timer gives up and aborts (A-ABORT, then it closes).
      await assert.rejects(associate(port, 300), (e: unknown) => e instanceof TimeoutError && e.timer === 'association');
      // Without the slot back, this one is refused 2/3/2 (local-limit-exceeded).
      const client = await hangGuard(associate(port), 'second association');
      await client.echo();
      await client.release();
    } finally {
      await server.close({ timeout: 1000 });
    }
  });

  test(`a ${name} callback that never settles: refused 2/1/1 at the negotiation timeout, the slot given back`, { timeout: 120_000 }, async () => {
    const server = new DicomServer({ maxAssociations: 1, ...policy(), timeouts: { negotiation: 200 } });
    const rejected: AssociationRejection[] = [];
    server.on('rejected', (r) => rejected.push(r));
    const { port } = await server.listen(0);
    try {
      await assert.rejects(hangGuard(associate(port), 'first association'), (e: unknown) => {
        assert.ok(e instanceof AssociationRejectedError, String(e));
        assert.deepEqual([e.result, e.source, e.reason], [2, 1, 1]);
        return true;
      });
      assert.equal(rejected.length, 1);
      const error = rejected[0]!.error;
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.code, 'DICOM_ERR_TIMEOUT');
      assert.equal(error.timer, 'negotiation');
      const client = await hangGuard(associate(port), 'second association');
      await client.echo();
      await client.release();
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}

test('close() while a policy callback hangs gives its slot back: listening again, the server accepts', { timeout: 120_000 }, async () => {
  let asked!: () => void;
  const wasAsked = new Promise<void>((r) => (asked = r));
  let calls = 0;
  const server = new DicomServer({
    maxAssociations: 1,
    timeouts: { negotiation: 600_000 },
    userIdentity: () => (calls++ === 0 ? (asked(), never()) : true),
  });
  const { port } = await server.listen(0);
  const attempt = associate(port).then(() => 'associated', (e: unknown) => e);
  await hangGuard(wasAsked, 'the policy asked');
  await hangGuard(server.close({ timeout: 100 }), 'close');
  assert.notEqual(await hangGuard(attempt, 'requestor'), 'associated');
  const again = await server.listen(0);
  try {
    const client = await hangGuard(associate(again.port), 'association after listening again');
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('timeouts.negotiation is checked as the other timeouts', () => {
  assert.throws(() => new DicomServer({ timeouts: { negotiation: 0 } }), InvalidOptionError);
  assert.throws(() => new DicomServer({ timeouts: { negotiation: '1s' as unknown as number } }), InvalidOptionError);
});
