/**
 * The FileStore with its instances in S3 (through the AWS SDK, against s3rver started by the test):
 * the commit protocol across the index and the object store, duplicates, a service that dies
 * mid-store, what reconcile settles, and `store check` (src/store/check.ts) on S3 and on a
 * directory, each with crafted inconsistencies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import { LocalBlobStore } from '../../src/store/blob/local.js';
import { readAll, type BlobStore } from '../../src/store/blob/blob-store.js';
import { checkStore, type StoreCheckFinding } from '../../src/store/check.js';
import { StoreError, storeErrorCodes, storeStatus } from '../../src/store/errors.js';
import type { InstanceIndex, InstanceRecord } from '../../src/store/instance-index.js';
import { indexBackends } from '../helpers/index-backends.js';
import { ctImageStorage, encodeDataset, specElements, type InstanceSpec } from '../helpers/dicom-data.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';

const MiB = 1024 * 1024;
const explicitLE = '1.2.840.10008.1.2.1';
const STUDY = '1.2.826.0.1.3680043.9.7001';
const SERIES = `${STUDY}.1`;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** Temporary directories made here, removed when the file's tests are done. */
const made: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 's3-store-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function spec(n: number, series = SERIES): InstanceSpec {
  return { PatientName: 'DOE^JANE', PatientID: 'S3', StudyInstanceUID: STUDY, SeriesInstanceUID: series, SOPInstanceUID: `${SERIES}.${n}`, SOPClassUID: ctImageStorage, Modality: 'CT', InstanceNumber: String(n) };
}
function dataset(s: InstanceSpec, pixels: number, fill = 7): Buffer {
  return encodeDataset([...specElements(s), [0x7fe00010, 'OW', new Uint8Array(pixels).map((_, k) => (k * 13 + fill) & 0xff)]]);
}
async function* chunks(b: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < b.length; at += size) yield b.subarray(at, at + size);
}
const meta = (s: InstanceSpec) => ({ sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: explicitLE, callingAeTitle: 'SCU', calledAeTitle: 'SCP' });

async function keys(blobs: BlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const b of blobs.list()) out.push(b.key);
  return out.sort();
}

let s3: S3Server;
before(async () => {
  s3 = await startS3Server(['dicom']);
});
after(async () => {
  await s3?.close();
});
let prefixes = 0;
const openS3 = (server = s3): Promise<S3BlobStore> => S3BlobStore.open({ ...server.options('dicom', `p${++prefixes}-${Date.now()}`), partSize: 5 * MiB, maxAttempts: 2 });

