import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TlsInfo } from '../../src/transport/connection.js';
import { InvalidOptionError } from '../../src/errors.js';
import {
  associationRejectedError,
  buildAssociateRq,
  DEFAULT_MAXIMUM_LENGTH,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  interpretAssociateAc,
  isRejected,
  negotiateAssociation,
  temporaryCongestionRejection,
  tooManyAssociationsRejection,
  type AcceptorPolicy,
  type AssociateRqOptions,
} from '../../src/acse/negotiate.js';
import { roleOutcomes } from '../../src/acse/role-selection.js';
import { AssociationRejectedError, InvalidAssociateRequestError, NegotiationError } from '../../src/acse/errors.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { makeSelfSignedCertificate } from './make-cert.js';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLICIT_LE, isStorageSopClass, JPEG_BASELINE, MR_IMAGE_STORAGE, PATIENT_ROOT_FIND, VERIFICATION } from './uids.js';

const options: AssociateRqOptions = {
  callingAeTitle: 'ECHOSCU',
  calledAeTitle: 'STORE_SCP',
  presentationContexts: [
    { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [JPEG_BASELINE, EXPLICIT_LE], separateContextPerTransferSyntax: true },
  ],
};
const policy: AcceptorPolicy = {
  aeTitle: 'STORE_SCP',
  callingAeTitles: ['ECHOSCU', 'MODALITY_A'],
  presentationContexts: { supported: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }], acceptAbstractSyntax: isStorageSopClass },
};

const fakeTls = (peerCertificate: TlsInfo['peerCertificate']): TlsInfo => ({
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_128_GCM_SHA256',
  alpn: undefined,
  resumed: false,
  peerCertificateChain: peerCertificate === undefined ? [] : [peerCertificate],
  peerCertificate,
  verifyResult: { code: 0, name: 'X509_V_OK', text: 'ok' },
});

const certA = makeSelfSignedCertificate('/CN=MODALITY_A', '0x42');
const certB = makeSelfSignedCertificate('/CN=MODALITY_B', '0x43');

test('every rejection reason (PS3.8 Table 9-21), table-driven', async () => {
  const rq = buildAssociateRq(options);
  const cases: { name: string; rq?: Partial<AAssociateRqPdu>; policy?: Partial<AcceptorPolicy>; tls?: TlsInfo; rsr: [number, number, number]; why: RegExp }[] = [
    { name: 'protocol version', rq: { protocolVersion: 2 }, rsr: [1, 2, 2], why: /protocol version 0x0002/ },
    { name: 'application context', rq: { applicationContextName: '1.2.3' }, rsr: [1, 1, 2], why: /application context name '1\.2\.3'/ },
    { name: 'called AE title (string)', rq: { calledAeTitle: 'ELSEWHERE' }, rsr: [1, 1, 7], why: /called AE title 'ELSEWHERE'/ },
    { name: 'called AE title (list)', policy: { aeTitle: ['A', 'B'] }, rsr: [1, 1, 7], why: /STORE_SCP/ },
    { name: 'called AE title (function)', policy: { aeTitle: (t) => t === 'X' }, rsr: [1, 1, 7], why: /STORE_SCP/ },
    { name: 'called AE title (throwing function)', policy: { aeTitle: () => { throw new Error('registry down'); } }, rsr: [1, 1, 7], why: /failed: registry down/ },
    { name: 'calling AE title (list)', rq: { callingAeTitle: 'INTRUDER' }, rsr: [1, 1, 3], why: /calling AE title 'INTRUDER'/ },
    { name: 'calling AE title (throwing function)', policy: { callingAeTitles: () => { throw new Error('directory down'); } }, rsr: [1, 1, 3], why: /failed: directory down/ },
    { name: 'calling AE title (async function)', policy: { callingAeTitles: async (t) => t === 'X' }, rsr: [1, 1, 3], why: /ECHOSCU/ },
    { name: 'certificate binding: wrong certificate', rq: { callingAeTitle: 'MODALITY_A' }, policy: { certificateBindings: [{ aeTitle: 'MODALITY_A', certificates: [{ sha256Fingerprint: certA.fingerprint256 }] }] }, tls: fakeTls(certB), rsr: [1, 1, 3], why: /CN=MODALITY_B/ },
    { name: 'certificate binding: no TLS', rq: { callingAeTitle: 'MODALITY_A' }, policy: { certificateBindings: [{ aeTitle: 'MODALITY_A', certificates: [{ subject: 'CN=MODALITY_A' }] }] }, rsr: [1, 1, 3], why: /presented none/ },
    { name: 'certificate binding required', policy: { requireCertificateBinding: true }, tls: fakeTls(certA), rsr: [1, 1, 3], why: /no certificate binding/ },
    { name: 'user identity rejected', rq: { userInformation: { ...rq.userInformation, userIdentityRq: buildAssociateRq({ ...options, userIdentity: { type: 'username-passcode', username: 'u', passcode: 'bad' } }).userInformation.userIdentityRq } }, policy: { userIdentity: (id) => id.passcode === 'good' }, rsr: [1, 2, 1], why: /rejected by the handler/ },
    { name: 'user identity required', policy: { requireUserIdentity: true, userIdentity: () => true }, rsr: [1, 2, 1], why: /requires one/ },
    { name: 'nothing accepted, when so configured', policy: { presentationContexts: { supported: [] }, rejectWhenNoContextAccepted: true }, rsr: [1, 1, 1], why: /no proposed presentation context/ },
  ];
  for (const c of cases) {
    const out = await negotiateAssociation({ ...rq, ...c.rq }, { ...policy, ...c.policy }, { tls: c.tls });
    assert.ok(isRejected(out), c.name);
    assert.deepEqual([out.reject.result, out.reject.source, out.reject.reason], c.rsr, c.name);
    assert.equal(out.reject.type, 'A-ASSOCIATE-RJ');
    assert.match(out.why, c.why, c.name);
  }
  assert.deepEqual(tooManyAssociationsRejection(), { type: 'A-ASSOCIATE-RJ', result: 2, source: 3, reason: 2 });
  assert.deepEqual(temporaryCongestionRejection(), { type: 'A-ASSOCIATE-RJ', result: 2, source: 3, reason: 1 });
});

