import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { InvalidOptionError } from '../../src/errors.js';
import {
  fragmentMessage,
  fragmentMessageAsync,
  fragmentMessageBatches,
  maxFragmentLength,
  UNLIMITED_FRAGMENT_LENGTH,
} from '../../src/dimse/fragmenter.js';
import type { PresentationDataValue } from '../../src/ul/pdu/types.js';

const bytes = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const shape = (pdvs: PresentationDataValue[]): string[] =>
  pdvs.map((p) => `${p.isCommand ? 'C' : 'D'}${p.data.length}${p.isLast ? '!' : ''}`);

test('size rule: a fragment holds maxPduLength − 6 (PS3.8 D.1: Maximum Length is the P-DATA-TF variable field)', () => {
  assert.equal(maxFragmentLength(16384), 16378);
  assert.equal(maxFragmentLength(8), 2);
  // Maximum Length 7 allows one data byte: odd, but nothing else can be sent.
  assert.equal(maxFragmentLength(7), 1);
  // Rounded down to even: every fragment has an even length (PS3.7 Annex F).
  assert.equal(maxFragmentLength(17), 10);
  assert.equal(maxFragmentLength(0), UNLIMITED_FRAGMENT_LENGTH);
  for (const bad of [1, 6, -1, 1.5, Number.NaN]) assert.throws(() => maxFragmentLength(bad), InvalidOptionError);
});

test('boundaries: payload exactly fills, one byte over, one byte under', () => {
  const opts = { presentationContextId: 3, maxPduLength: 16 }; // 10 bytes per fragment
  assert.deepEqual(shape([...fragmentMessage(bytes(10), bytes(10), opts)]), ['C10!', 'D10!']);
  // An odd total ends with a zero pad byte: no PDV is ever of odd length.
  assert.deepEqual(shape([...fragmentMessage(bytes(11), bytes(11), opts)]), ['C10', 'C2!', 'D10', 'D2!']);
  assert.deepEqual(shape([...fragmentMessage(bytes(8), bytes(20), opts)]), ['C8!', 'D10', 'D10!']);
  assert.deepEqual(shape([...fragmentMessage(bytes(22), undefined, opts)]), ['C10', 'C10', 'C2!']);
  // An empty dataset still ends with one last-fragment PDV.
  assert.deepEqual(shape([...fragmentMessage(bytes(4), new Uint8Array(0), opts)]), ['C4!', 'D0!']);
  for (const p of fragmentMessage(bytes(30), bytes(30), opts)) {
    assert.equal(p.presentationContextId, 3);
    // PDU = 6 header + PDV item (4 length + 1 id + 1 control + data) ≤ 6 + maxPduLength.
    assert.ok(6 + p.data.length <= 16);
  }
});

test('at several max PDU lengths the fragments reassemble to the input, and views are not copies', () => {
  const command = bytes(80);
  const dataset = bytes(100_003, 7);
  const padded = (max: number): Buffer => (max === 7 ? Buffer.from(dataset) : Buffer.concat([dataset, Uint8Array.of(0)]));
  for (const max of [7, 8, 16, 17, 18, 92, 4096, 16384, 16384 + 6, 65536, 0]) {
    const pdvs = [...fragmentMessage(command, dataset, { presentationContextId: 1, maxPduLength: max })];
    const cmd = pdvs.filter((p) => p.isCommand);
    const ds = pdvs.filter((p) => !p.isCommand);
    assert.deepEqual(Buffer.concat(cmd.map((p) => p.data)), Buffer.from(command));
    assert.deepEqual(Buffer.concat(ds.map((p) => p.data)), padded(max));
    assert.deepEqual(pdvs.map((p) => p.isLast).filter(Boolean).length, 2);
    assert.ok(cmd.at(-1)!.isLast && ds.at(-1)!.isLast && pdvs.indexOf(cmd.at(-1)!) === cmd.length - 1);
    const limit = maxFragmentLength(max);
    assert.ok(pdvs.every((p) => p.data.length <= limit && p.data.length > 0 && (max === 7 || p.data.length % 2 === 0)));
    assert.ok(ds.slice(0, -1).every((p) => p.data.buffer === dataset.buffer), 'dataset fragments are views');
  }
});

