import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile, mkdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { FileStore } from '../../src/store/file-store.js';
import { IndexDb } from '../../src/store/index-db.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { StoreError, storeErrorCodes, storeStatus } from '../../src/store/errors.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';
import { ctImageStorage, dcmdump, dump2dcm, dumpText, dumpValue, encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';

const explicitLE = '1.2.840.10008.1.2.1';

function spec(n: number): InstanceSpec {
  return {
    PatientName: 'DOE^JOHN',
    PatientID: 'PID001',
    StudyInstanceUID: '1.2.826.0.1.1',
    SeriesInstanceUID: '1.2.826.0.1.1.2',
    SOPInstanceUID: `1.2.826.0.1.1.2.${n}`,
    SOPClassUID: ctImageStorage,
    Modality: 'CT',
    InstanceNumber: String(n),
  };
}

async function* chunked(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    yield bytes.subarray(pos, pos + n);
    pos += n;
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

function meta(s: InstanceSpec, ts = explicitLE) {
  return { sopClassUid: s.SOPClassUID ?? ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: ts, callingAeTitle: 'STORESCU', calledAeTitle: 'OUR_SCP' };
}

test('stores a data set bit-for-bit under study/series/instance, readable by dcmdump', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(1);
    const dataset = encodeDataset([...specElements(s), [0x7fe00010, 'OB', new Uint8Array(1000).fill(7)]]);
    const stored = await store.store(meta(s), chunked(dataset, [100, 7, 3000]));
    assert.equal(stored.path, join(dir, s.StudyInstanceUID, s.SeriesInstanceUID, `${s.SOPInstanceUID}.dcm`));
    assert.equal(stored.datasetSize, dataset.length);
    const file = await readFile(stored.path);
    assert.equal(stored.size, file.length);
    const header = await readPart10Header(stored.path);
    assert.equal(sha(file.subarray(header.datasetOffset)), sha(dataset));
    assert.equal(header.meta.SourceApplicationEntityTitle, 'STORESCU');
    assert.equal(header.meta.SendingApplicationEntityTitle, 'STORESCU');
    assert.equal(header.meta.ReceivingApplicationEntityTitle, 'OUR_SCP');
    const dump = await dcmdump(stored.path, ['-Un']);
    assert.equal(dumpValue(dump, '0002,0003'), s.SOPInstanceUID);
    assert.equal(dumpValue(dump, '0010,0010'), 'DOE^JOHN');
    assert.equal(dumpValue(dump, '0002,0018'), 'OUR_SCP');
    assert.equal(stored.attributes.PatientID, 'PID001');
    assert.deepEqual(await listAll(dir), [s.StudyInstanceUID, join(s.StudyInstanceUID, s.SeriesInstanceUID), join(s.StudyInstanceUID, s.SeriesInstanceUID, `${s.SOPInstanceUID}.dcm`)]);
  } finally {
    await remove();
  }
});

test('finds the identifying attributes in every transfer syntax, behind undefined-length sequences, in any chunking', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    // A sequence in group 0008, before the study and series UIDs, with nested undefined lengths.
    const sequence = [
      '(0008,1110) SQ (Sequence with undefined length #=1)',
      '  (fffe,e000) na (Item with undefined length #=2)',
      '    (0008,1150) UI [1.2.3]',
      '    (0008,1155) UI [1.2.3.4]',
      '  (fffe,e00d) na (ItemDelimitationItem)',
      '(fffe,e0dd) na (SequenceDelimitationItem)',
    ];
    const cases = [['+te', '-e'], ['+ti', '-e'], ['+tb'], ['+te'], ['+td']] as const;
    let n = 10;
    for (const flags of cases) {
      const s = spec(n++);
      const src = await dump2dcm(dir, `src${n}.dcm`, dumpText(s, sequence), flags);
      const header = await readPart10Header(src);
      const dataset = (await readFile(src)).subarray(header.datasetOffset);
      const sizes = await fc.sample(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), 3);
      for (const [k, chunking] of sizes.entries()) {
        const root = join(dir, `root-${n}-${k}`);
        const store = await FileStore.open({ root, duplicates: 'overwrite', fsync: 'none' });
        const stored = await store.store(meta(s, header.meta.TransferSyntaxUID), chunked(dataset, chunking));
        assert.equal(stored.studyInstanceUid, s.StudyInstanceUID, flags.join(' '));
        assert.equal(stored.seriesInstanceUid, s.SeriesInstanceUID);
        assert.equal(stored.attributes.PatientName, 'DOE^JOHN');
        assert.equal(stored.attributes.InstanceNumber, s.InstanceNumber);
        const out = await readFile(stored.path);
        assert.equal(sha(out.subarray(out.length - dataset.length)), sha(dataset));
        // DCMTK reads what we wrote, in the same transfer syntax.
        const dump = await dcmdump(stored.path, ['-Un']);
        assert.equal(dumpValue(dump, '0008,1155'), '1.2.3.4');
      }
    }
  } finally {
    await remove();
  }
});

