import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { encodePdu } from '../../../src/ul/pdu/encode.js';
import type { UserInformationItem } from '../../../src/ul/pdu/types.js';
import { toHex } from '../../helpers/hex.js';
import * as F from './fixtures-dcmtk.js';
import { userInformation } from '../../helpers/user-information.js';

const te = new TextEncoder();

const DCMTK_UI: UserInformationItem = userInformation({ maximumLength: 16384, implementationClassUid: '1.2.276.0.7230010.3.0.3.6.7', implementationVersionName: 'OFFIS_DCMTK_367' });

const HEAD = { protocolVersion: 1, calledAeTitle: 'B', callingAeTitle: 'A', applicationContextName: '1.2.840.10008.3.1.1.1' };

test('the annotated fixtures reproduce the captured wire bytes exactly', () => {
  for (const [name, hex] of Object.entries(F.CAPTURED_HEX)) {
    assert.equal(toHex((F as unknown as Record<string, Uint8Array>)[name] as Uint8Array), hex, name);
  }
});

test('echoscu A-ASSOCIATE-RQ decodes; re-encoding differs only in the reserved byte DCMTK sets to 0xff', () => {
  const pdu = decodePdu(F.ECHOSCU_RQ);
  assert.deepEqual(pdu, {
    type: 'A-ASSOCIATE-RQ',
    ...HEAD,
    presentationContexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
    userInformation: DCMTK_UI,
  });
  const expected = F.ECHOSCU_RQ.slice();
  // Offset 74 (variable items) + 25 (application context item) + 6 (PC header, ID, reserved).
  assert.equal(expected[74 + 25 + 6], 0xff);
  expected[74 + 25 + 6] = 0x00; // reserved fields are sent as zero (PS3.8 9.3.1)
  assert.equal(toHex(encodePdu(pdu)), toHex(expected));
});

test('storescp A-ASSOCIATE-AC decodes and re-encodes byte for byte', () => {
  const pdu = decodePdu(F.STORESCP_AC);
  assert.deepEqual(pdu, {
    type: 'A-ASSOCIATE-AC',
    ...HEAD,
    presentationContexts: [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }],
    userInformation: DCMTK_UI,
  });
  assert.equal(toHex(encodePdu(pdu)), toHex(F.STORESCP_AC));
});

test('P-DATA-TF from echoscu and storescp: PDV data is a view of the input, re-encoding is exact', () => {
  for (const bytes of [F.ECHOSCU_PDATA, F.STORESCP_PDATA]) {
    const pdu = decodePdu(bytes);
    assert.equal(pdu.type, 'P-DATA-TF');
    if (pdu.type !== 'P-DATA-TF') return;
    assert.equal(pdu.pdvs.length, 1);
    const pdv = pdu.pdvs[0]!;
    assert.equal(pdv.presentationContextId, 1);
    assert.equal(pdv.isCommand, true);
    assert.equal(pdv.isLast, true);
    assert.equal(pdv.data.length, bytes.length - 12);
    assert.equal(pdv.data.buffer, bytes.buffer, 'no copy');
    assert.equal(pdv.data.byteOffset, bytes.byteOffset + 12);
    assert.equal(toHex(encodePdu(pdu)), toHex(bytes));
  }
});

test('A-RELEASE-RQ / -RP from DCMTK', () => {
  assert.deepEqual(decodePdu(F.ECHOSCU_RELEASE_RQ), { type: 'A-RELEASE-RQ' });
  assert.deepEqual(decodePdu(F.STORESCP_RELEASE_RP), { type: 'A-RELEASE-RP' });
  assert.equal(toHex(encodePdu({ type: 'A-RELEASE-RQ' })), toHex(F.ECHOSCU_RELEASE_RQ));
  assert.equal(toHex(encodePdu({ type: 'A-RELEASE-RP' })), toHex(F.STORESCP_RELEASE_RP));
});

test('storescu user identity type 2 (username + passcode, positive response requested)', () => {
  const pdu = decodePdu(F.STORESCU_USER_PASSWORD_RQ);
  assert.equal(pdu.type, 'A-ASSOCIATE-RQ');
  if (pdu.type !== 'A-ASSOCIATE-RQ') return;
  assert.deepEqual(pdu.presentationContexts, [
    { id: 1, abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: ['1.2.840.10008.1.2.1'] },
    { id: 3, abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: ['1.2.840.10008.1.2.2', '1.2.840.10008.1.2'] },
  ]);
  assert.deepEqual(pdu.userInformation, {
    ...DCMTK_UI,
    userIdentityRq: { identityType: 2, positiveResponseRequested: true, primaryField: te.encode('u'), secondaryField: te.encode('p') },
  });
});

test('storescu user identity type 5 (JWT)', () => {
  const pdu = decodePdu(F.STORESCU_JWT_RQ);
  assert.equal(pdu.type, 'A-ASSOCIATE-RQ');
  if (pdu.type !== 'A-ASSOCIATE-RQ') return;
  assert.deepEqual(pdu.userInformation.userIdentityRq, {
    identityType: 5,
    positiveResponseRequested: false,
    primaryField: te.encode('eyJhbGciOiJub25lIn0.e30.'),
    secondaryField: new Uint8Array(0),
  });
});
