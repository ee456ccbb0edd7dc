import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidOptionError } from '../../src/errors.js';
import {
  AcceptedContexts,
  answerPresentationContexts,
  buildPresentationContexts,
  interpretPresentationContexts,
  type PresentationContextPolicy,
} from '../../src/acse/presentation-context.js';
import { InvalidAssociateRequestError, NegotiationError, NoAcceptedContextError } from '../../src/acse/errors.js';
import { roleOutcomes } from '../../src/acse/role-selection.js';
import type { PresentationContextRqItem } from '../../src/ul/pdu/types.js';
import {
  CT_IMAGE_STORAGE,
  DEFLATED_LE,
  EXPLICIT_BE,
  EXPLICIT_LE,
  IMPLICIT_LE,
  isStorageSopClass,
  JPEG_BASELINE,
  MR_IMAGE_STORAGE,
  VERIFICATION,
} from './uids.js';

test('requestor: IDs are 1, 3, 5, … and one context per transfer syntax when asked', () => {
  const items = buildPresentationContexts([
    { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [JPEG_BASELINE, EXPLICIT_LE], separateContextPerTransferSyntax: true },
    { abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_LE] },
  ]);
  assert.deepEqual(items, [
    { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    { id: 3, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [JPEG_BASELINE] },
    { id: 5, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
    { id: 7, abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] },
  ]);
});

test('requestor: 128 contexts fit (last ID 255), 129 is an option error', () => {
  const many = (n: number) => Array.from({ length: n }, () => ({ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }));
  const ok = buildPresentationContexts(many(128));
  assert.equal(ok.at(-1)?.id, 255);
  assert.throws(() => buildPresentationContexts(many(129)), (e: unknown) => e instanceof InvalidOptionError && e.option === 'presentationContexts');
  // Also when the 129th comes from splitting transfer syntaxes.
  assert.throws(
    () => buildPresentationContexts([...many(127), { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE, EXPLICIT_LE], separateContextPerTransferSyntax: true }]),
    InvalidOptionError,
  );
});

test('requestor: invalid UIDs and empty transfer syntax lists are refused by option name', () => {
  const cases: [unknown, string][] = [
    [{ abstractSyntax: '1.2.03', transferSyntaxes: [IMPLICIT_LE] }, 'presentationContexts[0].abstractSyntax'],
    [{ abstractSyntax: '', transferSyntaxes: [IMPLICIT_LE] }, 'presentationContexts[0].abstractSyntax'],
    [{ abstractSyntax: VERIFICATION, transferSyntaxes: [] }, 'presentationContexts[0].transferSyntaxes'],
    [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE, 'abc'] }, 'presentationContexts[0].transferSyntaxes[1]'],
    [{ abstractSyntax: '1.' + '2'.repeat(63), transferSyntaxes: [IMPLICIT_LE] }, 'presentationContexts[0].abstractSyntax'],
  ];
  for (const [rc, option] of cases) {
    assert.throws(() => buildPresentationContexts([rc as never]), (e: unknown) => e instanceof InvalidOptionError && e.option === option, option);
  }
});

const policy: PresentationContextPolicy = {
  supported: [
    { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [JPEG_BASELINE, EXPLICIT_LE, IMPLICIT_LE] },
  ],
  acceptAbstractSyntax: isStorageSopClass,
  defaultTransferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE],
};

