/**
 * Hand-derived golden bytes for every item and sub-item, written from PS3.8 Tables 9-11 … 9-26
 * and PS3.7 Tables D.3-1 … D.3-15 (not produced by our encoder). Each user-information sub-item
 * is wrapped into a minimal A-ASSOCIATE-RQ or -AC whose lengths the test computes itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { encodePdu } from '../../../src/ul/pdu/encode.js';
import type { UserInformationItem } from '../../../src/ul/pdu/types.js';
import { be, hexBytes, toHex } from '../../helpers/hex.js';
import { userInformation } from '../../helpers/user-information.js';

const te = new TextEncoder();
const CT = '1.2.840.10008.5.1.4.1.1.2';

const EMPTY_UI: UserInformationItem = userInformation();

const FIXED = `
  0001 0000                         # protocol version 1, reserved
  "STORESCP        "                # called AE title, 16 bytes
  "ECHOSCU         "                # calling AE title, 16 bytes
  ${'00'.repeat(32)}                # reserved
  10 00 0015 "1.2.840.10008.3.1.1.1"  # Application Context item
`;
const PC_RQ = `
  20 00 0036                        # Presentation Context (RQ), length 54 = 4 + (4+25) + (4+17)
    07 00 00 00                     # ID 7, three reserved bytes
    30 00 0019 "1.2.840.10008.5.1.4.1.1.2"  # Abstract Syntax: CT Image Storage, 25 bytes
    40 00 0011 "1.2.840.10008.1.2"  # Transfer Syntax: Implicit VR LE, 17 bytes
`;
const PC_AC = `
  21 00 0019                        # Presentation Context (AC), length 25 = 4 + 21
    07 00 00 00                     # ID 7, reserved, result 0 (acceptance), reserved
    40 00 0011 "1.2.840.10008.1.2"
`;

/** Wrap user-information sub-items (fixture notation) into a whole PDU, lengths computed here. */
function wrap(kind: 'RQ' | 'AC', subItems: string): Uint8Array {
  const sub = hexBytes(subItems);
  const fixedAndItems = toHex(hexBytes(FIXED)) + toHex(hexBytes(kind === 'RQ' ? PC_RQ : PC_AC)) + '5000' + be(sub.length, 2) + toHex(sub);
  const body = hexBytes(fixedAndItems);
  return hexBytes((kind === 'RQ' ? '01' : '02') + '00' + be(body.length, 4) + toHex(body));
}

function check(kind: 'RQ' | 'AC', subItems: string, expected: Partial<UserInformationItem>): void {
  const bytes = wrap(kind, subItems);
  const pdu = decodePdu(bytes);
  assert.equal(pdu.type, kind === 'RQ' ? 'A-ASSOCIATE-RQ' : 'A-ASSOCIATE-AC');
  if (pdu.type !== 'A-ASSOCIATE-RQ' && pdu.type !== 'A-ASSOCIATE-AC') return;
  assert.equal(pdu.calledAeTitle, 'STORESCP');
  assert.equal(pdu.callingAeTitle, 'ECHOSCU');
  assert.deepEqual(pdu.userInformation, { ...EMPTY_UI, ...expected });
  assert.equal(toHex(encodePdu(pdu)), toHex(bytes), 'encoder reproduces the hand-derived bytes');
}

