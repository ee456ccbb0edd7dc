/** Malformed input: each failure is a PduDecodeError naming the field, with the Table 9-26 reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomError } from '../../../src/errors.js';
import { PduDecodeError } from '../../../src/ul/errors.js';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { AbortReason } from '../../../src/ul/pdu/types.js';
import { be, hexBytes, toHex } from '../../helpers/hex.js';
import { ECHOSCU_RQ } from './fixtures-dcmtk.js';

const FIXED = `0001 0000 "CALLED          " "CALLING         " ${'00'.repeat(32)}`;
const APP = '10 00 0015 "1.2.840.10008.3.1.1.1"';

/** An item: type, reserved, 2-byte length computed here. */
function item(type: number, body: string): string {
  const b = hexBytes(body);
  return be(type, 2).slice(2) + '00' + be(b.length, 2) + toHex(b);
}
/** A whole A-ASSOCIATE PDU from its items, lengths computed here. */
function assoc(type: 1 | 2, ...items: string[]): Uint8Array {
  const body = toHex(hexBytes(FIXED)) + items.map((i) => toHex(hexBytes(i))).join('');
  return hexBytes(`0${type} 00 ${be(body.length / 2, 4)} ${body}`);
}
const pcRq = (id = '01', ...subs: string[]): string =>
  item(0x20, `${id} 00 00 00 ${(subs.length ? subs : [item(0x30, '"1.2.3"'), item(0x40, '"1.2.840.10008.1.2"')]).join(' ')}`);
const pcAc = (id = '01', result = '00', subs = [item(0x40, '"1.2.840.10008.1.2"')]): string => item(0x21, `${id} 00 ${result} 00 ${subs.join(' ')}`);
const ui = (...subs: string[]): string => item(0x50, subs.join(' ') || '');
const MAXLEN = item(0x51, '00004000');

function rejects(bytes: Uint8Array, field: RegExp, reason: number): PduDecodeError {
  let caught: unknown;
  try {
    decodePdu(bytes);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PduDecodeError, `expected PduDecodeError, got ${String(caught)}`);
  assert.ok(caught instanceof DicomError);
  assert.equal(caught.code, 'DICOM_ERR_PDU_MALFORMED');
  assert.match(caught.field, field);
  assert.equal(caught.abortReason, reason, caught.message);
  return caught;
}

test('the test builder produces a valid PDU to start from', () => {
  const pdu = decodePdu(assoc(1, APP, pcRq(), ui(MAXLEN)));
  assert.equal(pdu.type, 'A-ASSOCIATE-RQ');
  const ac = decodePdu(assoc(2, APP, pcAc(), ui(MAXLEN)));
  assert.equal(ac.type, 'A-ASSOCIATE-AC');
});

