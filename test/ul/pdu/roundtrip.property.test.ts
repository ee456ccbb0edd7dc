import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { encodePdu, encodePduParts } from '../../../src/ul/pdu/encode.js';
import { PduReader } from '../../../src/ul/pdu/pdu-reader.js';
import { anyPdu, chunking, splitAt } from '../../helpers/pdu-arbitraries.js';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

test('property: decodePdu(encodePdu(p)) deep-equals p for arbitrary valid PDUs', () => {
  fc.assert(
    fc.property(anyPdu, (pdu) => {
      assert.deepEqual(decodePdu(encodePdu(pdu)), pdu);
    }),
    { numRuns: 500 },
  );
});

test('property: encodePduParts concatenated equals encodePdu', () => {
  fc.assert(
    fc.property(anyPdu, (pdu) => {
      assert.deepEqual(concat(encodePduParts(pdu)), encodePdu(pdu));
    }),
    { numRuns: 300 },
  );
});

test('property: the reader on any chunking of a PDU stream gives what decodePdu gives per PDU', () => {
  fc.assert(
    fc.property(
      fc.array(anyPdu, { minLength: 1, maxLength: 5 }).chain((pdus) => {
        const encoded = pdus.map((p) => encodePdu(p));
        const stream = concat(encoded);
        return fc.tuple(fc.constant(encoded), fc.constant(stream), chunking(stream.length));
      }),
      ([encoded, stream, cuts]) => {
        const reader = new PduReader({ maxPduLength: 1 << 20 });
        const got = splitAt(stream, cuts).flatMap((c) => reader.push(c));
        assert.deepEqual(got, encoded.map((e) => decodePdu(e)));
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});
