import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WritableChannel } from '../../src/internal/writable-channel.js';

async function collect(channel: WritableChannel): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of channel) out.push(c);
  return out;
}

test('chunks come out one by one, as written (never joined), and the iteration ends with the stream', async () => {
  const channel = new WritableChannel(1024);
  const chunks = [Buffer.from('ab'), Buffer.from('cde'), Buffer.alloc(5000, 7), Buffer.from('z')];
  // Written before anyone reads: the Writable buffers them; they must still arrive separately.
  for (const c of chunks) channel.write(c);
  channel.end();
  const got = await collect(channel);
  assert.equal(got.length, chunks.length);
  got.forEach((c, i) => assert.equal(c, chunks[i], `chunk ${i} is the very buffer written`));
});

test('backpressure: write() reports full above highWaterMark and drains as the reader takes chunks', async () => {
  const channel = new WritableChannel(100);
  assert.equal(channel.write(Buffer.alloc(60)), true);
  assert.equal(channel.write(Buffer.alloc(60)), false, 'over the high-water mark');
  const drained = new Promise((resolve) => channel.once('drain', resolve));
  const reading = collect(channel);
  await drained;
  channel.end();
  assert.equal((await reading).length, 2);
});

test('destroy with an error fails the reader; a normal end followed by auto-destroy does not', async () => {
  const failing = new WritableChannel(1024);
  failing.on('error', () => undefined);
  failing.write(Buffer.from('x'));
  const reading = (async () => {
    const out: Uint8Array[] = [];
    for await (const c of failing) {
      out.push(c);
      failing.destroy(new Error('socket closed'));
    }
    return out;
  })();
  await assert.rejects(reading, /socket closed/);

  // The reader is slow: the stream finishes (and auto-destroys) while it still holds the last chunk.
  const slow = new WritableChannel(1024);
  slow.end(Buffer.from('last'));
  const got: Uint8Array[] = [];
  for await (const c of slow) {
    await new Promise((r) => setTimeout(r, 20));
    got.push(c);
  }
  assert.equal(got.length, 1);
  assert.equal(slow.destroyed, true);
});

test('destroy without an error before the end fails the reader too (a data set cut short)', async () => {
  const channel = new WritableChannel(1024);
  channel.write(Buffer.from('x'));
  setTimeout(() => channel.destroy(), 10);
  await assert.rejects(collect(channel), /destroyed before its end/);
});