describe('FileStore with S3 storage', () => {
  test('small and multipart instances: the object under its key, the row, nothing left in the spool directory', async () => {
    const root = dir();
    const blobs = await openS3();
    const index = new SqliteIndex(join(root, 'index.sqlite'));
    const spool = join(root, 'spool');
    const store = await FileStore.open({ root: spool, index, blobs });
    try {
      const small = spec(1);
      const large = spec(2);
      const smallSet = dataset(small, 2000);
      const largeSet = dataset(large, 12 * MiB);
      const a = await store.store(meta(small), chunks(smallSet));
      const b = await store.store(meta(large), chunks(largeSet));
      for (const [stored, s, bytes] of [[a, small, smallSet], [b, large, largeSet]] as const) {
        assert.equal(stored.key, `${STUDY}/${SERIES}/${s.SOPInstanceUID}.dcm`);
        assert.equal(stored.path, `${blobs.url}${stored.key}`);
        assert.equal(stored.duplicate, false);
        const row = await index.findInstance(s.SOPInstanceUID);
        assert.deepEqual({ key: row?.key, size: row?.size }, { key: stored.key, size: stored.size });
        assert.equal((await blobs.head(stored.key))?.size, stored.size);
        const opened = await store.openDataset(stored.key);
        assert.equal(opened.header.meta.MediaStorageSOPInstanceUID, s.SOPInstanceUID);
        assert.equal(sha(await readAll(opened.dataset)), sha(bytes));
        assert.equal(await store.sizeOf(stored.key), stored.size);
      }
      // The spool holds instances only while they arrive.
      assert.deepEqual(await readdir(spool), []);
      assert.deepEqual(await index.pendingEntries(), []);
      assert.throws(() => store.pathOf(a.key), /not a file/);
    } finally {
      await index.close();
      await blobs.close();
    }
  });

  test('duplicates: keep-first keeps the object (no upload), reject answers 0111, overwrite replaces it', async () => {
    const root = dir();
    const blobs = await openS3();
    const index = new SqliteIndex(join(root, 'index.sqlite'));
    try {
      const s = spec(3);
      const first = dataset(s, 3000, 1);
      const second = dataset(s, 3000, 2);
      const keep = await FileStore.open({ root: join(root, 'spool'), index, blobs });
      const stored = await keep.store(meta(s), chunks(first));
      const again = await keep.store(meta(s), chunks(second));
      assert.equal(again.duplicate, true);
      assert.equal(sha(await readAll((await keep.openDataset(stored.key)).dataset)), sha(first));
      const reject = await FileStore.open({ root: join(root, 'spool'), index, blobs, duplicates: 'reject' });
      await assert.rejects(reject.store(meta(s), chunks(second)), (e: unknown) => e instanceof StoreError && e.status === storeStatus.duplicateSopInstance);
      const overwrite = await FileStore.open({ root: join(root, 'spool'), index, blobs, duplicates: 'overwrite' });
      const replaced = await overwrite.store(meta(s), chunks(second));
      assert.equal(replaced.replaced, true);
      // Under a key of its own; the old object is gone once the row names the new one.
      assert.notEqual(replaced.key, stored.key);
      assert.equal(sha(await readAll((await keep.openDataset(replaced.key)).dataset)), sha(second));
      assert.deepEqual(await keys(blobs), [replaced.key]);
      assert.deepEqual(await index.pendingEntries(), []);
      // Overwritten with another series: the old object goes once the new row is in.
      const moved = { ...s, SeriesInstanceUID: `${SERIES}.9` };
      const elsewhere = await overwrite.store(meta(moved), chunks(dataset(moved, 100)));
      assert.deepEqual(await keys(blobs), [elsewhere.key]);
      assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, elsewhere.key);
    } finally {
      await index.close();
      await blobs.close();
    }
  });

  test('the service killed mid-store: A700, no row, no object, no spool file; stored once it is back, and nothing left pending', async () => {
    const own = await startS3Server(['dicom']);
    const root = dir();
    const blobs = await S3BlobStore.open({ ...own.options('dicom'), partSize: 5 * MiB, queueSize: 1, maxAttempts: 2 });
    const index = new SqliteIndex(join(root, 'index.sqlite'));
    try {
      const store = await FileStore.open({ root: join(root, 'spool'), index, blobs });
      const s = spec(4);
      const bytes = dataset(s, 16 * MiB);
      let sent = 0;
      async function* dying(): AsyncGenerator<Uint8Array> {
        for await (const c of chunks(bytes)) {
          sent += c.byteLength;
          yield c;
        }
        // The whole data set is received (spooled); the upload then finds the service gone.
        await own.kill();
      }
      await assert.rejects(store.store(meta(s), dying()), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.blobUnavailable && e.status === storeStatus.outOfResources);
      assert.equal(sent, bytes.length);
      assert.equal(await index.findInstance(s.SOPInstanceUID), undefined);
      // Its pending entry stays while the service cannot say what the failed put left under the key.
      assert.deepEqual((await index.pendingEntries()).map((e) => e.sopInstanceUid), [s.SOPInstanceUID]);
      assert.deepEqual(await readdir(join(root, 'spool')), []);
      await own.restart();
      assert.deepEqual(await keys(blobs), []);
      const stored = await store.store(meta(s), chunks(bytes));
      assert.equal((await blobs.head(stored.key))?.size, stored.size);
      assert.deepEqual(await index.pendingEntries(), []);
    } finally {
      await index.close();
      await blobs.close();
      await own.close();
    }
  });

  test('reconcile at open: an object put before its row was written is indexed from the pending entry; an entry whose object never arrived is dropped', async () => {
    const root = dir();
    const blobs = await openS3();
    const index = new SqliteIndex(join(root, 'index.sqlite'));
    try {
      // What a node killed between put and row leaves: the entry, and the object.
      const store = await FileStore.open({ root: join(root, 'spool'), index, blobs });
      const s = spec(5);
      const stored = await store.store(meta(s), chunks(dataset(s, 500)));
      const record = (await index.allInstances()).find((r) => r.SOPInstanceUID === s.SOPInstanceUID)!;
      const full: InstanceRecord = { ...stored.attributes, key: stored.key, transferSyntaxUid: record.transferSyntaxUid, size: record.size };
      await index.removeInstance(s.SOPInstanceUID);
      await index.beginPending([{ key: stored.key, sopInstanceUid: s.SOPInstanceUID, record: full }]);
      // …and one killed between pending entry and put.
      const lost = spec(6);
      await index.beginPending([{ key: `${STUDY}/${SERIES}/${lost.SOPInstanceUID}.dcm`, sopInstanceUid: lost.SOPInstanceUID, record: { ...full, SOPInstanceUID: lost.SOPInstanceUID, key: `${STUDY}/${SERIES}/${lost.SOPInstanceUID}.dcm` } }]);
      const reopened = await FileStore.open({ root: join(root, 'spool'), index, blobs });
      assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, stored.key);
      assert.equal(await index.findInstance(lost.SOPInstanceUID), undefined);
      assert.deepEqual(await index.pendingEntries(), []);
      assert.equal((await reopened.sizeOf(stored.key)), stored.size);
    } finally {
      await index.close();
      await blobs.close();
    }
  });

  test('reconcile at open and store check: an object cut short under its key (a killed put on an S3 stand-in that writes in place) is not indexed, and is removed', async () => {
    const root = dir();
    const blobs = await openS3();
    const index = new SqliteIndex(join(root, 'index.sqlite'));
    try {
      const store = await FileStore.open({ root: join(root, 'spool'), index, blobs });
      const s = spec(7);
      const whole = dataset(s, 4000);
      const stored = await store.store(meta(s), chunks(whole));
      const record = (await index.allInstances()).find((r) => r.SOPInstanceUID === s.SOPInstanceUID)!;
      const full: InstanceRecord = { ...stored.attributes, key: stored.key, transferSyntaxUid: record.transferSyntaxUid, size: record.size };
      // What a node killed mid-put leaves where the server writes the object in place (s3rver
      // does): the pending entry, and the first part of the object under the key.
      const object = await readAll(await blobs.get(stored.key));
      await index.removeInstance(s.SOPInstanceUID);
      await index.beginPending([{ key: stored.key, sopInstanceUid: s.SOPInstanceUID, record: full }]);
      await blobs.put(stored.key, chunks(object.subarray(0, 1000)), { size: 1000 });
      // `store check` says what it would do: remove it, not index it.
      const dry = await checkStore({ index, blobs, dryRun: true, graceSeconds: 0 });
      assert.deepEqual(dry.findings.filter((f) => f.kind === 'pending'), [{ kind: 'pending', key: stored.key, sopInstanceUid: s.SOPInstanceUID, action: 'removed' }]);
      const reconciled: { action: string; sopInstanceUid: string }[] = [];
      const onServer = (m: unknown): void => {
        const e = m as { kind?: string; action: string; sopInstanceUid: string };
        if (e.kind === 'store-reconciled') reconciled.push({ action: e.action, sopInstanceUid: e.sopInstanceUid });
      };
      diagnostics.subscribe(channelNames.server, onServer);
      try {
        await FileStore.open({ root: join(root, 'spool'), index, blobs });
      } finally {
        diagnostics.unsubscribe(channelNames.server, onServer);
      }
      assert.deepEqual(reconciled, [{ action: 'discarded', sopInstanceUid: s.SOPInstanceUID }]);
      assert.equal(await index.findInstance(s.SOPInstanceUID), undefined, 'a cut-short object indexed');
      assert.deepEqual(await index.pendingEntries(), []);
      assert.equal(await blobs.head(stored.key), undefined, 'the cut-short object is left');
    } finally {
      await index.close();
      await blobs.close();
    }
  });
});

