/**
 * The embedded index checkpoints its WAL when it is idle, not inside some instance's COMMIT:
 * SQLite's own checkpoint (its fsyncs on the event loop, holding up that instance's answer) is
 * only the cap for writes that never pause. The database file changes only at a checkpoint,
 * so its growth shows one ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import type { InstanceRecord } from '../../src/store/instance-index.js';
import { ctImageStorage, tempDir } from '../helpers/dicom-data.js';

const record = (n: number): InstanceRecord => ({
  SpecificCharacterSet: '', PatientID: 'CKPT', PatientName: '', PatientBirthDate: '', PatientSex: '',
  StudyInstanceUID: '1.7', StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '',
  ReferringPhysicianName: '', SeriesInstanceUID: '1.7.1', Modality: 'CT', SeriesNumber: '1', SeriesDescription: '',
  SOPInstanceUID: `1.7.1.${n}`, SOPClassUID: ctImageStorage, InstanceNumber: String(n),
  key: `1.7/1.7.1/1.7.1.${n}.dcm`, transferSyntaxUid: '1.2.840.10008.1.2.1', size: 100 + n,
});

test('SQLite checkpoints the WAL itself only past 4000 frames (the cap)', async () => {
  const { dir, remove } = await tempDir('idle-checkpoint');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    assert.equal((index.connection.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint, 4000);
  } finally {
    await index.close();
    await remove();
  }
});

test('an idle index checkpoints its WAL once enough writes went into it (far below SQLite\'s own interval)', { timeout: 60_000 }, async (t) => {
  const { dir, remove } = await tempDir('idle-checkpoint');
  const path = join(dir, 'index.sqlite');
  const index = new SqliteIndex(path, { synchronous: 'normal', idleDrainMs: 1, idleCheckpointWrites: 20 });
  try {
    const size = statSync(path).size;
    // 30 new instances as the store writes them (row with entry, then the entry ended): ~130 WAL frames.
    for (let n = 1; n <= 30; n++) {
      const r = record(n);
      assert.equal(await index.addPlaced(r, { key: r.key, sopInstanceUid: r.SOPInstanceUID, record: r }, () => undefined), true);
      await index.endPending([r.key], { durable: false });
    }
    // No bound on when: it comes (the test's timeout is the hang guard).
    while (statSync(path).size <= size && !t.signal.aborted) await new Promise((r) => setTimeout(r, 5));
    assert.ok(statSync(path).size > size);
    assert.equal((await index.allInstances()).length, 30);
  } finally {
    await index.close();
    await remove();
  }
});
