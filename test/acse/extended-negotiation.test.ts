import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptViaCommonExtended,
  answerSopClassExtended,
  interpretSopClassExtended,
  settledCommonExtended,
  settledSopClassExtended,
} from '../../src/acse/extended-negotiation.js';
import { CT_IMAGE_STORAGE, PATIENT_ROOT_FIND } from './uids.js';

const ctx = { callingAeTitle: 'SCU', calledAeTitle: 'SCP' };
const info = (...b: number[]) => Uint8Array.from(b);

test('0x56: no handler, nothing answered; answers only accepted, proposed SOP classes, once each', async () => {
  const proposed = [
    { sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(1, 1) },
    { sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(0) },
    { sopClassUid: CT_IMAGE_STORAGE, serviceClassApplicationInformation: info(2) },
    { sopClassUid: '1.2.3', serviceClassApplicationInformation: info(3) },
  ];
  const accepted = new Set([PATIENT_ROOT_FIND, CT_IMAGE_STORAGE]);
  assert.deepEqual(await answerSopClassExtended(proposed, undefined, accepted, ctx), []);
  const calls: string[] = [];
  const answers = await answerSopClassExtended(
    proposed,
    async (uid, appInfo, c) => {
      calls.push(uid);
      assert.deepEqual(c, ctx);
      return uid === CT_IMAGE_STORAGE ? undefined : Uint8Array.from(appInfo, (b) => b & 0);
    },
    accepted,
    ctx,
  );
  assert.deepEqual(calls, [PATIENT_ROOT_FIND, CT_IMAGE_STORAGE], 'the not-accepted 1.2.3 and the duplicate are not asked');
  assert.deepEqual(answers, [{ sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(0, 0) }]);
  assert.deepEqual(await answerSopClassExtended(proposed, () => { throw new Error('bug'); }, accepted, ctx), []);
});

test('0x57: the handler can only add SOP classes that were proposed', async () => {
  const items = [{ sopClassUid: '1.2.3.5', serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [CT_IMAGE_STORAGE] }];
  assert.deepEqual([...(await acceptViaCommonExtended(items, () => ['1.2.3.5', '6.6.6'], ctx))], ['1.2.3.5']);
  assert.deepEqual([...(await acceptViaCommonExtended(items, undefined, ctx))], []);
  assert.deepEqual([...(await acceptViaCommonExtended([], () => ['1.2.3.5'], ctx))], []);
  assert.deepEqual([...(await acceptViaCommonExtended(items, async () => { throw new Error('x'); }, ctx))], []);
  // A handler answering something other than a list (an untyped caller) adds nothing, like a throwing one.
  for (const bad of [undefined, null, '1.2.3.5', 7]) {
    assert.deepEqual([...(await acceptViaCommonExtended(items, (() => bad) as unknown as () => string[], ctx))], [], String(bad));
  }
});

test('0x56: an answer that is not bytes (an untyped handler) is not sent', async () => {
  const proposed = [{ sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(1) }];
  const accepted = new Set([PATIENT_ROOT_FIND]);
  for (const bad of ['yes', 1, null, [1]]) {
    assert.deepEqual(await answerSopClassExtended(proposed, (() => bad) as unknown as () => Uint8Array, accepted, ctx), [], String(bad));
  }
});

test('settledSopClassExtended: the answer answerSopClassExtended gives without its handler, undefined exactly when it calls one', async () => {
  const accepted = new Set([PATIENT_ROOT_FIND]);
  const find = { sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(1) };
  const other = { sopClassUid: CT_IMAGE_STORAGE, serviceClassApplicationInformation: info(2) };
  let calls = 0;
  const spy = () => { calls++; return info(0); };
  for (const [name, proposed, handlerCalled] of [
    ['no items', [], false],
    ['only a SOP class not accepted', [other], false],
    ['an accepted SOP class', [find], true],
    ['accepted and not', [other, find, find], true],
  ] as const) {
    for (const handler of [undefined, spy]) {
      const label = `${name}, ${handler === undefined ? 'no handler' : 'handler'}`;
      const settled = settledSopClassExtended(proposed, handler, accepted);
      const before = calls;
      const out = await answerSopClassExtended(proposed, handler, accepted, ctx);
      const called = calls - before > 0;
      assert.equal(called, handler !== undefined && handlerCalled, label);
      assert.equal(settled === undefined, called, `${label}: undefined exactly when the handler is called`);
      if (settled !== undefined) {
        assert.deepEqual(settled, out, `${label}: the same answer`);
        assert.deepEqual(settled, [], label);
      }
    }
  }
});

test('settledCommonExtended: the answer acceptViaCommonExtended gives without its handler, undefined exactly when it calls one', async () => {
  const items = [{ sopClassUid: '1.2.3.5', serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [CT_IMAGE_STORAGE] }];
  let calls = 0;
  const spy = () => { calls++; return ['1.2.3.5']; };
  for (const proposed of [[], items]) {
    for (const handler of [undefined, spy]) {
      const label = `${proposed.length} items, ${handler === undefined ? 'no handler' : 'handler'}`;
      const settled = settledCommonExtended(proposed, handler);
      const before = calls;
      const out = await acceptViaCommonExtended(proposed, handler, ctx);
      const called = calls - before > 0;
      assert.equal(called, handler !== undefined && proposed.length > 0, label);
      assert.equal(settled === undefined, called, `${label}: undefined exactly when the handler is called`);
      if (settled !== undefined) {
        assert.deepEqual(settled, out, `${label}: the same answer`);
        assert.deepEqual([...settled], [], label);
      }
    }
  }
});

test('requestor: first 0x56 answer per SOP class wins', () => {
  const m = interpretSopClassExtended([
    { sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(1) },
    { sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: info(2) },
  ]);
  assert.deepEqual([...m], [[PATIENT_ROOT_FIND, info(1)]]);
});
