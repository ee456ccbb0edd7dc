import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DatasetHeadScanner, headText } from '../../src/store/dataset-head.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { decodeText } from '../../src/dataset/charset.js';
import { elementHeader, encodeDataset } from '../helpers/dicom-data.js';

const item = (body: Buffer, undefinedLength: boolean): Buffer => {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0xe000fffe, 0);
  h.writeUInt32LE(undefinedLength ? 0xffffffff : body.length, 4);
  const d = Buffer.alloc(undefinedLength ? 8 : 0);
  if (undefinedLength) d.writeUInt32LE(0xe00dfffe, 0);
  return Buffer.concat([h, body, d]);
};
const seqDelimiter = (): Buffer => {
  const d = Buffer.alloc(8);
  d.writeUInt32LE(0xe0ddfffe, 0);
  return d;
};

/** A data set with nested undefined-length sequences before the wanted values. */
function tricky(explicit: boolean): Buffer {
  const inner = encodeDataset([[0x00081150, 'UI', '1.2.3'], [0x00100010, 'PN', 'NOT^TOPLEVEL']], { explicit });
  const nested = Buffer.concat([elementHeader(0x00081115, 'SQ', 0xffffffff, explicit), item(inner, true), seqDelimiter()]);
  const outerItem = Buffer.concat([item(Buffer.concat([nested, inner]), true), item(inner, false)]);
  return Buffer.concat([
    encodeDataset([[0x00080005, 'CS', 'ISO_IR 192'], [0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.7']], { explicit }),
    elementHeader(0x00081110, 'SQ', 0xffffffff, explicit),
    outerItem,
    seqDelimiter(),
    encodeDataset([[0x00100010, 'PN', 'MÜLLER^HANS'], [0x0020000d, 'UI', '1.2.3.4'], [0x0020000e, 'UI', '1.2.3.4.5'], [0x00280010, 'US', Uint8Array.of(0, 2)]], { explicit }),
    elementHeader(0x7fe00010, 'OB', 100, explicit),
    Buffer.alloc(100),
  ]);
}

function scan(bytes: Buffer, sizes: readonly number[], explicit: boolean): DatasetHeadScanner {
  const scanner = new DatasetHeadScanner({ explicitVr: explicit });
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    scanner.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return scanner;
}

test('keeps top-level identifying values only, past nested undefined-length sequences, in every chunking', () => {
  for (const explicit of [true, false]) {
    const bytes = tricky(explicit);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }), (sizes) => {
        const scanner = scan(bytes, sizes, explicit);
        assert.equal(scanner.done, true);
        assert.equal(headText(scanner.values.get(0x00100010), true), 'MÜLLER^HANS');
        assert.equal(headText(scanner.values.get(0x0020000d), false), '1.2.3.4');
        assert.equal(headText(scanner.values.get(0x0020000e), false), '1.2.3.4.5');
        assert.equal(scanner.values.has(0x00081150), false);
        // Past the head it keeps nothing but walks on: the whole data set, and it is whole.
        assert.equal(scanner.consumed, bytes.length);
        scanner.finish();
      }),
      { numRuns: 200 },
    );
    const oneByte = scan(bytes, [1], explicit);
    assert.equal(headText(oneByte.values.get(0x00080005), false), 'ISO_IR 192');
  }
});

test('a wanted value longer than the limit is skipped, not buffered', () => {
  const bytes = encodeDataset([[0x00081030, 'LO', 'x'.repeat(100)], [0x0020000d, 'UI', '1.2']]);
  const scanner = new DatasetHeadScanner({ explicitVr: true, maxValueLength: 10 });
  scanner.push(bytes);
  assert.equal(scanner.values.has(0x00081030), false);
  assert.equal(headText(scanner.values.get(0x0020000d), false), '1.2');
});

