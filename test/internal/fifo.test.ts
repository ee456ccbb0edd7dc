import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../src/internal/fifo.js';

test('Fifo: items come out in the order they went in, pushes and shifts interleaved, empty gives undefined', () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  const out: number[] = [];
  let next = 0;
  // A deterministic mix: runs of pushes, runs of shifts, the queue emptied now and then.
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < (round * 7) % 5; i++) q.push(next++);
    for (let i = 0; i < (round * 3) % 4; i++) {
      const v = q.shift();
      if (v !== undefined) out.push(v);
    }
  }
  assert.equal(q.length, next - out.length);
  for (let v = q.shift(); v !== undefined; v = q.shift()) out.push(v);
  assert.equal(q.length, 0);
  assert.deepEqual(out, Array.from({ length: next }, (_, i) => i));
  assert.equal(q.shift(), undefined);
});