test('duplicate policies: keep-first answers Success and keeps the first, reject answers 0111, overwrite replaces', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    const s = spec(1);
    const first = encodeDataset([...specElements(s), [0x00081030, 'LO', 'FIRST']]);
    const second = encodeDataset([...specElements(s), [0x00081030, 'LO', 'SECOND']]);
    for (const policy of ['reject', 'overwrite', 'keep-first'] as const) {
      const root = join(dir, policy);
      const index = new IndexDb(':memory:');
      const store = await FileStore.open({ root, duplicates: policy, index });
      const a = await store.store(meta(s), chunked(first, [64]));
      if (policy === 'reject') {
        await assert.rejects(
          store.store(meta(s), chunked(second, [64])),
          (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.duplicate && e.status === 0x0111 && e.comment.length <= 64 && !e.comment.includes(root),
        );
        assert.match((await readFile(a.path)).toString('latin1'), /FIRST/);
        // The file-system check holds without an index too (link() is atomic).
        const bare = await FileStore.open({ root, duplicates: 'reject' });
        await assert.rejects(bare.store(meta(s), chunked(second, [64])), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.duplicate);
      } else if (policy === 'overwrite') {
        const b = await store.store(meta(s), chunked(second, [64]));
        // A copy of its own: the indexed one is never written over, only removed once the row names the new one.
        assert.notEqual(b.path, a.path);
        assert.equal(b.replaced, true);
        assert.match((await readFile(b.path)).toString('latin1'), /SECOND/);
        assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, b.key);
        assert.equal(existsSync(a.path), false);
        assert.deepEqual(await index.pendingEntries(), []);
      } else {
        const events: unknown[] = [];
        const listen = (m: unknown): void => void events.push(m);
        diagnosticsChannel.subscribe(channelNames.server, listen);
        const b = await store.store(meta(s), chunked(second, [64])).finally(() => diagnosticsChannel.unsubscribe(channelNames.server, listen));
        assert.equal(b.duplicate, true);
        assert.equal(b.path, a.path);
        assert.match((await readFile(a.path)).toString('latin1'), /FIRST/);
        assert.equal((await index.findInstance(s.SOPInstanceUID))?.key, a.key);
        assert.deepEqual((await listAll(root)).filter((f) => f.endsWith('.dcm')).length, 1);
        assert.ok(events.some((m) => (m as { kind?: string; sopInstanceUid?: string }).kind === 'store-duplicate' && (m as { sopInstanceUid?: string }).sopInstanceUid === s.SOPInstanceUID));
        // Without an index, the file name decides the same way.
        const bare = await FileStore.open({ root, duplicates: 'keep-first' });
        assert.equal((await bare.store(meta(s), chunked(second, [64]))).duplicate, true);
        assert.match((await readFile(a.path)).toString('latin1'), /FIRST/);
      }
      assert.deepEqual((await listAll(root)).filter((f) => f.includes('partial')), []);
      index.close();
    }
  } finally {
    await remove();
  }
});

