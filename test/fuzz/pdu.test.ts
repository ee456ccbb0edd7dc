/**
 * Fuzzing the PDU decoder and reader: random and mutated bytes must give a Pdu or a typed error
 * (PduDecodeError / PduTooLargeError), never anything else, and the reader never holds more
 * than one header beyond its limit. Runs are bounded in number, so the test is bounded in time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PduDecodeError, PduTooLargeError } from '../../src/ul/errors.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { PduReader } from '../../src/ul/pdu/pdu-reader.js';
import { AbortReason } from '../../src/ul/pdu/types.js';
import { anyPdu, chunking, splitAt } from '../helpers/pdu-arbitraries.js';
import * as F from '../ul/pdu/fixtures-dcmtk.js';
import { byteMutation as mutation, mutateBytes as mutate } from './grammar.js';

const REASONS = new Set<number>(Object.values(AbortReason));

function decodesOrTypedError(bytes: Uint8Array): void {
  try {
    decodePdu(bytes);
  } catch (e) {
    if (!(e instanceof PduDecodeError)) throw e;
    assert.ok(REASONS.has(e.abortReason));
    assert.ok(e.field.length > 0);
  }
}

test('fuzz: random bytes decode to a Pdu or a PduDecodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodesOrTypedError), { numRuns: 3000 });
  // Random bodies behind every valid PDU type with a consistent length reach the item parsers.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 7 }), fc.uint8Array({ maxLength: 300 }), (type, body) => {
      const b = new Uint8Array(6 + body.length);
      b[0] = type;
      new DataView(b.buffer).setUint32(2, body.length);
      b.set(body, 6);
      decodesOrTypedError(b);
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: mutated valid PDUs (generated and captured from DCMTK) decode or fail typed', () => {
  const captured = [F.ECHOSCU_RQ, F.STORESCP_AC, F.ECHOSCU_PDATA, F.STORESCU_USER_PASSWORD_RQ, F.STORESCU_JWT_RQ];
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...captured), anyPdu.map((p) => encodePdu(p))), mutation, (src, m) => {
      decodesOrTypedError(mutate(src, m));
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: the reader on random streams and chunkings returns PDUs or throws typed errors, bounded buffering', () => {
  const LIMIT = 512;
  fc.assert(
    fc.property(
      fc.array(fc.oneof(anyPdu.map((p) => encodePdu(p)), fc.uint8Array({ maxLength: 64 })), { maxLength: 4 }).chain((pieces) => {
        const stream = Uint8Array.from(pieces.flatMap((p) => [...p]));
        return fc.tuple(fc.constant(stream), chunking(stream.length));
      }),
      ([stream, cuts]) => {
        const reader = new PduReader({ maxPduLength: LIMIT, maxAssociatePduLength: LIMIT });
        try {
          for (const c of splitAt(stream, cuts)) {
            reader.push(c);
            // Whole PDUs are handed out, so what stays is less than one PDU of at most the limit.
            assert.ok(reader.bufferedBytes < LIMIT + 6);
          }
        } catch (e) {
          if (!(e instanceof PduDecodeError) && !(e instanceof PduTooLargeError)) throw e;
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('property: on any chunking, the reader fails exactly as decodePdu does on the same malformed PDU', () => {
  fc.assert(
    fc.property(
      anyPdu.map((p) => encodePdu(p)),
      fc.oneof(fc.constantFrom(F.ECHOSCU_RQ, F.STORESCP_AC, F.STORESCU_JWT_RQ), anyPdu.map((p) => encodePdu(p))),
      mutation.map((m) => ({ ...m, repairLength: true })),
      fc.nat(),
      (good, src, m, seed) => {
        const bad = mutate(src, m);
        fc.pre(bad.length >= 6);
        let expected: unknown;
        try {
          decodePdu(bad);
        } catch (e) {
          expected = e;
        }
        const stream = Uint8Array.from([...good, ...bad]);
        // A chunking derived from the seed: cut every 1–37 bytes.
        const cuts: number[] = [];
        for (let at = 0, s = seed; ; ) {
          at += 1 + (s % 37);
          s = (s * 1103515245 + 12345) >>> 0;
          if (at >= stream.length) break;
          cuts.push(at);
        }
        const reader = new PduReader({ maxPduLength: 1 << 20 });
        const got: unknown[] = [];
        let thrown: unknown;
        try {
          for (const c of splitAt(stream, cuts)) reader.feed(c, (p) => got.push(p));
        } catch (e) {
          thrown = e;
        }
        assert.deepEqual(got[0], decodePdu(good));
        if (expected === undefined) {
          assert.equal(thrown, undefined);
          assert.deepEqual(got[1], decodePdu(bad));
        } else {
          assert.ok(expected instanceof PduDecodeError && thrown instanceof PduDecodeError, String(thrown));
          assert.equal(thrown.field, expected.field);
          assert.equal(thrown.abortReason, expected.abortReason);
        }
      },
    ),
    { numRuns: 1000 },
  );
});
