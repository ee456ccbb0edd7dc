import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { DimseAssembler, collectSink, writableSink } from '../../src/dimse/assembler.js';
import type { DatasetSink } from '../../src/dimse/assembler.js';
import { DimseProtocolError } from '../../src/dimse/errors.js';
import { fragmentMessage } from '../../src/dimse/fragmenter.js';
import { commandHasDataset, encodeCommand } from '../../src/dimse/messages.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import type { PresentationDataValue } from '../../src/ul/pdu/types.js';
import { dimseExamples } from '../helpers/dimse-examples.js';

const ECHO: DimseCommand = { type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: '1.2.840.10008.1.1' };
const STORE = dimseExamples[0]!;

interface Received {
  command: DimseCommand;
  pcId: number;
  dataset: Uint8Array | undefined;
}

/** An assembler whose handlers record every message, datasets collected in memory. */
function recorder(): { asm: DimseAssembler; got: Received[]; events: string[] } {
  const got: Received[] = [];
  const events: string[] = [];
  const sinks = new Map<DimseCommand, ReturnType<typeof collectSink>>();
  const asm = new DimseAssembler({
    onCommand(command, _pcId, hasDataset) {
      events.push(`command ${command.type}`);
      if (!hasDataset) return undefined;
      const s = collectSink();
      sinks.set(command, s);
      return s;
    },
    onMessage(command, pcId) {
      events.push(`message ${command.type}`);
      got.push({ command, pcId, dataset: sinks.get(command)?.bytes() });
    },
  });
  return { asm, got, events };
}

const pdvs = (command: DimseCommand, dataset: Uint8Array | undefined, max: number, pcId = 1): PresentationDataValue[] => [
  ...fragmentMessage(encodeCommand(command), dataset, { presentationContextId: pcId, maxPduLength: max }),
];

/** Group PDVs into P-DATA-TFs of the given sizes (cycled). */
function group<T>(items: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  for (let i = 0, k = 0; i < items.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]!);
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

test('a command without dataset, then one with a dataset, on different contexts', async () => {
  const { asm, got, events } = recorder();
  await asm.push(pdvs(ECHO, undefined, 0, 1));
  assert.ok(asm.idle);
  const ds = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  for (const p of pdvs(STORE, ds, 64, 3)) await asm.push(p);
  assert.deepEqual(events, ['command C-ECHO-RQ', 'message C-ECHO-RQ', 'command C-STORE-RQ', 'message C-STORE-RQ']);
  assert.deepEqual(got[0], { command: { ...ECHO, hasDataset: false }, pcId: 1, dataset: undefined });
  assert.equal(got[1]!.pcId, 3);
  assert.deepEqual(got[1]!.command, STORE);
  assert.deepEqual(Buffer.from(got[1]!.dataset!), Buffer.from(ds));
});

test('every chunking: each max PDU length × each grouping of PDVs into P-DATA-TFs', async () => {
  const ds = Uint8Array.from({ length: 98 }, (_, i) => (i * 7) & 0xff);
  for (let max = 8; max <= 140; max++) {
    for (const sizes of [[1], [2], [3, 1], [1000]]) {
      const { asm, got } = recorder();
      for (const tf of group(pdvs(STORE, ds, max), sizes)) await asm.push(tf);
      for (const tf of group(pdvs(ECHO, undefined, max), sizes)) await asm.push(tf);
      assert.equal(got.length, 2, `max ${max}`);
      assert.deepEqual(Buffer.from(got[0]!.dataset!), Buffer.from(ds));
      assert.equal(got[1]!.command.type, 'C-ECHO-RQ');
    }
  }
});

test('backpressure: push settles only after the sink accepted each fragment; order is kept', async () => {
  const writes: number[] = [];
  let release: (() => void) | undefined;
  let ended = false;
  const messages: string[] = [];
  const sink: DatasetSink = {
    write(fragment) {
      writes.push(fragment.length);
      return new Promise<void>((r) => (release = r));
    },
    end() {
      ended = true;
    },
  };
  const asm = new DimseAssembler({
    onCommand: (_c, _p, has) => (has ? sink : undefined),
    onMessage: (c) => void messages.push(c.type),
  });
  const all = pdvs(STORE, new Uint8Array(20), 16);
  const cmd = all.filter((p) => p.isCommand);
  const [d1, d2] = all.filter((p) => !p.isCommand);
  let settled1 = false;
  let settled2 = false;
  const p1 = asm.push([...cmd, d1!]).then(() => (settled1 = true));
  const p2 = asm.push(d2!).then(() => (settled2 = true));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [10]);
  assert.ok(!settled1 && !settled2, 'the first P-DATA waits for the sink');
  release!();
  await p1;
  assert.ok(settled1);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [10, 10]);
  assert.ok(!settled2 && !ended && messages.length === 0, 'message not reported before the dataset is written');
  release!();
  await p2;
  assert.ok(ended);
  assert.deepEqual(messages, ['C-STORE-RQ']);
});

