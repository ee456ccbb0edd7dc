import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../../src/errors.js';
import { PduDecodeError, PduTooLargeError } from '../../../src/ul/errors.js';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { PduReader } from '../../../src/ul/pdu/pdu-reader.js';
import { AbortReason, type Pdu } from '../../../src/ul/pdu/types.js';
import { hexBytes } from '../../helpers/hex.js';
import * as F from './fixtures-dcmtk.js';

/** A whole echo association as DCMTK sends it, both directions in one stream. */
const PDUS = [F.ECHOSCU_RQ, F.STORESCP_AC, F.ECHOSCU_PDATA, F.STORESCP_PDATA, F.ECHOSCU_RELEASE_RQ, F.STORESCP_RELEASE_RP];
const STREAM = Uint8Array.from(PDUS.flatMap((p) => [...p]));
const EXPECTED: Pdu[] = PDUS.map((p) => decodePdu(p));

test('the whole stream in one chunk; PDV data inside one chunk is a view of it', () => {
  const reader = new PduReader({ maxPduLength: 16384 });
  const got = reader.push(STREAM);
  assert.deepEqual(got, EXPECTED);
  assert.equal(reader.bufferedBytes, 0);
  const pdata = got[2];
  assert.ok(pdata?.type === 'P-DATA-TF');
  assert.equal(pdata.pdvs[0]!.data.buffer, STREAM.buffer);
});

test('every split point of the stream into two chunks', () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const reader = new PduReader({ maxPduLength: 16384 });
    const got = [...reader.push(STREAM.subarray(0, cut)), ...reader.push(STREAM.subarray(cut))];
    assert.deepEqual(got, EXPECTED, `cut at ${cut}`);
  }
});

test('every pair of split points around each PDU boundary (three chunks)', () => {
  const boundaries: number[] = [];
  let at = 0;
  for (const p of PDUS) boundaries.push((at += p.length));
  const near = [...new Set(boundaries.flatMap((b) => [b - 7, b - 6, b - 5, b - 1, b, b + 1, b + 5, b + 6, b + 7]))].filter((c) => c > 0 && c < STREAM.length);
  for (const a of near) {
    for (let b = a; b <= STREAM.length; b += 3) {
      const reader = new PduReader({ maxPduLength: 16384 });
      const got = [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)].flatMap((c) => reader.push(c));
      assert.deepEqual(got, EXPECTED, `cuts ${a}, ${b}`);
    }
  }
});

test('one-byte chunks; bufferedBytes counts what is held back', () => {
  const reader = new PduReader({ maxPduLength: 16384 });
  const got: Pdu[] = [];
  let done = 0;
  for (let i = 0; i < STREAM.length; i++) {
    got.push(...reader.push(STREAM.subarray(i, i + 1)));
    if (got.length > done) {
      done = got.length;
      assert.equal(reader.bufferedBytes, 0, `after PDU ${done}`);
    } else {
      assert.ok(reader.bufferedBytes > 0);
    }
  }
  assert.deepEqual(got, EXPECTED);
  assert.deepEqual(reader.push(new Uint8Array(0)), []);
});

test('the announced length is refused from the header alone, before the body is buffered', () => {
  const reader = new PduReader({ maxPduLength: 16384 });
  assert.deepEqual(reader.push(hexBytes('04 00 00 00')), []);
  assert.throws(
    () => reader.push(hexBytes('40 07')), // P-DATA-TF of 16391 bytes announced
    (e: unknown) => {
      assert.ok(e instanceof PduTooLargeError);
      assert.equal(e.code, 'DICOM_ERR_PDU_TOO_LARGE');
      assert.equal(e.length, 16391);
      assert.equal(e.limit, 16384);
      assert.equal(e.pduType, 4);
      assert.equal(e.abortReason, AbortReason.InvalidPduParameterValue);
      return true;
    },
  );
  assert.equal(reader.bufferedBytes, 6);
  // The stream is dead from here on: the same error again, nothing buffered.
  assert.throws(() => reader.push(new Uint8Array(100)), PduTooLargeError);
  assert.equal(reader.bufferedBytes, 6);
});

test('exactly the limit is accepted; association PDUs have their own larger default bound', () => {
  const body = 16384 - 4; // PDV item length: one item filling the PDU-length exactly
  const pdu = new Uint8Array(6 + 16384);
  pdu.set([0x04, 0, 0, 0, 0x40, 0x00, 0, 0, (body >> 8) & 0xff, body & 0xff, 1, 3]);
  assert.equal(new PduReader({ maxPduLength: 16384 }).push(pdu).length, 1);
  // An A-ASSOCIATE-RQ larger than maxPduLength (a big SAML assertion) is still read by default…
  assert.equal(new PduReader({ maxPduLength: 64 }).push(F.ECHOSCU_RQ).length, 1);
  // …but not above maxAssociatePduLength.
  assert.throws(() => new PduReader({ maxPduLength: 64, maxAssociatePduLength: 204 }).push(F.ECHOSCU_RQ), PduTooLargeError);
});

test('a fixed-size PDU announcing another length than 4 is refused from its header', () => {
  const reader = new PduReader({ maxPduLength: 1 << 20 });
  assert.throws(
    () => reader.push(hexBytes('05 00 00010000')),
    (e: unknown) => e instanceof PduDecodeError && e.field === 'PDU-length' && e.abortReason === AbortReason.InvalidPduParameterValue,
  );
});

