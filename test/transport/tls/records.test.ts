import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RECORD, emitRecords } from '../../../src/transport/tls/records.js';

function run(list: Uint8Array[], records = 1): Uint8Array[] {
  const staging = new Uint8Array(records * RECORD);
  const pieces: Uint8Array[] = [];
  // Copy each piece: staging is reused by the next call.
  assert.equal(emitRecords(list, staging, (p) => (pieces.push(Uint8Array.from(p)), true)), true);
  return pieces;
}

test('PDU header + PDV header + 16 KiB fragment: two full records and the rest, no 6-byte record', () => {
  const list = [new Uint8Array(6).fill(1), new Uint8Array(6).fill(2), new Uint8Array(RECORD).fill(3)];
  const pieces = run(list);
  assert.deepEqual(pieces.map((p) => p.length), [RECORD, 12]);
  assert.deepEqual(pieces[0]!.subarray(0, 13), Uint8Array.of(1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3));
});

test('whole records of a large chunk are passed as a view of it, not copied', () => {
  const big = new Uint8Array(3 * RECORD + 100);
  const seen: Uint8Array[] = [];
  emitRecords([big], new Uint8Array(RECORD), (p) => (seen.push(p), true));
  assert.equal(seen[0]!.buffer, big.buffer, 'the first piece is a view of the chunk');
  assert.equal(seen[0]!.length, 3 * RECORD);
  assert.equal(seen[1]!.length, 100);
});

test('16 KiB PDUs (a DCMTK peer) through a four-record staging: one SSL_write per four records', () => {
  const list: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) list.push(new Uint8Array(12).fill(i), new Uint8Array(RECORD - 6).fill(100 + i));
  const pieces = run(list, 4);
  assert.deepEqual(pieces.map((p) => p.length), [4 * RECORD, 4 * RECORD, 8 * (RECORD + 6) - 8 * RECORD]);
  assert.deepEqual(Buffer.concat(pieces), Buffer.concat(list));
});

test('a staging that is not a whole number of records is refused', () => {
  for (const n of [0, RECORD - 1, RECORD + 1]) assert.throws(() => emitRecords([], new Uint8Array(n), () => true), RangeError);
});

test('any batch, any staging of one to four records: the bytes in order, every piece but the last whole records', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 3 * RECORD + 7 }), { maxLength: 12 }), fc.integer(), fc.integer({ min: 1, max: 4 }), (lengths, seed, records) => {
      let x = seed;
      const list = lengths.map((n) => Uint8Array.from({ length: n }, () => (x = (x * 1103515245 + 12345) & 0xff)));
      const pieces = run(list, records);
      assert.deepEqual(Buffer.concat(pieces), Buffer.concat(list));
      pieces.slice(0, -1).forEach((p) => assert.equal(p.length % RECORD, 0, 'a short record before the end'));
      for (const p of pieces) assert.ok(p.length > 0);
    }),
    { numRuns: 300 },
  );
});

test('stops at the first piece the encrypter refuses', () => {
  let calls = 0;
  const ok = emitRecords([new Uint8Array(5 * RECORD), new Uint8Array(10)], new Uint8Array(RECORD), () => (calls++, false));
  assert.equal(ok, false);
  assert.equal(calls, 1);
});
