import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import {
  Part10Error,
  decodePart10Header,
  encodeFileMetaInformation,
  fileMetaEncoder,
  implementationClassUid,
  openPart10DatasetStream,
  part10ErrorCodes,
  readPart10Header,
  readPart10HeaderSync,
} from '../../src/dataset/part10.js';
import { ctImageStorage, dcmdump, dump2dcm, dumpText, dumpValue, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const spec = {
  PatientName: 'DOE^JOHN',
  PatientID: 'PID001',
  StudyInstanceUID: '1.2.3.4',
  SeriesInstanceUID: '1.2.3.4.5',
  SOPInstanceUID: '1.2.3.4.5.6',
  SOPClassUID: ctImageStorage,
  Modality: 'CT',
};

test('encodeFileMetaInformation: golden bytes of the group length and the first element', () => {
  const bytes = encodeFileMetaInformation({
    MediaStorageSOPClassUID: '1.2',
    MediaStorageSOPInstanceUID: '1.2.3',
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '1.2.3.4',
  });
  assert.deepEqual(bytes.subarray(0, 128), new Uint8Array(128));
  assert.equal(Buffer.from(bytes.subarray(128, 132)).toString('latin1'), 'DICM');
  // (0002,0000) UL 4 <length>; (0002,0001) OB 00 00 len=2 00 01
  const expectedRest = Buffer.concat([
    Buffer.from([0x02, 0, 0x01, 0, 0x4f, 0x42, 0, 0, 2, 0, 0, 0, 0, 1]),
    Buffer.from([0x02, 0, 0x02, 0, 0x55, 0x49, 4, 0]), Buffer.from('1.2\0'),
    Buffer.from([0x02, 0, 0x03, 0, 0x55, 0x49, 6, 0]), Buffer.from('1.2.3\0'),
    Buffer.from([0x02, 0, 0x10, 0, 0x55, 0x49, 20, 0]), Buffer.from('1.2.840.10008.1.2.1\0'),
    Buffer.from([0x02, 0, 0x12, 0, 0x55, 0x49, 8, 0]), Buffer.from('1.2.3.4\0'),
  ]);
  assert.deepEqual(Buffer.from(bytes.subarray(132, 144)), Buffer.from([0x02, 0, 0, 0, 0x55, 0x4c, 4, 0, expectedRest.length, 0, 0, 0]));
  assert.deepEqual(Buffer.from(bytes.subarray(144)), expectedRest);
});

test('fileMetaEncoder: the same bytes and errors as encodeFileMetaInformation for every UID length and AE title set', () => {
  const uid = fc.array(fc.integer({ min: 0, max: 99_999 }), { minLength: 1, maxLength: 14 }).map((parts) => parts.join('.').slice(0, 64).replace(/\.$/, ''));
  const ae = fc.option(fc.stringMatching(/^[A-Z0-9 _]{1,16}$/), { nil: undefined });
  fc.assert(
    fc.property(uid, uid, uid, ae, ae, fc.array(uid, { minLength: 1, maxLength: 4 }), (sopClass, ts, creator, calling, called, instances) => {
      const fixed = {
        MediaStorageSOPClassUID: sopClass,
        TransferSyntaxUID: ts,
        SourceApplicationEntityTitle: calling,
        SendingApplicationEntityTitle: calling,
        ReceivingApplicationEntityTitle: called,
        ...(creator.length % 3 === 0 ? { PrivateInformationCreatorUID: creator } : {}),
      };
      const encode = fileMetaEncoder(fixed);
      for (const instance of instances) {
        assert.deepEqual(encode(instance), encodeFileMetaInformation({ ...fixed, MediaStorageSOPInstanceUID: instance }));
      }
    }),
    { numRuns: 300 },
  );
  const encode = fileMetaEncoder({ MediaStorageSOPClassUID: ctImageStorage, TransferSyntaxUID: '1.2.840.10008.1.2.1' });
  for (const bad of ['', '1..2', 'x', '1'.repeat(65)]) {
    assert.throws(() => encode(bad), (error: unknown) => error instanceof Part10Error && error.code === part10ErrorCodes.invalidMeta);
  }
  assert.throws(() => fileMetaEncoder({ MediaStorageSOPClassUID: '1.2', TransferSyntaxUID: '1.2', SourceApplicationEntityTitle: 'X'.repeat(17) }), Part10Error);
});

test('a file we write is read by dcmdump with equal values', async () => {
  const { dir, remove } = await tempDir('p10');
  try {
    const meta = encodeFileMetaInformation({
      MediaStorageSOPClassUID: ctImageStorage,
      MediaStorageSOPInstanceUID: spec.SOPInstanceUID,
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      SourceApplicationEntityTitle: 'SENDER',
    });
    const path = join(dir, 'ours.dcm');
    await writeFile(path, Buffer.concat([meta, encodeDataset(specElements(spec))]));
    const dump = await dcmdump(path, ['-Un']);
    assert.equal(dumpValue(dump, '0002,0002'), ctImageStorage);
    assert.equal(dumpValue(dump, '0002,0003'), spec.SOPInstanceUID);
    assert.equal(dumpValue(dump, '0002,0010'), '1.2.840.10008.1.2.1');
    assert.equal(dumpValue(dump, '0002,0012'), implementationClassUid);
    assert.equal(dumpValue(dump, '0002,0013'), 'DICOMTLS_010');
    assert.equal(dumpValue(dump, '0002,0016'), 'SENDER');
    assert.match(dump, /\(0002,0001\) OB 00\\01/);
    assert.equal(dumpValue(dump, '0010,0010'), 'DOE^JOHN');
    // dcmdump would warn about a wrong group length; -q hides warnings, so check it explicitly.
    const header = decodePart10Header(meta, { final: true });
    assert.deepEqual(header.warnings, []);
    assert.equal(header.datasetOffset, meta.length);
  } finally {
    await remove();
  }
});

test('readPart10Header reads dump2dcm files in each transfer syntax', async () => {
  const { dir, remove } = await tempDir('p10');
  try {
    const cases = [
      ['+te', '1.2.840.10008.1.2.1'],
      ['+ti', '1.2.840.10008.1.2'],
      ['+tb', '1.2.840.10008.1.2.2'],
      ['+td', '1.2.840.10008.1.2.1.99'],
    ] as const;
    for (const [flag, ts] of cases) {
      const path = await dump2dcm(dir, `f${flag}.dcm`, dumpText(spec), [flag]);
      const header = await readPart10Header(path);
      assert.equal(header.meta.TransferSyntaxUID, ts, flag);
      assert.equal(header.meta.MediaStorageSOPInstanceUID, spec.SOPInstanceUID);
      assert.equal(header.meta.MediaStorageSOPClassUID, ctImageStorage);
      assert.ok(header.meta.ImplementationClassUID.length > 0);
      assert.deepEqual(header.warnings, []);
      assert.equal(header.deflated, flag === '+td');
      const file = await readFile(path);
      let dataset = file.subarray(header.datasetOffset);
      if (header.deflated) dataset = inflateRawSync(dataset);
      // The data set starts with its first element, (0008,0016) SOPClassUID here.
      const group = ts === '1.2.840.10008.1.2.2' ? dataset.readUInt16BE(0) : dataset.readUInt16LE(0);
      assert.equal(group, 0x0008, flag);
      const { stream } = await openPart10DatasetStream(path, { inflate: true });
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      assert.deepEqual(Buffer.concat(chunks), dataset);
    }
  } finally {
    await remove();
  }
});

test('a raw data set without meta is reported as such', async () => {
  const { dir, remove } = await tempDir('p10');
  try {
    const path = await dump2dcm(dir, 'raw.dcm', dumpText(spec), ['-F', '+te']);
    await assert.rejects(readPart10Header(path), (e: unknown) => {
      assert.ok(e instanceof Part10Error);
      assert.equal(e.code, part10ErrorCodes.notPart10);
      assert.equal(e.looksLikeRawDataset, true);
      assert.match(e.message, /raw data set/);
      return true;
    });
    const full = await readFile(await dump2dcm(dir, 'full.dcm', dumpText(spec), ['+te']));
    await writeFile(join(dir, 'nopreamble.dcm'), full.subarray(128));
    await assert.rejects(readPart10Header(join(dir, 'nopreamble.dcm')), (e: unknown) => e instanceof Part10Error && e.code === part10ErrorCodes.notPart10 && /preamble is missing/.test(e.message));
    await writeFile(join(dir, 'text.txt'), 'hello, this is not DICOM at all'.repeat(10));
    await assert.rejects(readPart10Header(join(dir, 'text.txt')), (e: unknown) => e instanceof Part10Error && e.code === part10ErrorCodes.notPart10 && !e.looksLikeRawDataset);
  } finally {
    await remove();
  }
});

test('every truncation of a header gives a typed error naming the field', () => {
  const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: '1.2', MediaStorageSOPInstanceUID: '1.2.3', TransferSyntaxUID: '1.2.840.10008.1.2' });
  for (let n = 0; n < meta.length; n++) {
    assert.throws(() => decodePart10Header(meta.subarray(0, n)), (e: unknown) => e instanceof Part10Error && e.code === part10ErrorCodes.truncated && e.field.length > 0, `length ${n}`);
  }
  // The data set may legitimately be empty: the header alone then ends exactly at datasetOffset.
  assert.throws(() => decodePart10Header(meta), (e: unknown) => e instanceof Part10Error && e.field === 'meta element tag');
  assert.equal(decodePart10Header(Buffer.concat([meta, Buffer.from([8, 0])])).datasetOffset, meta.length);
  assert.equal(decodePart10Header(meta, { final: true }).datasetOffset, meta.length);
});