test('malformed bytes give StoreError(cannotUnderstand), never another error', () => {
  assert.throws(() => new DatasetHeadScanner({ explicitVr: true }).push(Buffer.from('\x08\x00\x16\x00!!\x02\x00')), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.cannotUnderstand);
  const stray = Buffer.alloc(8);
  stray.writeUInt32LE(0xe00dfffe, 0);
  assert.throws(() => new DatasetHeadScanner({ explicitVr: false }).push(stray), StoreError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, explicit) => {
      try {
        new DatasetHeadScanner({ explicitVr: explicit }).push(bytes);
      } catch (e) {
        assert.ok(e instanceof StoreError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('keeps the items of the identifying sequences, defined or undefined lengths, in every chunking', () => {
  for (const explicit of [true, false]) {
    const a = encodeDataset([[0x00400009, 'SH', 'SPS1'], [0x00401001, 'SH', 'RP1'], [0x00400007, 'LO', 'skipped']], { explicit });
    const b = encodeDataset([[0x00401001, 'SH', 'RP2']], { explicit });
    const code = encodeDataset([[0x00080100, 'SH', 'C1'], [0x00080102, 'SH', 'L'], [0x00080104, 'LO', 'Head CT']], { explicit });
    const codeItem = item(code, false);
    const requestItems = Buffer.concat([item(a, false), item(b, true)]);
    const bytes = Buffer.concat([
      elementHeader(0x00081032, 'SQ', codeItem.length, explicit),
      codeItem,
      encodeDataset([[0x0020000d, 'UI', '1.2']], { explicit }),
      elementHeader(0x00400275, 'SQ', 0xffffffff, explicit),
      requestItems,
      seqDelimiter(),
      elementHeader(0x7fe00010, 'OB', 10, explicit),
      Buffer.alloc(10),
    ]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 6 }), (sizes) => {
        const scanner = scan(bytes, sizes, explicit);
        const text = (m: ReadonlyMap<number, unknown> | undefined, tag: number) => headText(m?.get(tag) as never, false);
        const request = scanner.sequences.get(0x00400275) ?? [];
        assert.equal(request.length, 2);
        assert.equal(text(request[0], 0x00401001), 'RP1');
        assert.equal(text(request[0], 0x00400009), 'SPS1');
        assert.equal(request[0]!.has(0x00400007), false);
        assert.equal(text(request[1], 0x00401001), 'RP2');
        const codes = scanner.sequences.get(0x00081032) ?? [];
        assert.equal(codes.length, 1);
        assert.equal(text(codes[0], 0x00080104), 'Head CT');
        assert.equal(text(scanner.values as never, 0x0020000d), '1.2');
        assert.equal(scanner.done, true);
      }),
      { numRuns: 150 },
    );
  }
});

/** Encapsulated pixel data (PS3.5 A.4): an empty Basic Offset Table item, one fragment, the delimiter. */
function encapsulated(explicit: boolean, fragment: number): Buffer {
  return Buffer.concat([elementHeader(0x7fe00010, 'OB', 0xffffffff, explicit), item(Buffer.alloc(0), false), item(Buffer.alloc(fragment, 0x5a), false), seqDelimiter()]);
}

test('finish: a data set cut inside a value, an element header, a sequence, an item or encapsulated pixel data is truncated; cut between top-level elements it is whole', () => {
  for (const explicit of [true, false]) {
    const head = encodeDataset([[0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.7'], [0x0020000d, 'UI', '1.2.3.4'], [0x0020000e, 'UI', '1.2.3.4.5']], { explicit });
    const sequence = Buffer.concat([elementHeader(0x00400275, 'SQ', 0xffffffff, explicit), item(encodeDataset([[0x00401001, 'SH', 'RP1']], { explicit }), true), seqDelimiter()]);
    // Past the head (group 0028 and up): the part no earlier scan looked at.
    const late = encodeDataset([[0x00280010, 'US', Uint8Array.of(0, 2)], [0x00880140, 'UI', '1.2.3']], { explicit });
    const body = Buffer.concat([head, sequence, late]);
    const whole = Buffer.concat([body, encapsulated(explicit, 100)]);
    // Element boundaries at top level: cutting there leaves a shorter data set that is whole.
    const boundaries = new Set<number>([0, head.length, head.length + sequence.length, body.length, whole.length]);
    let offset = 0;
    for (const part of [head, late]) {
      for (let p = 0; p < part.length; ) {
        boundaries.add(offset + p);
        const long = explicit && ['OB', 'SQ', 'UN', 'UT'].includes(part.toString('latin1', p + 4, p + 6));
        p += explicit ? (long ? 12 + part.readUInt32LE(p + 8) : 8 + part.readUInt16LE(p + 6)) : 8 + part.readUInt32LE(p + 4);
      }
      offset = part === head ? head.length + sequence.length : offset;
    }
    for (let cut = 1; cut <= whole.length; cut++) {
      const scanner = new DatasetHeadScanner({ explicitVr: explicit });
      let failure: unknown;
      try {
        // Two chunks: the cut must not depend on where a chunk ends.
        scanner.push(whole.subarray(0, Math.floor(cut / 2)));
        scanner.push(whole.subarray(Math.floor(cut / 2), cut));
        scanner.finish();
      } catch (error) {
        failure = error;
      }
      if (boundaries.has(cut)) assert.equal(failure, undefined, `explicit ${explicit}, cut at ${cut}: ${String(failure)}`);
      else {
        assert.ok(failure instanceof StoreError && failure.code === storeErrorCodes.cannotUnderstand, `explicit ${explicit}, cut at ${cut} of ${whole.length} was taken as whole`);
        assert.ok(failure.comment.length <= 64, failure.comment);
      }
    }
    // The defect's sample: Pixel Data declaring more bytes than follow.
    const scanner = new DatasetHeadScanner({ explicitVr: explicit });
    scanner.push(Buffer.concat([body, elementHeader(0x7fe00010, 'OB', 1000, explicit), Buffer.alloc(10)]));
    assert.throws(() => scanner.finish(), (e: unknown) => e instanceof StoreError && /truncated data set: the value of \(7FE0,0010\) lacks 990 bytes/.test(e.comment));
  }
});

test('headText: the same text as decoding with the character set and trimming after, for every byte mix and set', () => {
  const charsets = ['', 'ISO_IR 100', 'ISO_IR 192', 'ISO_IR 13', 'ISO 2022 IR 87', '\\ISO 2022 IR 87', ' ISO 2022 IR 159 \\ISO 2022 IR 87', 'ISO 2022 IR 6\\ISO 2022 IR 149', 'ISO_IR 144', 'GB18030', 'ISO 2022 IR 13\\ISO 2022 IR 87'];
  // Mostly 7-bit text with padding, sometimes escapes (ESC $ B, ESC ( B) and high bytes.
  const byte = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 2, arbitrary: fc.constantFrom(0x00, 0x20, 0x5c, 0x5e, 0x3d) },
    { weight: 1, arbitrary: fc.constantFrom(0x1b, 0x24, 0x42, 0x28) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  );
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 40 }), fc.constantFrom(...charsets), fc.constantFrom('PN', 'LO', 'UI', 'SH'), (bytes, charset, vr) => {
      const value = { vr, bytes: Buffer.from(bytes) };
      const reference = decodeText(value.bytes, charset, { vr }).replace(/[\0 ]+$/, '').replace(/^ +/, '');
      assert.equal(headText(value, charset), reference);
    }),
    { numRuns: 3000 },
  );
  // A first term of ISO 2022 IR 87 starts in JIS X 0208: 7-bit bytes are pairs of it, not ASCII.
  assert.notEqual(headText({ vr: 'PN', bytes: Buffer.from('\x30\x21', 'latin1') }, 'ISO 2022 IR 87'), '0!');
  // An escape in 7-bit bytes switches G0 to JIS X 0208 (PS3.5 H): not read as Latin-1.
  const escaped = { vr: 'PN', bytes: Buffer.from('Yamada^\x1b$B;3ED\x1b(B', 'latin1') };
  assert.equal(headText(escaped, '\\ISO 2022 IR 87'), decodeText(escaped.bytes, '\\ISO 2022 IR 87', { vr: 'PN' }));
  assert.equal(headText(escaped, '\\ISO 2022 IR 87'), 'Yamada^山田');
});
