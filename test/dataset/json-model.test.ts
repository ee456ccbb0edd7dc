import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatasetDict } from '../../src/dataset/codec.js';
import { toDicomJson } from '../../src/dataset/json-model.js';
import { encodeDataset, encodeSequence } from '../helpers/dicom-data.js';

test('DICOM JSON Model (PS3.18 F.2) of a decoded data set: numbers, PN, empty values, binary, AT, sequences, private tags', () => {
  const bytes = encodeDataset([
    [0x00080005, 'CS', 'ISO_IR 100'],
    [0x00080020, 'DA', ''],
    [0x00081115, 'SQ', encodeSequence([[[0x0020000e, 'UI', '1.2.3']]])],
    [0x00091010, 'LO', 'PRIVATE '],
    [0x00100010, 'PN', 'DOE^JOHN'],
    [0x00200013, 'IS', '7 '],
    [0x00201041, 'DS', '1.5\\-2'],
    [0x00209165, 'AT', Buffer.from([0x10, 0x00, 0x10, 0x00])],
    [0x00280010, 'US', Buffer.from([0, 2])],
    [0x7fe00010, 'OB', Buffer.from([1, 2, 3, 4])],
  ]);
  const json = toDicomJson(decodeDatasetDict(bytes, '1.2.840.10008.1.2.1'));
  assert.deepEqual(json, {
    // The values are decoded text now, and a JSON document is UTF-8 (PS3.18 F.2): ISO_IR 192.
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00080020': { vr: 'DA' },
    '00081115': { vr: 'SQ', Value: [{ '0020000E': { vr: 'UI', Value: ['1.2.3'] } }] },
    '00091010': { vr: 'LO', Value: ['PRIVATE'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^JOHN' }] },
    '00200013': { vr: 'IS', Value: [7] },
    '00201041': { vr: 'DS', Value: [1.5, -2] },
    '00209165': { vr: 'AT', Value: ['00100010'] },
    '00280010': { vr: 'US', Value: [512] },
    '7FE00010': { vr: 'OB', InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64') },
  });
  assert.ok(!JSON.stringify(json).includes('_vrMap'));
});
