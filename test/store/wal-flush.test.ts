/**
 * The durable index flushes its WAL in the thread pool (store/wal-flush.ts): a write settles, and
 * a C-STORE-RSP is sent, only once the flush after its commit has finished; a failed flush fails
 * the instance (A700), and every durable write after it. The flush call is replaced here to hold
 * it back or make it fail; no timing is asserted, only what is answered before and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { StoreError, storeStatus } from '../../src/store/errors.js';
import { walFsync } from '../../src/store/wal-flush.js';
import type { InstanceRecord } from '../../src/store/instance-index.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const record = (n: number): InstanceRecord => ({
  SpecificCharacterSet: '', PatientID: 'P1', PatientName: 'DOE^JANE', PatientBirthDate: '', PatientSex: '',
  StudyInstanceUID: '1.8', StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '',
  ReferringPhysicianName: '', SeriesInstanceUID: '1.8.1', Modality: 'CT', SeriesNumber: '1', SeriesDescription: '',
  SOPInstanceUID: `1.8.1.${n}`, SOPClassUID: ctImageStorage, InstanceNumber: String(n),
  key: `1.8/1.8.1/1.8.1.${n}.dcm`, transferSyntaxUid: '1.2.840.10008.1.2.1', size: 100 + n,
});

/** Replaces the WAL flush: each call waits until the test releases or fails it. */
function holdFlushes(): { readonly calls: number; next(): Promise<{ release(): void; fail(error: Error): void }>; restore(): void } {
  const original = walFsync.fsync;
  const waiting: { release(): void; fail(error: Error): void }[] = [];
  let wake: (() => void) | undefined;
  let calls = 0;
  walFsync.fsync = (fd: number) =>
    new Promise<void>((resolve, reject) => {
      calls++;
      waiting.push({ release: () => void original(fd).then(resolve, reject), fail: reject });
      wake?.();
    });
  return {
    get calls() {
      return calls;
    },
    async next() {
      while (waiting.length === 0) await new Promise<void>((r) => (wake = r));
      return waiting.shift()!;
    },
    restore() {
      walFsync.fsync = original;
    },
  };
}

/** A few turns of the event loop (and of the thread pool's callbacks). */
const turns = async (n = 20): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('a durable row settles only after its WAL flush; a failed flush fails it, and every durable write after it (A700)', async () => {
  const { dir, remove } = await tempDir('wal-flush');
  const index = new SqliteIndex(join(dir, 'index.sqlite'));
  const hold = holdFlushes();
  try {
    assert.equal(index.synchronous, 'full');
    // The connection itself commits without a flush: the index flushes the WAL.
    assert.equal(Number((index.connection.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous), 1);
    let settled = false;
    const first = index.addInstance(record(1)).finally(() => (settled = true));
    const flush = await Promise.race([hold.next(), first.then(() => undefined)]);
    assert.ok(flush !== undefined, 'the row settled without a WAL flush');
    await turns();
    assert.equal(settled, false, 'the row settled before its WAL flush finished');
    // Committed, but not reported (as a duplicate, or committed for Storage Commitment) before its flush.
    let found = false;
    const lookup = index.findInstance('1.8.1.1').finally(() => (found = true));
    assert.equal(await index.findInstance('1.8.1.99'), undefined, 'a missing row is told at once');
    await turns();
    assert.equal(found, false, 'the row was reported before its WAL flush finished');
    flush.release();
    assert.equal(await first, undefined);
    assert.equal((await lookup)?.key, record(1).key);

    // Rows asked for while a flush is in flight share the next flush.
    const second = index.addInstance(record(2));
    const inFlight = await hold.next();
    const third = index.addInstance(record(3));
    const fourth = index.addInstance(record(4));
    await turns();
    assert.equal(hold.calls, 2, 'one flush for the rows committed while another was in flight');
    inFlight.release();
    (await hold.next()).release();
    await Promise.all([second, third, fourth]);
    assert.equal(hold.calls, 3);

    const failing = index.addInstance(record(5));
    (await hold.next()).fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    const error = await failing.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof StoreError, String(error));
    assert.equal(error.status, storeStatus.outOfResources);
    assert.match(error.message, /write-ahead log.*EIO/);
    // The pages of a failed flush may be gone: nothing later is durable, so nothing later succeeds.
    await assert.rejects(index.addInstance(record(6)), (e: unknown) => e instanceof StoreError && e.status === storeStatus.outOfResources);
    await assert.rejects(index.beginPending([{ key: 'k', sopInstanceUid: '1.8.1.7', record: undefined }]), StoreError);
    await assert.rejects(index.findInstance('1.8.1.1'), StoreError);
    assert.equal(hold.calls, 4, 'no flush is tried after a failed one');
  } finally {
    hold.restore();
    await index.close();
    await remove();
  }
});

