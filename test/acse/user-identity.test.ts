import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../src/errors.js';
import {
  buildUserIdentityRq,
  decodeUserIdentityRq,
  evaluateUserIdentity,
  interpretUserIdentityAc,
  settledUserIdentity,
  USER_IDENTITY_REJECTION,
  type UserIdentityRequest,
} from '../../src/acse/user-identity.js';

const enc = (s: string) => new TextEncoder().encode(s);
const ctx = { callingAeTitle: 'SCU', calledAeTitle: 'SCP' };
const ticket = Uint8Array.from([0x60, 0x82, 0x01, 0x00, 0xff]);

// Requestor input → expected 0x58 fields → what the acceptor's handler sees.
const cases: { req: UserIdentityRequest; type: number; primary: Uint8Array; secondary: Uint8Array; seen: object }[] = [
  { req: { type: 'username', username: 'jürgen' }, type: 1, primary: enc('jürgen'), secondary: new Uint8Array(0), seen: { type: 'username', username: 'jürgen' } },
  { req: { type: 'username-passcode', username: 'alice', passcode: 's3cret' }, type: 2, primary: enc('alice'), secondary: enc('s3cret'), seen: { type: 'username-passcode', username: 'alice', passcode: 's3cret' } },
  { req: { type: 'kerberos', ticket }, type: 3, primary: ticket, secondary: new Uint8Array(0), seen: { type: 'kerberos', token: ticket } },
  { req: { type: 'saml', assertion: '<saml:Assertion/>' }, type: 4, primary: enc('<saml:Assertion/>'), secondary: new Uint8Array(0), seen: { type: 'saml', token: enc('<saml:Assertion/>') } },
  { req: { type: 'jwt', token: 'eyJ.eyJ.sig' }, type: 5, primary: enc('eyJ.eyJ.sig'), secondary: new Uint8Array(0), seen: { type: 'jwt', token: enc('eyJ.eyJ.sig') } },
];

test('types 1–5: requestor builds 0x58, acceptor decodes what was meant', async () => {
  for (const c of cases) {
    for (const positiveResponseRequested of [false, true]) {
      const item = buildUserIdentityRq({ ...c.req, positiveResponseRequested });
      assert.equal(item.identityType, c.type);
      assert.equal(item.positiveResponseRequested, positiveResponseRequested);
      assert.deepEqual(item.primaryField, c.primary);
      assert.deepEqual(item.secondaryField, c.secondary);
      const d = decodeUserIdentityRq(item);
      assert.deepEqual(d.identity, { ...c.seen, positiveResponseRequested });
    }
  }
});

test('types 1–5: positive response gives 0x59 empty for 1/2 and the server response for 3/4/5', async () => {
  const serverResponse = enc('server-ticket');
  for (const c of cases) {
    const item = buildUserIdentityRq({ ...c.req, positiveResponseRequested: true });
    let seenContext: unknown;
    const out = await evaluateUserIdentity(item, (_id, context) => {
      seenContext = context;
      return { accept: true, serverResponse };
    }, ctx);
    assert.deepEqual(seenContext, { ...ctx });
    assert.ok(out.accept);
    assert.deepEqual(out.ac?.serverResponse, c.type <= 2 ? new Uint8Array(0) : serverResponse, String(c.type));
    const result = interpretUserIdentityAc(item, out.ac);
    assert.equal(result.confirmed, true);
    // Handler answering plain `true`: empty response for every type.
    const plain = await evaluateUserIdentity(item, () => true, ctx);
    assert.ok(plain.accept);
    assert.deepEqual(plain.ac, { serverResponse: new Uint8Array(0) });
    // No positive response asked: no 0x59.
    const quiet = await evaluateUserIdentity(buildUserIdentityRq(c.req), async () => ({ accept: true, serverResponse }), ctx);
    assert.ok(quiet.accept);
    assert.equal(quiet.ac, undefined);
  }
});