test('presentation context items RQ (0x20 with 0x30, 0x40) and AC (0x21 with 0x40)', () => {
  const rq = decodePdu(wrap('RQ', '51 00 0004 00004000'));
  assert.equal(rq.type, 'A-ASSOCIATE-RQ');
  if (rq.type === 'A-ASSOCIATE-RQ') assert.deepEqual(rq.presentationContexts, [{ id: 7, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2'] }]);
  const ac = decodePdu(wrap('AC', '51 00 0004 00004000'));
  assert.equal(ac.type, 'A-ASSOCIATE-AC');
  if (ac.type === 'A-ASSOCIATE-AC') assert.deepEqual(ac.presentationContexts, [{ id: 7, result: 0, transferSyntax: '1.2.840.10008.1.2' }]);
});

test('0x51 Maximum Length (PS3.8 D.1): 4-byte big-endian length, 0 = unlimited', () => {
  check('RQ', '51 00 0004 00004000  # 16384', { maximumLength: 16384 });
  check('AC', '51 00 0004 00000000  # no limit', { maximumLength: 0 });
  check('RQ', '51 00 0004 ffffffff', { maximumLength: 0xffffffff });
});

test('0x52 Implementation Class UID and 0x55 Implementation Version Name (PS3.7 D.3.3.2)', () => {
  check('RQ', `
    52 00 0009 "1.2.3.4.5"           # Implementation-class-uid, 9 bytes, odd length not padded
    55 00 0006 "DTLS_1"              # Implementation-version-name, 6 bytes
  `, { implementationClassUid: '1.2.3.4.5', implementationVersionName: 'DTLS_1' });
});

test('0x53 Asynchronous Operations Window (PS3.7 D.3.3.3)', () => {
  check('RQ', '53 00 0004 0005 0003  # invoked 5, performed 3', { asynchronousOperationsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 3 } });
  check('AC', '53 00 0004 0001 0001', { asynchronousOperationsWindow: { maxOperationsInvoked: 1, maxOperationsPerformed: 1 } });
});

test('0x54 SCP/SCU Role Selection (PS3.7 D.3.3.4), RQ and AC', () => {
  const sub = `
    54 00 001d                       # length 29 = 2 + 25 + 1 + 1
      0019 "1.2.840.10008.5.1.4.1.1.2" # UID-length 25, SOP-class-uid
      01 00                          # SCU-role 1, SCP-role 0
    54 00 001d 0019 "1.2.840.10008.5.1.4.1.1.2" 00 01
  `;
  const expected = {
    roleSelections: [
      { sopClassUid: CT, scuRole: true, scpRole: false },
      { sopClassUid: CT, scuRole: false, scpRole: true },
    ],
  };
  check('RQ', sub, expected);
  check('AC', sub, expected);
});

test('0x56 SOP Class Extended Negotiation (PS3.7 D.3.3.5), RQ and AC', () => {
  const sub = `
    56 00 001e                       # length 30 = 2 + 25 + 3
      0019 "1.2.840.10008.5.1.4.1.1.2" # SOP-class-uid-length, SOP-class-uid
      01 00 01                       # Service-class-application-information (the rest)
  `;
  const expected = { sopClassExtendedNegotiations: [{ sopClassUid: CT, serviceClassApplicationInformation: Uint8Array.of(1, 0, 1) }] };
  check('RQ', sub, expected);
  check('AC', sub, expected);
});

test('0x57 SOP Class Common Extended Negotiation (PS3.7 D.3.3.6), RQ only', () => {
  check('RQ', `
    57 00 0040                       # sub-item version 0, length 64 = 2+25 + 2+17 + 2 + 16
      0019 "1.2.840.10008.5.1.4.1.1.2" # SOP-class-uid
      0011 "1.2.840.10008.4.2"        # Service-class-uid: Storage Service Class
      0010                           # Related-general-sop-class-identification-length 16
        000e "1.2.3.4.5.6.78"         # one related general SOP class UID, 14 bytes
    57 00 0030                       # length 48 = 2+25 + 2+17 + 2 + 0: no related classes
      0019 "1.2.840.10008.5.1.4.1.1.2" 0011 "1.2.840.10008.4.2" 0000
  `, {
    sopClassCommonExtendedNegotiations: [
      { sopClassUid: CT, serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: ['1.2.3.4.5.6.78'] },
      { sopClassUid: CT, serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [] },
    ],
  });
});

test('0x58 User Identity Negotiation RQ, types 1–5 (PS3.7 D.3.3.7.1, Table D.3-14)', () => {
  const cases: [string, number, boolean, string, string][] = [
    ['58 00 000a 01 01 0004 "user" 0000       # type 1 username, positive response, no secondary', 1, true, 'user', ''],
    ['58 00 000d 02 00 0004 "user" 0003 "pwd" # type 2 username + passcode', 2, false, 'user', 'pwd'],
    ['58 00 000b 03 01 0005 "KRB5T" 0000      # type 3 Kerberos service ticket', 3, true, 'KRB5T', ''],
    ['58 00 0014 04 00 000e "<saml:A>..</A>" 0000 # type 4 SAML assertion', 4, false, '<saml:A>..</A>', ''],
    ['58 00 000f 05 01 0009 "eyJ0.e30." 0000  # type 5 JSON Web Token', 5, true, 'eyJ0.e30.', ''],
  ];
  for (const [hex, identityType, positiveResponseRequested, primary, secondary] of cases) {
    check('RQ', hex, {
      userIdentityRq: {
        identityType: identityType as 1,
        positiveResponseRequested,
        primaryField: te.encode(primary),
        secondaryField: te.encode(secondary),
      },
    });
  }
});

test('0x59 User Identity Negotiation AC (PS3.7 D.3.3.7.2, Table D.3-15)', () => {
  check('AC', '59 00 0006 0004 "tokn"  # server response length 4', { userIdentityAc: { serverResponse: te.encode('tokn') } });
  check('AC', '59 00 0002 0000         # empty server response (types 1 and 2)', { userIdentityAc: { serverResponse: new Uint8Array(0) } });
});

test('unknown user-information sub-items are kept verbatim and re-sent', () => {
  check('RQ', `
    51 00 0004 00008000
    7f 00 0003 aabbcc                 # unknown sub-item type 0x7f
    60 00 0000                        # unknown, empty
  `, {
    maximumLength: 0x8000,
    unknownSubItems: [
      { itemType: 0x7f, data: Uint8Array.of(0xaa, 0xbb, 0xcc) },
      { itemType: 0x60, data: new Uint8Array(0) },
    ],
  });
});

test('all sub-items together, in ascending type order', () => {
  check('RQ', `
    51 00 0004 00004000
    52 00 0009 "1.2.3.4.5"
    53 00 0004 0005 0003
    54 00 001d 0019 "1.2.840.10008.5.1.4.1.1.2" 01 01
    55 00 0006 "DTLS_1"
    56 00 001b 0019 "1.2.840.10008.5.1.4.1.1.2"
    57 00 0030 0019 "1.2.840.10008.5.1.4.1.1.2" 0011 "1.2.840.10008.4.2" 0000
    58 00 000a 01 00 0004 "user" 0000
  `, {
    maximumLength: 16384,
    implementationClassUid: '1.2.3.4.5',
    asynchronousOperationsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 3 },
    roleSelections: [{ sopClassUid: CT, scuRole: true, scpRole: true }],
    implementationVersionName: 'DTLS_1',
    sopClassExtendedNegotiations: [{ sopClassUid: CT, serviceClassApplicationInformation: new Uint8Array(0) }],
    sopClassCommonExtendedNegotiations: [{ sopClassUid: CT, serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [] }],
    userIdentityRq: { identityType: 1, positiveResponseRequested: false, primaryField: te.encode('user'), secondaryField: new Uint8Array(0) },
  });
});

test('A-ASSOCIATE-RJ (Table 9-21) and A-ABORT (Table 9-26)', () => {
  const rj = hexBytes('03 00 00000004 00 01 01 07 # reserved, result 1 permanent, source 1 service user, reason 7 called AE not recognized');
  assert.deepEqual(decodePdu(rj), { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 });
  assert.equal(toHex(encodePdu({ type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 })), toHex(rj));
  const rj2 = hexBytes('03 00 00000004 00 02 03 01 # transient, service provider (presentation), temporary congestion');
  assert.deepEqual(decodePdu(rj2), { type: 'A-ASSOCIATE-RJ', result: 2, source: 3, reason: 1 });
  const ab = hexBytes('07 00 00000004 00 00 02 06 # 2 reserved, source 2 service provider, reason 6 invalid parameter value');
  assert.deepEqual(decodePdu(ab), { type: 'A-ABORT', source: 2, reason: 6 });
  assert.equal(toHex(encodePdu({ type: 'A-ABORT', source: 2, reason: 6 })), toHex(ab));
  const abUser = hexBytes('07 00 00000004 00 00 00 00 # source 0 service user, reason not significant');
  assert.equal(toHex(encodePdu({ type: 'A-ABORT', source: 0, reason: 0 })), toHex(abUser));
});

test('P-DATA-TF with several PDVs: a data fragment, an empty one, command bit alone', () => {
  const bytes = hexBytes(`
    04 00 00000019                   # P-DATA-TF, length 25 = (4+2+3) + (4+2+0) + (4+2+4)
    00000005 03 00 010203            # PDV length 5: context 3, MCH 00 (data, not last)
    00000002 03 02                   # PDV length 2: context 3, MCH 02 (data, last), no bytes
    00000006 05 01 deadbeef          # PDV length 6: context 5, MCH 01 (command, not last)
  `);
  const pdu = decodePdu(bytes);
  assert.deepEqual(pdu, {
    type: 'P-DATA-TF',
    pdvs: [
      { presentationContextId: 3, isCommand: false, isLast: false, data: Uint8Array.of(1, 2, 3) },
      { presentationContextId: 3, isCommand: false, isLast: true, data: new Uint8Array(0) },
      { presentationContextId: 5, isCommand: true, isLast: false, data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
    ],
  });
  assert.equal(toHex(encodePdu(pdu)), toHex(bytes));
});
