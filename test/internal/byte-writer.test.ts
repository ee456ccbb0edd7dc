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

test('u8, u16 and u32 write big-endian at every offset, across each growth of the buffer, with marks patched after growing', () => {
  for (let capacity = 0; capacity <= 9; capacity++) {
    const w = new ByteWriter(capacity);
    const expected: number[] = [];
    const mark = w.markU32();
    expected.push(0, 0, 0, 0);
    for (let i = 0; i < 60; i++) {
      const kind = i % 3;
      if (kind === 0) { w.u8(i * 7 + 300); expected.push((i * 7 + 300) & 0xff); }
      if (kind === 1) { w.u16(0xfe00 + i); expected.push(0xfe, i); }
      if (kind === 2) { w.u32(0x01020300 + i); expected.push(1, 2, 3, i); }
    }
    assert.equal(w.length, expected.length);
    const n = w.patchU32(mark);
    assert.equal(n, expected.length - 4);
    expected.splice(0, 4, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    assert.deepEqual([...w.finish()], expected, `initial capacity ${capacity}`);
  }
});