test('acceptor: one result per context, table of rules', () => {
  const cases: { name: string; rq: PresentationContextRqItem; result: number; ts?: string }[] = [
    { name: 'supported, only TS', rq: { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }, result: 0, ts: IMPLICIT_LE },
    { name: 'acceptor preference wins over proposer order', rq: { id: 3, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_LE, EXPLICIT_LE, JPEG_BASELINE] }, result: 0, ts: JPEG_BASELINE },
    { name: 'second preference', rq: { id: 5, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_LE, EXPLICIT_LE] }, result: 0, ts: EXPLICIT_LE },
    { name: 'any storage via predicate, default TS order', rq: { id: 7, abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_LE, EXPLICIT_LE] }, result: 0, ts: EXPLICIT_LE },
    { name: 'abstract syntax not supported (3)', rq: { id: 9, abstractSyntax: '1.2.3.4', transferSyntaxes: [IMPLICIT_LE] }, result: 3 },
    { name: 'transfer syntaxes not supported (4)', rq: { id: 11, abstractSyntax: VERIFICATION, transferSyntaxes: [EXPLICIT_BE, DEFLATED_LE] }, result: 4 },
    { name: 'no transfer syntax proposed (4)', rq: { id: 13, abstractSyntax: VERIFICATION, transferSyntaxes: [] }, result: 4 },
  ];
  const { results, accepted, rejected } = answerPresentationContexts(cases.map((c) => c.rq), policy);
  assert.equal(results.length, cases.length);
  cases.forEach((c, i) => {
    assert.equal(results[i]?.id, c.rq.id, c.name);
    assert.equal(results[i]?.result, c.result, c.name);
    if (c.ts !== undefined) assert.equal(results[i]?.transferSyntax, c.ts, c.name);
  });
  assert.equal(accepted.length, 4);
  assert.deepEqual(rejected.map((r) => r.result), [3, 4, 4]);
});

test('acceptor: acceptContext hook answers user-rejection (1)', () => {
  const { results } = answerPresentationContexts(
    [
      { id: 1, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_LE] },
      { id: 3, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_LE] },
    ],
    { ...policy, acceptContext: (c) => c.id === 1 },
  );
  assert.deepEqual(results.map((r) => r.result), [0, 1]);
});

test('acceptor: a context whose roles leave the requestor nothing is user-rejected (1)', () => {
  const roles = roleOutcomes([{ sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true }], [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: false }]);
  const { results } = answerPresentationContexts([{ id: 1, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_LE] }], policy, roles);
  assert.equal(results[0]?.result, 1);
});

test('acceptor: even, out-of-range and duplicate IDs are an invalid RQ', () => {
  for (const ids of [[2], [0], [257], [1, 1], [-1], [1.5]]) {
    assert.throws(
      () => answerPresentationContexts(ids.map((id) => ({ id, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] })), policy),
      (e: unknown) => e instanceof InvalidAssociateRequestError && e.code === 'DICOM_ERR_INVALID_ASSOCIATE_RQ' && e.abortReason === 6,
      JSON.stringify(ids),
    );
  }
});

const uidArb = fc.constantFrom<string>(VERIFICATION, CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, '1.2.3.4', '1.2.840.10008.5.1.4.1.1.7');
const tsArb = fc.constantFrom<string>(IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED_LE, JPEG_BASELINE, '1.2.9');
const rqArb = fc
  .array(fc.record({ abstractSyntax: uidArb, transferSyntaxes: fc.uniqueArray(tsArb, { maxLength: 4 }) }), { minLength: 1, maxLength: 128 })
  .map((xs) => xs.map((x, i) => ({ id: i * 2 + 1, ...x })));
const policyArb = fc.record({
  supported: fc.array(fc.record({ abstractSyntax: uidArb, transferSyntaxes: fc.uniqueArray(tsArb, { maxLength: 4 }) }), { maxLength: 4 }),
  defaultTransferSyntaxes: fc.uniqueArray(tsArb, { maxLength: 4 }),
  storage: fc.boolean(),
});

