import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPasswordFile, hashPassword, parsePasswordFile, passwordFileVerifier, verifyPassword } from '../../src/ae/user-credentials.js';
import { InvalidOptionError } from '../../src/errors.js';
import type { ReceivedUserIdentity } from '../../src/acse/user-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'user-credentials-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ctx = { callingAeTitle: 'A', calledAeTitle: 'B' };

test('hash and verify: the right password only; each hash has its own salt', async () => {
  const a = await hashPassword('pässwörd');
  const b = await hashPassword('pässwörd');
  assert.notEqual(a, b);
  assert.equal(await verifyPassword('pässwörd', a), true);
  assert.equal(await verifyPassword('passwort', a), false);
  assert.equal(await verifyPassword('', a), false);
  await assert.rejects(hashPassword(''), InvalidOptionError);
});

test('a malformed or over-costly hash never matches (no exception, no huge scrypt)', async () => {
  const good = await hashPassword('x');
  for (const bad of ['', 'plain', good.replace('scrypt$16384', 'scrypt$16383'), good.replace('scrypt$16384', 'scrypt$2097152'),
    good.replace('$8$1$', '$8$99$'), good.replace(/\$[^$]+$/, '$AAAA')]) {
    assert.equal(await verifyPassword('x', bad), false, bad);
  }
});

test('the file: comments and blank lines skipped; a bad line is an error naming the line', async () => {
  const h = await hashPassword('s');
  const users = parsePasswordFile(`# users\n\nalice:${h}\nbob:\n`);
  assert.deepEqual([...users.keys()], ['alice', 'bob']);
  assert.deepEqual(parsePasswordFile(formatPasswordFile(users)), users);
  assert.throws(() => parsePasswordFile('alice\n'), /password file line 1: expected name:hash/);
  assert.throws(() => parsePasswordFile(`a:${h}\na:${h}\n`), /line 2: 'a' is listed twice/);
  assert.throws(() => parsePasswordFile('a:md5$xyz\n'), /line 1: the entry of 'a' is not scrypt/);
});

test('verifier: type 2 against the key, type 1 only for a user listed without one, types 3-5 never, unknown users never', async () => {
  const file = join(dir, 'users');
  writeFileSync(file, formatPasswordFile(new Map([['alice', await hashPassword('secret')], ['bob', '']])));
  const verify = passwordFileVerifier(file);
  const id = (o: Partial<ReceivedUserIdentity>): ReceivedUserIdentity => ({ type: 'username', positiveResponseRequested: false, ...o });
  assert.equal(await verify(id({ type: 'username-passcode', username: 'alice', passcode: 'secret' }), ctx), true);
  assert.equal(await verify(id({ type: 'username-passcode', username: 'alice', passcode: 'Secret' }), ctx), false);
  assert.equal(await verify(id({ type: 'username', username: 'alice' }), ctx), false);
  assert.equal(await verify(id({ type: 'username', username: 'bob' }), ctx), true);
  assert.equal(await verify(id({ type: 'username-passcode', username: 'bob', passcode: '' }), ctx), false);
  assert.equal(await verify(id({ type: 'username-passcode', username: 'mallory', passcode: 'secret' }), ctx), false);
  assert.equal(await verify(id({ type: 'jwt', token: new Uint8Array([1]) }), ctx), false);
  // Read at each call: a user added later is known at once.
  writeFileSync(file, formatPasswordFile(new Map([['carol', '']])));
  assert.equal(await verify(id({ type: 'username', username: 'carol' }), ctx), true);
  assert.equal(await verify(id({ type: 'username', username: 'bob' }), ctx), false);
});
