/**
 * The store's commit protocol: what an interrupted run can leave between a file reaching its
 * name and its index row, and how the next start settles it (pending entries, reconcile); a
 * full index database answers A700 and leaves no file behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import type { InstanceRecord } from '../../src/store/instance-index.js';
import type { SqliteIndex } from '../../src/store/sqlite-index.js';
import { indexBackends } from '../helpers/index-backends.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { encodeFileMetaInformation } from '../../src/dataset/part10.js';
import { ctImageStorage, encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';

const explicitLE = '1.2.840.10008.1.2.1';

function spec(n: number, study = 1): InstanceSpec {
  return {
    PatientName: 'DOE^JOHN',
    PatientID: 'PID001',
    StudyInstanceUID: `1.2.826.0.9.${study}`,
    SeriesInstanceUID: `1.2.826.0.9.${study}.2`,
    SOPInstanceUID: `1.2.826.0.9.${study}.2.${n}`,
    SOPClassUID: ctImageStorage,
    Modality: 'CT',
    InstanceNumber: String(n),
  };
}

function meta(s: InstanceSpec) {
  return { sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: explicitLE };
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function dcmFiles(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).map(String).filter((f) => f.endsWith('.dcm')).map((f) => join(root, f)).sort();
}

/** A Part 10 file as the store writes it, for leftovers made by hand. */
function part10(s: InstanceSpec, description = ''): Buffer {
  const header = encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: explicitLE });
  return Buffer.concat([header, encodeDataset([...specElements(s), [0x00081030, 'LO', description]])]);
}

/** The file of an index row under `root`. */
function pathIn(root: string, f: { key: string } | undefined): string | undefined {
  return f === undefined ? undefined : join(root, ...f.key.split('/'));
}

function record(s: InstanceSpec, key: string, size: number): InstanceRecord {
  return {
    SpecificCharacterSet: '', PatientID: s.PatientID ?? '', PatientName: s.PatientName ?? '', PatientBirthDate: '', PatientSex: '',
    StudyInstanceUID: s.StudyInstanceUID, StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '',
    ReferringPhysicianName: '', SeriesInstanceUID: s.SeriesInstanceUID, Modality: 'CT', SeriesNumber: '', SeriesDescription: '',
    SOPInstanceUID: s.SOPInstanceUID, SOPClassUID: ctImageStorage, InstanceNumber: s.InstanceNumber ?? '', key, transferSyntaxUid: explicitLE, size,
  };
}

function finalPath(root: string, s: InstanceSpec): string {
  return join(root, s.StudyInstanceUID, s.SeriesInstanceUID, `${s.SOPInstanceUID}.dcm`);
}

