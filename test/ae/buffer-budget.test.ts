/**
 * The rules of HeldDatasets against a server's shared budget, without sockets: a data set being
 * collected counts from its first fragment; only the collection that started first may go beyond
 * the limit, the others wait for room (or to become the oldest), so the most held is the limit
 * plus one data set and there is always one collection that can go on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferBudget, HeldDatasets } from '../../src/ae/buffer-budget.js';

/** One association's data sets against `server`, with a switch to close it. */
function association(server: BufferBudget, limit = 0): { datasets: HeldDatasets; close: () => void; paused: string[] } {
  let closed = false;
  let close!: () => void;
  const promise = new Promise<void>((resolve) => (close = () => ((closed = true), resolve())));
  const paused: string[] = [];
  const datasets = new HeldDatasets(limit, server, { when: () => promise, is: () => closed }, (which) => void paused.push(which));
  return { datasets, close, paused };
}

const sinkOf = (a: { datasets: HeldDatasets }) => {
  const inner: { write(fragment: Uint8Array): void | Promise<void> } = { write() {} };
  return a.datasets.collect(inner);
};
const bytes = (n: number): Uint8Array => new Uint8Array(n);

/** Whether `p` has settled once pending callbacks have run. */
async function settled(p: Promise<void> | void): Promise<boolean> {
  if (p === undefined) return true;
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

test('the oldest collection goes beyond the server budget; a later one waits for room, then goes on', async () => {
  const server = new BufferBudget(100);
  const a = association(server);
  const b = association(server);
  const ca = sinkOf(a);
  const cb = sinkOf(b);
  assert.equal(ca.sink.write(bytes(60)), undefined, 'room: taken at once, no promise');
  const waiting = cb.sink.write(bytes(50));
  assert.ok(waiting instanceof Promise, 'no room for 50 more under 100: the later collection waits');
  assert.equal(server.held, 60, 'the fragment that waits is not counted yet');
  assert.deepEqual(b.paused, ['server']);
  // The oldest goes on past the limit: what the others hold (nothing) is within it.
  assert.equal(await settled(ca.sink.write(bytes(80))), true);
  assert.equal(server.held, 140);
  assert.equal(await settled(waiting), false);
  // Complete and taken by its handler: the bytes are given back, the waiting fragment fits now.
  a.datasets.arrived();
  a.datasets.giveBack(ca.held);
  assert.equal(await settled(waiting), true);
  assert.equal(server.held, 50);
  assert.equal(cb.held.bytes, 50);
});

test('when the oldest completes but waits for its handler, the next oldest goes on only once the others are within the budget', async () => {
  const server = new BufferBudget(100);
  const a = association(server);
  const b = association(server);
  const ca = sinkOf(a);
  const cb = sinkOf(b);
  ca.sink.write(bytes(90));
  ca.sink.write(bytes(90));
  const waiting = cb.sink.write(bytes(20));
  a.datasets.arrived();
  // b is the oldest collection now, but a's 180 complete bytes (waiting for a handler) exceed the budget.
  assert.equal(await settled(waiting), false);
  assert.ok(server.held <= 100 + 180);
  a.datasets.giveBack(ca.held);
  assert.equal(await settled(waiting), true);
  // The oldest again: it may exceed the budget on its own.
  assert.equal(await settled(cb.sink.write(bytes(200))), true);
  assert.equal(server.held, 220);
});

test('every collection waiting with the budget full: the oldest still goes on (no deadlock), the rest follow in turn', async () => {
  const server = new BufferBudget(100);
  const all = [association(server), association(server), association(server)];
  const collections = all.map(sinkOf);
  // Each takes what fits, then waits; the first started is the oldest.
  collections[0]!.sink.write(bytes(30));
  collections[1]!.sink.write(bytes(30));
  collections[2]!.sink.write(bytes(30));
  const w1 = collections[1]!.sink.write(bytes(30));
  const w2 = collections[2]!.sink.write(bytes(30));
  assert.equal(await settled(w1), false);
  assert.equal(await settled(w2), false);
  assert.equal(await settled(collections[0]!.sink.write(bytes(30))), true, 'the oldest is never stopped by the collections after it');
  let peak = server.held;
  all[0]!.datasets.arrived();
  all[0]!.datasets.giveBack(collections[0]!.held);
  // 60 held: room for one fragment of 30 (the next oldest's), not for both.
  assert.equal(await settled(w1), true);
  assert.equal(await settled(w2), false);
  peak = Math.max(peak, server.held);
  all[1]!.datasets.arrived();
  all[1]!.datasets.giveBack(collections[1]!.held);
  assert.equal(await settled(w2), true);
  peak = Math.max(peak, server.held);
  assert.ok(peak <= 100 + 60, `held ${peak}`);
  for (const [i, a] of all.entries()) a.datasets.giveBack(collections[i]!.held);
  assert.equal(server.held, 0);
});

test('an association that ends mid-collection gives its bytes back and its place as the oldest', async () => {
  const server = new BufferBudget(100);
  const a = association(server);
  const b = association(server);
  const ca = sinkOf(a);
  const cb = sinkOf(b);
  ca.sink.write(bytes(150));
  const waiting = cb.sink.write(bytes(10));
  assert.equal(await settled(waiting), false);
  a.close();
  a.datasets.giveBackAll();
  assert.equal(await settled(waiting), true);
  assert.equal(server.held, 10);
  // b is the oldest now, and nothing else is held: it goes on past the budget.
  assert.equal(await settled(cb.sink.write(bytes(500))), true);
  b.datasets.giveBackAll();
  assert.equal(server.held, 0);
  // Given back once: a second giveBack of the same data set changes nothing.
  b.datasets.giveBack(cb.held);
  assert.equal(server.held, 0);
});

test('one data set alone always completes against its association budget; a later one waits while earlier ones are held', async () => {
  const server = new BufferBudget(0);
  const a = association(server, 100);
  const first = sinkOf(a);
  assert.equal(await settled(first.sink.write(bytes(300))), true, 'alone: received whole beyond the association budget');
  a.datasets.arrived();
  assert.equal(a.datasets.mustWait(true), true, 'a new data set waits while the budget is full');
  const second = sinkOf(a);
  const waiting = second.sink.write(bytes(10));
  assert.equal(await settled(waiting), false, 'an earlier data set holds the budget: the next fragment waits');
  a.datasets.giveBack(first.held);
  assert.equal(await settled(waiting), true);
});

/** An association whose handler may wait for its peer (`urgent`), and that records a stall abort. */
function hooked(server: BufferBudget): { datasets: HeldDatasets; urgent: { on: boolean }; stalls: Error[] } {
  const urgent = { on: false };
  const stalls: Error[] = [];
  const never = new Promise<void>(() => undefined);
  const datasets = new HeldDatasets(0, server, { when: () => never, is: () => false }, undefined, { urgent: () => urgent.on, stalled: (e) => void stalls.push(e) });
  return { datasets, urgent, stalls };
}

test('a collection whose association waits for its peer goes before older ones while the budget is not over its limit', async () => {
  const server = new BufferBudget(100);
  const a = hooked(server);
  const b = hooked(server);
  const ca = sinkOf(a);
  const cb = sinkOf(b);
  ca.sink.write(bytes(60));
  const waiting = cb.sink.write(bytes(50));
  assert.equal(await settled(waiting), false, 'no room, and b is not the oldest');
  // b's handler now waits for its peer, whose answer is behind b's data set on the wire.
  b.urgent.on = true;
  b.datasets.urgencyChanged();
  assert.equal(await settled(waiting), true, 'b goes first: what the others hold (60) is within the limit');
  assert.equal(server.held, 110);
  // Over the limit now through b: a waits for room, b goes on.
  const aWaits = ca.sink.write(bytes(10));
  assert.equal(await settled(aWaits), false);
  assert.equal(await settled(cb.sink.write(bytes(100))), true);
  b.datasets.giveBackAll();
  assert.equal(await settled(aWaits), true);
});

test('over the limit, the collection that took it there stays first: one that becomes urgent later waits (no deadlock between them)', async () => {
  const server = new BufferBudget(100);
  const a = hooked(server);
  const b = hooked(server);
  const ca = sinkOf(a);
  const cb = sinkOf(b);
  ca.sink.write(bytes(150));
  const waiting = cb.sink.write(bytes(10));
  b.urgent.on = true;
  b.datasets.urgencyChanged();
  assert.equal(await settled(waiting), false, 'a is over the limit: b would wait for it, and it for b');
  assert.equal(await settled(ca.sink.write(bytes(10))), true, 'a still goes on');
  a.datasets.arrived();
  a.datasets.giveBack(ca.held);
  assert.equal(await settled(waiting), true);
});

test('the first collection, stalled while another waits, is abandoned after stallMs, once', async () => {
  const server = new BufferBudget(100, 20);
  const a = hooked(server);
  const b = hooked(server);
  const ca = sinkOf(a);
  const cb = sinkOf(b);
  ca.sink.write(bytes(90));
  const waiting = cb.sink.write(bytes(50));
  for (let i = 0; i < 1000 && a.stalls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(a.stalls.length, 1);
  assert.equal(a.stalls[0]!.name, 'DatasetStalledError');
  assert.equal(b.stalls.length, 0);
  // The association gives its bytes back as it aborts: b goes on.
  a.datasets.giveBackAll();
  assert.equal(await settled(waiting), true);
  b.datasets.giveBackAll();
  assert.equal(server.held, 0);
});
