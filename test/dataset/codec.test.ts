import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { decodeDataset, encodeDataset, transcodeDataset, decodeDatasetDict } from '../../src/dataset/codec.js';
import { dcmjs } from '../../src/dataset/dcmjs.js';
import { DatasetDecodeError, DatasetEncodeError, UnsupportedTransferSyntaxError } from '../../src/dataset/errors.js';

const { ImplicitVrLittleEndian: ILE, ExplicitVrLittleEndian: ELE, ExplicitVrBigEndian: EBE, DeflatedExplicitVrLittleEndian: DEFL } =
  TransferSyntax;

/** A study-level C-FIND identifier with a sequence, multi-values, numbers, binary words and empty keys. */
const identifier = {
  QueryRetrieveLevel: 'STUDY',
  PatientName: 'Doe^John',
  PatientID: 'ID-1',
  StudyInstanceUID: '1.2.826.0.1.3680043.2.1125.1',
  StudyDate: '20240101-20241231',
  ModalitiesInStudy: ['CT', 'MR'],
  AccessionNumber: '',
  NumberOfStudyRelatedInstances: 12,
  Rows: 512,
  PixelSpacing: [0.5, 0.25],
  ReferencedSeriesSequence: [{ SeriesInstanceUID: '1.2.3.4', SeriesNumber: 7 }],
  RedPaletteColorLookupTableData: [new Uint16Array([1, 0x0203, 0xfffe, 0x8000]).buffer],
  _vrMap: { RedPaletteColorLookupTableData: 'OW' },
};

function strip(d: unknown): unknown {
  // Compare values, not dcmjs's bookkeeping; ArrayBuffers as byte arrays.
  if (d instanceof ArrayBuffer) return [...new Uint8Array(d)];
  if (Array.isArray(d)) return d.map(strip);
  if (d !== null && typeof d === 'object') {
    return Object.fromEntries(Object.entries(d).filter(([k]) => k !== '_vrMap').map(([k, v]) => [k, strip(v)]));
  }
  return d;
}

const expected = strip({ ...identifier, PatientName: [{ Alphabetic: 'Doe^John' }] });

test('golden bytes: one element in each transfer syntax (PS3.5 7.1.2 / 7.1.3)', () => {
  const d = { PatientID: 'ID1' };
  assert.equal(Buffer.from(encodeDataset(d, ILE)).toString('hex'), '10002000' + '04000000' + '49443120');
  assert.equal(Buffer.from(encodeDataset(d, ELE)).toString('hex'), '10002000' + '4c4f' + '0400' + '49443120');
  assert.equal(Buffer.from(encodeDataset(d, EBE)).toString('hex'), '00100020' + '4c4f' + '0004' + '49443120');
  assert.equal(Buffer.from(inflateRawSync(encodeDataset(d, DEFL))).toString('hex'), '10002000' + '4c4f' + '0400' + '49443120');
});

test('round trip in every uncompressed transfer syntax', () => {
  for (const ts of [ILE, ELE, EBE, DEFL]) {
    assert.deepEqual(strip(decodeDataset(encodeDataset(identifier, ts), ts)), expected, ts);
  }
  assert.deepEqual(strip(decodeDataset(new Uint8Array(0), ELE)), {});
});

