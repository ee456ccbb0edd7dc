import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transcodeVr, VrTranscodeError, dictionaryVr } from '../../src/dataset/vr-transcode.js';
import { transcodeDataset } from '../../src/dataset/codec.js';
import { encodeDataset, type Element } from '../helpers/dicom-data.js';

/** Items of defined or undefined length, in explicit or implicit VR. */
function sequence(items: readonly (readonly Element[])[], explicit: boolean, undefinedLength = false): Buffer {
  return Buffer.concat(items.map((item) => {
    const body = encodeDataset(item, { explicit });
    const h = Buffer.alloc(8);
    h.writeUInt32LE(0xe000fffe, 0);
    h.writeUInt32LE(undefinedLength ? 0xffffffff : body.length, 4);
    return Buffer.concat(undefinedLength ? [h, body, Buffer.from('feff0de000000000', 'hex')] : [h, body]);
  }));
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const items: Element[][] = [[[0x0020000e, 'UI', '1.2.3'], [0x00081160, 'IS', '1']], [[0x00100010, 'PN', latin1('ÄÖÜ^ß')]]];
const dataset = (explicit: boolean): Buffer => encodeDataset([
  [0x00080005, 'CS', 'ISO_IR 100'],
  [0x00081115, 'SQ', sequence(items, explicit)],
  [0x00100010, 'PN', latin1('MÜLLER^HANS')],
  [0x00280010, 'US', Buffer.from([0, 2])],
  [0x00291010, 'OB', Buffer.from([1, 2, 3, 4])],
  [0x7fe00010, 'OW', Buffer.alloc(16, 9)],
], { explicit });

test('explicit ↔ implicit VR LE rewrites headers only: text bytes and Specific Character Set kept, item lengths recomputed', () => {
  assert.deepEqual(Buffer.from(transcodeVr(dataset(true), false, true)), dataset(false));
  // Back to explicit: the dictionary gives the VRs again; the private element becomes UN.
  const back = Buffer.from(transcodeVr(dataset(false), true, false));
  const expected = encodeDataset([
    [0x00080005, 'CS', 'ISO_IR 100'], [0x00081115, 'SQ', sequence(items, true)], [0x00100010, 'PN', latin1('MÜLLER^HANS')],
    [0x00280010, 'US', Buffer.from([0, 2])], [0x00291010, 'UN', Buffer.from([1, 2, 3, 4])], [0x7fe00010, 'OW', Buffer.alloc(16, 9)],
  ]);
  assert.deepEqual(back, expected);
  // Through the codec (what C-STORE sub-operations use), deflate included.
  assert.deepEqual(Buffer.from(transcodeDataset(dataset(true), '1.2.840.10008.1.2.1', '1.2.840.10008.1.2')), dataset(false));
  const deflated = transcodeDataset(dataset(false), '1.2.840.10008.1.2', '1.2.840.10008.1.2.1.99');
  assert.deepEqual(Buffer.from(transcodeDataset(deflated, '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2')), dataset(false));
});

test('undefined-length sequences and items keep their delimiters', () => {
  const withUndefined = (explicit: boolean): Buffer => {
    const body = sequence(items, explicit, true);
    const h = Buffer.alloc(explicit ? 12 : 8);
    h.writeUInt16LE(0x0008, 0);
    h.writeUInt16LE(0x1115, 2);
    if (explicit) { h.write('SQ', 4, 'latin1'); h.writeUInt32LE(0xffffffff, 8); } else h.writeUInt32LE(0xffffffff, 4);
    return Buffer.concat([h, body, Buffer.from('feffdde000000000', 'hex')]);
  };
  assert.deepEqual(Buffer.from(transcodeVr(withUndefined(true), false, true)), withUndefined(false));
  assert.deepEqual(Buffer.from(transcodeVr(withUndefined(false), true, false)), withUndefined(true));
});

test('dictionary VRs for implicit VR: group length, private creator, private, ambiguous, repeating groups', () => {
  assert.equal(dictionaryVr(0x00080000), 'UL');
  assert.equal(dictionaryVr(0x00290010), 'LO');
  assert.equal(dictionaryVr(0x00291010), 'UN');
  assert.equal(dictionaryVr(0x7fe00010), 'OW');
  assert.equal(dictionaryVr(0x00280106), 'US');
  assert.equal(dictionaryVr(0x60023000), 'OW');
  assert.equal(dictionaryVr(0x00100010), 'PN');
});

test('malformed input is a VrTranscodeError, never a partial data set', () => {
  const good = dataset(true);
  for (const cut of [3, 9, 20, good.length - 1]) assert.throws(() => transcodeVr(good.subarray(0, cut), false, true), VrTranscodeError, String(cut));
  const badVr = Buffer.from(good);
  badVr.write('ZZ', 4, 'latin1');
  assert.throws(() => transcodeVr(badVr, false, true), VrTranscodeError);
});
