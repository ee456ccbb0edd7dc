/**
 * The receive-slab pool: a slab is reused only once every reference is released, a pinned one
 * never, views of other buffers are not counted, and the free list is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPooled, pin, poolStats, release, retain, takeSlab } from '../../src/internal/buffer-pool.js';

/** Take slabs until the pool hands out a fresh one (the free list may hold others' slabs). */
function fresh(): Buffer {
  for (;;) {
    const before = poolStats().created;
    const s = takeSlab();
    if (poolStats().created > before) return s;
  }
}

test('a slab comes back only when its last view is released, and is then handed out again', () => {
  const slab = fresh();
  const view = slab.subarray(100, 200);
  retain(view);
  release(slab); // the filler's reference
  assert.ok(isPooled(view), 'still held by the view');
  release(view);
  assert.ok(!isPooled(view), 'back in the pool: no longer counted');
  release(view); // a stray release of a free slab changes nothing
  const again = takeSlab();
  assert.equal(again.buffer, slab.buffer, 'the freed slab is the next one handed out');
  release(again);
});

test('a pinned slab is never reused; views of other buffers are not counted', () => {
  const slab = fresh();
  const view = slab.subarray(0, 10);
  retain(view);
  pin(view);
  release(view);
  release(slab);
  for (let i = 0; i < 40; i++) {
    const s = takeSlab();
    assert.notEqual(s.buffer, slab.buffer);
    release(s);
  }
  const other = Buffer.alloc(64);
  retain(other);
  release(other);
  pin(other);
  assert.ok(!isPooled(other));
});

test('the free list stays bounded', () => {
  const taken = Array.from({ length: poolStats().maxFree * 2 }, () => takeSlab());
  for (const s of taken) release(s);
  assert.equal(poolStats().free, poolStats().maxFree);
});
