/**
 * User identity checks under a flood (docs/limits.md, Associations): one address sends
 * A-ASSOCIATE-RQs with a wrong passcode as fast as it is answered, over many connections at once.
 * Each check runs scrypt in the thread pool; unthrottled, every RQ held an association slot while
 * its scrypt waited behind the others', so the flood held most of them (a user with the right
 * password from another address was often refused 2/3/2), and the check of one that got in
 * queued in the thread pool behind every scrypt already there (as do the store's file
 * operations): dozens of wrong passcodes were checked and refused before it. Throttled (passwordFileVerifier's default): the
 * flooding address has one check at a time, each later than the last, the rest are refused
 * 2/3/2 at once without a check, and the right user gets in and stores at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DicomClient } from '../../src/ae/client.js';
import { hashPassword, passwordFileVerifier } from '../../src/ae/user-credentials.js';
import { Status } from '../../src/dictionary/status.js';
import { maxLengthItem, rawAssociateRq, u16 } from '../helpers/raw-pdu.js';
import { spec, writeInstance } from '../helpers/services.js';
import { storageServerIn } from '../helpers/storage-server-fixture.js';
import { ctImageStorage } from '../helpers/dicom-data.js';
import { hangGuard, until } from '../helpers/hang-guard.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

/** User identity sub-item (0x58), type 2: username and passcode (PS3.7 D.3.3.7.1). */
function userIdentityItem(user: string, passcode: string): { type: number; value: Uint8Array } {
  const u = Buffer.from(user);
  const p = Buffer.from(passcode);
  return { type: 0x58, value: Uint8Array.from([2, 0, ...u16(u.length), ...u, ...u16(p.length), ...p]) };
}

/** One A-ASSOCIATE-RQ from `localAddress`: 'AC', or 'RJ r/s/q' as the server answered it. */
function attempt(port: number, localAddress: string, rq: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => socket.write(rq));
    let got = Buffer.alloc(0);
    const done = (outcome: string): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 10) return;
      done(got[0] === 0x02 ? 'AC' : got[0] === 0x03 ? `RJ ${got[7]}/${got[8]}/${got[9]}` : `PDU ${got[0]}`);
    });
    socket.on('error', () => done('error'));
    socket.on('close', () => done('closed'));
  });
}

test('a flood of wrong passcodes from one address: the flood is refused 2/3/2 without checks, a right user from another address is accepted and stores', { timeout: 180_000 }, async () => {
  const users = new Map([['alice', await hashPassword('wonder land')]]);
  const fixture = await storageServerIn('identity-flood', {
    aeTitle: 'SCP',
    server: { userIdentity: passwordFileVerifier(users), requireUserIdentity: true },
  });
  const { port } = fixture;
  const rq = rawAssociateRq({
    called: 'SCP', calling: 'MALLORY',
    contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    userItems: [maxLengthItem(16384), userIdentityItem('alice', 'guess')],
  });
  const outcomes = new Map<string, number>();
  let stop = false;
  // More connections at once than the server has association slots (64).
  const flood = Array.from({ length: 96 }, async () => {
    while (!stop) {
      const o = await attempt(port, '127.0.0.2', rq);
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    }
  });
  try {
    // The flood is under way: the server has answered some of it.
    await until(() => [...outcomes.values()].reduce((a, b) => a + b, 0) >= 200, 'the flood to be answered', 60_000);
    const { path } = await writeInstance(fixture.dir, spec(1, { SOPClassUID: ctImageStorage }));
    // Wrong passcodes checked (and refused 1/2/1) while the right user associates and stores:
    // with checks running unbounded, its own scrypt (and the store's file operations) wait in
    // the thread pool behind every scrypt queued before them, one refusal each.
    const checkedBefore = outcomes.get('RJ 1/2/1') ?? 0;
    const client = await hangGuard(DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'ALICE', calledAeTitle: 'SCP',
      presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
      userIdentity: { type: 'username-passcode', username: 'alice', passcode: 'wonder land' },
      timeouts: { connect: 30_000, association: 30_000, dimse: 30_000 },
    }), 'the right user to be answered', 60_000);
    try {
      const [result] = await client.store([path]);
      const checkedDuring = (outcomes.get('RJ 1/2/1') ?? 0) - checkedBefore;
      assert.equal(result?.status, Status.Success);
      assert.ok(checkedDuring <= 4, `${checkedDuring} wrong passcodes were checked while the right user associated and stored one instance`);
    } finally {
      await client.release();
    }
    assert.equal(outcomes.get('AC'), undefined, 'no flooding RQ was accepted');
    assert.ok((outcomes.get('RJ 2/3/2') ?? 0) > 0, `refused without a check: ${JSON.stringify([...outcomes])}`);
    assert.ok((outcomes.get('RJ 1/2/1') ?? 0) > 0, `refused after a check: ${JSON.stringify([...outcomes])}`);
  } finally {
    stop = true;
    await Promise.all(flood);
    await fixture.close();
  }
});
