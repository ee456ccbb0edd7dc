import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PduEncodeError } from '../../../src/ul/errors.js';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { encodePdu, encodePduParts } from '../../../src/ul/pdu/encode.js';
import type { AAssociateAcPdu, AAssociateRqPdu, Pdu, UserInformationItem } from '../../../src/ul/pdu/types.js';
import { toHex } from '../../helpers/hex.js';
import { userInformation } from '../../helpers/user-information.js';

const UI: UserInformationItem = userInformation({ maximumLength: 16384, implementationClassUid: '1.2.3' });
const RQ: AAssociateRqPdu = {
  type: 'A-ASSOCIATE-RQ',
  protocolVersion: 1,
  calledAeTitle: 'ANY-SCP',
  callingAeTitle: 'ECHOSCU',
  applicationContextName: '1.2.840.10008.3.1.1.1',
  presentationContexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
  userInformation: UI,
};
const AC: AAssociateAcPdu = { ...RQ, type: 'A-ASSOCIATE-AC', presentationContexts: [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }] };

function fails(pdu: unknown, field: RegExp): void {
  assert.throws(
    () => encodePdu(pdu as Pdu),
    (e: unknown) => e instanceof PduEncodeError && e.code === 'DICOM_ERR_PDU_ENCODE' && field.test(e.field),
  );
}

test('AE titles are space padded to 16 bytes; UIDs are written with their exact (odd) length', () => {
  const b = encodePdu(RQ);
  assert.equal(new TextDecoder().decode(b.subarray(10, 42)), 'ANY-SCP         ECHOSCU         ');
  assert.equal(toHex(b.subarray(6, 10)), '00010000');
  assert.equal(toHex(b.subarray(42, 74)), '00'.repeat(32));
  assert.equal(toHex(b.subarray(74, 78)), '10000015'); // 21 characters, no NUL padding
});

test('invalid values are refused with the field named', () => {
  fails({ ...RQ, calledAeTitle: 'THIS-IS-SEVENTEEN' }, /Called-AE-title$/);
  fails({ ...RQ, callingAeTitle: '   ' }, /Calling-AE-title$/);
  fails({ ...RQ, callingAeTitle: 'A\\B' }, /Calling-AE-title$/);
  fails({ ...RQ, callingAeTitle: 'Ä' }, /Calling-AE-title$/);
  fails({ ...RQ, applicationContextName: '1.2.x' }, /Application-Context-Name$/);
  fails({ ...RQ, applicationContextName: '1.'.repeat(33) }, /Application-Context-Name$/);
  fails({ ...RQ, presentationContexts: [{ ...RQ.presentationContexts[0]!, id: 2 }] }, /Presentation-context-ID$/);
  fails({ ...RQ, presentationContexts: [{ ...RQ.presentationContexts[0]!, id: 257 }] }, /Presentation-context-ID$/);
  fails({ ...RQ, presentationContexts: [{ ...RQ.presentationContexts[0]!, transferSyntaxes: [] }] }, /Transfer-Syntax$/);
  fails({ ...AC, presentationContexts: [{ id: 1, result: 0, transferSyntax: '' }] }, /Transfer-Syntax$/);
  fails({ ...RQ, protocolVersion: 0x10000 }, /Protocol-version$/);
  fails({ ...RQ, userInformation: { ...UI, maximumLength: -1 } }, /Maximum-Length$/);
  fails({ ...RQ, userInformation: { ...UI, implementationVersionName: '' } }, /Implementation-version-name$/);
  fails({ ...RQ, userInformation: { ...UI, implementationVersionName: 'X'.repeat(17) } }, /Implementation-version-name$/);
  fails({ ...RQ, userInformation: { ...UI, asynchronousOperationsWindow: { maxOperationsInvoked: 70000, maxOperationsPerformed: 1 } } }, /invoked$/);
  fails({ ...AC, userInformation: { ...UI, userIdentityRq: { identityType: 1, positiveResponseRequested: false, primaryField: new Uint8Array(1), secondaryField: new Uint8Array(0) } } }, /User-Identity-Negotiation$/);
  fails({ ...RQ, userInformation: { ...UI, userIdentityAc: { serverResponse: new Uint8Array(0) } } }, /User-Identity-Negotiation$/);
  fails({ ...AC, userInformation: { ...UI, sopClassCommonExtendedNegotiations: [{ sopClassUid: '1.2', serviceClassUid: '1.2', relatedGeneralSopClassUids: [] }] } }, /Common-Extended-Negotiation$/);
  fails({ ...RQ, userInformation: { ...UI, userIdentityRq: { identityType: 4, positiveResponseRequested: false, primaryField: new Uint8Array(70000), secondaryField: new Uint8Array(0) } } }, /Primary-field$/);
  fails({ ...RQ, userInformation: { ...UI, userIdentityRq: { identityType: 4, positiveResponseRequested: false, primaryField: new Uint8Array(65000), secondaryField: new Uint8Array(1000) } } }, /User-Identity-Negotiation$/);
  fails({ type: 'P-DATA-TF', pdvs: [] }, /^P-DATA-TF$/);
  fails({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: 4, isCommand: true, isLast: true, data: new Uint8Array(1) }] }, /Presentation-context-ID$/);
  fails({ type: 'A-ABORT', source: 256, reason: 0 }, /A-ABORT/);
  fails({ type: 'A-ASSOCIATE-RJ', result: -1, source: 1, reason: 1 }, /Result$/);
  fails({ type: 'A-NONSENSE' }, /^PDU-type$/);
});