test('a data set that does not parse or does not match the command answers C000 / A900 and leaves nothing', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(1);
    const noStudy = encodeDataset(specElements({ ...s, StudyInstanceUID: '' }));
    // A Type 1 UID missing: the data set does not match its SOP class (PS3.4 B.2.3), A900 naming it.
    const missing = (key: string, tag: number, comment: string) => (e: unknown) =>
      e instanceof StoreError && e.code === storeErrorCodes.datasetMismatch && e.status === storeStatus.datasetDoesNotMatchSopClass &&
      e.comment === comment && e.offendingElement?.length === 1 && e.offendingElement[0] === tag;
    await assert.rejects(store.store(meta(s), chunked(noStudy, [50])), missing('StudyInstanceUID', 0x0020000d, 'StudyInstanceUID (0020,000D) is missing'));
    const noSeries = encodeDataset(specElements({ ...s, SeriesInstanceUID: '' }));
    await assert.rejects(store.store(meta(s), chunked(noSeries, [50])), missing('SeriesInstanceUID', 0x0020000e, 'SeriesInstanceUID (0020,000E) is missing'));
    const noInstance = encodeDataset(specElements({ ...s, SOPInstanceUID: '' }));
    await assert.rejects(store.store(meta(s), chunked(noInstance, [50])), missing('SOPInstanceUID', 0x00080018, 'SOPInstanceUID (0008,0018) is missing'));
    const noClass = encodeDataset(specElements({ ...s, SOPClassUID: '' }));
    await assert.rejects(store.store(meta(s), chunked(noClass, [50])), missing('SOPClassUID', 0x00080016, 'SOPClassUID (0008,0016) is missing'));
    // UIDs name directories: '..' and friends must never get that far; a value that is not a UID is not understood (C000).
    for (const bad of ['..', '1..2', '.', '1.2.', '1.2.abc', `1.${'2'.repeat(63)}`]) {
      const ds = encodeDataset(specElements({ ...s, StudyInstanceUID: bad }));
      await assert.rejects(
        store.store(meta(s), chunked(ds, [50])),
        (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.cannotUnderstand && e.comment === 'StudyInstanceUID (0020,000D) is not a valid UID' && e.offendingElement?.[0] === 0x0020000d,
        bad,
      );
    }
    // The command's own UIDs come from the peer: C000 naming the command element, not a processing failure.
    await assert.rejects(
      store.store({ ...meta(s), sopInstanceUid: '../x' }, chunked(noStudy, [50])),
      (e: unknown) => e instanceof StoreError && e.status === 0xc000 && /sopInstanceUid/.test(e.message) && e.offendingElement?.[0] === 0x00001000,
    );
    await assert.rejects(
      store.store({ ...meta(s), sopClassUid: 'x' }, chunked(noStudy, [50])),
      (e: unknown) => e instanceof StoreError && e.status === 0xc000 && e.comment === 'Affected SOP Class UID (0000,0002) is not a valid UID' && e.offendingElement?.[0] === 0x00000002,
    );
    const garbage = Buffer.from('this is not a data set at all, no, not at all....'.repeat(20));
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const c of chunked(garbage, [50])) {
        pulled += c.length;
        yield c;
      }
    }
    await assert.rejects(store.store(meta(s), counted()), (e: unknown) => e instanceof StoreError && e.status === 0xc000);
    // Refused, but drained to the end so the association can carry on.
    assert.equal(pulled, garbage.length);
    const other = encodeDataset(specElements({ ...s, SOPInstanceUID: '1.2.3.999' }));
    await assert.rejects(store.store(meta(s), chunked(other, [50])), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.datasetMismatch && e.status === 0xa900);
    assert.deepEqual(await listAll(dir), []);
  } finally {
    await remove();
  }
});

test('a large instance (streamed to its file) without a Series Instance UID answers A900 and leaves no file and no row', async () => {
  const { dir, remove } = await tempDir('store');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  try {
    const root = join(dir, 'files');
    const store = await FileStore.open({ root, index });
    const s = spec(7);
    // Beyond the in-memory size: written to its temporary file as it arrives, checked at the end.
    const dataset = encodeDataset([...specElements({ ...s, SeriesInstanceUID: '' }), [0x7fe00010, 'OB', new Uint8Array(3 << 20).fill(9)]]);
    await assert.rejects(
      store.store(meta(s), chunked(dataset, [16_384])),
      (e: unknown) => e instanceof StoreError && e.status === 0xa900 && e.offendingElement?.[0] === 0x0020000e,
    );
    assert.deepEqual(await listAll(root), []);
    const stats = await index.statistics();
    assert.deepEqual([stats.instances, stats.series, stats.studies, stats.patients, stats.pending], [0, 0, 0, 0, 0]);
  } finally {
    index.close();
    await remove();
  }
});