test('property: the AC has exactly one result per RQ context, same IDs and order; accepted TS was proposed and is the acceptor\'s first choice', () => {
  fc.assert(
    fc.property(rqArb, policyArb, (rq, p) => {
      const pol: PresentationContextPolicy = { supported: p.supported, defaultTransferSyntaxes: p.defaultTransferSyntaxes, ...(p.storage ? { acceptAbstractSyntax: isStorageSopClass } : {}) };
      const { results, accepted, rejected } = answerPresentationContexts(rq, pol);
      assert.deepEqual(results.map((r) => r.id), rq.map((c) => c.id));
      assert.equal(accepted.length + rejected.length, rq.length);
      results.forEach((r, i) => {
        const c = rq[i]!;
        assert.ok([0, 3, 4].includes(r.result));
        if (r.result === 0) {
          assert.ok(c.transferSyntaxes.includes(r.transferSyntax));
          const ours = pol.supported?.find((s) => s.abstractSyntax === c.abstractSyntax)?.transferSyntaxes ?? pol.defaultTransferSyntaxes!;
          assert.equal(r.transferSyntax, ours.find((t) => c.transferSyntaxes.includes(t)));
        }
      });
      // And the requestor reads the acceptor's answer back consistently.
      const ac = interpretPresentationContexts(rq, results);
      assert.deepEqual(ac.all.map((a) => [a.id, a.transferSyntax]), accepted.map((a) => [a.id, a.transferSyntax]));
    }),
  );
});

test('requestor: interpretation keeps roles, rejects foreign IDs and unproposed transfer syntaxes', () => {
  const rq = buildPresentationContexts([
    { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] },
  ]);
  const ok = interpretPresentationContexts(rq, [
    { id: 1, result: 0, transferSyntax: IMPLICIT_LE },
    { id: 3, result: 4, transferSyntax: '' },
  ]);
  assert.equal(ok.size, 1);
  assert.deepEqual(ok.get(1), { id: 1, abstractSyntax: VERIFICATION, transferSyntax: IMPLICIT_LE, roles: { requestorIsScu: true, requestorIsScp: false } });
  assert.deepEqual(ok.rejected, [{ id: 3, abstractSyntax: CT_IMAGE_STORAGE, result: 4 }]);
  // A context without an answer counts as rejected (no-reason).
  assert.deepEqual(interpretPresentationContexts(rq, [{ id: 1, result: 0, transferSyntax: IMPLICIT_LE }]).rejected, [{ id: 3, abstractSyntax: CT_IMAGE_STORAGE, result: 2 }]);
  assert.throws(() => interpretPresentationContexts(rq, [{ id: 5, result: 0, transferSyntax: IMPLICIT_LE }]), NegotiationError);
  assert.throws(() => interpretPresentationContexts(rq, [{ id: 1, result: 0, transferSyntax: EXPLICIT_LE }]), NegotiationError);
  assert.throws(() => interpretPresentationContexts(rq, [{ id: 1, result: 0, transferSyntax: IMPLICIT_LE }, { id: 1, result: 0, transferSyntax: IMPLICIT_LE }]), NegotiationError);
});

