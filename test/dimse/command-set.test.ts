import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodeCommandSet, encodeCommandSet } from '../../src/dimse/command-set.js';
import { CommandSetDecodeError, CommandSetEncodeError } from '../../src/dimse/errors.js';

/**
 * C-ECHO-RQ, message ID 1, as echoscu sends it (PS3.7 9.3.5.1, implicit VR little endian):
 *   (0000,0000) UL 4   56                  group length = bytes after this element
 *   (0000,0002) UI 18  "1.2.840.10008.1.1\0"  17 characters, NUL-padded to even
 *   (0000,0100) US 2   0x0030              C-ECHO-RQ
 *   (0000,0110) US 2   1                   MessageID
 *   (0000,0800) US 2   0x0101              no dataset
 */
const C_ECHO_RQ_HEX =
  '0000000004000000' + '38000000' +
  '0000020012000000' + Buffer.from('1.2.840.10008.1.1\0', 'latin1').toString('hex') +
  '0000000102000000' + '3000' +
  '0000100102000000' + '0100' +
  '0000000802000000' + '0101';

test('golden: C-ECHO-RQ command set', () => {
  const bytes = encodeCommandSet({
    CommandField: 0x0030,
    MessageID: 1,
    CommandDataSetType: 0x0101,
    AffectedSOPClassUID: '1.2.840.10008.1.1',
  });
  assert.equal(Buffer.from(bytes).toString('hex'), C_ECHO_RQ_HEX);
  assert.equal(bytes.length, 68);
  assert.deepEqual(decodeCommandSet(Buffer.from(C_ECHO_RQ_HEX, 'hex')), {
    AffectedSOPClassUID: '1.2.840.10008.1.1',
    CommandField: 0x30,
    MessageID: 1,
    CommandDataSetType: 0x0101,
  });
});

test('golden: every VR of Table E.1-1 (UL, UI, US, AE, LO, AT) and padding', () => {
  const bytes = encodeCommandSet({
    CommandField: 0x8021,
    MessageIDBeingRespondedTo: 7,
    CommandDataSetType: 0x0101,
    Status: 0xa801,
    ErrorComment: 'abc', // LO, space-padded
    OffendingElement: [0x00100020, 0x7fe00010],
    MoveOriginatorApplicationEntityTitle: 'MOVESCU', // AE, space-padded
  });
  const hex = Buffer.from(bytes).toString('hex');
  assert.ok(hex.includes('0000010908000000' + '1000' + '2000' + 'e07f' + '1000'), 'AT is two little-endian US');
  assert.ok(hex.includes('0000020904000000' + Buffer.from('abc ').toString('hex')), 'LO padded with space');
  assert.ok(hex.includes('0000301008000000' + Buffer.from('MOVESCU ').toString('hex')), 'AE padded with space');
  const back = decodeCommandSet(bytes);
  assert.equal(back.ErrorComment, 'abc');
  assert.equal(back.MoveOriginatorApplicationEntityTitle, 'MOVESCU');
  assert.deepEqual(back.OffendingElement, [0x00100020, 0x7fe00010]);
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true), bytes.length - 12);
});

test('DCMTK dcmdump reads our command set as an implicit VR little endian dataset', (t) => {
  let dcmdump = true;
  try {
    execFileSync('dcmdump', ['--version'], { stdio: 'ignore' });
  } catch {
    dcmdump = false;
  }
  if (!dcmdump) return t.skip('dcmdump not installed');
  const dir = mkdtempSync(join(tmpdir(), 'dimse-cs-'));
  try {
    const file = join(dir, 'echo.dcm');
    writeFileSync(file, Buffer.from(C_ECHO_RQ_HEX, 'hex'));
    const out = execFileSync('dcmdump', ['-f', '-ti', file], { encoding: 'utf8' });
    assert.match(out, /\(0000,0000\) UL 56/);
    assert.match(out, /\(0000,0002\) UI =VerificationSOPClass/);
    assert.match(out, /\(0000,0100\) US 48/);
    assert.match(out, /\(0000,0800\) US 257/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decode errors are typed and name the problem', () => {
  const good = Buffer.from(C_ECHO_RQ_HEX, 'hex');
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 10), /truncated/],
    [good.subarray(0, 60), /truncated.*CommandGroupLength is 56 but 48/],
    [Buffer.concat([good, Buffer.alloc(2)]), /truncated.*CommandGroupLength/],
    [(() => { const b = Buffer.from(good); b.writeUInt16LE(0x0008, 12); return b; })(), /not in group 0000/],
    [(() => { const b = Buffer.from(good); b.writeUInt32LE(3, 42); return b; })(), /length 3, US needs 2|exceeds|out of ascending/],
    [(() => { const b = Buffer.from(good); b.writeUInt32LE(0xffffffff, 16); return b; })(), /exceeds the command set/],
    [(() => { const b = Buffer.from(good); b.writeUInt16LE(0x0900, 40); return b; })(), /ascending/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => decodeCommandSet(bytes), (e: unknown) => e instanceof CommandSetDecodeError && e.code === 'DICOM_ERR_COMMAND_SET_DECODE' && re.test(e.message));
  }
});

