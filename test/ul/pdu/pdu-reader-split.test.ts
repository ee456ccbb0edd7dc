import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PduDecodeError } from '../../../src/ul/errors.js';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { encodePdu } from '../../../src/ul/pdu/encode.js';
import { PduReader } from '../../../src/ul/pdu/pdu-reader.js';
import type { Pdu, PresentationDataValue } from '../../../src/ul/pdu/types.js';

const LIMIT = 1 << 20;

function pdata(pdvs: { id?: number; command?: boolean; last?: boolean; value: Uint8Array }[]): Uint8Array {
  return encodePdu({
    type: 'P-DATA-TF',
    pdvs: pdvs.map((p) => ({ presentationContextId: p.id ?? 1, isCommand: p.command ?? false, isLast: p.last ?? false, data: p.value })),
  });
}

function value(n: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

/** Join the pieces of split PDVs back into the items they came from. */
function joined(pdus: readonly Pdu[]): Pdu[] {
  return pdus.map((pdu) => {
    if (pdu.type !== 'P-DATA-TF') return pdu;
    const pdvs: PresentationDataValue[] = [];
    let parts: Uint8Array[] = [];
    for (const pdv of pdu.pdvs) {
      parts.push(pdv.data);
      if (pdv.continued) continue;
      const data = parts.length === 1 ? pdv.data : Uint8Array.from(parts.flatMap((p) => [...p]));
      pdvs.push({ presentationContextId: pdv.presentationContextId, isCommand: pdv.isCommand, isLast: pdv.isLast, data });
      parts = [];
    }
    assert.equal(parts.length, 0, 'the last piece is never continued');
    return { type: 'P-DATA-TF', pdvs };
  });
}

function read(chunks: readonly Uint8Array[], splitDataValues: boolean): Pdu[] {
  const reader = new PduReader({ maxPduLength: LIMIT, splitDataValues });
  const out = chunks.flatMap((c) => reader.push(c));
  assert.equal(reader.bufferedBytes, 0);
  return out;
}

test('a one-item P-DATA-TF over two reads: its value as two views of them, the last bit on the second', () => {
  const v = value(40_000);
  const pdu = pdata([{ id: 3, command: false, last: true, value: v }]);
  const cut = 25_000;
  const first = pdu.slice(0, cut);
  const second = pdu.slice(cut);
  const [got] = read([first, second], true);
  assert.ok(got?.type === 'P-DATA-TF');
  assert.equal(got.pdvs.length, 2);
  const [a, b] = got.pdvs as [PresentationDataValue, PresentationDataValue];
  assert.equal(a.data.buffer, first.buffer, 'a view of the first read');
  assert.equal(b.data.buffer, second.buffer, 'a view of the second read');
  assert.deepEqual([a.presentationContextId, a.isCommand, a.isLast, a.continued], [3, false, false, true]);
  assert.deepEqual([b.presentationContextId, b.isCommand, b.isLast, b.continued], [3, false, true, undefined]);
  assert.equal(a.data.length + b.data.length, v.length);
  assert.deepEqual(joined([got]), [decodePdu(pdu)]);
  // Without the option: one item, copied together, as before.
  const [plain] = read([first, second], false);
  assert.ok(plain?.type === 'P-DATA-TF');
  assert.equal(plain.pdvs.length, 1);
  assert.deepEqual(plain, decodePdu(pdu));
});

test('headers in one read and the whole value in the next: one view, no split and no copy', () => {
  const pdu = pdata([{ value: value(40_000), last: true }]);
  const head = pdu.slice(0, 12);
  const body = pdu.slice(12);
  const [got] = read([head, body], true);
  assert.ok(got?.type === 'P-DATA-TF');
  assert.equal(got.pdvs.length, 1);
  assert.equal(got.pdvs[0]!.data.buffer, body.buffer);
  assert.equal(got.pdvs[0]!.continued, undefined);
});

test('what is not split: tiny pieces, small values, several items, an even context ID (the same error as ever)', () => {
  // 7-byte reads: one copy, one PDV.
  const big = pdata([{ value: value(40_000), last: true }]);
  const tiny: Uint8Array[] = [];
  for (let i = 0; i < big.length; i += 7) tiny.push(big.slice(i, i + 7));
  const [t] = read(tiny, true);
  assert.ok(t?.type === 'P-DATA-TF');
  assert.equal(t.pdvs.length, 1);
  // A small command value over two reads.
  const small = pdata([{ command: true, last: true, value: value(300) }]);
  const [s] = read([small.slice(0, 100), small.slice(100)], true);
  assert.deepEqual(s, decodePdu(small));
  // Two items in one PDU.
  const two = pdata([{ value: value(20_000) }, { value: value(20_000, 7), last: true }]);
  const [w] = read([two.slice(0, 30_000), two.slice(30_000)], true);
  assert.deepEqual(w, decodePdu(two));
  // An even presentation context ID is refused exactly as decodePdu refuses it.
  const even = pdata([{ id: 3, value: value(40_000), last: true }]);
  even[10] = 2; // the encoder refuses to write it
  const reader = new PduReader({ maxPduLength: LIMIT, splitDataValues: true });
  reader.push(even.slice(0, 20_000));
  assert.throws(
    () => reader.push(even.slice(20_000)),
    (e: unknown) => e instanceof PduDecodeError && e.field === 'P-DATA-TF.PDV.Presentation-context-ID',
  );
});

test('any PDU stream in any chunking: the pieces joined are the PDUs decoded whole, and every piece is a view', () => {
  const pduArb = fc.oneof(
    fc.record({ n: fc.integer({ min: 16_384, max: 70_000 }), seed: fc.nat(255), command: fc.boolean(), last: fc.boolean() })
      .map((p) => pdata([{ id: 5, command: p.command, last: p.last, value: value(p.n, p.seed) }])),
    fc.integer({ min: 0, max: 20_000 }).map((n) => pdata([{ value: value(n) }, { id: 7, last: true, value: value(9) }])),
    fc.constant(encodePdu({ type: 'A-RELEASE-RQ' })),
  );
  fc.assert(
    fc.property(fc.array(pduArb, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 50_000 }), { minLength: 1, maxLength: 30 }), (pdus, sizes) => {
      const stream = Uint8Array.from(pdus.flatMap((p) => [...p]));
      const chunks: Uint8Array[] = [];
      for (let off = 0, i = 0; off < stream.length; i++) {
        const n = sizes[i % sizes.length]!;
        chunks.push(stream.slice(off, off + n)); // each read its own buffer, as from a socket
        off += n;
      }
      const split = read(chunks, true);
      assert.deepEqual(joined(split), pdus.map((p) => decodePdu(p)));
      const buffers = new Set(chunks.map((c) => c.buffer));
      for (const pdu of split) {
        if (pdu.type !== 'P-DATA-TF' || !pdu.pdvs.some((p) => p.continued)) continue;
        for (const pdv of pdu.pdvs) assert.ok(buffers.has(pdv.data.buffer), 'a piece is a view of a read');
      }
    }),
    { numRuns: 150 },
  );
});