test('lookup: find agrees with its definition (lowest ID among the fitting contexts, the preferred syntax before each fallback in turn) on random sets', () => {
  const syntaxes = [IMPLICIT_LE, EXPLICIT_LE, JPEG_BASELINE, DEFLATED_LE];
  const reference = (all: readonly { id: number; abstractSyntax: string; transferSyntax: string; roles: { requestorIsScu: boolean; requestorIsScp: boolean } }[],
    abstractSyntax: string, sel: { transferSyntax?: string; fallbackTransferSyntaxes?: string[]; requestorRole?: 'scu' | 'scp' }): number | undefined => {
    const candidates = [...all].sort((a, b) => a.id - b.id).filter((c) => c.abstractSyntax === abstractSyntax &&
      (sel.requestorRole === undefined || (sel.requestorRole === 'scu' ? c.roles.requestorIsScu : c.roles.requestorIsScp)));
    if (sel.transferSyntax === undefined) return candidates[0]?.id;
    for (const ts of [sel.transferSyntax, ...(sel.fallbackTransferSyntaxes ?? [EXPLICIT_LE, IMPLICIT_LE])]) {
      const hit = candidates.find((c) => c.transferSyntax === ts);
      if (hit !== undefined) return hit.id;
    }
    return undefined;
  };
  const context = fc.record({
    abstractSyntax: fc.constantFrom(CT_IMAGE_STORAGE, MR_IMAGE_STORAGE),
    transferSyntax: fc.constantFrom(...syntaxes),
    roles: fc.record({ requestorIsScu: fc.boolean(), requestorIsScp: fc.boolean() }),
  });
  const selection = fc.record({
    transferSyntax: fc.option(fc.constantFrom(...syntaxes), { nil: undefined }),
    fallbackTransferSyntaxes: fc.option(fc.subarray(syntaxes), { nil: undefined }),
    requestorRole: fc.option(fc.constantFrom('scu' as const, 'scp' as const), { nil: undefined }),
  }, { requiredKeys: [] });
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { maxLength: 8 }), fc.array(context, { minLength: 8, maxLength: 8 }),
    fc.constantFrom(CT_IMAGE_STORAGE, MR_IMAGE_STORAGE), selection, (ids, contexts, abstractSyntax, sel) => {
      const all = ids.map((id, i) => ({ id, ...contexts[i]! }));
      const found = new AcceptedContexts(all).find(abstractSyntax, sel);
      assert.equal(found?.id, reference(all, abstractSyntax, sel));
    }), { numRuns: 500 });
});

test('lookup: exact, fallback to explicit then implicit LE, role filter, and errors that say why', () => {
  const scu = { requestorIsScu: true, requestorIsScp: false };
  const scp = { requestorIsScu: false, requestorIsScp: true };
  const ctx = new AcceptedContexts(
    [
      { id: 5, abstractSyntax: CT_IMAGE_STORAGE, transferSyntax: IMPLICIT_LE, roles: scu },
      { id: 3, abstractSyntax: CT_IMAGE_STORAGE, transferSyntax: JPEG_BASELINE, roles: scu },
      { id: 7, abstractSyntax: MR_IMAGE_STORAGE, transferSyntax: EXPLICIT_LE, roles: scp },
    ],
    [{ id: 9, abstractSyntax: VERIFICATION, result: 3 }],
  );
  assert.equal(ctx.find(CT_IMAGE_STORAGE)?.id, 3); // lowest ID first
  assert.equal(ctx.find(CT_IMAGE_STORAGE, { transferSyntax: JPEG_BASELINE })?.id, 3);
  assert.equal(ctx.find(CT_IMAGE_STORAGE, { transferSyntax: DEFLATED_LE })?.id, 5); // falls back to implicit
  assert.equal(ctx.find(CT_IMAGE_STORAGE, { transferSyntax: DEFLATED_LE, fallbackTransferSyntaxes: [] }), undefined);
  assert.equal(ctx.find(MR_IMAGE_STORAGE, { requestorRole: 'scu' }), undefined);
  assert.equal(ctx.find(MR_IMAGE_STORAGE, { requestorRole: 'scp' })?.id, 7);
  assert.deepEqual(ctx.all.map((c) => c.id), [3, 5, 7]);
  assert.equal(ctx.byId.get(7)?.abstractSyntax, MR_IMAGE_STORAGE);
  assert.equal(ctx.get(9), undefined, 'rejected contexts are not in the map');
  const why = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof NoAcceptedContextError && e.code === 'DICOM_ERR_NO_ACCEPTED_CONTEXT' && re.test(e.message));
  why(() => ctx.select(VERIFICATION), /abstract-syntax-not-supported/);
  why(() => ctx.select('1.2.3'), /not proposed/);
  why(() => ctx.select(CT_IMAGE_STORAGE, { transferSyntax: DEFLATED_LE, fallbackTransferSyntaxes: [] }), /accepted only with/);
  why(() => ctx.select(MR_IMAGE_STORAGE, { requestorRole: 'scu' }), /act as SCU/);
});