test('certificate binding accepted, and padding of AE titles is not significant', async () => {
  const rq = buildAssociateRq({ ...options, callingAeTitle: 'MODALITY_A' });
  const out = await negotiateAssociation(
    { ...rq, calledAeTitle: 'STORE_SCP       ', callingAeTitle: 'MODALITY_A      ' },
    { ...policy, certificateBindings: [{ aeTitle: 'MODALITY_A', certificates: [{ issuer: certA.issuer, serialNumber: '42' }] }] },
    { tls: fakeTls(certA) },
  );
  assert.ok(!isRejected(out));
  assert.equal(out.callingAeTitle, 'MODALITY_A');
  assert.equal(out.accept.callingAeTitle, 'MODALITY_A      ', 'AE titles echoed as received');
});

test('acceptance: AC contents, max length both ways, implementation, async window, requestor view', async () => {
  const rq0 = buildAssociateRq({ ...options, maximumLength: 32768, userIdentity: { type: 'username', username: 'bob', positiveResponseRequested: true } });
  const rq: AAssociateRqPdu = { ...rq0, userInformation: { ...rq0.userInformation, asynchronousOperationsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 0 } } };
  let seen: unknown;
  const out = await negotiateAssociation(rq, { ...policy, maximumLength: 65536, userIdentity: (id) => ((seen = id), true) }, {});
  assert.ok(!isRejected(out));
  const ac = out.accept;
  assert.equal(ac.type, 'A-ASSOCIATE-AC');
  assert.equal(ac.protocolVersion, 1);
  assert.deepEqual(ac.presentationContexts, [
    { id: 1, result: 0, transferSyntax: IMPLICIT_LE },
    { id: 3, result: 4, transferSyntax: JPEG_BASELINE },
    { id: 5, result: 0, transferSyntax: EXPLICIT_LE },
  ]);
  assert.equal(ac.userInformation.maximumLength, 65536);
  assert.equal(out.peerMaximumLength, 32768);
  assert.equal(ac.userInformation.implementationClassUid, IMPLEMENTATION_CLASS_UID);
  assert.equal(ac.userInformation.implementationVersionName, IMPLEMENTATION_VERSION_NAME);
  assert.ok(IMPLEMENTATION_VERSION_NAME.length <= 16 && /^2\.25\.\d+$/.test(IMPLEMENTATION_CLASS_UID) && IMPLEMENTATION_CLASS_UID.length <= 64);
  assert.deepEqual(ac.userInformation.asynchronousOperationsWindow, { maxOperationsInvoked: 1, maxOperationsPerformed: 1 });
  assert.deepEqual(ac.userInformation.userIdentityAc, { serverResponse: new Uint8Array(0) });
  assert.deepEqual(seen, { type: 'username', username: 'bob', positiveResponseRequested: true });
  assert.equal(out.peerImplementationClassUid, IMPLEMENTATION_CLASS_UID);

  const neg = interpretAssociateAc(rq, ac);
  assert.deepEqual(neg.contexts.all.map((c) => [c.id, c.abstractSyntax, c.transferSyntax]), [
    [1, VERIFICATION, IMPLICIT_LE],
    [5, CT_IMAGE_STORAGE, EXPLICIT_LE],
  ]);
  assert.equal(neg.contexts.select(CT_IMAGE_STORAGE, { transferSyntax: JPEG_BASELINE }).id, 5); // falls back
  assert.equal(neg.peerMaximumLength, 65536);
  assert.equal(neg.maximumLength, 32768);
  assert.equal(neg.userIdentity.confirmed, true);
  assert.equal(neg.peerImplementationVersionName, IMPLEMENTATION_VERSION_NAME);

  // Without a proposal there is no async window answer; without 0x51 the peer limit is 0 (none).
  const plain = await negotiateAssociation({ ...rq0, userInformation: { ...rq0.userInformation, maximumLength: undefined } }, policy);
  assert.ok(!isRejected(plain));
  assert.equal(plain.accept.userInformation.asynchronousOperationsWindow, undefined);
  assert.equal(plain.accept.userInformation.maximumLength, DEFAULT_MAXIMUM_LENGTH);
  assert.equal(plain.peerMaximumLength, 0);
  assert.equal(plain.accept.userInformation.userIdentityAc, undefined, 'no handler: no 0x59');
});

