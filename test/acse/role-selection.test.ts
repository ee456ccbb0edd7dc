import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../src/errors.js';
import {
  answerRoleSelection,
  buildRoleSelectionItems,
  DEFAULT_ROLES,
  negotiatedRoles,
  roleOutcomes,
} from '../../src/acse/role-selection.js';
import { NegotiationError } from '../../src/acse/errors.js';
import { CT_IMAGE_STORAGE, MR_IMAGE_STORAGE } from './uids.js';

// Truth table of PS3.7 D.3.3.4, written out row by row (not computed): requestor's proposal
// (SCU, SCP) or '-' for no item, acceptor's answer (SCU, SCP) or '-', then whether the requestor
// may act as SCU and as SCP. "none" rows leave the context unusable.
type Bit = 0 | 1;
const rows: [proposal: [Bit, Bit] | '-', answer: [Bit, Bit] | '-', scu: Bit, scp: Bit][] = [
  ['-', '-', 1, 0],
  ['-', [1, 1], 1, 0], // an answer without a proposal means nothing
  [[1, 1], '-', 1, 0], // no answer: default roles
  [[1, 1], [0, 0], 0, 0],
  [[1, 1], [0, 1], 0, 1],
  [[1, 1], [1, 0], 1, 0],
  [[1, 1], [1, 1], 1, 1],
  [[1, 0], '-', 1, 0],
  [[1, 0], [0, 0], 0, 0],
  [[1, 0], [0, 1], 0, 0], // invalid answer (SCP not proposed): grants nothing
  [[1, 0], [1, 0], 1, 0],
  [[1, 0], [1, 1], 1, 0], // invalid answer: SCP not granted
  [[0, 1], '-', 1, 0], // default roles even though SCU was not proposed
  [[0, 1], [0, 0], 0, 0],
  [[0, 1], [0, 1], 0, 1],
  [[0, 1], [1, 0], 0, 0], // invalid answer
  [[0, 1], [1, 1], 0, 1], // invalid answer: SCU not granted
  [[0, 0], [0, 0], 0, 0],
  [[0, 0], [1, 1], 0, 0],
];

const item = (b: [Bit, Bit] | '-') => (b === '-' ? undefined : { scuRole: b[0] === 1, scpRole: b[1] === 1 });

test('role selection truth table (PS3.7 D.3.3.4)', () => {
  for (const [p, a, scu, scp] of rows) {
    const r = negotiatedRoles(item(p), item(a));
    assert.deepEqual(r, { requestorIsScu: scu === 1, requestorIsScp: scp === 1 }, `${JSON.stringify(p)} / ${JSON.stringify(a)}`);
    // roleOutcomes over items gives the same, and unknown SOP classes get the defaults.
    const ps = p === '-' ? [] : [{ sopClassUid: CT_IMAGE_STORAGE, ...item(p)! }];
    const as = a === '-' ? [] : [{ sopClassUid: CT_IMAGE_STORAGE, ...item(a)! }];
    assert.deepEqual(roleOutcomes(ps, as).rolesFor(CT_IMAGE_STORAGE), r);
    assert.deepEqual(roleOutcomes(ps, as).rolesFor(MR_IMAGE_STORAGE), DEFAULT_ROLES);
  }
});

test('acceptor answers only proposed SOP classes with a policy, never granting an unproposed role', () => {
  const proposed = [
    { sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true },
    { sopClassUid: MR_IMAGE_STORAGE, scuRole: true, scpRole: true },
    { sopClassUid: '1.2.3', scuRole: true, scpRole: true },
  ];
  const answers = answerRoleSelection(proposed, (uid) =>
    uid === '1.2.3' ? undefined : uid === MR_IMAGE_STORAGE ? { scu: true, scp: false } : { scu: true, scp: true },
  );
  assert.deepEqual(answers, [
    { sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true },
    { sopClassUid: MR_IMAGE_STORAGE, scuRole: true, scpRole: false },
  ]);
  assert.deepEqual(answerRoleSelection(proposed, undefined), []);
  // Every answer respects the proposal, for every policy.
  for (const scu of [true, false]) for (const scp of [true, false]) {
    for (const a of answerRoleSelection(proposed, () => ({ scu, scp }))) {
      const p = proposed.find((x) => x.sopClassUid === a.sopClassUid)!;
      assert.ok(!(a.scuRole && !p.scuRole) && !(a.scpRole && !p.scpRole));
    }
  }
});

test('requestor: one item per SOP class, at least one role', () => {
  assert.deepEqual(buildRoleSelectionItems([{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }]), [
    { sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: true },
  ]);
  assert.throws(() => buildRoleSelectionItems([{ sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: false }]), InvalidOptionError);
  assert.throws(
    () =>
      buildRoleSelectionItems([
        { sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: false },
        { sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true },
      ]),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'roles[1]',
  );
});

test('strict reading of an AC flags answers that break D.3.3.4', () => {
  const p = [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: false }];
  assert.throws(() => roleOutcomes(p, [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }], { strict: true }), NegotiationError);
  assert.throws(() => roleOutcomes(p, [{ sopClassUid: MR_IMAGE_STORAGE, scuRole: true, scpRole: false }], { strict: true }), NegotiationError);
  assert.doesNotThrow(() => roleOutcomes(p, [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: false }], { strict: true }));
});
