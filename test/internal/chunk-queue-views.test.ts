import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkQueue } from '../../src/internal/chunk-queue.js';

test('ChunkQueue.takeViews: a view per chunk spanned, no copy; one view where take would give one', () => {
  const a = Uint8Array.from({ length: 10 }, (_, i) => i);
  const b = Uint8Array.from({ length: 10 }, (_, i) => 10 + i);
  const q = new ChunkQueue();
  q.push(a);
  q.push(b);
  q.skip(3);
  assert.equal(q.piecesOf(4), 1);
  assert.equal(q.piecesOf(12), 2);
  const views = q.takeViews(12);
  assert.equal(views.length, 2);
  assert.equal(views[0]!.buffer, a.buffer);
  assert.equal(views[1]!.buffer, b.buffer);
  assert.deepEqual(views.flatMap((v) => [...v]), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  assert.equal(q.length, 5);
  // Side by side in one buffer: one view, as take gives.
  const slab = Uint8Array.from({ length: 8 }, (_, i) => 50 + i);
  q.push(slab.subarray(0, 4));
  q.push(slab.subarray(4));
  q.skip(5);
  assert.equal(q.piecesOf(8), 1);
  const one = q.takeViews(8);
  assert.equal(one.length, 1);
  assert.equal(one[0]!.buffer, slab.buffer);
  assert.deepEqual(q.takeViews(0), []);
  assert.throws(() => q.takeViews(1), RangeError);
  assert.throws(() => q.skip(1), RangeError);
});

test('ChunkQueue.piecesOf stops counting at max', () => {
  const q = new ChunkQueue();
  for (let i = 0; i < 100; i++) q.push(Uint8Array.of(i));
  assert.equal(q.piecesOf(100), 100);
  assert.equal(q.piecesOf(100, 7), 7);
});

test('ChunkQueue: skip, take and takeViews in any mix give the bytes back in order, views never copied', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 1, maxLength: 400 }),
    fc.array(fc.record({ len: fc.integer({ min: 1, max: 60 }), own: fc.boolean() }), { minLength: 1, maxLength: 40 }),
    fc.array(fc.record({ n: fc.integer({ min: 0, max: 90 }), how: fc.constantFrom('take', 'views', 'skip') }), { minLength: 1, maxLength: 40 }),
    (data, pieces, ops) => {
      const q = new ChunkQueue();
      const buffers = new Set<ArrayBufferLike>([data.buffer]);
      let off = 0;
      for (const p of pieces) {
        if (off >= data.length) break;
        const piece = data.subarray(off, Math.min(data.length, off + p.len));
        const chunk = p.own ? piece.slice() : piece;
        buffers.add(chunk.buffer);
        q.push(chunk);
        off += piece.length;
      }
      if (off < data.length) q.push(data.subarray(off));
      const got: number[] = [];
      let at = 0;
      for (const op of ops) {
        const n = Math.min(op.n, q.length);
        if (op.how === 'skip') {
          q.skip(n);
          got.push(...data.subarray(at, at + n)); // skipped bytes are not returned: stand in for them
        } else if (op.how === 'take') {
          got.push(...q.take(n));
        } else {
          const expected = n === 0 ? 0 : q.piecesOf(n);
          const views = q.takeViews(n);
          assert.equal(views.length, expected);
          for (const v of views) {
            assert.ok(v.length > 0);
            assert.ok(buffers.has(v.buffer), 'a view of a pushed chunk');
            got.push(...v);
          }
        }
        at += n;
        assert.equal(q.length, data.length - at);
      }
      assert.deepEqual(got, [...data.subarray(0, at)]);
    },
  ));
});