test('a rejected presentation context may carry an empty transfer syntax', () => {
  const ac: AAssociateAcPdu = { ...AC, presentationContexts: [{ id: 1, result: 3, transferSyntax: '' }] };
  const b = encodePdu(ac);
  assert.deepEqual(decodePdu(b), ac);
});

test('encodePduParts: large P-DATA fragments are the caller\'s own views, headers and small fragments coalesced', () => {
  const big = new Uint8Array(100_000).fill(7);
  const small = Uint8Array.of(1, 2, 3);
  const pdu: Pdu = {
    type: 'P-DATA-TF',
    pdvs: [
      { presentationContextId: 1, isCommand: true, isLast: true, data: small },
      { presentationContextId: 1, isCommand: false, isLast: false, data: big.subarray(10) },
      { presentationContextId: 3, isCommand: false, isLast: true, data: small },
    ],
  };
  const parts = encodePduParts(pdu);
  assert.equal(parts.length, 3);
  // Header + PDV1 header + small data + PDV2 header.
  // PDU-length 100014 = (4+2+3) + (4+2+99990) + (4+2+3) = 0x000186ae; PDV 2 item length 99992 = 0x00018698.
  assert.equal(toHex(parts[0]!), '0400' + '000186ae' + '00000005' + '01' + '03' + '010203' + '00018698' + '01' + '00');
  assert.equal(parts[1]!.buffer, big.buffer, 'not copied');
  assert.equal(parts[1]!.byteOffset, 10);
  assert.equal(toHex(parts[2]!), '000000050302010203');
  assert.deepEqual(encodePduParts({ type: 'A-RELEASE-RQ' }), [encodePdu({ type: 'A-RELEASE-RQ' })]);
});

test('encodePduParts: one large fragment (the usual P-DATA-TF) is a 12-byte header and the fragment itself', () => {
  const data = new Uint8Array(20_000).fill(9).subarray(1, 16_379); // 16378 bytes: a 16 KiB PDU's worth
  for (const [isCommand, isLast, control] of [[false, true, '02'], [false, false, '00'], [true, true, '03'], [true, false, '01']] as const) {
    const pdu: Pdu = { type: 'P-DATA-TF', pdvs: [{ presentationContextId: 5, isCommand, isLast, data }] };
    const parts = encodePduParts(pdu);
    // PDU-length 16384 = 6 + 16378; item length 16380 = 16378 + context ID + control header.
    assert.equal(toHex(parts[0]!), '0400' + '00004000' + '00003ffc' + '05' + control);
    assert.equal(parts[1], data, 'the fragment itself, not a copy');
    assert.deepEqual(Buffer.concat(parts), Buffer.from(encodePdu(pdu)));
  }
});