test('writableSink waits for drain of a slow Writable and ends it', async () => {
  const seen: Buffer[] = [];
  const pending: (() => void)[] = [];
  const w = new Writable({
    highWaterMark: 8,
    write(chunk: Buffer, _enc, cb) {
      seen.push(Buffer.from(chunk));
      pending.push(cb);
    },
  });
  let done = false;
  const asm = new DimseAssembler({ onCommand: () => writableSink(w), onMessage: () => void (done = true) });
  const ds = Uint8Array.from({ length: 50 }, (_, i) => i);
  const all = asm.push(pdvs(STORE, ds, 16));
  // Complete the writes one by one, as a slow disk would.
  while (!done) {
    await new Promise((r) => setImmediate(r));
    const cb = pending.shift();
    if (cb) cb();
  }
  await all;
  assert.ok(w.writableFinished);
  assert.deepEqual(Buffer.concat(seen), Buffer.from(ds));
});

async function violation(feed: PresentationDataValue[][], expected: string, opts = {}): Promise<DimseAssembler> {
  const aborted: Error[] = [];
  const asm = new DimseAssembler(
    {
      onCommand: (_c, _p, has) => (has ? { write() {}, end() {}, abort: (e) => void aborted.push(e) } : undefined),
      onMessage() {},
    },
    opts,
  );
  let error: unknown;
  for (const tf of feed) {
    try {
      await asm.push(tf);
    } catch (e) {
      error = e;
      break;
    }
  }
  assert.ok(error instanceof DimseProtocolError, `expected ${expected}, got ${String(error)}`);
  assert.equal(error.code, 'DICOM_ERR_DIMSE_PROTOCOL');
  assert.equal(error.violation, expected);
  // The assembler stays failed: later input reports the same error.
  await assert.rejects(asm.push(pdvs(ECHO, undefined, 0)), (e) => e === error);
  return asm;
}

test('protocol violations are typed errors', async () => {
  const store = pdvs(STORE, new Uint8Array(30), 16, 1);
  const echo = pdvs(ECHO, undefined, 16, 1);
  const echo3 = pdvs(ECHO, undefined, 16, 3);
  await violation([[store.at(-1)!]], 'dataset-before-command');
  await violation([[echo[0]!, store.at(-1)!]], 'dataset-before-command');
  await violation([[echo[0]!], [echo3[0]!]], 'interleaved-message');
  await violation([store.slice(0, -2), [pdvs(STORE, new Uint8Array(30), 16, 3).at(-1)!]], 'interleaved-message');
  await violation([[...echo, { ...store.at(-1)! }]], 'unexpected-dataset');
  await violation([store.filter((p) => p.isCommand), echo], 'missing-dataset');
  await violation([echo], 'command-too-large', { maxCommandLength: 40 });
  await violation([echo], 'unknown-presentation-context', { isAcceptedContext: (id: number) => id === 3 });
  const garbage = [{ presentationContextId: 1, isCommand: true, isLast: true, data: new Uint8Array([1, 2, 3]) }];
  const asm = await violation([garbage], 'invalid-command');
  assert.ok(!asm.idle);
});

test('a violation or close() in the middle of a dataset aborts the sink', async () => {
  const aborted: Error[] = [];
  const mk = () =>
    new DimseAssembler({ onCommand: () => ({ write() {}, end() {}, abort: (e) => void aborted.push(e) }), onMessage() {} });
  const store = pdvs(STORE, new Uint8Array(30), 16, 1);
  const a = mk();
  await a.push(store.slice(0, -1));
  await assert.rejects(a.push(pdvs(ECHO, undefined, 0)), DimseProtocolError);
  assert.equal(aborted.length, 1);
  const b = mk();
  await b.push(store.slice(0, -1));
  b.close();
  assert.equal(aborted.length, 2);
  await assert.rejects(b.push(store.at(-1)!), /closed/);
});

test('a failing sink fails the push with its own error', async () => {
  const boom = new Error('disk full');
  const asm = new DimseAssembler({ onCommand: () => ({ write: () => Promise.reject(boom), end() {} }), onMessage() {} });
  await assert.rejects(asm.push(pdvs(STORE, new Uint8Array(30), 16)), (e) => e === boom);
});