test('an interrupted store leaves no complete-looking file; leftovers are removed at open', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(1);
    const dataset = encodeDataset([...specElements(s), [0x7fe00010, 'OB', new Uint8Array(200_000)]]);
    async function* dying(): AsyncGenerator<Uint8Array> {
      yield dataset.subarray(0, 100_000);
      throw new Error('peer aborted the association');
    }
    await assert.rejects(store.store(meta(s), dying()), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.aborted && e.status === 0x0110);
    // Writable sink destroyed mid-way: same outcome.
    const { writable, result } = store.createSink(meta(s));
    writable.write(dataset.subarray(0, 50_000));
    writable.destroy(new Error('socket closed'));
    await assert.rejects(result, (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.aborted);
    assert.deepEqual(await listAll(dir), []);
    // A crashed process leaves `.uid.partial-xxxx` behind: never a .dcm, and removed at next open.
    await writeFile(join(dir, `.${s.SOPInstanceUID}.partial-abcdef`), dataset.subarray(0, 1000));
    await mkdir(join(dir, 'keep'));
    const reopened = await FileStore.open({ root: dir });
    assert.deepEqual(await listAll(dir), ['keep']);
    // The sink works end to end too.
    const sink = reopened.createSink(meta(s));
    sink.writable.end(dataset);
    const stored = await sink.result;
    assert.equal(stored.datasetSize, dataset.length);
  } finally {
    await remove();
  }
});

test('a store shared by several nodes: at open only old leftovers are removed, never a file another node is writing', async () => {
  const { dir, remove } = await tempDir('store');
  const index = new IndexDb(join(dir, 'index.sqlite'));
  try {
    const old = join(dir, '.1.2.3.partial-aaaa0');
    const live = join(dir, '.1.2.4.partial-bbbb0');
    await writeFile(old, 'left by a node that crashed an hour ago');
    await writeFile(live, 'being written by another node now');
    const anHourAgo = new Date(Date.now() - 3600_000);
    await utimes(old, anHourAgo, anHourAgo);
    // A shared (non-embedded) index makes the grace the default; a Proxy stands in for PostgreSQL.
    const shared = new Proxy(index, {
      get: (t, k) => {
        if (k === 'kind') return 'postgres';
        const v: unknown = Reflect.get(t, k, t);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const store = await FileStore.open({ root: dir, index: shared });
    const left = (await readdir(dir)).filter((n) => n.includes('.partial-'));
    assert.deepEqual(left, ['.1.2.4.partial-bbbb0']);
    await store.close();
    // The embedded default: this process is the only writer, every leftover goes.
    const embedded = await FileStore.open({ root: dir, index });
    assert.deepEqual((await readdir(dir)).filter((n) => n.includes('.partial-')), []);
    await embedded.close();
  } finally {
    await index.close();
    await remove();
  }
});

test('a head far into the data set (behind a long private element) is found as it streams', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(3);
    const dataset = encodeDataset([...specElements(s), [0x00091010, 'UN', new Uint8Array(5000)]]);
    const stored = await store.store(meta(s), chunked(dataset, [30]));
    assert.equal(stored.seriesInstanceUid, s.SeriesInstanceUID);
  } finally {
    await remove();
  }
});

test('a truncated data set (cut inside its Pixel Data) answers C000 in every transfer syntax, deflated too, and leaves no file', async () => {
  const { dir, remove } = await tempDir('store-truncated');
  try {
    const pixels = [`(7fe0,0010) OB ${Array.from({ length: 1200 }, (_, i) => (i % 251).toString(16).padStart(2, '0')).join('\\')}`];
    let n = 70;
    for (const flags of [['+te', '-e'], ['+ti', '-e'], ['+tb'], ['+td']] as const) {
      const s = spec(n++);
      const src = await dump2dcm(dir, `t${n}.dcm`, dumpText(s, pixels), flags);
      const header = await readPart10Header(src);
      const ts = header.meta.TransferSyntaxUID;
      const dataset = (await readFile(src)).subarray(header.datasetOffset);
      const root = join(dir, `root-${n}`);
      const store = await FileStore.open({ root, fsync: 'none' });
      for (const cut of [1, 2, 999, Math.floor(dataset.length / 3)]) {
        await assert.rejects(
          store.store(meta(s, ts), chunked(dataset.subarray(0, dataset.length - cut), [700])),
          (e: unknown) => e instanceof StoreError && e.status === 0xc000 && /truncated|inflate/.test(e.comment),
          `${flags.join(' ')} cut ${cut}`,
        );
      }
      assert.deepEqual(await listAll(root), [], flags.join(' '));
      const stored = await store.store(meta(s, ts), chunked(dataset, [700]));
      assert.equal(stored.datasetSize, dataset.length);
    }
  } finally {
    await remove();
  }
});

test('options are validated by name', async () => {
  await assert.rejects(FileStore.open({ root: '/tmp/x', duplicates: 'maybe' as never }), /duplicates/);
  // 'keep-both' was dropped: a second file the index cannot name is a file no query finds.
  await assert.rejects(FileStore.open({ root: '/tmp/x', duplicates: 'keep-both' as never }), /duplicates/);
  await assert.rejects(FileStore.open({ root: '/tmp/x', fsync: 'always' as never }), /fsync/);
});

test('writes behind the network: a 3 MiB data set in uneven, slowly arriving chunks is stored bit-for-bit; a missing series directory is made on demand', async () => {
  const { dir, remove } = await tempDir('store-batch');
  try {
    const store = await FileStore.open({ root: dir, fsync: 'none' });
    const s = spec(41);
    const pixels = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 0xff;
    const dataset = encodeDataset([...specElements(s), [0x7fe00010, 'OB', pixels]]);
    // Chunks above and below the batch size, with pauses, so writes are in flight while more arrives.
    async function* slow(): AsyncGenerator<Uint8Array> {
      let i = 0;
      for await (const c of chunked(dataset, [16378, 1, 700_000, 5, 1_200_000, 65530])) {
        if (i++ % 3 === 0) await new Promise((r) => setImmediate(r));
        yield c;
      }
    }
    const first = await store.store(meta(s), slow());
    const file = await readFile(first.path);
    const header = await readPart10Header(first.path);
    assert.equal(sha(file.subarray(header.datasetOffset)), sha(dataset));
    assert.equal(first.size, file.length);
    // The series directory exists now; remove it under the store's feet: the next instance recreates it.
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, s.StudyInstanceUID), { recursive: true });
    const s2 = spec(42);
    const d2 = encodeDataset([...specElements(s2), [0x7fe00010, 'OB', new Uint8Array(100).fill(3)]]);
    const second = await store.store(meta(s2), chunked(d2, [10]));
    assert.equal(sha((await readFile(second.path)).subarray((await readPart10Header(second.path)).datasetOffset)), sha(d2));
    assert.deepEqual((await listAll(dir)).filter((f) => f.includes('partial')), []);
  } finally {
    await remove();
  }
});