for (const backend of indexBackends()) {
describe(`the commit protocol on the ${backend.name} index`, { skip: backend.skip }, () => {
  before(() => backend.start());
  after(() => backend.stop());

  test('a file the index does not know (left by a crash before the commit) does not block a re-send: it is stored, under every policy', async () => {
    const { dir, remove } = await tempDir('commit');
    try {
      for (const policy of ['keep-first', 'reject', 'overwrite'] as const) {
        const root = join(dir, policy);
        const s = spec(1);
        const orphan = finalPath(root, s);
        await mkdir(dirname(orphan), { recursive: true });
        await writeFile(orphan, part10(s, 'ORPHAN'));
        const index = await backend.open(dir, `${policy}.sqlite`);
        const store = await FileStore.open({ root, index, duplicates: policy });
        const stored = await store.store(meta(s), once(encodeDataset([...specElements(s), [0x00081030, 'LO', 'RESENT']])));
        assert.equal(stored.duplicate, false, policy);
        assert.equal(pathIn(root, await index.findInstance(s.SOPInstanceUID)), orphan, policy);
        assert.match((await readFile(orphan)).toString('latin1'), /RESENT/, policy);
        assert.deepEqual(await dcmFiles(root), [orphan]);
        await index.close();
      }
    } finally {
      await remove();
    }
  });

  test('open settles pending entries: a complete file is indexed, a missing one forgotten, a superseded copy removed; one event each', async () => {
    const { dir, remove } = await tempDir('commit');
    const events: { kind?: string; action?: string; sopInstanceUid?: string }[] = [];
    const listen = (m: unknown): void => void events.push(m as (typeof events)[number]);
    diagnosticsChannel.subscribe(channelNames.server, listen);
    try {
      const root = join(dir, 'files');
      const index = await backend.open(dir);
      const first = await FileStore.open({ root, index });
      // Stored and indexed normally: must survive the reconciliation untouched.
      const kept = spec(1);
      const keptStored = await first.store(meta(kept), once(encodeDataset(specElements(kept))));
      // (a) crash after the rename, before the commit: file in place, pending entry, no row.
      const renamed = spec(2);
      const renamedPath = finalPath(root, renamed);
      const bytes = part10(renamed, 'RENAMED');
      await writeFile(renamedPath, bytes);
      // (b) crash after the pending entry, before the rename: no file, no row.
      const never = spec(3);
      // (c) 'overwrite' into another study: the old copy's removal was interrupted.
      const oldCopy = join(root, 'old', 'series', `${kept.SOPInstanceUID}.dcm`);
      await mkdir(dirname(oldCopy), { recursive: true });
      await writeFile(oldCopy, part10(kept));
      const keyOf = (path: string): string => relative(root, path).split(sep).join('/');
      await index.beginPending([
        { key: keyOf(renamedPath), sopInstanceUid: renamed.SOPInstanceUID, record: record(renamed, keyOf(renamedPath), bytes.length) },
        { key: keyOf(finalPath(root, never)), sopInstanceUid: never.SOPInstanceUID, record: record(never, keyOf(finalPath(root, never)), 100) },
        { key: keyOf(oldCopy), sopInstanceUid: kept.SOPInstanceUID, record: undefined },
      ]);
      await index.close();

      const reopened = await backend.reopen(index);
      const store = await FileStore.open({ root, index: reopened });
      const actions = events.filter((e) => e.kind === 'store-reconciled').map((e) => `${e.action} ${e.sopInstanceUid}`).sort();
      assert.deepEqual(actions, [`indexed ${renamed.SOPInstanceUID}`, `removed ${kept.SOPInstanceUID}`]);
      assert.deepEqual(await reopened.pendingEntries(), []);
      assert.equal(pathIn(root, await reopened.findInstance(renamed.SOPInstanceUID)), renamedPath);
      assert.equal(await reopened.findInstance(never.SOPInstanceUID), undefined);
      assert.equal(pathIn(root, await reopened.findInstance(kept.SOPInstanceUID)), keptStored.path);
      // Index and files agree: every file has its row, every row its file.
      const files = await dcmFiles(root);
      assert.deepEqual(files, [keptStored.path, renamedPath].sort());
      // The one that never arrived can be sent now.
      const sent = await store.store(meta(never), once(encodeDataset(specElements(never))));
      assert.equal(sent.duplicate, false);
      await reopened.close();
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.server, listen);
      await remove();
    }
  });

  test('a full index database answers A700 (out of resources) and leaves no file; what was stored stays', { skip: backend.name === 'sqlite' ? false : 'a SQLite page limit' }, async () => {
    const { dir, remove } = await tempDir('commit');
    try {
      const root = join(dir, 'files');
      const index = (await backend.open(dir)) as SqliteIndex;
      const store = await FileStore.open({ root, index, fsync: 'none' });
      const pages = Number((index.connection.prepare('PRAGMA page_count').get() as { page_count: number }).page_count);
      // SQLite answers SQLITE_FULL once the database would grow past this many pages.
      index.connection.exec(`PRAGMA max_page_count = ${pages + 2}`);
      const stored: string[] = [];
      let failure: unknown;
      for (let n = 1; n <= 400 && failure === undefined; n++) {
        const s = { ...spec(n, n), StudyDescription: 'x'.repeat(60) };
        try {
          stored.push((await store.store(meta(s), once(encodeDataset([...specElements(s), [0x00081030, 'LO', 'D'.repeat(64)]])))).path);
        } catch (error) {
          failure = error;
        }
      }
      assert.ok(failure instanceof StoreError, `the index never filled up: ${String(failure)}`);
      assert.equal(failure.code, storeErrorCodes.outOfResources);
      assert.equal(failure.status, 0xa700);
      assert.match(failure.comment, /out of resources/);
      assert.ok(stored.length > 0);
      // No file without its row, no temporary file.
      assert.deepEqual(await dcmFiles(root), [...stored].sort());
      assert.deepEqual((await readdir(root)).filter((f) => f.startsWith('.')), []);
      for (const path of stored) assert.ok(await index.findInstance(path.split('/').pop()!.replace(/\.dcm$/, '')));
      await index.close();
    } finally {
      await remove();
    }
  });

  test("'overwrite' with other study and series UIDs: the new copy is indexed, the old one removed, nothing pending", async () => {
    const { dir, remove } = await tempDir('commit');
    try {
      const root = join(dir, 'files');
      const index = await backend.open(dir);
      const store = await FileStore.open({ root, index, duplicates: 'overwrite' });
      const s = spec(1);
      const first = await store.store(meta(s), once(encodeDataset(specElements(s))));
      const moved = { ...s, StudyInstanceUID: '1.2.826.0.9.99', SeriesInstanceUID: '1.2.826.0.9.99.2' };
      const second = await store.store(meta(moved), once(encodeDataset(specElements(moved))));
      assert.notEqual(second.path, first.path);
      assert.equal(second.replaced, true);
      assert.equal(pathIn(root, await index.findInstance(s.SOPInstanceUID)), second.path);
      assert.deepEqual(await dcmFiles(root), [second.path]);
      assert.deepEqual(await index.pendingEntries(), []);
      await index.close();
    } finally {
      await remove();
    }
  });

  test('two stores of one SOP instance at once (keep-first): both Success, one stored, the other told it is a duplicate', async () => {
    const { dir, remove } = await tempDir('commit');
    try {
      const root = join(dir, 'files');
      const index = await backend.open(dir);
      const store = await FileStore.open({ root, index });
      const s = spec(5);
      const copies = ['A', 'B'].map((d) => encodeDataset([...specElements(s), [0x00081030, 'LO', `COPY-${d}`]]));
      const results = await Promise.all(copies.map((c) => store.store(meta(s), once(c))));
      assert.deepEqual(results.map((r) => r.duplicate).sort(), [false, true]);
      const kept = results.find((r) => !r.duplicate)!;
      assert.equal(pathIn(root, await index.findInstance(s.SOPInstanceUID)), kept.path);
      assert.deepEqual(await dcmFiles(root), [kept.path]);
      assert.deepEqual(await index.pendingEntries(), []);
      await index.close();
    } finally {
      await remove();
    }
  });
});
}