test('many tiny chunks queued for one large PDU are taken in one piece', () => {
  const body = 60_000;
  const pdu = new Uint8Array(6 + body);
  pdu.set([0x04, 0, 0, 0, (body >> 8) & 0xff, body & 0xff, 0, 0, ((body - 4) >> 8) & 0xff, (body - 4) & 0xff, 1, 0]);
  pdu.fill(9, 12);
  const reader = new PduReader({ maxPduLength: 1 << 20 });
  const got: Pdu[] = [];
  for (let i = 0; i < pdu.length; i += 7) got.push(...reader.push(pdu.subarray(i, i + 7)));
  assert.equal(got.length, 1);
  assert.ok(got[0]?.type === 'P-DATA-TF');
  assert.equal(got[0].pdvs[0]!.data.length, body - 6);
  assert.ok(got[0].pdvs[0]!.data.every((x) => x === 9));
  assert.equal(reader.bufferedBytes, 0);
});

test('an unknown PDU type is refused from the first byte: a TLS ClientHello on a plain port', () => {
  const reader = new PduReader({ maxPduLength: 16384 });
  // The first byte of a stream that could open a TLS record waits for the version bytes…
  assert.deepEqual(reader.push(Uint8Array.of(0x16)), []);
  assert.throws(
    () => reader.push(Uint8Array.of(0x03, 0x01, 0x02, 0x00)),
    (e: unknown) =>
      e instanceof PduDecodeError &&
      e.abortReason === AbortReason.UnrecognizedPdu &&
      e.pduType === 0x16 &&
      e.sniffed === 'tls' &&
      /TLS on a plain DICOM port/.test(e.message),
  );
  // …other unknown first bytes fail at once, and HTTP is named too.
  assert.throws(() => new PduReader({ maxPduLength: 100 }).push(Uint8Array.of(0x00)), (e: unknown) => e instanceof PduDecodeError && e.sniffed === undefined);
  assert.throws(
    () => new PduReader({ maxPduLength: 100 }).push(new TextEncoder().encode('GET / HTTP/1.1\r\n')),
    (e: unknown) => e instanceof PduDecodeError && e.sniffed === 'http',
  );
  // After a first good PDU, a 0x16 is just an unrecognized PDU.
  const later = new PduReader({ maxPduLength: 100 });
  assert.throws(() => later.push(Uint8Array.of(...F.ECHOSCU_RELEASE_RQ, 0x16)), (e: unknown) => e instanceof PduDecodeError && e.sniffed === undefined);
});

test('a malformed PDU after good ones: push throws, feed delivers the good ones first', () => {
  const bad = hexBytes('05 00 00000005 0000000000');
  const both = Uint8Array.from([...F.ECHOSCU_RELEASE_RQ, ...bad]);
  assert.throws(() => new PduReader({ maxPduLength: 100 }).push(both), PduDecodeError);
  const seen: Pdu[] = [];
  assert.throws(() => new PduReader({ maxPduLength: 100 }).feed(both, (p) => seen.push(p)), PduDecodeError);
  assert.deepEqual(seen, [{ type: 'A-RELEASE-RQ' }]);
});

test('options are validated and name the option', () => {
  assert.throws(() => new PduReader({ maxPduLength: 0 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxPduLength');
  assert.throws(() => new PduReader({ maxPduLength: 1.5 }), InvalidOptionError);
  assert.throws(() => new PduReader({} as { maxPduLength: number }), InvalidOptionError);
  assert.throws(() => new PduReader({ maxPduLength: 100, maxAssociatePduLength: -1 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxAssociatePduLength');
});

test('HTTP is named whatever the chunking of its first bytes', () => {
  const get = new TextEncoder().encode('GET / HTTP/1.1\r\n');
  for (let cut = 1; cut < get.length; cut++) {
    const reader = new PduReader({ maxPduLength: 100 });
    let error: unknown;
    try {
      reader.push(get.subarray(0, cut));
      reader.push(get.subarray(cut));
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof PduDecodeError && error.sniffed === 'http', `split after ${cut} bytes: ${String(error)}`);
  }
});

test('PDU-lengths of 2^31 and 2^32-1 are read unsigned, whether the header is inside one chunk or split at any byte: refused as too large, never taken as short', () => {
  for (const length of [0x80000000, 0xffffffff, 0x80000001]) {
    for (const type of [0x01, 0x04]) {
      const header = Uint8Array.of(type, 0, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff, 0, 1, 0, 0);
      // 0: the whole header (and a few body bytes) in one chunk after a byte already taken.
      for (let cut = 0; cut < 6; cut++) {
        const reader = new PduReader({ maxPduLength: 16384 });
        if (cut === 0) {
          assert.deepEqual(reader.push(F.ECHOSCU_RELEASE_RQ), [decodePdu(F.ECHOSCU_RELEASE_RQ)]);
        } else {
          assert.deepEqual(reader.push(header.subarray(0, cut)), []);
        }
        assert.throws(
          () => reader.push(cut === 0 ? header : header.subarray(cut)),
          (e: unknown) => {
            assert.ok(e instanceof PduTooLargeError, String(e));
            assert.equal(e.length, length, `type ${type}, cut ${cut}`);
            assert.equal(e.pduType, type);
            return true;
          },
        );
      }
    }
  }
});