/** Craft every kind of inconsistency `store check` knows in a store of two good instances. */
async function craft(store: FileStore, index: InstanceIndex, blobs: BlobStore): Promise<{ good: string[]; orphan: string; missing: string; pendingKey: string; foreign: string }> {
  const good: string[] = [];
  for (const n of [10, 11]) good.push((await store.store(meta(spec(n)), chunks(dataset(spec(n), 700)))).key);
  // An object no row accounts for (a restored backup, a crash of an older version).
  const orphan = `${STUDY}/${SERIES}/${SERIES}.20.dcm`;
  await blobs.put(orphan, [Buffer.from('orphan bytes')]);
  // A row whose object is gone (deleted by hand).
  const gone = await store.store(meta(spec(21)), chunks(dataset(spec(21), 700)));
  await blobs.delete(gone.key);
  // A pending entry whose object was put but whose row was never written.
  const p = spec(22);
  const put = await store.store(meta(p), chunks(dataset(p, 700)));
  const row = (await index.allInstances()).find((r) => r.key === put.key)!;
  await index.removeInstance(p.SOPInstanceUID);
  await index.beginPending([{ key: put.key, sopInstanceUid: p.SOPInstanceUID, record: { ...put.attributes, key: put.key, transferSyntaxUid: row.transferSyntaxUid, size: row.size } }]);
  // Something that is not the store's.
  const foreign = 'README.txt';
  await blobs.put(foreign, [Buffer.from('not an instance')]);
  return { good, orphan, missing: gone.key, pendingKey: put.key, foreign };
}