test('serve as shipped (durable): the C-STORE-RSP waits for the index flush; a failed flush answers A700, not Success', async () => {
  const { dir, remove } = await tempDir('wal-flush-server');
  const server = await StorageServer.create({ aeTitle: 'FLUSH', storeRoot: join(dir, 'store') });
  const hold = holdFlushes();
  let client: DicomClient | undefined;
  try {
    const { port } = await server.listen(0);
    client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'FLUSH',
      presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
    });
    const send = (n: number): { response: Promise<number>; answered: () => boolean } => {
      const s = { StudyInstanceUID: '1.8', SeriesInstanceUID: '1.8.2', SOPInstanceUID: `1.8.2.${n}`, SOPClassUID: ctImageStorage, PatientID: 'P1', PatientName: 'DOE^JANE' };
      let answered = false;
      const response = client!.association
        .request({ type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: s.SOPInstanceUID, priority: 0 }, { dataset: encodeDataset([...specElements(s), [0x7fe00010, 'OB', new Uint8Array(5000).fill(n)]]) })
        .response.then((r) => r.command.status as number)
        .finally(() => (answered = true));
      return { response, answered: () => answered };
    };
    const first = send(1);
    // The row is committed and its flush started; the answer must not go out before the flush ends.
    const flush = await Promise.race([hold.next(), first.response.then(() => undefined)]);
    assert.ok(flush !== undefined, 'the C-STORE-RSP came before the index flush started');
    await turns(50);
    assert.equal(first.answered(), false, 'the C-STORE-RSP was sent before the index flush finished');
    flush.release();
    assert.equal(await first.response, 0x0000);
    assert.equal((await server.storedInstance('1.8.2.1'))?.SOPInstanceUID, '1.8.2.1');

    const second = send(2);
    (await hold.next()).fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    assert.equal(await second.response, 0xa700);
  } finally {
    hold.restore();
    await client?.association.abort().catch(() => undefined);
    await server.close({ timeout: 1000 }).catch(() => undefined);
    await remove();
  }
});

test('a durable index grows its WAL once when it opens: commits then write into it in place, and the zeros past the log read as its end', async () => {
  const { dir, remove } = await tempDir('wal-flush');
  const path = join(dir, 'index.sqlite');
  const index = new SqliteIndex(path);
  try {
    const opened = (await stat(`${path}-wal`)).size;
    // Room for ~1000 frames of the default 4 KiB pages.
    assert.ok(opened >= 4_000_000, `the WAL was ${opened} bytes after opening`);
    for (let n = 1; n <= 40; n++) await index.addInstance(record(n));
    assert.equal((await stat(`${path}-wal`)).size, opened, 'the WAL grew: the commits did not write in place');
    // What a crash leaves: the database and its WAL without the shared-memory index, so the next
    // opening reads the log from the file up to its first invalid frame (the zeros).
    const copy = join(dir, 'copy.sqlite');
    await copyFile(path, copy);
    await copyFile(`${path}-wal`, `${copy}-wal`);
    const reopened = new SqliteIndex(copy);
    try {
      assert.equal(Number((reopened.connection.prepare('SELECT count(*) AS n FROM instance').get() as { n: number }).n), 40);
      await reopened.addInstance(record(41));
      assert.equal((await reopened.findInstance(record(41).SOPInstanceUID))?.key, record(41).key);
    } finally {
      await reopened.close();
    }
  } finally {
    await index.close();
    await remove();
  }
});

test('an index whose commits SQLite flushes itself (synchronous NORMAL, fsync none) leaves its WAL to grow as SQLite makes it', async () => {
  const { dir, remove } = await tempDir('wal-flush');
  const path = join(dir, 'index.sqlite');
  const index = new SqliteIndex(path, { synchronous: 'normal' });
  try {
    assert.ok((await stat(`${path}-wal`)).size < 1_000_000);
  } finally {
    await index.close();
    await remove();
  }
});
