import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FileStore } from '../../src/store/file-store.js';
import { IndexDb } from '../../src/store/index-db.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { ctImageStorage, elementHeader, encodeDataset, run, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';

const explicitLE = '1.2.840.10008.1.2.1';
const s: InstanceSpec = {
  PatientName: 'BIG^ONE',
  PatientID: 'BIG',
  StudyInstanceUID: '1.2.826.0.9.1',
  SeriesInstanceUID: '1.2.826.0.9.1.2',
  SOPInstanceUID: '1.2.826.0.9.1.2.3',
  SOPClassUID: ctImageStorage,
};
const meta = { sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: explicitLE };

/** A data set with `pixelBytes` of pixel data, produced in fresh 64 KiB chunks, hashed as it goes. */
function bigDataset(pixelBytes: number, onChunk: () => void = () => undefined) {
  const hash = createHash('sha256');
  async function* gen(): AsyncGenerator<Uint8Array> {
    const head = Buffer.concat([encodeDataset(specElements(s)), elementHeader(0x7fe00010, 'OB', pixelBytes)]);
    hash.update(head);
    yield head;
    let left = pixelBytes;
    let n = 0;
    while (left > 0) {
      const chunk = Buffer.alloc(Math.min(65536, left), n++ & 0xff);
      hash.update(chunk);
      left -= chunk.length;
      onChunk();
      yield chunk;
    }
  }
  return { gen, digest: () => hash.digest('hex') };
}

async function fileDatasetHash(path: string): Promise<string> {
  const { datasetOffset } = await readPart10Header(path);
  const hash = createHash('sha256');
  for await (const c of createReadStream(path, { start: datasetOffset })) hash.update(c as Buffer);
  return hash.digest('hex');
}

test('a 60 MB instance streams through with flat memory and is byte-identical', async () => {
  const { dir, remove } = await tempDir('big');
  try {
    const index = new IndexDb(join(dir, 'index.sqlite'));
    const store = await FileStore.open({ root: join(dir, 'files'), index });
    const size = 60 * 1024 * 1024;
    // Garbage not yet collected (fresh 64 KiB chunks, as from a socket) would blur the
    // measure: collect every 8 MiB, so the RSS shows what the store actually holds on to.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage().rss;
    let peak = base;
    let chunks = 0;
    let atThird = 0;
    const { gen, digest } = bigDataset(size, () => {
      if (++chunks % 128 === 0) gc();
      peak = Math.max(peak, process.memoryUsage().rss);
      if (chunks === 320) atThird = peak;
    });
    const stored = await store.store(meta, gen());
    assert.equal(await fileDatasetHash(stored.path), digest());
    const delta = peak - base;
    // Were the data set accumulated, the peak would grow by the instance size (60 MiB), and by
    // 40 MiB over the last two thirds; a fixed overhead (index, file handle, pools) is allowed.
    const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
    assert.ok(delta < size / 2, `peak RSS grew by ${mib(delta)} while storing 60 MiB`);
    assert.ok(peak - atThird < 8 * 1048576, `peak RSS grew by ${mib(peak - atThird)} over the last 40 MiB`);
    assert.equal((await index.findInstance(s.SOPInstanceUID))?.size, stored.size);
    index.close();
  } finally {
    await remove();
  }
});

test('a full disk (2 MiB tmpfs) answers A700, removes the partial file and keeps what was stored', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const { dir, remove } = await tempDir('full');
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
  } catch {
    await remove();
    return t.skip('mount -t tmpfs is not permitted here');
  }
  try {
    const store = await FileStore.open({ root: mnt });
    const small = { ...s, SOPInstanceUID: '1.2.826.0.9.1.2.1' };
    const first = await store.store({ ...meta, sopInstanceUid: small.SOPInstanceUID }, (async function* () {
      yield encodeDataset([...specElements(small), [0x7fe00010, 'OB', new Uint8Array(100_000).fill(1)]]);
    })());
    const before = await fileDatasetHash(first.path);
    let produced = 0;
    const big = bigDataset(3 * 1024 * 1024, () => produced++);
    await assert.rejects(store.store(meta, big.gen()), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.code, storeErrorCodes.outOfResources);
      assert.equal(e.status, 0xa700);
      assert.equal((e.cause as { code?: string }).code, 'ENOSPC');
      return true;
    });
    // The whole data set was still consumed: the peer gets its answer after the last fragment.
    assert.equal(produced, 48);
    const files = (await readdir(mnt, { recursive: true })).map(String);
    assert.deepEqual(files.filter((f) => f.includes('partial')), []);
    assert.equal(files.filter((f) => f.endsWith('.dcm')).length, 1);
    assert.equal(await fileDatasetHash(first.path), before);
  } finally {
    await run('umount', [mnt]).catch(() => undefined);
    await remove();
  }
});

test('a process killed mid-instance leaves only a partial file, removed at the next open', async () => {
  const { dir, remove } = await tempDir('kill');
  try {
    const storeUrl = new URL('../../src/store/file-store.js', import.meta.url).href;
    const helperUrl = new URL('../helpers/dicom-data.js', import.meta.url).href;
    const script = `
      import { FileStore } from ${JSON.stringify(storeUrl)};
      import { encodeDataset, specElements, elementHeader } from ${JSON.stringify(helperUrl)};
      const s = ${JSON.stringify(s)};
      const store = await FileStore.open({ root: ${JSON.stringify(dir)} });
      async function* gen() {
        yield Buffer.concat([encodeDataset(specElements(s)), elementHeader(0x7fe00010, 'OB', 1 << 24)]);
        // More than the 1 MiB a small data set is gathered in memory before its file is made:
        // a killed small instance leaves no file at all; this one has started its partial file.
        yield Buffer.alloc(2 << 20);
        process.stdout.write('ready\\n');
        await new Promise(() => {});
      }
      await store.store({ sopClassUid: s.SOPClassUID, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: '${explicitLE}' }, gen());
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
      });
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('close', r));
    const left = (await readdir(dir, { recursive: true })).map(String);
    assert.equal(left.filter((f) => f.endsWith('.dcm')).length, 0);
    assert.equal(left.filter((f) => f.startsWith(`.${s.SOPInstanceUID}.partial-`)).length, 1);
    await FileStore.open({ root: dir });
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await remove();
  }
});