function hasDcmtk(): boolean {
  try {
    execFileSync('dcmconv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Part 10 file around `body`: preamble and meta header written by dcmjs's own writer. */
function part10(ts: string, body: Uint8Array): Buffer {
  const meta = {
    '00020002': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
    '00020003': { vr: 'UI', Value: ['1.2.3.4.5'] },
    '00020010': { vr: 'UI', Value: [ts] },
  };
  return Buffer.concat([new Uint8Array(new dcmjs.data.DicomDict(meta).write()), body]);
}

/** The dataset after the meta header of a Part 10 file (meta group length at offset 140). */
function bodyOf(file: Buffer): Uint8Array {
  return file.subarray(132 + 12 + file.readUInt32LE(140));
}

test('DCMTK reads what we write, and we read what DCMTK writes, in each transfer syntax', (t) => {
  if (!hasDcmtk()) return t.skip('DCMTK not installed');
  const dir = mkdtempSync(join(tmpdir(), 'dataset-'));
  try {
    const source = join(dir, 'ours-ele.dcm');
    writeFileSync(source, part10(ELE, encodeDataset(identifier, ELE)));
    // Without the sequence (dcmjs writes undefined lengths, DCMTK defined ones) the bytes must agree.
    const { ReferencedSeriesSequence: _, ...flat } = identifier;
    const flatSource = join(dir, 'ours-flat.dcm');
    writeFileSync(flatSource, part10(ELE, encodeDataset(flat, ELE)));
    for (const [ts, flag] of [[ILE, '+ti'], [ELE, '+te'], [EBE, '+tb'], [DEFL, '+td']] as const) {
      // Ours → dcmdump.
      const ours = join(dir, `ours-${flag}.dcm`);
      writeFileSync(ours, part10(ts, encodeDataset(identifier, ts)));
      const dump = execFileSync('dcmdump', ['+L', ours], { encoding: 'utf8' });
      assert.match(dump, /\(0010,0010\) PN \[Doe\^John\]/, ts);
      assert.match(dump, /\(0008,0061\) CS \[CT\\MR\]/, ts);
      assert.match(dump, /\(0020,000e\) UI \[1\.2\.3\.4\]/, ts);
      assert.match(dump, /\(0028,1201\) OW 0001\\0203\\fffe\\8000/, ts);
      // DCMTK → ours.
      const theirs = join(dir, `theirs-${flag}.dcm`);
      execFileSync('dcmconv', [flag, source, theirs]);
      const body = bodyOf(readFileSync(theirs));
      assert.deepEqual(strip(decodeDataset(body, ts)), expected, ts);
      const theirsFlat = join(dir, `theirs-flat-${flag}.dcm`);
      execFileSync('dcmconv', [flag, flatSource, theirsFlat]);
      const flatBody = bodyOf(readFileSync(theirsFlat));
      if (ts !== DEFL) {
        // Byte for byte the same encoding as dcmconv's.
        assert.deepEqual(Buffer.from(encodeDataset(flat, ts)), Buffer.from(flatBody), ts);
      } else {
        // Deflate output may differ between zlib settings, its content may not.
        assert.deepEqual(inflateRawSync(encodeDataset(flat, ts)), inflateRawSync(flatBody));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transcoding between uncompressed syntaxes keeps values (incl. byte-swapped OW words)', () => {
  const all = [ILE, ELE, EBE, DEFL];
  for (const from of all) {
    for (const to of all) {
      const out = transcodeDataset(encodeDataset(identifier, from), from, to);
      assert.deepEqual(strip(decodeDataset(out, to)), expected, `${from} → ${to}`);
      if (to !== DEFL) assert.deepEqual(Buffer.from(out), Buffer.from(encodeDataset(identifier, to)));
    }
  }
  assert.throws(() => transcodeDataset(new Uint8Array(0), ELE, TransferSyntax.JpegBaseline8Bit), UnsupportedTransferSyntaxError);
});

test('bad input is a typed error: unknown keyword, truncation, bad VR, deflate bomb, random bytes', () => {
  assert.throws(() => encodeDataset({ NoSuchKeyword: 'x' }, ELE), (e: unknown) => e instanceof DatasetEncodeError && /NoSuchKeyword/.test(e.message));
  assert.throws(() => encodeDataset({ PatientID: 'x' }, '1.2.3.4'), UnsupportedTransferSyntaxError);
  for (const ts of [ILE, ELE, EBE]) {
    const bytes = encodeDataset(identifier, ts);
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        decodeDatasetDict(bytes.subarray(0, cut), ts);
      } catch (e) {
        assert.ok(e instanceof DatasetDecodeError, `${ts} cut ${cut}: ${String(e)}`);
      }
    }
    // Cutting inside the last value is always an error, never a shorter value.
    assert.throws(() => decodeDatasetDict(bytes.subarray(0, bytes.length - 1), ts), DatasetDecodeError);
  }
  const badVr = Buffer.from('10002000' + '5a5a' + '0400' + '49443120', 'hex');
  assert.throws(() => decodeDataset(badVr, ELE), (e: unknown) => e instanceof DatasetDecodeError && /invalid VR "ZZ"/.test(e.message));
  // A peer's bytes that are no VR reach the message escaped: an ESC or NUL would reach the terminal
  // of whoever reads the error (the CLI prints it as is).
  const controlVr = Buffer.from('10002000' + '1b00' + '0400' + '49443120', 'hex');
  assert.throws(() => decodeDataset(controlVr, ELE), (e: unknown) => e instanceof DatasetDecodeError && /invalid VR 0x1b 0x00/.test(e.message) && !/[\x00-\x1f]/.test(e.message));
  const big = encodeDataset({ PatientComments: 'x'.repeat(10000) }, DEFL);
  assert.throws(() => decodeDataset(big, DEFL, { maxInflatedLength: 1000 }), (e: unknown) => e instanceof DatasetDecodeError && /limit 1000/.test(e.message));
  assert.throws(() => decodeDataset(new Uint8Array([1, 2, 3]), DEFL), DatasetDecodeError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(ILE, ELE, EBE), (b, ts) => {
      try {
        decodeDataset(b, ts);
      } catch (e) {
        assert.ok(e instanceof DatasetDecodeError, String(e));
      }
    }),
    { numRuns: 500 },
  );
});

test('empty sequence items survive decoding (dcmjs alone drops them)', () => {
  const d = { ReferencedSeriesSequence: [{}, { SeriesInstanceUID: '1.2' }, {}], ReferencedStudySequence: [] };
  for (const ts of [ILE, ELE, EBE, DEFL]) {
    assert.deepEqual(strip(decodeDataset(encodeDataset(d, ts), ts)), d, ts);
  }
  // Defined-length empty item, as DCMTK writes it: (0008,1115) SQ length 8, item length 0.
  const defined = Buffer.from('08001511' + '5351' + '0000' + '08000000' + 'feff00e0' + '00000000', 'hex');
  assert.deepEqual(strip(decodeDataset(defined, ELE)), { ReferencedSeriesSequence: [{}] });
});

test('a binary value holding the item-delimiter bytes does not end its item early', () => {
  // dcmjs alone scans undefined-length items for FFFE,E00D and would cut this OB value short.
  const evil = new Uint8Array([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 1, 2, 3, 4]);
  const d = { IconImageSequence: [{ Rows: 2, PixelData: [evil.buffer], _vrMap: { PixelData: 'OB' } }], PatientID: 'X' };
  for (const ts of [ELE, EBE, DEFL]) {
    const back = decodeDataset(encodeDataset(d, ts), ts) as { IconImageSequence: { PixelData: ArrayBuffer[] }[] };
    assert.deepEqual([...new Uint8Array(back.IconImageSequence[0]!.PixelData[0]!)], [...evil], ts);
  }
});

test('implicit VR: defined-length sequences (found through the dictionary) keep empty items', () => {
  // (0008,1115) length 26: an empty item, then an item with (0020,0011) IS "7 " — as DCMTK writes it.
  const bytes = Buffer.from(
    '08001511' + '1a000000' + 'feff00e0' + '00000000' + 'feff00e0' + '0a000000' + '20001100' + '02000000' + '3720',
    'hex',
  );
  assert.deepEqual(strip(decodeDataset(bytes, ILE)), { ReferencedSeriesSequence: [{}, { SeriesNumber: 7 }] });
});

test('unknown keywords inside sequence items are refused too, with their path', () => {
  assert.throws(
    () => encodeDataset({ ReferencedSeriesSequence: [{ SeriesInstanceUID: '1.2', Bogus: 1 }] }, ILE),
    (e: unknown) => e instanceof DatasetEncodeError && /ReferencedSeriesSequence\[0\]\.Bogus/.test(e.message),
  );
});

test('character sets: Latin-1 from a peer decodes to Unicode; non-ASCII text is sent declared as ISO_IR 192', () => {
  // (0008,0005) CS "ISO_IR 100", (0010,0010) PN "Müller" in ISO 8859-1, as DCMTK would send it.
  const latin1 = Buffer.concat([
    Buffer.from('08000500' + '4353' + '0a00', 'hex'),
    Buffer.from('ISO_IR 100', 'latin1'),
    Buffer.from('10001000' + '504e' + '0600', 'hex'),
    Buffer.from('M\u00fcller', 'latin1'),
  ]);
  const d = decodeDataset(latin1, ELE);
  assert.deepEqual(d['PatientName'], [{ Alphabetic: 'M\u00fcller' }]);
  for (const input of [{ PatientName: 'M\u00fcller' }, { SpecificCharacterSet: 'ISO_IR 100', PatientName: 'M\u00fcller' }]) {
    const bytes = Buffer.from(encodeDataset(input, ELE));
    assert.ok(bytes.includes(Buffer.from('ISO_IR 192')), 'declared UTF-8');
    assert.ok(bytes.includes(Buffer.from('M\u00fcller', 'utf8')));
    assert.deepEqual(decodeDataset(bytes, ELE)['PatientName'], [{ Alphabetic: 'M\u00fcller' }]);
  }
  // Pure ASCII: no character set added.
  assert.ok(!Buffer.from(encodeDataset({ PatientName: 'Doe' }, ELE)).includes(Buffer.from('ISO_IR')));
});

test('property: random identifiers round-trip in every uncompressed transfer syntax', () => {
  const text = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9 ^._-]{0,${max}}$`)).map((s) => s.trim());
  const uid = fc.array(fc.integer({ min: 1, max: 99999 }), { minLength: 2, maxLength: 8 }).map((a) => a.join('.'));
  const item = fc.record(
    { SeriesInstanceUID: uid, SeriesDescription: text(64), SeriesNumber: fc.integer({ min: 0, max: 9999 }) },
    { requiredKeys: [] },
  ).map((o) => ({ ...o })); // plain prototype: dcmjs cannot denaturalize null-prototype objects
  const ds = fc.record(
    {
      PatientID: text(64),
      AccessionNumber: text(16),
      Modality: fc.constantFrom('CT', 'MR', 'OT', ''),
      StudyInstanceUID: uid,
      Rows: fc.integer({ min: 0, max: 0xffff }),
      ReferencedSeriesSequence: fc.array(item, { maxLength: 3 }),
    },
    { requiredKeys: [] },
  ).map((o) => ({ ...o }));
  fc.assert(
    fc.property(ds, fc.constantFrom(ILE, ELE, EBE, DEFL), (d, ts) => {
      const back = strip(decodeDataset(encodeDataset(d, ts), ts)) as Record<string, unknown>;
      assert.deepEqual(back, strip(d));
    }),
    { numRuns: 300 },
  );
});

test('property: mutated datasets decode or fail with DatasetDecodeError, never anything else', () => {
  const samples = [ILE, ELE, EBE].map((ts) => ({ ts, bytes: Buffer.from(encodeDataset(identifier, ts)) }));
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      ({ ts, bytes }, edits) => {
        const b = Buffer.from(bytes);
        for (const [i, v] of edits) b[i % b.length] = v;
        try {
          decodeDataset(b, ts);
        } catch (e) {
          assert.ok(e instanceof DatasetDecodeError, String(e));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

/** Run `fn` synchronously and return what was written to stdout/stderr meanwhile (dcmjs logs through console). */
function outputOf(fn: () => void): string {
  let written = '';
  const capture = (chunk: unknown): boolean => ((written += String(chunk)), true);
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return written;
}

test('peer bytes dcmjs complains about give a typed error and print nothing (the library never logs)', () => {
  // (0018,9087) FD with length 3: dcmjs logs "Invalid length for fixed length tag" through console.error.
  const fd3 = Uint8Array.from([0x18, 0x00, 0x87, 0x90, 0x46, 0x44, 0x03, 0x00, 1, 2, 3]);
  const printed = outputOf(() => assert.throws(() => decodeDataset(fd3, ELE), DatasetDecodeError));
  assert.equal(printed, '');
  // The same in implicit VR, where only the dictionary knows the VR.
  const fd3i = Uint8Array.from([0x18, 0x00, 0x87, 0x90, 0x03, 0x00, 0x00, 0x00, 1, 2, 3]);
  assert.equal(outputOf(() => assert.throws(() => decodeDataset(fd3i, ILE), DatasetDecodeError)), '');
  // dcmjs's own logger is left as it was.
  assert.notEqual(dcmjs.log.getLevel(), dcmjs.log.levels.SILENT);
});
