/**
 * throttleUserIdentity: how many identity checks run and wait, per server and per calling
 * address, and the delay after a failed check (docs/limits.md). Outcomes and orders only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throttleUserIdentity } from '../../src/acse/identity-throttle.js';
import { IdentityChecksBusyError } from '../../src/acse/errors.js';
import type { ReceivedUserIdentity, UserIdentityContext, UserIdentityHandler } from '../../src/acse/user-identity.js';
import { InvalidOptionError } from '../../src/errors.js';

const identity = (passcode: string): ReceivedUserIdentity => ({ type: 'username-passcode', username: 'alice', passcode, positiveResponseRequested: false });
const from = (remoteAddress: string): UserIdentityContext => ({ callingAeTitle: 'SCU', calledAeTitle: 'SCP', remoteAddress });

/** A handler whose answers the test gives, in the order it was asked. */
function controlled(): { handler: UserIdentityHandler; asked: string[]; answer(i: number, ok: boolean): void } {
  const asked: string[] = [];
  const answers: ((ok: boolean) => void)[] = [];
  return {
    asked,
    handler: (id, ctx) => {
      asked.push(`${ctx.remoteAddress}:${id.passcode}`);
      return new Promise<boolean>((resolve) => answers.push(resolve));
    },
    answer: (i, ok) => answers[i]!(ok),
  };
}

const busy = (limit: 'queue' | 'address') => (e: unknown): boolean => e instanceof IdentityChecksBusyError && e.limit === limit && e.code === 'DICOM_ERR_IDENTITY_CHECKS_BUSY';
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('at most maxConcurrent checks run and maxQueued wait, in order; one more is refused at once', async () => {
  const c = controlled();
  const check = throttleUserIdentity(c.handler, { maxConcurrent: 1, maxQueued: 1, maxPerAddress: 10 });
  const first = check(identity('1'), from('10.0.0.1'));
  const second = check(identity('2'), from('10.0.0.2'));
  await assert.rejects(check(identity('3'), from('10.0.0.3')), busy('queue'));
  await tick();
  assert.deepEqual(c.asked, ['10.0.0.1:1'], 'the second waits for the first');
  c.answer(0, true);
  assert.equal(await first, true);
  await tick();
  assert.deepEqual(c.asked, ['10.0.0.1:1', '10.0.0.2:2']);
  c.answer(1, true);
  assert.equal(await second, true);
});

test('one address has at most maxPerAddress checks under way; other addresses are not held by it', async () => {
  const c = controlled();
  const check = throttleUserIdentity(c.handler, { maxConcurrent: 4, maxQueued: 10, maxPerAddress: 2 });
  const a = [check(identity('a1'), from('10.0.0.1')), check(identity('a2'), from('10.0.0.1'))];
  await assert.rejects(check(identity('a3'), from('10.0.0.1')), busy('address'));
  const b = check(identity('b1'), from('10.0.0.2'));
  await tick();
  assert.deepEqual(c.asked, ['10.0.0.1:a1', '10.0.0.1:a2', '10.0.0.2:b1']);
  for (let i = 0; i < 3; i++) c.answer(i, true);
  assert.deepEqual(await Promise.all([...a, b]), [true, true, true]);
});

test('after a failed check, the next of that address waits and is the only one let in; another address goes first; a success clears it', async () => {
  const c = controlled();
  const check = throttleUserIdentity(c.handler, { maxConcurrent: 2, maxQueued: 10, maxPerAddress: 4, failureDelay: 50, maxFailureDelay: 50 });
  const wrong = check(identity('wrong'), from('10.0.0.1'));
  await tick();
  c.answer(0, false);
  assert.equal(await wrong, false);
  // Two slots free, but 10.0.0.1 failed: its next check waits, and a second one is refused.
  const again = check(identity('again'), from('10.0.0.1'));
  await assert.rejects(check(identity('more'), from('10.0.0.1')), busy('address'));
  const other = check(identity('other'), from('10.0.0.2'));
  await tick();
  assert.deepEqual(c.asked, ['10.0.0.1:wrong', '10.0.0.2:other'], 'the other address first');
  c.answer(1, true);
  assert.equal(await other, true);
  await new Promise<void>((resolve) => {
    const wait = (): void => void (c.asked.length === 3 ? resolve() : setTimeout(wait, 5));
    wait();
  });
  assert.deepEqual(c.asked, ['10.0.0.1:wrong', '10.0.0.2:other', '10.0.0.1:again']);
  c.answer(2, true);
  assert.equal(await again, true);
  // The success cleared the failure: several at once again, none delayed.
  const two = [check(identity('x'), from('10.0.0.1')), check(identity('y'), from('10.0.0.1'))];
  await tick();
  assert.deepEqual(c.asked.slice(3), ['10.0.0.1:x', '10.0.0.1:y']);
  c.answer(3, true);
  c.answer(4, true);
  await Promise.all(two);
});

test('a handler that throws counts as a failure and its error goes to the caller; bad options are InvalidOptionError', async () => {
  const check = throttleUserIdentity(() => Promise.reject(new Error('directory down')), { failureDelay: 10_000 });
  await assert.rejects(check(identity('p'), from('10.0.0.9')), /directory down/);
  // Failed: the next check of the address is delayed, so a second is refused at once.
  const next = check(identity('p'), from('10.0.0.9'));
  next.catch(() => undefined);
  await assert.rejects(check(identity('p'), from('10.0.0.9')), busy('address'));
  for (const bad of [{ maxConcurrent: 0 }, { maxQueued: -1 }, { maxPerAddress: 1.5 }, { failureDelay: -1 }]) {
    assert.throws(() => throttleUserIdentity(() => true, bad), InvalidOptionError);
  }
});