test('a small data set is written whole at its end (its temp file, created at once, stays empty while it arrives); a large one is written while it arrives', async () => {
  const { dir, remove } = await tempDir('store-small-sync');
  try {
    const store = await FileStore.open({ root: dir, fsync: 'file' });
    const partials = async (): Promise<string[]> => (await readdir(dir)).filter((f) => f.includes('.partial-'));
    for (const [n, size, expectEarly] of [[51, 200_000, false], [52, 3 * 1024 * 1024, true]] as const) {
      const s = spec(n);
      const dataset = encodeDataset([...specElements(s), [0x7fe00010, 'OB', new Uint8Array(size).fill(n)]]);
      let writtenWhileArriving = false;
      let createdWhileArriving = false;
      async function* watched(): AsyncGenerator<Uint8Array> {
        for await (const c of chunked(dataset, [65536])) {
          yield c;
          await new Promise((r) => setTimeout(r, 1));
          for (const name of await partials()) {
            createdWhileArriving = true;
            if ((await stat(join(dir, name))).size > 0) writtenWhileArriving = true;
          }
        }
      }
      const stored = await store.store(meta(s), watched());
      assert.equal(createdWhileArriving, true, `${size} bytes: the temp file is created while the data set arrives`);
      assert.equal(writtenWhileArriving, expectEarly, `${size} bytes`);
      const file = await readFile(stored.path);
      assert.equal(sha(file.subarray((await readPart10Header(stored.path)).datasetOffset)), sha(dataset));
      assert.deepEqual(await partials(), []);
    }
  } finally {
    await remove();
  }
});