test('role selection through the whole negotiation (C-GET style: requestor as storage SCP)', async () => {
  const rq = buildAssociateRq({
    ...options,
    presentationContexts: [
      { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
      { abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
    ],
    roles: [
      { sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true },
      { sopClassUid: MR_IMAGE_STORAGE, scuRole: false, scpRole: true },
    ],
  });
  const out = await negotiateAssociation(rq, {
    ...policy,
    presentationContexts: { supported: [{ abstractSyntax: CT_IMAGE_STORAGE, roles: { scu: true, scp: true } }, { abstractSyntax: MR_IMAGE_STORAGE, roles: { scu: true, scp: false } }] },
  });
  assert.ok(!isRejected(out));
  assert.deepEqual(out.accept.userInformation.roleSelections, [
    { sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true },
    { sopClassUid: MR_IMAGE_STORAGE, scuRole: false, scpRole: false },
  ]);
  assert.deepEqual(out.accept.presentationContexts.map((p) => p.result), [0, 1]);
  const neg = interpretAssociateAc(rq, out.accept);
  assert.deepEqual(neg.contexts.get(1)?.roles, { requestorIsScu: false, requestorIsScp: true });
  assert.equal(neg.contexts.find(CT_IMAGE_STORAGE, { requestorRole: 'scu' }), undefined);
  assert.equal(neg.contexts.size, 1);
});

test('extended negotiation: 0x56 answered only when handled and accepted; 0x57 can widen acceptance', async () => {
  const specialised = '1.2.840.10008.5.1.4.1.1.999';
  const rq = buildAssociateRq({
    ...options,
    presentationContexts: [
      { abstractSyntax: PATIENT_ROOT_FIND, transferSyntaxes: [IMPLICIT_LE] },
      { abstractSyntax: '1.2.3.4', transferSyntaxes: [IMPLICIT_LE] },
      { abstractSyntax: '1.2.3.5', transferSyntaxes: [IMPLICIT_LE] },
    ],
    sopClassExtended: [
      { sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: Uint8Array.of(1) },
      { sopClassUid: '1.2.3.4', serviceClassApplicationInformation: Uint8Array.of(1) },
    ],
    sopClassCommonExtended: [{ sopClassUid: '1.2.3.5', serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [specialised] }],
  });
  const base: AcceptorPolicy = { ...policy, presentationContexts: { supported: [{ abstractSyntax: PATIENT_ROOT_FIND }] } };
  const none = await negotiateAssociation(rq, base);
  assert.ok(!isRejected(none));
  assert.deepEqual(none.accept.userInformation.sopClassExtendedNegotiations, [], 'not answered unless handled');
  assert.deepEqual(none.accept.presentationContexts.map((p) => p.result), [0, 3, 3]);
  assert.equal(none.accept.userInformation.sopClassCommonExtendedNegotiations.length, 0, '0x57 is RQ-only');
  assert.equal(none.sopClassCommonExtended.length, 1);

  const handled = await negotiateAssociation(rq, {
    ...base,
    sopClassExtended: (uid, info) => (uid === PATIENT_ROOT_FIND ? Uint8Array.of(info[0] ?? 0) : undefined),
    sopClassCommonExtended: (items) => [...items.map((i) => i.sopClassUid), '9.9.9'],
  });
  assert.ok(!isRejected(handled));
  assert.deepEqual(handled.accept.userInformation.sopClassExtendedNegotiations, [{ sopClassUid: PATIENT_ROOT_FIND, serviceClassApplicationInformation: Uint8Array.of(1) }]);
  assert.deepEqual(handled.accept.presentationContexts.map((p) => p.result), [0, 3, 0]);
  assert.deepEqual([...interpretAssociateAc(rq, handled.accept).sopClassExtended.keys()], [PATIENT_ROOT_FIND]);

  const throwing = await negotiateAssociation(rq, { ...base, sopClassExtended: () => { throw new Error('x'); }, sopClassCommonExtended: () => { throw new Error('y'); } });
  assert.ok(!isRejected(throwing), 'a failing optional negotiation never fails the association');
  assert.deepEqual(throwing.accept.userInformation.sopClassExtendedNegotiations, []);
});

test('invalid RQ context IDs throw for the caller to A-ABORT', async () => {
  const rq = buildAssociateRq(options);
  await assert.rejects(
    negotiateAssociation({ ...rq, presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }, { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] }, policy),
    InvalidAssociateRequestError,
  );
});

test('requestor: options validated by name; AC that breaks the rules is a NegotiationError; RJ becomes a typed error', () => {
  const bad: [Partial<AssociateRqOptions>, string][] = [
    [{ callingAeTitle: '' }, 'callingAeTitle'],
    [{ callingAeTitle: '   ' }, 'callingAeTitle'],
    [{ calledAeTitle: 'SEVENTEEN_CHARS_X' }, 'calledAeTitle'],
    [{ calledAeTitle: 'A\\B' }, 'calledAeTitle'],
    [{ calledAeTitle: 'TAB\tX' }, 'calledAeTitle'],
    [{ presentationContexts: [] }, 'presentationContexts'],
    [{ maximumLength: 100 }, 'maximumLength'],
    [{ maximumLength: 2 ** 32 }, 'maximumLength'],
    [{ implementationVersionName: 'SEVENTEEN_CHARS_X' }, 'implementationVersionName'],
    [{ implementationClassUid: '1.2.x' }, 'implementationClassUid'],
  ];
  for (const [o, option] of bad) {
    assert.throws(() => buildAssociateRq({ ...options, ...o }), (e: unknown) => e instanceof InvalidOptionError && e.option === option, option);
  }
  assert.equal(buildAssociateRq({ ...options, maximumLength: 0 }).userInformation.maximumLength, 0);
  assert.equal(buildAssociateRq({ ...options, calledAeTitle: ' PADDED ' }).calledAeTitle, 'PADDED');

  const rq = buildAssociateRq(options);
  const ac = { type: 'A-ASSOCIATE-AC' as const, protocolVersion: 1, calledAeTitle: rq.calledAeTitle, callingAeTitle: rq.callingAeTitle, applicationContextName: rq.applicationContextName, presentationContexts: [], userInformation: rq.userInformation };
  assert.throws(() => interpretAssociateAc(rq, { ...ac, applicationContextName: '1.2.3' }), NegotiationError);
  assert.throws(() => interpretAssociateAc(rq, { ...ac, presentationContexts: [{ id: 9, result: 0, transferSyntax: IMPLICIT_LE }] }), NegotiationError);
  assert.equal(interpretAssociateAc(rq, ac).contexts.size, 0);

  const e = associationRejectedError({ type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 });
  assert.ok(e instanceof AssociationRejectedError);
  assert.equal(e.code, 'DICOM_ERR_ASSOCIATION_REJECTED');
  assert.deepEqual([e.result, e.source, e.reason], [1, 1, 7]);
  assert.match(e.message, /rejected-permanent.*DICOM UL service-user.*called-AE-title-not-recognized/);
  const words: [number, number, number, RegExp][] = [
    [2, 3, 2, /rejected-transient.*Presentation.*local-limit-exceeded/],
    [2, 3, 1, /temporary-congestion/],
    [1, 2, 2, /ACSE.*protocol-version-not-supported/],
    [1, 1, 3, /calling-AE-title-not-recognized/],
    [1, 1, 2, /application-context-name-not-supported/],
    [1, 2, 1, /ACSE.*no-reason-given/],
    [3, 4, 9, /reserved result 3.*reserved source 4.*reserved reason 9/],
  ];
  for (const [r, s, d, re] of words) assert.match(associationRejectedError({ type: 'A-ASSOCIATE-RJ', result: r, source: s, reason: d }).message, re);
});

test('property: whatever the RQ, an accepting AC answers each context once with a proposed TS, and the requestor reads it without error', async () => {
  const uid = fc.constantFrom<string>(VERIFICATION, CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, PATIENT_ROOT_FIND, '1.2.3');
  const ts = fc.constantFrom<string>(IMPLICIT_LE, EXPLICIT_LE, JPEG_BASELINE, '1.2.9');
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ abstractSyntax: uid, transferSyntaxes: fc.uniqueArray(ts, { minLength: 1, maxLength: 3 }), separateContextPerTransferSyntax: fc.boolean() }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.record({ sopClassUid: uid, scuRole: fc.boolean(), scpRole: fc.constant(true) }), { maxLength: 3 }).map((rs) => rs.filter((r, i) => rs.findIndex((x) => x.sopClassUid === r.sopClassUid) === i)),
      fc.record({ scu: fc.boolean(), scp: fc.boolean() }),
      async (contexts, roles, allow) => {
        const rq = buildAssociateRq({ ...options, presentationContexts: contexts, roles });
        const out = await negotiateAssociation(rq, { ...policy, presentationContexts: { supported: [{ abstractSyntax: CT_IMAGE_STORAGE, roles: allow }], acceptAbstractSyntax: (u) => u !== '1.2.3' } });
        assert.ok(!isRejected(out));
        assert.deepEqual(out.accept.presentationContexts.map((p) => p.id), rq.presentationContexts.map((p) => p.id));
        for (const [i, p] of out.accept.presentationContexts.entries()) {
          if (p.result === 0) assert.ok(rq.presentationContexts[i]!.transferSyntaxes.includes(p.transferSyntax));
        }
        const neg = interpretAssociateAc(rq, out.accept);
        assert.deepEqual(neg.contexts.all.map((c) => c.id), out.contexts.all.map((c) => c.id));
        for (const c of neg.contexts.all) assert.ok(c.roles.requestorIsScu || c.roles.requestorIsScp);
        // No AC role answer grants an unproposed role, so the strict reading accepts the AC.
        assert.doesNotThrow(() => roleOutcomes(rq.userInformation.roleSelections, out.accept.userInformation.roleSelections, { strict: true }));
      },
    ),
    { numRuns: 200 },
  );
});

