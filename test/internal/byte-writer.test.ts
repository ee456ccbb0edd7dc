import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter } from '../../src/internal/byte-writer.js';

test('bytes() and zeros() that make the writer grow land in the grown buffer', () => {
  const w = new ByteWriter(4);
  w.u8(1).bytes(new Uint8Array([2, 3, 4, 5, 6, 7])).zeros(9).u8(8);
  const out = w.finish();
  assert.deepEqual([...out], [1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
});

test('a writer created with capacity 0 grows (doubling 0 never would)', () => {
  const w = new ByteWriter(0);
  w.u8(1).u16(0x0203);
  assert.deepEqual([...w.finish()], [1, 2, 3]);
});