test('chunked and async datasets: fragments are views of even chunks, never of odd length', async () => {
  const chunks = [bytes(6), bytes(0), bytes(24, 1), bytes(4, 2)];
  const opts = { presentationContextId: 5, maxPduLength: 16 };
  const sync = [...fragmentMessage(bytes(2), chunks, opts)];
  assert.deepEqual(shape(sync), ['C2!', 'D6', 'D10', 'D10', 'D4', 'D4!']);
  const fromStream = [];
  for await (const p of fragmentMessageAsync(bytes(2), Readable.from(chunks.map((c) => Buffer.from(c))), opts)) fromStream.push(p);
  assert.deepEqual(shape(fromStream), shape(sync));
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (const c of chunks) yield c;
  }
  const fromGen = [];
  for await (const p of fragmentMessageAsync(bytes(2), gen(), opts)) fromGen.push(p);
  assert.ok(fromGen.slice(1).every((p, i) => [chunks[0], chunks[2], chunks[2], chunks[2], chunks[3]][i]!.buffer === p.data.buffer));
  const none = [];
  for await (const p of fragmentMessageAsync(bytes(2), undefined, opts)) none.push(p);
  assert.deepEqual(shape(none), ['C2!']);
  await assert.rejects(async () => {
    for await (const _ of fragmentMessageAsync(bytes(2), Readable.from(['text']), opts)) void _;
  }, InvalidOptionError);
});

test('presentation context id must be odd 1–255', () => {
  for (const id of [0, 2, 256, 1.5]) {
    assert.throws(() => [...fragmentMessage(bytes(1), undefined, { presentationContextId: id, maxPduLength: 0 })], InvalidOptionError);
  }
});