test('odd lengths and a wrong group length are tolerated with warnings; a missing UID is named', () => {
  const meta = Buffer.from(encodeFileMetaInformation({ MediaStorageSOPClassUID: '1.2', MediaStorageSOPInstanceUID: '1.2.3', TransferSyntaxUID: '1.2.840.10008.1.2' }));
  // Insert an odd-length SH (0002,0013) written by a sloppy writer: 'ABC' length 3.
  const odd = Buffer.from([0x02, 0, 0x13, 0, 0x53, 0x48, 3, 0, 0x41, 0x42, 0x43]);
  const file = Buffer.concat([meta, odd, Buffer.from([8, 0, 0x16, 0, 0x55, 0x49, 0, 0])]);
  const header = decodePart10Header(file);
  assert.equal(header.meta.ImplementationVersionName, 'ABC');
  assert.equal(header.datasetOffset, meta.length + odd.length);
  assert.equal(header.warnings.length, 2);
  assert.match(header.warnings.join('\n'), /odd length 3/);
  assert.match(header.warnings.join('\n'), /GroupLength/);
  const noTs = encodeFileMetaInformation({ MediaStorageSOPClassUID: '1.2', MediaStorageSOPInstanceUID: '1.2.3', TransferSyntaxUID: '1.2' });
  // Corrupt the transfer syntax tag to (0002,0011): the required element is then missing.
  const at = Buffer.from(noTs).indexOf(Buffer.from([0x02, 0, 0x10, 0, 0x55, 0x49]));
  const bad = Buffer.from(noTs);
  bad[at + 2] = 0x11;
  assert.throws(() => decodePart10Header(Buffer.concat([bad, Buffer.from([8, 0, 0, 0])])), (e: unknown) => e instanceof Part10Error && e.code === part10ErrorCodes.invalidMeta && e.field === 'TransferSyntaxUID');
  assert.throws(() => encodeFileMetaInformation({ MediaStorageSOPClassUID: 'x', MediaStorageSOPInstanceUID: '1', TransferSyntaxUID: '1' }), Part10Error);
});