test('createChannel: stores the chunks written; aborted by destroy with nothing left; a store refused before it reads drops what follows', async () => {
  const { dir, remove } = await tempDir('store');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(1);
    const dataset = encodeDataset([...specElements(s), [0x7fe00010, 'OB', new Uint8Array(300_000)]]);
    // End to end, with the writer waiting whenever the channel is full.
    const stored = store.createChannel(meta(s));
    for (let pos = 0; pos < dataset.length; pos += 16_384) {
      if (!stored.channel.write(dataset.subarray(pos, pos + 16_384))) await stored.channel.drained();
    }
    stored.channel.end();
    const instance = await stored.result;
    assert.equal(instance.datasetSize, dataset.length);
    const header = await readPart10Header(instance.path);
    assert.equal(sha((await readFile(instance.path)).subarray(header.datasetOffset)), sha(dataset));
    // Destroyed mid-way: aborted, no temporary file left.
    const aborted = store.createChannel(meta(spec(2)));
    aborted.channel.write(dataset.subarray(0, 50_000));
    aborted.channel.destroy(new Error('socket closed'));
    await assert.rejects(aborted.result, (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.aborted);
    // A command whose UID is not one: the store fails before it reads a byte. The writer must
    // not wait for room that never comes (the association would hang); what it writes is dropped.
    const refused = store.createChannel({ ...meta(spec(3)), sopInstanceUid: '1..2' });
    await assert.rejects(refused.result, /not a valid UID/);
    for (let pos = 0; pos < dataset.length; pos += 16_384) {
      if (!refused.channel.write(dataset.subarray(pos, pos + 16_384))) await refused.channel.drained();
    }
    refused.channel.end();
    assert.equal(refused.channel.closed, true);
    // Only the stored instance: no temporary file of the other two.
    assert.deepEqual(await listAll(dir), [s.StudyInstanceUID, join(s.StudyInstanceUID, s.SeriesInstanceUID), join(s.StudyInstanceUID, s.SeriesInstanceUID, `${s.SOPInstanceUID}.dcm`)]);
  } finally {
    await remove();
  }
});

test('createChannel: a data set over the small limit is taken as written, then read on; one that stops parsing mid-way is refused (C000) after its last chunk, leaving no file', async () => {
  const { dir, remove } = await tempDir('store-channel-take');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(1);
    const large = encodeDataset([...specElements(s), [0x7fe00010, 'OB', new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff)]]);
    const stored = store.createChannel(meta(s));
    for (let pos = 0; pos < large.length; pos += 16_384) {
      if (!stored.channel.write(large.subarray(pos, pos + 16_384))) await stored.channel.drained();
    }
    stored.channel.end();
    const instance = await stored.result;
    assert.equal(instance.datasetSize, large.length);
    const header = await readPart10Header(instance.path);
    assert.equal(sha((await readFile(instance.path)).subarray(header.datasetOffset)), sha(large));
    // An item tag at the top level: the scanner refuses it in the chunk that carries it; the
    // chunks after it are still taken (the peer is answered after its last fragment).
    const t = spec(2);
    const head = encodeDataset(specElements(t));
    const stray = Uint8Array.of(0xfe, 0xff, 0x00, 0xe0, 4, 0, 0, 0, 1, 2, 3, 4);
    const refused = store.createChannel(meta(t));
    let settled = false;
    refused.result.then(() => (settled = true), () => (settled = true));
    refused.channel.write(head);
    refused.channel.write(stray);
    for (let i = 0; i < 5; i++) refused.channel.write(new Uint8Array(16_384));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'not answered before the data set ended');
    refused.channel.end();
    await assert.rejects(refused.result, (e: unknown) => e instanceof StoreError && e.status === 0xc000 && /item tag outside a sequence/.test(e.message));
    await store.settled();
    assert.deepEqual(await listAll(dir), [s.StudyInstanceUID, join(s.StudyInstanceUID, s.SeriesInstanceUID), join(s.StudyInstanceUID, s.SeriesInstanceUID, `${s.SOPInstanceUID}.dcm`)]);
  } finally {
    await remove();
  }
});