test('fragmentCommand encodes the command and insists the dataset matches CommandDataSetType', async () => {
  const { fragmentCommand } = await import('../../src/dimse/fragmenter.js');
  const { decodeCommand } = await import('../../src/dimse/messages.js');
  const { InvalidCommandError } = await import('../../src/dimse/errors.js');
  const opts = { presentationContextId: 1, maxPduLength: 0 };
  const out: PresentationDataValue[] = [];
  for await (const p of fragmentCommand({ type: 'C-FIND-RQ', messageId: 3, affectedSopClassUid: '1.2.840.10008.5.1.4.1.2.2.1', priority: 0 }, bytes(12), opts)) {
    out.push(p);
  }
  assert.deepEqual(shape(out).slice(1), ['D12!']);
  assert.equal(decodeCommand(out[0]!.data).type, 'C-FIND-RQ');
  assert.throws(() => fragmentCommand({ type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: '1.2' }, bytes(1), opts), InvalidCommandError);
  assert.throws(
    () => fragmentCommand({ type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3', priority: 0 }, undefined, opts),
    InvalidCommandError,
  );
});

test('fragmentCommand: a dataset in memory gives a synchronous generator, a stream an async one, with the same PDVs', async () => {
  const { fragmentCommand } = await import('../../src/dimse/fragmenter.js');
  const opts = { presentationContextId: 5, maxPduLength: 64 };
  const store = { type: 'C-STORE-RQ', messageId: 9, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7', affectedSopInstanceUid: '1.2.3.4', priority: 0 } as const;
  const chunks = [bytes(10), bytes(0), bytes(150)];
  const streamed = fragmentCommand(store, (async function* () { yield* chunks; })(), opts);
  assert.ok(Symbol.asyncIterator in streamed);
  const viaStream: PresentationDataValue[] = [];
  for await (const p of streamed) viaStream.push(p);
  const inMemory = fragmentCommand(store, chunks, opts);
  assert.ok(!(Symbol.asyncIterator in inMemory) && Symbol.iterator in inMemory);
  assert.deepEqual([...(inMemory as Iterable<PresentationDataValue>)], viaStream);
  const whole = [...(fragmentCommand(store, Buffer.concat(chunks), opts) as Iterable<PresentationDataValue>)];
  const datasetBytes = (pdvs: PresentationDataValue[]): number[] => pdvs.filter((p) => !p.isCommand).flatMap((p) => [...p.data]);
  assert.deepEqual(datasetBytes(whole), datasetBytes(viaStream));
  const rsp = { type: 'C-STORE-RSP', messageIdBeingRespondedTo: 9, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3', status: 0 } as const;
  const answer = [...(fragmentCommand(rsp, undefined, opts) as Iterable<PresentationDataValue>)];
  assert.ok(answer.every((p) => p.isCommand && p.presentationContextId === 5));
  assert.deepEqual(answer.map((p) => p.isLast), [...answer.slice(1).map(() => false), true]);
});

test('a dataset that is not bytes or an iterable of bytes is an InvalidOptionError, sync or async', async () => {
  const opts = { presentationContextId: 1, maxPduLength: 0 };
  for (const bad of ['text', 42, null] as unknown[]) {
    assert.throws(() => [...fragmentMessage(bytes(2), bad as Uint8Array, opts)], InvalidOptionError, String(bad));
    await assert.rejects(async () => {
      for await (const _ of fragmentMessageAsync(bytes(2), bad as Uint8Array, opts)) void _;
    }, InvalidOptionError, String(bad));
  }
});

test('fragmentMessageBatches: the command first, then one batch per chunk read, a fragment that may be the last held for the next', async () => {
  const opts = { presentationContextId: 7, maxPduLength: 16 }; // 10 bytes per fragment
  const reads: number[] = [];
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const [i, n] of [24, 0, 6, 10].entries()) {
      reads.push(i);
      yield bytes(n, i);
    }
  }
  const batches: string[][] = [];
  const seenReads: number[][] = [];
  for await (const batch of fragmentMessageBatches(bytes(12), chunks(), opts)) {
    batches.push(shape(batch));
    seenReads.push([...reads]);
  }
  // 24 → D10 D10 out, D4 held; 0 → nothing (no empty batch); 6 → the held D4 out, D6 held;
  // 10 → the held D6 out, D10 held; the end → D10 with the last-fragment bit.
  assert.deepEqual(batches, [['C10', 'C2!'], ['D10', 'D10'], ['D4'], ['D6'], ['D10!']]);
  // The command goes out before the first chunk is read; each batch once its chunk is in.
  assert.deepEqual(seenReads, [[], [0], [0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3]]);
  const flat = [];
  for await (const p of fragmentMessageAsync(bytes(12), chunks(), opts)) flat.push(p);
  assert.deepEqual(shape(flat), batches.flat());
});

test('odd chunks and odd totals (a deflated data set, a stream read in odd pieces): every PDV even, one zero pad at the end', async () => {
  const opts = { presentationContextId: 1, maxPduLength: 16 }; // 10 bytes per fragment
  for (const sizes of [[5, 0, 25, 3], [1, 1, 1], [79], [9, 9, 9, 9], [11, 2, 7], [1], [3, 0, 0, 4], [80]]) {
    const chunks = sizes.map((n, i) => bytes(n, i));
    const whole = Buffer.concat(chunks);
    const expected = whole.length % 2 === 1 ? Buffer.concat([whole, Uint8Array.of(0)]) : whole;
    const check = (pdvs: PresentationDataValue[], how: string): void => {
      const ds = pdvs.filter((p) => !p.isCommand);
      assert.ok(ds.every((p) => p.data.length % 2 === 0 && p.data.length <= 10), `${how} ${sizes}: ${shape(ds)}`);
      assert.ok(ds.slice(0, -1).every((p) => p.data.length > 0 && !p.isLast) && ds.at(-1)!.isLast, `${how} ${sizes}`);
      assert.deepEqual(Buffer.concat(ds.map((p) => p.data)), expected, `${how} ${sizes}`);
    };
    check([...fragmentMessage(bytes(2), chunks, opts)], 'sync');
    const batched: PresentationDataValue[] = [];
    for await (const b of fragmentMessageBatches(bytes(2), (async function* () { yield* chunks; })(), opts)) batched.push(...b);
    check(batched, 'batches');
  }
});

// A peer's tiny Maximum Length (8: two data bytes per P-DATA-TF) must not make every PDV of a
// large data set at once: ~150 bytes of objects per two bytes of data (600 MB for 4 MB).
test('tiny Maximum Length: fragments are made a slice at a time, the same fragments as one cut', async () => {
  const { MAX_FRAGMENTS_AT_ONCE, fragmentMessage, fragmentMessageBatches, inMemoryMessageFragments } = await import('../../src/dimse/fragmenter.js');
  const data = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  const command = new Uint8Array([1, 2, 3, 4]);
  // Streamed: no batch holds more than MAX_FRAGMENTS_AT_ONCE PDVs; together they are the data.
  let total = 0;
  let batches = 0;
  let joined = 0;
  for await (const batch of fragmentMessageBatches(command, (async function* () { yield data; })(), { presentationContextId: 1, maxPduLength: 8 })) {
    assert.ok(batch.length <= MAX_FRAGMENTS_AT_ONCE, `a batch of ${batch.length} PDVs`);
    batches++;
    for (const pdv of batch) if (!pdv.isCommand) {
      assert.equal(pdv.data[0], data[joined]);
      joined += pdv.data.length;
      total++;
    }
  }
  assert.equal(joined, data.length);
  assert.equal(total, data.length / 2);
  assert.ok(batches > 1);
  // In memory: lazily, a slice at a time (the first PDVs do not wait for all 2 million).
  const big = new Uint8Array(4 << 20);
  const before = process.memoryUsage().heapUsed;
  const pdvs = fragmentMessage(command, big, { presentationContextId: 1, maxPduLength: 8 });
  for (let i = 0; i < 4; i++) pdvs.next();
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(grown < 64 * 1024 * 1024, `${(grown / 1048576).toFixed(0)} MiB of heap for the first PDVs`);
  // The list for a burst is made only for few PDVs; at usual sizes, as before.
  assert.equal(inMemoryMessageFragments({ type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.2.3', priority: 0 } as never, data, { presentationContextId: 1, maxPduLength: 8 }), undefined);
  assert.equal(inMemoryMessageFragments({ type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.2.3', priority: 0 } as never, data, { presentationContextId: 1, maxPduLength: 16384 })?.length, 1 + Math.ceil(data.length / 16378));
});