/** Microtask turns until `p` settles (Infinity past 50): what the acceptor's RQ → AC path waits. */
async function turnsUntilSettled(p: Promise<unknown>): Promise<number> {
  let settled = false;
  void p.then(() => { settled = true; });
  for (let turns = 1; turns <= 50; turns++) {
    await Promise.resolve();
    if (settled) return turns;
  }
  return Infinity;
}

test('a policy without handlers to ask (no user identity, no extended negotiation, no check functions) decides without waiting for further turns; one that has them still awaits each', async () => {
  // What the acceptor's RQ → AC path waits: without a handler to call there is nothing to
  // wait for, and each settled step awaited was a microtask turn (and a promise) more.
  const rq = buildAssociateRq(options);
  const plain = negotiateAssociation(rq, policy);
  assert.equal(await turnsUntilSettled(plain), 1);
  assert.equal(isRejected(await plain), false);

  // The same answers as before where the handlers are there (and the steps are awaited).
  const withHandlers: AcceptorPolicy = {
    ...policy,
    sopClassExtended: (uid) => (uid === CT_IMAGE_STORAGE ? new Uint8Array([1]) : undefined),
    sopClassCommonExtended: async () => [],
  };
  const rqExt = buildAssociateRq({
    ...options,
    sopClassExtended: [{ sopClassUid: CT_IMAGE_STORAGE, serviceClassApplicationInformation: new Uint8Array([1, 0]) }],
    sopClassCommonExtended: [{ sopClassUid: MR_IMAGE_STORAGE, serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [] }],
  });
  const result = await negotiateAssociation(rqExt, withHandlers);
  assert.ok(!isRejected(result));
  assert.deepEqual(result.accept.userInformation.sopClassExtendedNegotiations.map((i) => i.sopClassUid), [CT_IMAGE_STORAGE]);
  // No user identity sent: accepted without one, and refused when the policy requires one.
  assert.equal(result.userIdentity, undefined);
  const required = await negotiateAssociation(rq, { ...policy, requireUserIdentity: true });
  assert.ok(isRejected(required));
  assert.equal(required.check, 'user-identity');
});