test('encode refuses values the VR cannot hold', () => {
  assert.throws(() => encodeCommandSet({ MessageID: 0x10000 }), CommandSetEncodeError);
  assert.throws(() => encodeCommandSet({ AffectedSOPClassUID: '1.2.x' }), CommandSetEncodeError);
  assert.throws(() => encodeCommandSet({ MoveDestination: 'A'.repeat(17) }), CommandSetEncodeError);
  assert.throws(() => encodeCommandSet({ ErrorComment: 'back\\slash' }), CommandSetEncodeError);
  assert.throws(() => encodeCommandSet({ MessageID: 1, Bogus: 1 } as never), CommandSetEncodeError);
  assert.throws(() => encodeCommandSet({ CommandField: 1, unknownElements: [{ element: 0x0001, value: new Uint8Array([1, 2, 3]) }] }), /odd length 3/);
});

test('unknown (retired) group-0000 elements are kept verbatim', () => {
  const bytes = encodeCommandSet({ CommandField: 1, unknownElements: [{ element: 0x0001, value: new Uint8Array([1, 0, 0, 0]) }] });
  const back = decodeCommandSet(bytes);
  assert.equal(back.CommandField, 1);
  assert.deepEqual([...back.unknownElements![0]!.value], [1, 0, 0, 0]);
  assert.equal(back.unknownElements![0]!.element, 1);
});

test('property: decode(encode(x)) = x, and decoding random bytes only ever throws CommandSetDecodeError', () => {
  const uid = fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 12 }).map((a) => a.join('.'));
  const us = fc.integer({ min: 0, max: 0xffff });
  const str = (max: number) => fc.stringMatching(new RegExp(`^[A-Z0-9_]{1,${max}}$`));
  const elements = fc.record(
    {
      AffectedSOPClassUID: uid,
      RequestedSOPInstanceUID: uid,
      CommandField: us,
      MessageID: us,
      Priority: us,
      Status: us,
      MoveDestination: str(16),
      ErrorComment: str(64),
      AttributeIdentifierList: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 5 }),
      NumberOfRemainingSuboperations: us,
    },
    { requiredKeys: [] },
  );
  fc.assert(fc.property(elements, (e) => assert.deepEqual(decodeCommandSet(encodeCommandSet(e)), { ...e })));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      try {
        decodeCommandSet(b);
      } catch (e) {
        assert.ok(e instanceof CommandSetDecodeError, String(e));
      }
    }),
  );
  // Mutations of a valid command set: still either a decode or a typed error.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 67 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
      const b = Buffer.from(C_ECHO_RQ_HEX, 'hex');
      b[i] = v;
      try {
        decodeCommandSet(b);
      } catch (e) {
        assert.ok(e instanceof CommandSetDecodeError, String(e));
      }
    }),
  );
});

/**
 * Orthanc 1.10.1's final C-GET-RSP after a failed sub-operation, as received (captured from the
 * real peer): the command group (CommandGroupLength 106 = 0x6a, correct for group 0000), then
 * DCMTK's "status detail" moved into the command set: (0008,0000) UL 20 and the Failed SOP Instance
 * UID List (0008,0058) UI "1.2.3.4.5.6", which PS3.7 9.3.3.1 puts in the data set.
 */
const ORTHANC_C_GET_RSP_HEX =
  '00000000040000006a000000' +
  '000002001c000000' + Buffer.from('1.2.840.10008.5.1.4.1.2.2.3\0', 'latin1').toString('hex') +
  '00000001020000001080' + '00002001020000000100' + '00000008020000000101' + '0000000902000000' + '00c0' +
  '0000211002000000' + '0000' + '0000221002000000' + '0100' + '0000231002000000' + '0000' +
  '0800000004000000' + '14000000' + '080058000c000000' + Buffer.from('1.2.3.4.5.6\0', 'latin1').toString('hex');

test('golden: a status detail after the command group (Orthanc C-GET-RSP) is kept apart, with a warning, not refused', () => {
  const bytes = Buffer.from(ORTHANC_C_GET_RSP_HEX, 'hex');
  assert.equal(bytes.length, 12 + 106 + 32);
  const warnings: string[] = [];
  const e = decodeCommandSet(bytes, { onWarning: (w) => warnings.push(w) });
  assert.equal(e.CommandField, 0x8010);
  assert.equal(e.Status, 0xc000);
  assert.equal(e.NumberOfFailedSuboperations, 1);
  assert.equal(e.AffectedSOPClassUID, '1.2.840.10008.5.1.4.1.2.2.3');
  assert.deepEqual(Buffer.from(e.statusDetail!), bytes.subarray(118));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /32 bytes of group 0008 follow the command group/);
  // Re-encoding a received command never sends the status detail back out.
  assert.equal(encodeCommandSet(e).length, 118);
});

test('a CommandGroupLength that miscounts intact elements is tolerated with a warning (DCMTK reads without it)', () => {
  const good = Buffer.from(C_ECHO_RQ_HEX, 'hex');
  for (const wrong of [0, 20, 100]) {
    const b = Buffer.from(good);
    b.writeUInt32LE(wrong, 8);
    const warnings: string[] = [];
    assert.deepEqual(decodeCommandSet(b, { onWarning: (w) => warnings.push(w) }), decodeCommandSet(good));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`CommandGroupLength is ${wrong} but 56 bytes follow it`));
  }
  // Elements of another group NOT where the group length ends are still an error.
  const b = Buffer.from(good);
  b.writeUInt16LE(0x0008, 12);
  assert.throws(() => decodeCommandSet(b), /not in group 0000/);
});