test('headers read one after another keep their own values; padding is trimmed from Buffers and plain Uint8Arrays alike', async () => {
  const dir = await tempDir('part10-seq-');
  try {
    const files = await Promise.all([1, 2, 3].map(async (n) => {
      const meta = Buffer.from(encodeFileMetaInformation({ MediaStorageSOPClassUID: `1.2.${n}`, MediaStorageSOPInstanceUID: `1.2.3.${n}${n}`, TransferSyntaxUID: '1.2.840.10008.1.2.1' }));
      const path = join(dir.dir, `f${n}.dcm`);
      await writeFile(path, Buffer.concat([meta, Buffer.from([8, 0, 0x16, 0, 0x55, 0x49, 4, 0]), Buffer.from(`1.${n}\0`)]));
      return { path, n, size: meta.length + 12 };
    }));
    const headers = files.map((f) => readPart10HeaderSync(f.path));
    for (const [i, f] of files.entries()) {
      const { header, fileSize } = headers[i]!;
      assert.equal(fileSize, f.size);
      assert.equal(header.meta.MediaStorageSOPClassUID, `1.2.${f.n}`);
      assert.equal(header.meta.MediaStorageSOPInstanceUID, `1.2.3.${f.n}${f.n}`);
      assert.deepEqual(header.meta.FileMetaInformationVersion, new Uint8Array([0, 1]));
    }
    // A UID padded with NUL (UI) and a name padded with spaces, from a Buffer and from a Uint8Array view.
    const padded = Buffer.from(encodeFileMetaInformation({ MediaStorageSOPClassUID: '1.2', MediaStorageSOPInstanceUID: '1.2.3', TransferSyntaxUID: '1.2.840.10008.1.2', ImplementationVersionName: 'ABC' }));
    for (const bytes of [padded, new Uint8Array(padded.buffer.slice(padded.byteOffset, padded.byteOffset + padded.length))]) {
      const h = decodePart10Header(bytes, { final: true });
      assert.equal(h.meta.MediaStorageSOPInstanceUID, '1.2.3');
      assert.equal(h.meta.ImplementationVersionName, 'ABC');
    }
  } finally {
    await dir.remove();
  }
});

