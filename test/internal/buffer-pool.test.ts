/**
 * The receive-slab pool: a slab is reused only once every reference is released, a pinned one
 * never, views of other buffers are not counted, and the free list is bounded. An adopted socket
 * read is freed (its ArrayBuffer detached) when its last reference goes, a pinned one never, and
 * only a buffer that is a read of its own is adopted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adopt, isPooled, pin, poolStats, release, retain, takeSlab } from '../../src/internal/buffer-pool.js';

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

test('an adopted read is freed when its last view is released, not before', () => {
  const read = Buffer.allocUnsafeSlow(65536).fill(7);
  assert.ok(adopt(read));
  assert.ok(isPooled(read));
  const view = read.subarray(1000, 3000);
  retain(view);
  release(read); // the receiver's reference
  assert.equal(view.length, 2000, 'still held by the view: intact');
  assert.equal(view[0], 7);
  release(view);
  assert.equal(read.buffer.byteLength, 0, 'freed at the last release');
  assert.equal(view.length, 0);
  assert.ok(!isPooled(view));
  release(view); // a stray release of a freed read changes nothing
});

test('a pinned adopted read is left to the collector; only reads of their own are adopted', () => {
  const read = Buffer.allocUnsafeSlow(8192);
  assert.ok(adopt(read));
  pin(read);
  release(read);
  assert.equal(read.buffer.byteLength, 8192, 'pinned: not freed');
  const big = Buffer.allocUnsafeSlow(65536);
  assert.ok(!adopt(big.subarray(1, 60000)), 'not at the start of its buffer');
  assert.ok(!adopt(big.subarray(0, 20000)), 'a small part of a larger buffer');
  assert.ok(!adopt(Buffer.allocUnsafeSlow(1000)), 'small');
  assert.ok(!adopt(Buffer.allocUnsafe(100)), "Node's shared pool");
  assert.ok(!adopt(new Uint8Array(new SharedArrayBuffer(8192))), 'shared memory');
  assert.equal(big.buffer.byteLength, 65536);
});

test('a chunk of a buffer already counted gets a reference of its own: its release frees nothing under earlier holders', () => {
  const read = Buffer.allocUnsafeSlow(65536).fill(3);
  assert.ok(adopt(read));
  const again = read.subarray(60000); // the same read handed on again (unshifted, say)
  assert.ok(adopt(again));
  release(again); // the second receiver is done
  assert.equal(read.length, 65536, 'the first receiver still holds it');
  assert.equal(read[0], 3);
  release(read);
  assert.equal(read.buffer.byteLength, 0, 'freed at the last release');
  const slab = fresh();
  const piece = slab.subarray(0, 100);
  assert.ok(adopt(piece), 'a slab piece gets a reference too');
  release(piece);
  assert.ok(isPooled(slab), 'the filler still holds the slab');
  release(slab);
  assert.ok(!isPooled(slab));
});
