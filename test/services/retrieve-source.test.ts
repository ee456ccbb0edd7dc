/**
 * What a retrieve or a commitment check does with the stored copies of a directory store: a copy
 * missing or of another size than its row records fails its own C-GET sub-operation before
 * anything of it is sent (counted once, listed once in the Failed SOP Instance UID List), and the
 * association goes on; a copy an 'overwrite' replaced between the index look-up and the read
 * (the old copy removed, the row naming a new key) is looked up again and the new one is used.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdir, readdir, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { channelNames } from '../../src/diagnostics.js';
import { NormalizedSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { FileStore } from '../../src/store/file-store.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 10_000, association: 10_000, dimse: 30_000 };
const study = '1.2.826.0.1.3680043.9.7778.1';
const specOf = (n: number) => spec(n, { StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: `${study}.1.${n}` });
const uids = [1, 2, 3].map((n) => specOf(n).SOPInstanceUID);

let dir: string;
let remove: () => Promise<void>;
/** What the server's index does, with a hook run after each look-up of a retrieve or a commitment check. */
let index: SqliteIndex;
let afterLookup: (() => Promise<void>) | undefined;
let src: StorageServer;

before(async () => {
  ({ dir, remove } = await tempDir('retrieve-source'));
  await mkdir(join(dir, 'in'));
  for (const n of [1, 2, 3]) await writeInstance(join(dir, 'in'), specOf(n), { pixels: 100_000 + n });
  index = new SqliteIndex(join(dir, 'index.sqlite'), { synchronous: 'normal' });
  const hooked = new Proxy(index, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'instancesFor' || prop === 'findInstance') {
        return async (...args: unknown[]) => {
          const found = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const hook = afterLookup;
          afterLookup = undefined;
          await hook?.();
          return found;
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  src = await StorageServer.create({ aeTitle: 'SRC', storeRoot: join(dir, 'src'), index: hooked, fsync: 'none', destinations: { SCU: { host: '127.0.0.1', port: 1 } } });
  await src.listen(0);
  const sources = [join(dir, 'in')];
  const client = await DicomClient.associate({ host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', presentationContexts: await storageContextsFor(sources), timeouts: quick });
  for (const r of await client.store(sources)) assert.equal(r.status, 0, r.errorComment);
  await client.release();
});

after(async () => {
  await src?.close({ timeout: 1000 }).catch(() => undefined);
  await index?.close();
  await remove?.();
});

const getter = (): Promise<DicomClient> => {
  const { presentationContexts, roles } = getContexts();
  return DicomClient.associate({ host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', presentationContexts, roles, timeouts: quick });
};

/** The instance stored again over the server's own store and index, under 'overwrite': a new key, the old file removed. */
async function overwrite(n: number, description: string): Promise<void> {
  const s = specOf(n);
  const store = await FileStore.open({ root: join(dir, 'src'), index, duplicates: 'overwrite', fsync: 'none' });
  await store.store({ sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: TransferSyntax.ExplicitVrLittleEndian }, (async function* () {
    yield encodeDataset([...specElements(s), [0x00081030, 'LO', description], [0x7fe00010, 'OW', new Uint8Array(5000).fill(9)]]);
  })());
}

test('C-GET: a copy replaced by an overwrite after the look-up is looked up again, and the new copy is sent', async () => {
  const client = await getter();
  try {
    const out = join(dir, 'got-race');
    const local = await FileStore.open({ root: out, fsync: 'none' });
    afterLookup = () => overwrite(3, 'REPLACED');
    const got = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: uids[2] }, { store: local });
    assert.equal(got.outcome, 'Success');
    const row = (await index.findInstance(uids[2]!))!;
    assert.match(row.key, /-[0-9a-z]+\.dcm$/, 'the overwrite took place');
    assert.equal(await datasetHash(join(out, study, `${study}.1`, `${uids[2]}.dcm`)), await datasetHash(src.store.pathOf(row.key)));
  } finally {
    await client.release();
  }
});

test('Storage Commitment: a copy replaced by an overwrite after the look-up is still committed', async () => {
  const client = await DicomClient.associate({
    host: '127.0.0.1', port: src.address!.port, callingAeTitle: 'SCU', calledAeTitle: 'SRC', timeouts: quick,
    presentationContexts: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
  });
  try {
    afterLookup = () => overwrite(1, 'AGAIN');
    const report = await client.commit([{ sopClassUid: ctImageStorage, sopInstanceUid: uids[0]! }], { timeout: 20_000 });
    assert.deepEqual(report.failed, []);
    assert.deepEqual(report.committed.map((r) => r.sopInstanceUid), [uids[0]]);
    assert.match((await index.findInstance(uids[0]!))!.key, /-[0-9a-z]+\.dcm$/, 'the overwrite took place');
  } finally {
    await client.release();
  }
});

test('C-GET: a file cut short and a file gone each fail their own sub-operation, once, before anything is sent; the whole one arrives; the association goes on', async () => {
  const refused: string[] = [];
  const sourceFailed: string[] = [];
  const on = (m: unknown): void => {
    const e = m as { kind?: string; sopInstanceUid?: string };
    if (e.kind === 'store-failed') refused.push(e.sopInstanceUid!);
    if (e.kind === 'retrieve-source-failed') sourceFailed.push(e.sopInstanceUid!);
  };
  diagnostics.subscribe(channelNames.server, on);
  const client = await getter();
  try {
    await truncate(src.store.pathOf((await index.findInstance(uids[1]!))!.key), 50_000);
    await unlink(src.store.pathOf((await index.findInstance(uids[2]!))!.key));
    const local = await FileStore.open({ root: join(dir, 'got'), fsync: 'none' });
    const got = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study }, { store: local });
    assert.equal(got.status, 0xb000);
    assert.deepEqual([got.completed, got.failed], [1, 2]);
    assert.deepEqual([...got.failedSopInstanceUids].sort(), [uids[1], uids[2]].sort());
    assert.deepEqual(sourceFailed.sort(), [uids[1], uids[2]].sort());
    // The receiving store (in this process) never saw part of the cut-short file.
    assert.deepEqual(refused, []);
    const files = (await readdir(join(dir, 'got'), { recursive: true })).map(String).filter((f) => f.endsWith('.dcm'));
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)), [`${uids[0]}.dcm`]);
    const again = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: uids[0] }, { store: local });
    assert.equal(again.outcome, 'Success');
  } finally {
    diagnostics.unsubscribe(channelNames.server, on);
    await client.release();
  }
});
