import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/internal/byte-reader.js';

const fail = (field: string, needed: number, available: number): never => {
  throw new Error(`${field}: needs ${needed} bytes, ${available} left`);
};

/** The definition: one character per byte, its code point the byte's value. */
function reference(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

test('latin1 gives one character per byte, every byte value, at any offset and length (chunk sizes included)', () => {
  const all = new Uint8Array(3 * 4096 + 77);
  for (let i = 0; i < all.length; i++) all[i] = (i * 7 + 3) & 0xff;
  for (const [start, n] of [[0, 0], [0, 1], [5, 64], [1, 255], [3, 4095], [0, 4096], [2, 4097], [9, 3 * 4096 + 60]] as const) {
    const r = new ByteReader(all, fail, start);
    assert.equal(r.latin1(n, 'f'), reference(all.subarray(start, start + n)), `start ${start}, n ${n}`);
    assert.equal(r.offset, start + n);
  }
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(new ByteReader(every, fail).latin1(256, 'f'), reference(every));
});

test('latin1 past the end names the field and reads nothing', () => {
  const r = new ByteReader(Uint8Array.of(0x41, 0x42, 0x43), fail, 1);
  assert.throws(() => r.latin1(3, 'Called-AE-title'), /^Error: Called-AE-title: needs 3 bytes, 2 left$/);
  assert.equal(r.offset, 1);
  assert.equal(r.latin1(2, 'x'), 'BC');
});

test('fixed-size reads: big-endian values, and a read past the end names the field and moves nothing', () => {
  const r = new ByteReader(Uint8Array.of(0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07), fail, 0, 7);
  assert.equal(r.u8('a'), 0xff);
  assert.equal(r.u16('b'), 0x0102);
  assert.equal(r.u32('c'), 0x03040506);
  assert.throws(() => r.u16('d'), /^Error: d: needs 2 bytes, 0 left$/);
  assert.throws(() => r.u8('e'), /^Error: e: needs 1 bytes, 0 left$/);
  assert.throws(() => r.u32('f'), /^Error: f: needs 4 bytes, 0 left$/);
  assert.throws(() => r.skip(1, 'g'), /^Error: g: needs 1 bytes, 0 left$/);
  assert.equal(r.offset, 7);
  const s = new ByteReader(Uint8Array.of(1, 2, 3), fail, 1);
  assert.throws(() => s.u32('h'), /^Error: h: needs 4 bytes, 2 left$/);
  s.skip(2, 'i');
  assert.equal(s.remaining, 0);
});
