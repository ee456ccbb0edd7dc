/**
 * `store check`'s grace period: an unaccounted object younger than it may be a store still running
 * and is left alone; with no grace (0) every object is checked, also one whose time stamp is
 * ahead of the checking clock (another host's clock for shared storage, or a file written a moment
 * ago on another CPU whose clock reads a little ahead).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LocalBlobStore } from '../../src/store/blob/local.js';
import { checkStore } from '../../src/store/check.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import type { InstanceRecord } from '../../src/store/instance-index.js';
import { tempDir } from '../helpers/dicom-data.js';

const STUDY = '1.2.826.0.1.3680043.9.7303';

/** An index row of a CT instance in the test's study. */
function recordOf(uid: string, key: string): InstanceRecord {
  return {
    SpecificCharacterSet: '', PatientID: 'G', PatientName: '', PatientBirthDate: '', PatientSex: '', StudyInstanceUID: STUDY, StudyDate: '', StudyTime: '',
    AccessionNumber: '', StudyID: '', StudyDescription: '', ReferringPhysicianName: '', SeriesInstanceUID: `${STUDY}.1`, Modality: 'CT', SeriesNumber: '',
    SeriesDescription: '', SOPInstanceUID: uid, SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', InstanceNumber: '', key, transferSyntaxUid: '1.2.840.10008.1.2.1', size: 100,
  };
}
const orphanKey = `${STUDY}/${STUDY}.1/${STUDY}.1.1.dcm`;

async function withOrphan(fn: (root: string, index: SqliteIndex, path: string) => Promise<void>): Promise<void> {
  const { dir, remove } = await tempDir('check-grace');
  const root = join(dir, 'files');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const path = join(root, ...orphanKey.split('/'));
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, new Uint8Array(100));
    await fn(root, index, path);
  } finally {
    await index.close();
    await remove();
  }
}

test('store check, no grace: an orphan whose time stamp is ahead of the checking clock is removed', async () => {
  await withOrphan(async (root, index, path) => {
    const report = await checkStore({ index, blobs: LocalBlobStore.at({ root }), graceSeconds: 0, now: new Date(Date.now() - 3_600_000) });
    assert.deepEqual(report.findings.map((f) => [f.kind, f.key, f.action]), [['orphan-object', orphanKey, 'removed']]);
    assert.equal(existsSync(path), false);
  });
});

test('store check, a grace period: a young orphan is left, an old one removed', async () => {
  await withOrphan(async (root, index, path) => {
    const blobs = LocalBlobStore.at({ root });
    assert.deepEqual((await checkStore({ index, blobs, graceSeconds: 900 })).findings, []);
    assert.equal(existsSync(path), true);
    const later = await checkStore({ index, blobs, graceSeconds: 900, now: new Date(Date.now() + 901_000) });
    assert.deepEqual(later.findings.map((f) => [f.kind, f.key, f.action]), [['orphan-object', orphanKey, 'removed']]);
    assert.equal(existsSync(path), false);
  });
});

test("store check, a grace period: a row and its pending entry whose copy is not in place yet (a new instance between its commit and its rename) are left; later, or with no grace, the row goes", async () => {
  const { dir, remove } = await tempDir('check-grace');
  const root = join(dir, 'files');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    await mkdir(root, { recursive: true });
    const uid = `${STUDY}.1.2`;
    const key = `${STUDY}/${STUDY}.1/${uid}.dcm`;
    const record = recordOf(uid, key);
    // What the store of a new instance holds between its one commit and its rename (commit.ts placeNew).
    await index.beginPending([{ key, sopInstanceUid: uid, record }]);
    await index.addInstance(record);
    const blobs = LocalBlobStore.at({ root });
    assert.deepEqual((await checkStore({ index, blobs, graceSeconds: 900 })).findings, []);
    assert.equal((await index.findInstance(uid))?.key, key);
    assert.equal((await index.pendingEntries()).length, 1);
    const later = await checkStore({ index, blobs, graceSeconds: 900, now: new Date(Date.now() + 901_000) });
    assert.deepEqual(later.findings.map((f) => [f.kind, f.key, f.action]), [['pending', key, 'unindexed']]);
    assert.equal(await index.findInstance(uid), undefined);
    assert.deepEqual(await index.pendingEntries(), []);
  } finally {
    await index.close();
    await remove();
  }
});

test('store check, no grace: a pending entry whose copy is in place and named by its row (a new instance stored whole, its entry ended but not yet deleted when the server was killed) is cleared without a finding', async () => {
  const { dir, remove } = await tempDir('check-grace');
  const root = join(dir, 'files');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    const uid = `${STUDY}.1.3`;
    const key = `${STUDY}/${STUDY}.1/${uid}.dcm`;
    const record = recordOf(uid, key);
    await index.beginPending([{ key, sopInstanceUid: uid, record }]);
    await index.addInstance(record);
    const path = join(root, ...key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, new Uint8Array(100));
    const report = await checkStore({ index, blobs: LocalBlobStore.at({ root }), graceSeconds: 0 });
    assert.deepEqual(report.findings, []);
    assert.equal(report.counts.pending, 1);
    assert.deepEqual(await index.pendingEntries(), []);
    assert.equal((await index.findInstance(uid))?.key, key);
    assert.equal(existsSync(path), true);
  } finally {
    await index.close();
    await remove();
  }
});