test('PDU header: unknown type, truncation, length mismatch, fixed-size length', () => {
  const e = rejects(hexBytes('08 00 00000004 00000000'), /^PDU-type$/, AbortReason.UnrecognizedPdu);
  assert.equal(e.pduType, 8);
  rejects(hexBytes('16 03 01 0200'), /^PDU-type$/, AbortReason.UnrecognizedPdu);
  rejects(new Uint8Array(0), /^PDU-type$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('05 00 0000'), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('05 00 00000004 000000'), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('05 00 00000004 0000000000'), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('06 00 00000005 0000000000'), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('07 00 00000002 0000'), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('03 00 00000000'), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
  rejects(ECHOSCU_RQ.subarray(0, 70), /^PDU-length$/, AbortReason.InvalidPduParameterValue);
});

test('A-ASSOCIATE-RQ fixed part truncated names the field', () => {
  rejects(hexBytes('01 00 00000014 0001 0000 "CALLED          "'), /Calling-AE-title$/, AbortReason.InvalidPduParameterValue);
});

test('items: unrecognized, unexpected, duplicated, missing, overlong', () => {
  rejects(assoc(1, APP, pcRq(), ui(MAXLEN), item(0x99, '00')), /A-ASSOCIATE-RQ\.Item-type/, AbortReason.UnrecognizedPduParameter);
  rejects(assoc(1, APP, pcAc(), ui(MAXLEN)), /A-ASSOCIATE-RQ\.Item-type/, AbortReason.UnexpectedPduParameter);
  rejects(assoc(2, APP, pcRq(), ui(MAXLEN)), /A-ASSOCIATE-AC\.Item-type/, AbortReason.UnexpectedPduParameter);
  rejects(assoc(1, APP, APP, pcRq(), ui(MAXLEN)), /Application-Context/, AbortReason.UnexpectedPduParameter);
  rejects(assoc(1, APP, pcRq(), ui(MAXLEN), ui(MAXLEN)), /User-Information/, AbortReason.UnexpectedPduParameter);
  rejects(assoc(1, pcRq(), ui(MAXLEN)), /Application-Context/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(1, APP, ui(MAXLEN)), /Presentation-Context/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(1, APP, pcRq()), /User-Information/, AbortReason.InvalidPduParameterValue);
  // An item whose length runs past the end of the PDU.
  rejects(assoc(1, APP, pcRq(), '50 00 0010 51 00 0004 00004000'), /^A-ASSOCIATE-RQ\.User-Information\.Item-value$/, AbortReason.InvalidPduParameterValue);
});

test('presentation contexts: even or duplicate ID, missing or extra sub-items, bad result', () => {
  rejects(assoc(1, APP, pcRq('02'), ui(MAXLEN)), /Presentation-context-ID$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(1, APP, pcRq('01'), pcRq('01'), ui(MAXLEN)), /Presentation-context-ID$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(1, APP, pcRq('01', item(0x30, '"1.2"')), ui(MAXLEN)), /Transfer-Syntax$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(1, APP, pcRq('01', item(0x40, '"1.2"')), ui(MAXLEN)), /Abstract-Syntax$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(1, APP, pcRq('01', item(0x30, '"1.2"'), item(0x30, '"1.2"'), item(0x40, '"1.2"')), ui(MAXLEN)), /Abstract-Syntax$/, AbortReason.UnexpectedPduParameter);
  rejects(assoc(1, APP, pcRq('01', item(0x30, '"1.2"'), item(0x41, '"1.2"')), ui(MAXLEN)), /Presentation-Context\.Item-type$/, AbortReason.UnrecognizedPduParameter);
  rejects(assoc(2, APP, pcAc('01', '05'), ui(MAXLEN)), /Result\/Reason$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(2, APP, pcAc('04'), ui(MAXLEN)), /Presentation-context-ID$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(2, APP, pcAc('01', '00', []), ui(MAXLEN)), /Transfer-Syntax$/, AbortReason.InvalidPduParameterValue);
  rejects(assoc(2, APP, pcAc('01', '00', [item(0x40, '"1.2"'), item(0x40, '"1.2"')]), ui(MAXLEN)), /Transfer-Syntax$/, AbortReason.UnexpectedPduParameter);
  // A rejected context may leave the (not significant) transfer syntax out.
  const ac = decodePdu(assoc(2, APP, pcAc('01', '03', []), ui(MAXLEN)));
  assert.ok(ac.type === 'A-ASSOCIATE-AC');
  assert.deepEqual(ac.presentationContexts, [{ id: 1, result: 3, transferSyntax: '' }]);
});

test('user-information sub-items: wrong lengths, values, PDU and repetitions', () => {
  const rq = (...subs: string[]): Uint8Array => assoc(1, APP, pcRq(), ui(...subs));
  const ac = (...subs: string[]): Uint8Array => assoc(2, APP, pcAc(), ui(...subs));
  rejects(rq('51 00 0003 000040'), /Maximum-Length\.Maximum-length-received$/, AbortReason.InvalidPduParameterValue);
  rejects(rq('51 00 0005 0000400000'), /Maximum-Length$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(MAXLEN, MAXLEN), /Maximum-Length$/, AbortReason.UnexpectedPduParameter);
  rejects(rq('53 00 0002 0001'), /Maximum-number-operations-performed$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x54, '0003 "1.2" 02 00')), /SCU-role$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x54, '0003 "1.2" 00 07')), /SCP-role$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x54, '0009 "1.2" 00 00')), /SOP-class-uid$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x56, '0009 "1.2"')), /SOP-Class-Extended-Negotiation\.SOP-class-uid$/, AbortReason.InvalidPduParameterValue);
  rejects(ac(item(0x57, '0003 "1.2" 0003 "1.2" 0000')), /SOP-Class-Common-Extended-Negotiation$/, AbortReason.UnexpectedPduParameter);
  rejects(rq(item(0x57, '0003 "1.2" 0003 "1.2" 0004 0003 "1.2"')), /Related-general-sop-class-uid$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x58, '06 00 0001 "u" 0000')), /User-Identity-Type$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x58, '00 00 0001 "u" 0000')), /User-Identity-Type$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x58, '02 00 0001 "u" 0005 "p"')), /Secondary-field$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x58, '01 00 0001 "u" 0000 00')), /User-Identity-Negotiation$/, AbortReason.InvalidPduParameterValue);
  rejects(rq(item(0x58, '01 00 0001 "u" 0000'), item(0x58, '01 00 0001 "u" 0000')), /User-Identity-Negotiation$/, AbortReason.UnexpectedPduParameter);
  rejects(ac(item(0x58, '01 00 0001 "u" 0000')), /User-Identity-Negotiation$/, AbortReason.UnexpectedPduParameter);
  rejects(rq(item(0x59, '0000')), /User-Identity-Negotiation$/, AbortReason.UnexpectedPduParameter);
  rejects(ac(item(0x59, '0005 "abc"')), /Server-response$/, AbortReason.InvalidPduParameterValue);
  rejects(rq('52 00 0004 "1.2"'), /User-Information\.Implementation-Class-UID\.Item-value$/, AbortReason.InvalidPduParameterValue);
});

