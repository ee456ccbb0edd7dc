/** Asynchronous Operations Window negotiation (PS3.7 D.3.3.3): the answer rules, 0 = unlimited, absent sub-items. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidOptionError } from '../../src/errors.js';
import {
  acceptorOperations,
  answerAsynchronousOperations,
  checkAsynchronousOperationsWindow,
  narrowLimit,
  requestorOperations,
  SYNCHRONOUS_OPERATIONS,
} from '../../src/acse/asynchronous-operations.js';
import { buildAssociateRq, interpretAssociateAc, isRejected, negotiateAssociation, type AcceptorPolicy, type AssociateRqOptions } from '../../src/acse/negotiate.js';
import * as api from '../../src/index.js';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, VERIFICATION } from './uids.js';

const w = (maxOperationsInvoked: number, maxOperationsPerformed: number) => ({ maxOperationsInvoked, maxOperationsPerformed });

const rqOptions: AssociateRqOptions = {
  callingAeTitle: 'SCU',
  calledAeTitle: 'SCP',
  presentationContexts: [{ abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] }],
};
const policy: AcceptorPolicy = {
  presentationContexts: { supported: [{ abstractSyntax: VERIFICATION }, { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] }] },
};

test('narrowLimit: the smaller limit, 0 meaning unlimited on either side', () => {
  assert.equal(narrowLimit(5, 3), 3);
  assert.equal(narrowLimit(3, 5), 3);
  assert.equal(narrowLimit(0, 7), 7);
  assert.equal(narrowLimit(7, 0), 7);
  assert.equal(narrowLimit(0, 0), 0);
  assert.equal(narrowLimit(1, 0), 1);
});

test('acceptor answer: none without a proposal, 1/1 without a policy, each field narrowed with one', () => {
  assert.equal(answerAsynchronousOperations(undefined, undefined), undefined);
  assert.equal(answerAsynchronousOperations(undefined, w(16, 1)), undefined, 'never returned unasked');
  assert.deepEqual(answerAsynchronousOperations(w(8, 8), undefined), w(1, 1));
  assert.deepEqual(answerAsynchronousOperations(w(0, 0), undefined), w(1, 1));
  assert.deepEqual(answerAsynchronousOperations(w(8, 4), w(16, 1)), w(8, 1));
  assert.deepEqual(answerAsynchronousOperations(w(32, 0), w(16, 2)), w(16, 2));
  // Unlimited proposed: our limit; unlimited allowed: the proposal; both: unlimited.
  assert.deepEqual(answerAsynchronousOperations(w(0, 0), w(16, 3)), w(16, 3));
  assert.deepEqual(answerAsynchronousOperations(w(5, 2), w(0, 0)), w(5, 2));
  assert.deepEqual(answerAsynchronousOperations(w(0, 0), w(0, 0)), w(0, 0));
});

test('property: the answer never allows more than proposed nor more than the policy', () => {
  // "a ≤ b" where 0 is unlimited (the largest).
  const le = (a: number, b: number): boolean => b === 0 || (a !== 0 && a <= b);
  const field = fc.nat(0xffff);
  fc.assert(
    fc.property(field, field, field, field, (pi, pp, ai, ap) => {
      const a = answerAsynchronousOperations(w(pi, pp), w(ai, ap))!;
      assert.ok(le(a.maxOperationsInvoked, pi) && le(a.maxOperationsInvoked, ai));
      assert.ok(le(a.maxOperationsPerformed, pp) && le(a.maxOperationsPerformed, ap));
      // The requestor, reading that answer, lands on the same values.
      assert.deepEqual(requestorOperations(w(pi, pp), a), { invoked: a.maxOperationsInvoked, performed: a.maxOperationsPerformed });
    }),
  );
});

test('requestor view: no sub-item in the AC (or none proposed) is synchronous; more than proposed is cut to the proposal', () => {
  assert.deepEqual(requestorOperations(w(8, 1), undefined), SYNCHRONOUS_OPERATIONS);
  assert.deepEqual(requestorOperations(undefined, w(8, 8)), SYNCHRONOUS_OPERATIONS, 'an answer we did not ask for is ignored');
  assert.deepEqual(requestorOperations(w(8, 1), w(4, 1)), { invoked: 4, performed: 1 });
  assert.deepEqual(requestorOperations(w(8, 1), w(0, 0)), { invoked: 8, performed: 1 });
  assert.deepEqual(requestorOperations(w(8, 1), w(20, 5)), { invoked: 8, performed: 1 });
  assert.deepEqual(requestorOperations(w(0, 0), w(0, 0)), { invoked: 0, performed: 0 });
  assert.deepEqual(requestorOperations(w(0, 1), w(12, 1)), { invoked: 12, performed: 1 });
});

test('acceptor view: the fields swap (the requestor invokes what we perform)', () => {
  assert.deepEqual(acceptorOperations(undefined), { invoked: 1, performed: 1 });
  assert.deepEqual(acceptorOperations(w(16, 2)), { invoked: 2, performed: 16 });
  assert.deepEqual(acceptorOperations(w(0, 1)), { invoked: 1, performed: 0 });
});

test('options are validated naming the field', () => {
  assert.equal(checkAsynchronousOperationsWindow('x', undefined), undefined);
  assert.deepEqual(checkAsynchronousOperationsWindow('x', w(0, 65535)), w(0, 65535));
  for (const bad of [w(-1, 1), w(1, 65536), w(1.5, 1), { maxOperationsInvoked: 1 } as never, null as never]) {
    assert.throws(() => checkAsynchronousOperationsWindow('asynchronousOperations', bad), InvalidOptionError);
  }
  assert.throws(() => buildAssociateRq({ ...rqOptions, asynchronousOperations: w(70000, 1) }), /asynchronousOperations\.maxOperationsInvoked/);
});

test('through buildAssociateRq / negotiateAssociation / interpretAssociateAc', async () => {
  // Default: no proposal, no sub-item either way, both sides synchronous.
  const plain = buildAssociateRq(rqOptions);
  assert.equal(plain.userInformation.asynchronousOperationsWindow, undefined);
  const plainOut = await negotiateAssociation(plain, { ...policy, asynchronousOperations: w(16, 1) });
  assert.ok(!isRejected(plainOut));
  assert.equal(plainOut.accept.userInformation.asynchronousOperationsWindow, undefined);
  assert.deepEqual(plainOut.asynchronousOperations, { invoked: 1, performed: 1 });
  assert.deepEqual(interpretAssociateAc(plain, plainOut.accept).asynchronousOperations, { invoked: 1, performed: 1 });

  // A proposal against a policy: narrowed, and each side sees its own terms.
  const rq = buildAssociateRq({ ...rqOptions, asynchronousOperations: w(8, 4) });
  assert.deepEqual(rq.userInformation.asynchronousOperationsWindow, w(8, 4));
  const out = await negotiateAssociation(rq, { ...policy, asynchronousOperations: w(16, 1) });
  assert.ok(!isRejected(out));
  assert.deepEqual(out.accept.userInformation.asynchronousOperationsWindow, w(8, 1));
  assert.deepEqual(out.asynchronousOperations, { invoked: 1, performed: 8 });
  assert.deepEqual(interpretAssociateAc(rq, out.accept).asynchronousOperations, { invoked: 8, performed: 1 });

  // A proposal and no policy: 1/1, as before.
  const noPolicy = await negotiateAssociation(rq, policy);
  assert.ok(!isRejected(noPolicy));
  assert.deepEqual(noPolicy.accept.userInformation.asynchronousOperationsWindow, w(1, 1));
  assert.deepEqual(interpretAssociateAc(rq, noPolicy.accept).asynchronousOperations, { invoked: 1, performed: 1 });

  // Unlimited both ways stays unlimited.
  const unlimited = buildAssociateRq({ ...rqOptions, asynchronousOperations: w(0, 0) });
  const u = await negotiateAssociation(unlimited, { ...policy, asynchronousOperations: w(0, 0) });
  assert.ok(!isRejected(u));
  assert.deepEqual(u.accept.userInformation.asynchronousOperationsWindow, w(0, 0));
  assert.deepEqual(interpretAssociateAc(unlimited, u.accept).asynchronousOperations, { invoked: 0, performed: 0 });

  // An AC without the sub-item although we proposed one (DCMTK): synchronous.
  const ac = { ...out.accept, userInformation: { ...out.accept.userInformation, asynchronousOperationsWindow: undefined } };
  assert.deepEqual(interpretAssociateAc(rq, ac).asynchronousOperations, { invoked: 1, performed: 1 });

  // A bad policy is an option error, not a malformed AC.
  await assert.rejects(negotiateAssociation(rq, { ...policy, asynchronousOperations: w(1, -2) }), InvalidOptionError);
});

test('the public surface exports the window helpers', () => {
  assert.equal(typeof api.answerAsynchronousOperations, 'function');
  assert.equal(typeof api.requestorOperations, 'function');
  assert.equal(typeof api.acceptorOperations, 'function');
  assert.deepEqual(api.SYNCHRONOUS_OPERATIONS, { invoked: 1, performed: 1 });
  assert.deepEqual(api.STORAGE_ASYNCHRONOUS_OPERATIONS, { maxOperationsInvoked: 16, maxOperationsPerformed: 1 });
  assert.equal(api.DEFAULT_STORE_WINDOW, 16);
});