test('fuzz: random bytes after the prefix never crash the decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (tail, group2) => {
      const head = Buffer.alloc(132);
      head.write('DICM', 128, 'latin1');
      const bytes = Buffer.concat([head, group2 ? Buffer.from([2, 0]) : Buffer.alloc(0), tail]);
      try {
        decodePart10Header(bytes);
      } catch (e) {
        assert.ok(e instanceof Part10Error, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('File Meta Information elements repeated in the data set (past the group length) are the data set\'s: they never redefine the file\'s transfer syntax', () => {
  const meta = Buffer.from(encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: '1.2.3', TransferSyntaxUID: '1.2.840.10008.1.2.1' }));
  const dataset = encodeDataset([[0x0002_0010, 'UI', '1.2.840.10008.1.2.4.50'], ...specElements(spec)]);
  const header = decodePart10Header(Buffer.concat([meta, dataset]));
  assert.equal(header.meta.TransferSyntaxUID, '1.2.840.10008.1.2.1');
  assert.equal(header.datasetOffset, meta.length);
  // The same with a second group length first, as an implicit VR writer leaves it.
  const implicit = encodeDataset([[0x0002_0000, 'UL', Buffer.from([4, 0, 0, 0])], [0x0002_0010, 'UI', '1.2.840.10008.1.2.4.50'], ...specElements(spec)], { explicit: false });
  const second = decodePart10Header(Buffer.concat([meta, implicit]));
  assert.equal(second.meta.TransferSyntaxUID, '1.2.840.10008.1.2.1');
  assert.equal(second.datasetOffset, meta.length);
});