test('rejection: false, {accept:false}, a throwing handler, required-but-missing, undecodable', async () => {
  const item = buildUserIdentityRq({ type: 'username-passcode', username: 'alice', passcode: 'wrong' });
  for (const h of [() => false, async () => ({ accept: false as const }), () => { throw new Error('ldap down'); }]) {
    const out = await evaluateUserIdentity(item, h, ctx);
    assert.equal(out.accept, false);
  }
  const thrown = await evaluateUserIdentity(item, () => { throw new Error('ldap down'); }, ctx);
  assert.ok(!thrown.accept && /ldap down/.test(thrown.why));
  const rejected = await evaluateUserIdentity(item, () => false, ctx);
  assert.ok(!rejected.accept && /alice/.test(rejected.why) && !/wrong/.test(rejected.why), 'why names the user, never the passcode');
  assert.equal((await evaluateUserIdentity(undefined, () => true, ctx, { required: true })).accept, false);
  assert.equal((await evaluateUserIdentity(item, undefined, ctx, { required: true })).accept, false);
  const bad = await evaluateUserIdentity({ ...item, primaryField: Uint8Array.from([0xff, 0xfe]) }, () => true, ctx);
  assert.ok(!bad.accept && /UTF-8/.test(bad.why));
  const unknownType = await evaluateUserIdentity({ ...item, identityType: 9 as never }, () => true, ctx);
  assert.ok(!unknownType.accept && /type 9/.test(unknownType.why));
  assert.deepEqual({ ...USER_IDENTITY_REJECTION }, { result: 1, source: 2, reason: 1 }); // PS3.7 D.3.3.7
});

test('no handler: identity ignored, no 0x59 (acceptor without user identity support)', async () => {
  const item = buildUserIdentityRq({ type: 'jwt', token: 'x.y.z', positiveResponseRequested: true });
  const out = await evaluateUserIdentity(item, undefined, ctx);
  assert.ok(out.accept);
  assert.equal(out.ac, undefined);
  assert.deepEqual(interpretUserIdentityAc(item, undefined), { sent: true, positiveResponseRequested: true, confirmed: false, serverResponse: undefined });
  assert.deepEqual(interpretUserIdentityAc(undefined, undefined), { sent: false, positiveResponseRequested: false, confirmed: false, serverResponse: undefined });
});

test('settledUserIdentity: the answer evaluateUserIdentity gives without its handler, undefined exactly when it calls one', async () => {
  const item = buildUserIdentityRq({ type: 'username', username: 'alice' });
  const items = {
    none: undefined,
    decodes: item,
    'not UTF-8': { ...item, primaryField: Uint8Array.from([0xff, 0xfe]) },
    'unknown type': { ...item, identityType: 9 as never },
  };
  // Expected `accept` of the settled answer; 'handler' where the handler decides.
  const expected: Record<keyof typeof items, Record<'none' | 'handler', [boolean | 'handler', boolean | 'handler']>> = {
    none: { none: [true, false], handler: [true, false] },
    decodes: { none: [true, false], handler: ['handler', 'handler'] },
    'not UTF-8': { none: [false, false], handler: [false, false] },
    'unknown type': { none: [false, false], handler: [false, false] },
  };
  let calls = 0;
  const spy = () => { calls++; return true; };
  for (const [itemName, it] of Object.entries(items) as [keyof typeof items, (typeof items)[keyof typeof items]][]) {
    for (const handlerName of ['none', 'handler'] as const) {
      const handler = handlerName === 'none' ? undefined : spy;
      for (const [r, required] of [false, true].entries()) {
        const name = `${itemName}, ${handlerName}, required ${required}`;
        const settled = settledUserIdentity(it, handler, { required });
        const before = calls;
        const out = await evaluateUserIdentity(it, handler, ctx, { required });
        const called = calls - before;
        assert.equal(settled === undefined, called === 1, `${name}: undefined exactly when the handler is called`);
        assert.equal(called <= 1, true, name);
        const want = expected[itemName][handlerName][r];
        if (want === 'handler') {
          assert.equal(settled, undefined, name);
        } else {
          assert.deepEqual(settled, out, `${name}: the same answer`);
          assert.equal(settled?.accept, want, name);
        }
      }
    }
  }
  assert.deepEqual(settledUserIdentity(undefined, spy), { accept: true, identity: undefined, ac: undefined }, 'options default: not required');
  assert.equal(calls, 2, 'only the two calls with a decodable item and a handler asked it');
});

test('requestor: empty or over-long fields are option errors', () => {
  assert.throws(() => buildUserIdentityRq({ type: 'username', username: '' }), InvalidOptionError);
  assert.throws(() => buildUserIdentityRq({ type: 'username-passcode', username: 'a', passcode: '' }), InvalidOptionError);
  assert.throws(() => buildUserIdentityRq({ type: 'jwt', token: 'x'.repeat(0x10000) }), InvalidOptionError);
  assert.doesNotThrow(() => buildUserIdentityRq({ type: 'jwt', token: 'x'.repeat(0xffff) }));
  assert.throws(() => buildUserIdentityRq({ type: 'nope' } as never), InvalidOptionError);
});