test('handlers configured: an RQ without user identity or extended items calls none of them and waits no further turn; one with the items calls each', async () => {
  const calls = { userIdentity: 0, sopClassExtended: 0, sopClassCommonExtended: 0 };
  const spied: AcceptorPolicy = {
    ...policy,
    userIdentity: () => { calls.userIdentity++; return true; },
    sopClassExtended: () => { calls.sopClassExtended++; return new Uint8Array([1]); },
    sopClassCommonExtended: () => { calls.sopClassCommonExtended++; return []; },
  };
  const plain = negotiateAssociation(buildAssociateRq(options), spied);
  assert.equal(await turnsUntilSettled(plain), 1);
  assert.equal(isRejected(await plain), false);
  assert.deepEqual(calls, { userIdentity: 0, sopClassExtended: 0, sopClassCommonExtended: 0 });

  // 0x56 only for a SOP class we did not accept: nothing to ask either.
  const unaccepted = negotiateAssociation(buildAssociateRq({ ...options, sopClassExtended: [{ sopClassUid: MR_IMAGE_STORAGE, serviceClassApplicationInformation: new Uint8Array([1]) }] }), spied);
  assert.equal(await turnsUntilSettled(unaccepted), 1);
  const unacceptedOut = await unaccepted;
  assert.ok(!isRejected(unacceptedOut));
  assert.deepEqual(unacceptedOut.accept.userInformation.sopClassExtendedNegotiations, []);
  // A user identity that cannot be decoded is refused without asking the handler.
  const item = buildAssociateRq({ ...options, userIdentity: { type: 'username', username: 'alice' } }).userInformation.userIdentityRq;
  assert.ok(item !== undefined);
  const rqBad = buildAssociateRq(options);
  const undecodable = negotiateAssociation({ ...rqBad, userInformation: { ...rqBad.userInformation, userIdentityRq: { ...item, primaryField: Uint8Array.from([0xff]) } } }, spied);
  assert.equal(await turnsUntilSettled(undecodable), 1);
  const undecodableOut = await undecodable;
  assert.ok(isRejected(undecodableOut) && undecodableOut.check === 'user-identity' && /UTF-8/.test(undecodableOut.why));
  assert.deepEqual(calls, { userIdentity: 0, sopClassExtended: 0, sopClassCommonExtended: 0 });

  const rqItems = buildAssociateRq({
    ...options,
    userIdentity: { type: 'username', username: 'alice' },
    sopClassExtended: [{ sopClassUid: CT_IMAGE_STORAGE, serviceClassApplicationInformation: new Uint8Array([1, 0]) }],
    sopClassCommonExtended: [{ sopClassUid: MR_IMAGE_STORAGE, serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [] }],
  });
  const withItems = await negotiateAssociation(rqItems, spied);
  assert.ok(!isRejected(withItems));
  assert.deepEqual(calls, { userIdentity: 1, sopClassExtended: 1, sopClassCommonExtended: 1 });
  assert.equal(withItems.userIdentity?.username, 'alice');
  assert.deepEqual(withItems.accept.userInformation.sopClassExtendedNegotiations.map((i) => i.sopClassUid), [CT_IMAGE_STORAGE]);
});
