import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader } from '../../src/internal/byte-reader.js';
import { ByteWriter } from '../../src/internal/byte-writer.js';
import { ChunkQueue } from '../../src/internal/chunk-queue.js';

class Truncated extends Error {
  constructor(readonly field: string, readonly needed: number, readonly available: number) {
    super(field);
  }
}
const fail = (field: string, needed: number, available: number): never => {
  throw new Truncated(field, needed, available);
};

test('ByteReader reads big endian, gives views, and names the field on truncation', () => {
  const buf = Uint8Array.of(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x41, 0x42, 0x43);
  const r = new ByteReader(buf, fail);
  assert.equal(r.u8('a'), 1);
  assert.equal(r.u16('b'), 0x0203);
  const sub = r.sub(3, 'c');
  assert.equal(sub.u16('c1'), 0x0405);
  assert.throws(() => sub.u16('c2'), (e: unknown) => e instanceof Truncated && e.field === 'c2' && e.needed === 2 && e.available === 1);
  assert.equal(r.latin1(3, 'd'), 'ABC');
  assert.equal(r.remaining, 0);
  assert.throws(() => r.u32('e'), (e: unknown) => e instanceof Truncated && e.field === 'e' && e.available === 0);
  const v = new ByteReader(buf, fail, 2).bytes(2, 'f');
  assert.equal(v.buffer, buf.buffer);
  assert.deepEqual([...v], [3, 4]);
});

test('ByteWriter grows past its capacity and patches lengths', () => {
  const w = new ByteWriter(1);
  w.u8(0xaa);
  const m = w.markU32();
  w.u16(0x0102).zeros(3).latin1('xy').bytes(Uint8Array.of(9));
  assert.equal(w.patchU32(m), 8);
  assert.deepEqual([...w.finish()], [0xaa, 0, 0, 0, 8, 1, 2, 0, 0, 0, 0x78, 0x79, 9]);
});

test('ChunkQueue peeks across chunks, takes views inside a chunk and copies across', () => {
  const q = new ChunkQueue();
  const a = Uint8Array.of(1, 2, 3);
  q.push(a);
  q.push(new Uint8Array(0));
  q.push(Uint8Array.of(4, 5));
  q.push(Uint8Array.of(6, 7, 8, 9));
  assert.equal(q.length, 9);
  assert.equal(q.peekByte(4), 5);
  assert.equal(q.peekU32(1), 0x02030405);
  const first = q.take(2);
  assert.equal(first.buffer, a.buffer, 'view, no copy');
  assert.deepEqual([...q.take(4)], [3, 4, 5, 6]);
  assert.equal(q.length, 3);
  assert.deepEqual([...q.take(3)], [7, 8, 9]);
  assert.equal(q.length, 0);
  assert.throws(() => q.take(1), RangeError);
  assert.throws(() => q.peekByte(0), RangeError);
});

test('ChunkQueue takes a view across chunks that lie side by side in one buffer, and copies otherwise', () => {
  const slab = Uint8Array.from({ length: 32 }, (_, i) => i);
  const q = new ChunkQueue();
  q.push(slab.subarray(0, 5));
  q.push(slab.subarray(5, 12));
  q.push(slab.subarray(12, 20));
  const spanning = q.take(15);
  assert.equal(spanning.buffer, slab.buffer, 'view, no copy');
  assert.equal(spanning.byteOffset, 0);
  assert.deepEqual([...spanning], [...slab.subarray(0, 15)]);
  // A gap (bytes 20–21 never pushed) and a chunk from another buffer: copies.
  q.push(slab.subarray(22, 26));
  q.push(Uint8Array.of(100, 101));
  const gap = q.take(7);
  assert.notEqual(gap.buffer, slab.buffer);
  assert.deepEqual([...gap], [15, 16, 17, 18, 19, 22, 23]);
  const other = q.take(4);
  assert.notEqual(other.buffer, slab.buffer);
  assert.deepEqual([...other], [24, 25, 100, 101]);
  assert.equal(q.length, 0);
});

test('ChunkQueue: any mix of slab pieces and separate chunks, taken in any sizes, gives the bytes back in order', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 1, maxLength: 400 }),
    fc.array(fc.record({ len: fc.integer({ min: 0, max: 60 }), own: fc.boolean() }), { minLength: 1, maxLength: 40 }),
    fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 40 }),
    (data, pieces, takes) => {
      // The data, cut into pieces: each either a view of one shared slab or a copy of its own.
      const q = new ChunkQueue();
      let off = 0;
      for (const p of pieces) {
        if (off >= data.length) break;
        const piece = data.subarray(off, Math.min(data.length, off + p.len));
        q.push(p.own ? piece.slice() : piece);
        off += piece.length;
      }
      if (off < data.length) q.push(data.subarray(off));
      const got: number[] = [];
      for (const t of takes) {
        const n = Math.min(t, q.length);
        const part = q.take(n);
        assert.equal(part.length, n);
        got.push(...part);
      }
      got.push(...q.take(q.length));
      assert.deepEqual(got, [...data]);
    },
  ));
});

test('ChunkQueue keeps order across thousands of chunks while dropping consumed ones', () => {
  const q = new ChunkQueue();
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 97; i++) q.push(Uint8Array.of(next++ & 0xff));
    const got = q.take(Math.min(q.length, 61 + (round % 40)));
    for (const b of got) assert.equal(b, expect++ & 0xff);
  }
  const rest = q.take(q.length);
  for (const b of rest) assert.equal(b, expect++ & 0xff);
  assert.equal(expect, next);
});

test('ChunkQueue.peekU32 reads inside the first chunk after a take, and across chunks at its end', () => {
  const q = new ChunkQueue();
  q.push(Uint8Array.of(0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60));
  q.push(Uint8Array.of(0x70, 0x80));
  q.take(1);
  assert.equal(q.peekU32(0), 0x10203040);
  assert.equal(q.peekU32(2), 0x30405060); // the last four bytes of the first chunk
  assert.equal(q.peekU32(3), 0x40506070); // one byte from the second
  assert.equal(q.peekU32(4), 0x50607080);
  q.push(Uint8Array.of(0xfe));
  q.take(5);
  assert.equal(q.peekU32(0), 0x607080fe);
  const high = new ChunkQueue();
  high.push(Uint8Array.of(0, 0x80, 0, 0, 1, 9));
  high.take(1);
  assert.equal(high.peekU32(0), 0x80000001); // above 2^31 inside one chunk: not negative
});