function summary(findings: readonly StoreCheckFinding[]): string[] {
  return findings.map((f) => `${f.kind} ${f.key} ${f.action}`).sort();
}

for (const backend of indexBackends()) describe(`store check on the ${backend.name} index`, { skip: backend.skip }, () => {
  before(() => backend.start());
  after(() => backend.stop());
  for (const kind of ['S3', 'directory'] as const) {
  test(`store check (${kind}, ${backend.name} index): finds every crafted inconsistency; --dry-run changes nothing; a repair leaves a consistent store`, async () => {
    const root = dir();
    const index = await backend.open(root);
    const blobs: BlobStore = kind === 'S3' ? await openS3() : await LocalBlobStore.open({ root: join(root, 'files') });
    const store = await FileStore.open({ root: join(root, kind === 'S3' ? 'spool' : 'files'), index, ...(kind === 'S3' ? { blobs } : {}) });
    try {
      const c = await craft(store, index, blobs);
      if (kind === 'directory') {
        // A temporary file an interrupted put left.
        await writeFile(join(root, 'files', '.x.dcm.partial-old0'), 'half');
      }
      const expected = [
        `foreign-object ${c.foreign} none`,
        `missing-object ${c.missing} unindexed`,
        `orphan-object ${c.orphan} removed`,
        `pending ${c.pendingKey} indexed`,
        ...(kind === 'directory' ? ['incomplete x.dcm removed'] : []),
      ].sort();
      const before = await keys(blobs);
      // Grace 0: everything crafted just now counts (the grace period has its own test).
      const dry = await checkStore({ index, blobs, dryRun: true, graceSeconds: 0 });
      assert.deepEqual(summary(dry.findings), expected);
      assert.equal(dry.dryRun, true);
      assert.deepEqual(await keys(blobs), before, 'a dry run removes nothing');
      assert.equal((await index.pendingEntries()).length, 1);
      assert.ok(await index.findInstance(`${SERIES}.21`));

      const repaired = await checkStore({ index, blobs, graceSeconds: 0 });
      assert.deepEqual(summary(repaired.findings), expected);
      assert.deepEqual(await keys(blobs), [...c.good, c.pendingKey, c.foreign].sort());
      assert.equal(await index.findInstance(`${SERIES}.21`), undefined);
      assert.equal((await index.findInstance(`${SERIES}.22`))?.key, c.pendingKey);
      assert.deepEqual(await index.pendingEntries(), []);

      const again = await checkStore({ index, blobs, graceSeconds: 0 });
      assert.deepEqual(summary(again.findings), [`foreign-object ${c.foreign} none`]);
      assert.equal(again.counts.rows, 3);
    } finally {
      await index.close();
      await blobs.close();
    }
  });

  test(`store check (${kind}, ${backend.name} index) goes one study at a time and never reads every row at once: a study that lost every object, a study of objects only, a size mismatch`, async () => {
    const root = dir();
    const index = await backend.open(root);
    const blobs: BlobStore = kind === 'S3' ? await openS3() : await LocalBlobStore.open({ root: join(root, 'files') });
    const store = await FileStore.open({ root: join(root, kind === 'S3' ? 'spool' : 'files'), index, ...(kind === 'S3' ? { blobs } : {}) });
    const studyOf = (n: number): string => `${STUDY}.${n}`;
    const put = async (study: number, n: number): Promise<string> => {
      const s = { ...spec(n), StudyInstanceUID: studyOf(study), SeriesInstanceUID: `${studyOf(study)}.1`, SOPInstanceUID: `${studyOf(study)}.1.${n}` };
      return (await store.store(meta(s), chunks(dataset(s, 300)))).key;
    };
    try {
      const kept = [await put(1, 1), await put(1, 2), await put(2, 1), await put(4, 1)];
      // Study 3: indexed, every object deleted by hand.
      const lost = [await put(3, 1), await put(3, 2)];
      for (const key of lost) await blobs.delete(key);
      // Study 5: objects no row accounts for (a backup restored without its index).
      const orphans = [`${studyOf(5)}/${studyOf(5)}.1/${studyOf(5)}.1.1.dcm`, `${studyOf(5)}/${studyOf(5)}.1/${studyOf(5)}.1.2.dcm`];
      for (const key of orphans) await blobs.put(key, [Buffer.from('orphan')]);
      // Study 4: its object replaced by one of another size.
      await blobs.put(kept[3]!, [Buffer.from('shorter than it was')]);

      const studiesRead: string[] = [];
      const watched = new Proxy(index, {
        get(target, name) {
          if (name === 'allInstances') throw new Error('store check read every row at once');
          const value = Reflect.get(target, name, target) as unknown;
          if (name === 'instancesFor') {
            return (level: 'STUDY', keys: { StudyInstanceUID: string }) => {
              studiesRead.push(keys.StudyInstanceUID);
              return target.instancesFor(level, keys);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const report = await checkStore({ index: watched, blobs, graceSeconds: 0 });
      assert.deepEqual(summary(report.findings), [
        ...lost.map((k) => `missing-object ${k} unindexed`),
        ...orphans.map((k) => `orphan-object ${k} removed`),
        `size-mismatch ${kept[3]} none`,
      ].sort());
      assert.deepEqual([...studiesRead].sort(), [1, 2, 3, 4, 5].map(studyOf).sort(), 'each study read once');
      assert.deepEqual(report.counts, { objects: 6, rows: 6, pending: 0, incomplete: 0 });
      assert.deepEqual(await keys(blobs), kept.sort());
      for (const key of lost) assert.equal(await index.findInstance(key.split('/')[2]!.replace(/\.dcm$/, '')), undefined);
    } finally {
      await index.close();
      await blobs.close();
    }
  });
}
});

test('store check leaves unaccounted objects and temporary files younger than the grace period alone (a store may still be running)', async () => {
  const root = dir();
  const index = new SqliteIndex(join(root, 'index.sqlite'));
  const blobs = await LocalBlobStore.open({ root: join(root, 'files') });
  try {
    const key = `${STUDY}/${SERIES}/${SERIES}.30.dcm`;
    await blobs.put(key, [Buffer.from('just put')]);
    await writeFile(join(root, 'files', '.y.dcm.partial-new0'), 'half');
    assert.deepEqual((await checkStore({ index, blobs })).findings, []);
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(join(root, 'files', '.y.dcm.partial-new0'), hourAgo, hourAgo);
    await utimes(join(root, 'files', ...key.split('/')), hourAgo, hourAgo);
    assert.deepEqual(summary((await checkStore({ index, blobs, graceSeconds: 900 })).findings), [`incomplete y.dcm removed`, `orphan-object ${key} removed`]);
    assert.deepEqual(await keys(blobs), []);
  } finally {
    await index.close();
    await blobs.close();
  }
});

test('re-index of an index written by an older version reads the instances back from S3', async () => {
  const { reindexIfOutdated } = await import('../../src/store/reindex.js');
  const root = dir();
  const blobs = await openS3();
  const index = new SqliteIndex(join(root, 'index.sqlite'));
  try {
    const store = await FileStore.open({ root: join(root, 'spool'), index, blobs });
    const s = { ...spec(40), PatientName: 'REINDEX^ME' };
    const stored = await store.store(meta(s), chunks(dataset(s, 900)));
    // An older version's row: the name read wrongly, the content version behind.
    await index.addInstance({ ...stored.attributes, PatientName: 'WRONG', key: stored.key, transferSyntaxUid: explicitLE, size: stored.size });
    await index.setContentVersion(0);
    const result = await reindexIfOutdated(store, index);
    assert.deepEqual({ total: result?.total, reindexed: result?.reindexed, failed: result?.failed.length }, { total: 1, reindexed: 1, failed: 0 });
    const names: string[] = [];
    for await (const m of index.find('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: STUDY, SeriesInstanceUID: SERIES, SOPInstanceUID: s.SOPInstanceUID, PatientName: '' })) names.push(JSON.stringify(m['PatientName']));
    assert.equal(names.length, 1);
    assert.match(names[0]!, /REINDEX\^ME/);
    assert.deepEqual(await readdir(join(root, 'spool')), []);
  } finally {
    await index.close();
    await blobs.close();
  }
});