test("fsync 'none': a lone small instance's temporary file is made once its data set is complete; with another under way, at once", async () => {
  const { dir, remove } = await tempDir('store-create-late');
  const partials = async (): Promise<string[]> => (await readdir(dir)).filter((name) => name.includes('.partial-'));
  // Many turns of the loop and of the thread pool: an early create (made in the pool at the
  // request) has long completed by the last of them.
  const turns = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      await stat(dir);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  try {
    const store = await FileStore.open({ root: dir, fsync: 'none' });
    const s = spec(1);
    const dataset = encodeDataset(specElements(s));
    const lone = store.createChannel(meta(s));
    lone.channel.write(dataset.subarray(0, 10));
    await turns();
    assert.deepEqual(await partials(), [], 'no file while the data set arrives');
    // A second instance while the first is under way: its file is made at once, in the pool.
    const t = spec(2);
    const second = store.createChannel(meta(t));
    const secondData = encodeDataset(specElements(t));
    second.channel.write(secondData.subarray(0, 10));
    let seen: string[] = [];
    for (let i = 0; i < 400 && seen.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen = await partials();
    }
    assert.equal(seen.length, 1);
    assert.match(seen[0]!, new RegExp(`^\\.${t.SOPInstanceUID.replaceAll('.', '\\.')}\\.partial-`));
    lone.channel.write(dataset.subarray(10));
    lone.channel.end();
    second.channel.write(secondData.subarray(10));
    second.channel.end();
    const [a, b] = await Promise.all([lone.result, second.result]);
    assert.equal(sha((await readFile(a.path)).subarray((await readPart10Header(a.path)).datasetOffset)), sha(dataset));
    assert.equal(sha((await readFile(b.path)).subarray((await readPart10Header(b.path)).datasetOffset)), sha(secondData));
    assert.deepEqual(await partials(), []);
  } finally {
    await remove();
  }
});

test("fsync 'none': a lone instance whose file cannot be created (the root gone) is refused with a typed error; the next is stored once the root is back", async () => {
  const { dir, remove } = await tempDir('store-create-fails');
  try {
    const root = join(dir, 'root');
    const store = await FileStore.open({ root, fsync: 'none' });
    await rm(root, { recursive: true });
    const s = spec(1);
    const dataset = encodeDataset(specElements(s));
    const failing = store.createChannel(meta(s));
    failing.channel.write(dataset);
    failing.channel.end();
    await assert.rejects(failing.result, (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.io && /cannot create/.test(e.message) && /ENOENT/.test(e.message));
    await mkdir(root);
    const again = store.createChannel(meta(s));
    again.channel.write(dataset);
    again.channel.end();
    const stored = await again.result;
    assert.equal(sha((await readFile(stored.path)).subarray((await readPart10Header(stored.path)).datasetOffset)), sha(dataset));
    assert.deepEqual((await readdir(root)).filter((name) => name.includes('.partial-')), []);
  } finally {
    await remove();
  }
});

test('the command is checked before the header is made: a bad SOP Instance UID is refused as such (C000 naming it) whatever else is wrong', async () => {
  const { dir, remove } = await tempDir('store-command-checks');
  try {
    const store = await FileStore.open({ root: dir });
    const s = spec(1);
    const dataset = encodeDataset(specElements(s));
    const send = (m: ReturnType<typeof meta>): Promise<unknown> => {
      const { channel, result } = store.createChannel(m);
      channel.write(dataset);
      channel.end();
      return result;
    };
    const refusedFor = (tag: number) => (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.cannotUnderstand && e.offendingElement?.[0] === tag;
    // Stored: the header of these titles is now made from a template.
    await send({ ...meta(s), callingAeTitle: 'GOOD' });
    await assert.rejects(send({ ...meta(s), callingAeTitle: 'GOOD', sopInstanceUid: '1..2' }), refusedFor(0x0000_1000));
    // An AE title no header can hold, and an instance UID that is not one: the UID's refusal, as ever.
    await assert.rejects(send({ ...meta(s), callingAeTitle: 'BAD\u0001AE', sopInstanceUid: '1..2' }), refusedFor(0x0000_1000));
    await assert.rejects(send({ ...meta(s), callingAeTitle: 'GOOD', sopClassUid: '1.2.x', sopInstanceUid: '1..2' }), refusedFor(0x0000_0002));
  } finally {
    await remove();
  }
});
