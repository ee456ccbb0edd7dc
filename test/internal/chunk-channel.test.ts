import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkChannel } from '../../src/internal/chunk-channel.js';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

async function readAll(channel: ChunkChannel): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of channel) out.push(chunk);
  return out;
}

test('the reader gets every chunk in order, then ends after end()', async () => {
  const channel = new ChunkChannel(1024);
  const reading = readAll(channel);
  const sent = [bytes(10, 1), bytes(20, 2), bytes(30, 3)];
  for (const c of sent) assert.equal(channel.write(c), true);
  channel.end();
  assert.deepEqual(await reading, sent);
});

test('write says false at the high-water mark; drained() settles once the reader has taken enough', async () => {
  const channel = new ChunkChannel(100);
  assert.equal(channel.write(bytes(60)), true);
  assert.equal(channel.write(bytes(60)), false);
  let drained = false;
  const waiting = channel.drained().then(() => (drained = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, false, 'nothing was read yet');
  const iterator = channel[Symbol.asyncIterator]();
  await iterator.next();
  await waiting;
  assert.equal(drained, true);
  channel.end();
  assert.equal((await iterator.next()).done, false);
  assert.equal((await iterator.next()).done, true);
});

test('destroy: the reader throws the error, queued chunks are dropped, a waiting writer goes on', async () => {
  const dropped: Uint8Array[] = [];
  const channel = new ChunkChannel(10, (c) => dropped.push(c));
  const a = bytes(8);
  const b = bytes(8);
  channel.write(a);
  assert.equal(channel.write(b), false);
  const waiting = channel.drained();
  channel.destroy(new Error('aborted'));
  await waiting;
  await assert.rejects(readAll(channel), /aborted/);
  assert.deepEqual(dropped, [a, b]);
  const late = bytes(3);
  assert.equal(channel.write(late), true);
  assert.deepEqual(dropped, [a, b, late]);
  assert.equal(channel.closed, true);
});

test('a reader that stops early drops what is queued and every later chunk', async () => {
  const dropped: Uint8Array[] = [];
  const channel = new ChunkChannel(1024, (c) => dropped.push(c));
  const first = bytes(4, 1);
  const second = bytes(4, 2);
  channel.write(first);
  channel.write(second);
  for await (const chunk of channel) {
    assert.equal(chunk, first);
    break;
  }
  assert.deepEqual(dropped, [second]);
  const late = bytes(4, 3);
  channel.write(late);
  assert.deepEqual(dropped, [second, late]);
});

test('close() with no reader ever (a store that failed before reading) releases a writer waiting for room', async () => {
  const dropped: Uint8Array[] = [];
  const channel = new ChunkChannel(4, (c) => dropped.push(c));
  const queued = bytes(8);
  assert.equal(channel.write(queued), false);
  const waiting = channel.drained();
  channel.close();
  await waiting;
  assert.deepEqual(dropped, [queued]);
  assert.equal(channel.write(bytes(1)), true);
  assert.equal(dropped.length, 2);
});

test('takeEach: queued chunks first, then each inside write (nothing queued); a waiting writer goes on; true at end', async () => {
  const channel = new ChunkChannel(100);
  const sent = [bytes(60, 1), bytes(60, 2), bytes(10, 3), bytes(10, 4)];
  assert.equal(channel.write(sent[0]!), true);
  assert.equal(channel.write(sent[1]!), false);
  const drained = channel.drained();
  const taken: Uint8Array[] = [];
  const taking = channel.takeEach((chunk) => (taken.push(chunk), true));
  assert.deepEqual(taken, sent.slice(0, 2), 'the queued chunks are taken at once');
  await drained;
  assert.equal(channel.write(sent[2]!), true);
  assert.equal(taken.length, 3, 'taken within write, synchronously');
  assert.equal(channel.write(sent[3]!), true);
  channel.end();
  assert.equal(await taking, true);
  assert.deepEqual(taken, sent);
});

test('takeEach: a declined chunk ends the taking (false); the rest is read by iterating, in order', async () => {
  const channel = new ChunkChannel(1024);
  const taken: Uint8Array[] = [];
  const taking = channel.takeEach((chunk) => (taken.push(chunk), taken.length < 2));
  const sent = [bytes(10, 1), bytes(10, 2), bytes(10, 3), bytes(10, 4)];
  for (const c of sent) channel.write(c);
  channel.end();
  assert.equal(await taking, false);
  assert.deepEqual(taken, sent.slice(0, 2));
  assert.deepEqual(await readAll(channel), sent.slice(2));
});

test('takeEach: destroy rejects it with the error; later chunks are dropped', async () => {
  const dropped: Uint8Array[] = [];
  const channel = new ChunkChannel(1024, (c) => dropped.push(c));
  const taking = channel.takeEach(() => true);
  const error = new Error('association aborted');
  channel.destroy(error);
  await assert.rejects(taking, (e) => e === error);
  const late = bytes(5);
  channel.write(late);
  assert.deepEqual(dropped, [late]);
  await assert.rejects(channel.takeEach(() => true), (e) => e === error);
});