test('property: fragment → assemble is the identity for every command, dataset, max length and grouping', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          command: fc.constantFrom(...dimseExamples),
          // Even lengths: an odd data set travels with one pad byte (fragmenter tests).
          dataset: fc.uint8Array({ maxLength: 300 }).map((d) => d.subarray(0, d.length & ~1)),
          max: fc.oneof(fc.integer({ min: 8, max: 400 }), fc.constant(0)),
          pcId: fc.integer({ min: 0, max: 127 }).map((n) => 2 * n + 1),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
      async (messages, sizes) => {
        const { asm, got } = recorder();
        const all = messages.flatMap((m) =>
          pdvs(m.command, commandHasDataset(m.command) ? m.dataset : undefined, m.max, m.pcId),
        );
        for (const tf of group(all, sizes)) await asm.push(tf);
        assert.equal(got.length, messages.length);
        messages.forEach((m, i) => {
          assert.deepEqual(got[i]!.command, m.command);
          assert.equal(got[i]!.pcId, m.pcId);
          if (commandHasDataset(m.command)) assert.deepEqual(Buffer.from(got[i]!.dataset!), Buffer.from(m.dataset));
          else assert.equal(got[i]!.dataset, undefined);
        });
        assert.ok(asm.idle);
      },
    ),
    { numRuns: 200 },
  );
});

test('a throwing handler leaves the assembler failed, not half-way', async () => {
  const boom = new Error('handler bug');
  const asm = new DimseAssembler({
    onCommand() {
      throw boom;
    },
    onMessage() {},
  });
  await assert.rejects(asm.push(pdvs(ECHO, undefined, 0)), (e) => e === boom);
  await assert.rejects(asm.push(pdvs(ECHO, undefined, 0)), (e) => e === boom);
  assert.ok(!asm.idle);
});

test('a dataset over the collectSink limit is a typed DIMSE error, not a RangeError', async () => {
  const asm = new DimseAssembler({ onCommand: (_c, _p, has) => (has ? collectSink(10) : undefined), onMessage() {} });
  await assert.rejects(
    asm.push(pdvs(STORE, new Uint8Array(30), 16)),
    (e) => e instanceof DimseProtocolError && e.code === 'DICOM_ERR_DIMSE_PROTOCOL' && e.violation === 'dataset-too-large',
  );
});

// The timeout is a hang guard only: before the fix the push never settled.
test('writableSink rejects when its Writable is destroyed while a write waits for drain', { timeout: 10_000 }, async () => {
  const w = new Writable({ highWaterMark: 4, write() {} }); // never calls back: no drain ever
  const asm = new DimseAssembler({ onCommand: () => writableSink(w), onMessage() {} });
  const all = asm.push(pdvs(STORE, new Uint8Array(50), 16));
  await new Promise((r) => setImmediate(r));
  w.destroy();
  await assert.rejects(all, (e) => e instanceof DimseProtocolError && e.violation === 'sink-closed');
});

test('writableSink rejects at end when its Writable closes before finishing', { timeout: 10_000 }, async () => {
  const w = new Writable({ final() {}, write(_c, _e, cb) { cb(); } }); // final never calls back: no finish
  const asm = new DimseAssembler({ onCommand: () => writableSink(w), onMessage() {} });
  const all = asm.push(pdvs(STORE, new Uint8Array(5), 16));
  await new Promise((r) => setImmediate(r));
  w.destroy();
  await assert.rejects(all, (e) => e instanceof DimseProtocolError && e.violation === 'sink-closed');
});

test('collectSink: any split of a data set into fragments (none, one, many of any size, views of a reused buffer) comes back whole and intact', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 200_000 }), { maxLength: 40 }), (sizes) => {
      const sink = collectSink(64 * 1024 * 1024);
      const expected: number[] = [];
      const reused = new Uint8Array(200_000);
      let v = 0;
      for (const n of sizes) {
        for (let i = 0; i < n; i++) reused[i] = (v = (v * 31 + 7) & 0xff);
        for (let i = 0; i < n; i++) expected.push(reused[i]!);
        if (n > 0) sink.write(reused.subarray(0, n));
      }
      sink.end();
      const got = sink.bytes();
      assert.equal(got.length, expected.length);
      assert.ok(Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(expected)));
      assert.equal(sink.bytes(), got, 'joined once');
    }),
    { numRuns: 60 },
  );
});
