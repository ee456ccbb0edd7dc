import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandField, commandNameOf, isResponseCommandField } from '../../src/dictionary/command-field.js';
import { Status, StorageStatus, QueryRetrieveStatus, statusClass, formatStatus, isPending } from '../../src/dictionary/status.js';
import {
  StorageSopClass,
  isStorageSopClass,
  TransferSyntax,
  transferSyntaxProperties,
  isKnownTransferSyntax,
  VerificationSopClass,
} from '../../src/dictionary/uids.js';

test('command fields: request/response pairs differ by bit 15, C-CANCEL-RQ is 0x0FFF (PS3.7 E.1-1)', () => {
  for (const [name, value] of Object.entries(CommandField)) {
    assert.equal(commandNameOf(value), name);
    if (name.endsWith('-RSP')) {
      assert.ok(isResponseCommandField(value));
      const rq = name.replace(/-RSP$/, '-RQ') as keyof typeof CommandField;
      assert.equal(value, CommandField[rq] | 0x8000);
    }
  }
  assert.equal(CommandField['C-CANCEL-RQ'], 0x0fff);
  assert.equal(CommandField['N-DELETE-RSP'], 0x8150);
  assert.equal(commandNameOf(0x1234), undefined);
});

test('status classes of PS3.7 Annex C', () => {
  assert.equal(statusClass(Status.Success), 'Success');
  assert.equal(statusClass(0xff00), 'Pending');
  assert.equal(statusClass(0xff01), 'Pending');
  assert.equal(statusClass(0xfe00), 'Cancel');
  for (const w of [0x0001, 0x0107, 0x0116, 0xb000, 0xb006, 0xb007, 0xbfff]) assert.equal(statusClass(w), 'Warning', formatStatus(w));
  for (const f of [
    0xa700, 0xa7ff, 0xa900, 0xc000, 0xcfff, 0xa701, 0xa702, 0xa801, 0x0105, 0x0106, 0x0110, 0x0112, 0x0113, 0x0114, 0x0117,
    0x0118, 0x0119, 0x0122, 0x0123, 0x0124, 0x0210, 0x0211, 0x0212, 0x0213, 0x1234,
  ]) {
    assert.equal(statusClass(f), 'Failure', formatStatus(f));
  }
  assert.equal(StorageStatus.OutOfResources, 0xa700);
  assert.equal(QueryRetrieveStatus.MoveDestinationUnknown, 0xa801);
  assert.ok(isPending(QueryRetrieveStatus.PendingWarningOptionalKeysNotSupported));
  assert.equal(formatStatus(0xa700), '0xA700');
});

test('storage SOP classes are unique, well-formed and exclude non-storage UIDs', () => {
  const uids = Object.values(StorageSopClass);
  assert.equal(new Set(uids).size, uids.length);
  assert.ok(uids.length > 150);
  for (const u of uids) assert.match(u, /^1\.2\.840\.10008\.5\.1\.4\.(1\.1|34)\.[0-9.]+$/);
  assert.ok(isStorageSopClass(StorageSopClass.CtImageStorage));
  assert.ok(!isStorageSopClass(VerificationSopClass));
});

test('transfer syntax properties (PS3.5 Section 10)', () => {
  const ile = transferSyntaxProperties(TransferSyntax.ImplicitVrLittleEndian);
  assert.deepEqual([ile.implicitVr, ile.littleEndian, ile.deflated, ile.encapsulated], [true, true, false, false]);
  const ebe = transferSyntaxProperties(TransferSyntax.ExplicitVrBigEndian);
  assert.deepEqual([ebe.implicitVr, ebe.littleEndian, ebe.encapsulated], [false, false, false]);
  const def = transferSyntaxProperties(TransferSyntax.DeflatedExplicitVrLittleEndian);
  assert.deepEqual([def.deflated, def.encapsulated], [true, false]);
  const jpeg = transferSyntaxProperties(TransferSyntax.JpegBaseline8Bit);
  assert.deepEqual([jpeg.implicitVr, jpeg.littleEndian, jpeg.encapsulated], [false, true, true]);
  assert.equal(transferSyntaxProperties(TransferSyntax.JpipReferencedDeflate).deflated, true);
  assert.ok(!isKnownTransferSyntax('1.2.3'));
  assert.equal(transferSyntaxProperties('1.2.3').encapsulated, true);
});

test('the retired and other storage SOP classes are what scripts/storage-sop-classes.mjs generates from the standard\'s UID table', async (t) => {
  const { existsSync, readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const script = (await import(`${root}scripts/storage-sop-classes.mjs`)) as { render(text: string, uidsTs: string): string; DEFAULT_SOURCE: string; OUTPUT: string };
  const { RetiredStorageSopClass, isRetiredStorageSopClass, isStorageSopClass } = await import('../../src/dictionary/uids.js');
  assert.equal(RetiredStorageSopClass.UltrasoundImageStorage, '1.2.840.10008.5.1.4.1.1.6');
  assert.ok(isRetiredStorageSopClass('1.2.840.10008.5.1.4.1.1.6') && !isStorageSopClass('1.2.840.10008.5.1.4.1.1.6'));
  assert.ok(!isRetiredStorageSopClass('1.2.840.10008.5.1.4.1.1.6.1'));
  if (!existsSync(script.DEFAULT_SOURCE)) return t.skip('python3-pydicom (the UID table) is not installed');
  const uidsTs = readFileSync(`${root}src/dictionary/uids.ts`, 'utf8');
  assert.equal(readFileSync(script.OUTPUT, 'utf8'), script.render(readFileSync(script.DEFAULT_SOURCE, 'utf8'), uidsTs), 'run: node scripts/storage-sop-classes.mjs');
});

test('NonPatientStorageSopClass: the classes of PS3.4 Table GG.3-1, all but Inventory from the generated table', async () => {
  const { NonPatientStorageSopClass, OtherStorageSopClass, StorageSopClass, RetiredStorageSopClass, isNonPatientStorageSopClass } = await import('../../src/dictionary/uids.js');
  const uids: readonly string[] = Object.values(NonPatientStorageSopClass);
  assert.equal(uids.length, 9);
  assert.equal(new Set(uids).size, uids.length);
  const other: readonly string[] = Object.values(OtherStorageSopClass);
  assert.deepEqual(uids.filter((u) => !other.includes(u)), [NonPatientStorageSopClass.InventoryStorage]);
  assert.equal(NonPatientStorageSopClass.InventoryStorage, '1.2.840.10008.5.1.4.1.1.201.1');
  // Never a class of Table B.5-1 or a retired one: those have a patient.
  for (const u of [...Object.values(StorageSopClass), ...Object.values(RetiredStorageSopClass)]) assert.ok(!isNonPatientStorageSopClass(u), u);
  assert.ok(isNonPatientStorageSopClass('1.2.840.10008.5.1.4.39.1') && !isNonPatientStorageSopClass(OtherStorageSopClass.DicosCtImageStorage));
});