test('P-DATA-TF: no PDV, PDV too short, past the PDU, even context ID', () => {
  rejects(hexBytes('04 00 00000000'), /^P-DATA-TF\.PDV$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('04 00 00000005 00000001 01'), /PDV\.Item-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('04 00 00000007 00000004 01 03 00'), /PDV\.Item-length$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('04 00 00000007 00000003 02 03 00'), /Presentation-context-ID$/, AbortReason.InvalidPduParameterValue);
  rejects(hexBytes('04 00 00000003 000000'), /PDV\.Item-length$/, AbortReason.InvalidPduParameterValue);
});

test('lenient where peers are: reserved fields, AE padding, UID trailing NUL', () => {
  // Reserved bytes set in fixed-size PDUs are not tested (PS3.8 9.3.1).
  assert.deepEqual(decodePdu(hexBytes('05 ff 00000004 ffffffff')), { type: 'A-RELEASE-RQ' });
  assert.deepEqual(decodePdu(hexBytes('07 ff 00000004 ff ff 02 01')), { type: 'A-ABORT', source: 2, reason: 1 });
  assert.deepEqual(decodePdu(hexBytes('03 ff 00000004 ff 01 02 02')), { type: 'A-ASSOCIATE-RJ', result: 1, source: 2, reason: 2 });
  // AE titles with leading spaces and NUL padding; a UID sent with a trailing NUL; reserved bytes set.
  const bytes = hexBytes(`01 00 ${be(68 + 26 + 30 + 12, 4)} 0001 ffff "  CALLED       " 00 "CALLING" 000000000000000000 ${'ff'.repeat(32)}
    10 ff 0016 "1.2.840.10008.3.1.1.1" 00
    20 00 001a 01 ff ff ff 30 00 0004 "1.2" 00 40 00 000a "1.2.3.4.5" 20
    50 00 0008 51 00 0004 00004000`);
  const pdu = decodePdu(bytes);
  assert.ok(pdu.type === 'A-ASSOCIATE-RQ');
  assert.equal(pdu.calledAeTitle, 'CALLED');
  assert.equal(pdu.callingAeTitle, 'CALLING');
  assert.equal(pdu.applicationContextName, '1.2.840.10008.3.1.1.1');
  assert.deepEqual(pdu.presentationContexts, [{ id: 1, abstractSyntax: '1.2', transferSyntaxes: ['1.2.3.4.5'] }]);
  // Message control header bits 2–7 are not tested either.
  const pd = decodePdu(hexBytes('04 00 00000007 00000003 01 fe aa'));
  assert.ok(pd.type === 'P-DATA-TF');
  assert.deepEqual(pd.pdvs[0], { presentationContextId: 1, isCommand: false, isLast: true, data: Uint8Array.of(0xaa) });
});

test('an item cut short names its header field or its value, with the bytes it needed and had', () => {
  const e1 = rejects(assoc(1, APP, pcRq(), ui(MAXLEN), '20 00'), /^A-ASSOCIATE-RQ\.Item-length$/, AbortReason.InvalidPduParameterValue);
  assert.match(e1.message, /needs 2 bytes, 0 left/);
  const e2 = rejects(assoc(1, APP, pcRq(), ui(MAXLEN), '20'), /^A-ASSOCIATE-RQ\.Reserved$/, AbortReason.InvalidPduParameterValue);
  assert.match(e2.message, /needs 1 bytes, 0 left/);
  const e3 = rejects(assoc(1, APP, pcRq(), ui(MAXLEN), '20 00 0010 01 00 00 00'), /^A-ASSOCIATE-RQ\.Presentation-Context\.Item-value$/, AbortReason.InvalidPduParameterValue);
  assert.match(e3.message, /needs 16 bytes, 4 left/);
  const e4 = rejects(assoc(1, APP, pcRq('01', item(0x30, '"1.2.3"'), '40 00 0020 "1.2"'), ui(MAXLEN)), /^A-ASSOCIATE-RQ\.Presentation-Context\.Transfer-Syntax\.Item-value$/, AbortReason.InvalidPduParameterValue);
  assert.match(e4.message, /needs 32 bytes, 3 left/);
});
