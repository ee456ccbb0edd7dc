/**
 * The BlobStore contract, run on each implementation: a directory, and S3 through the AWS SDK
 * against a local S3-compatible server (test/helpers/s3.ts). Then what only one of them can do
 * wrong: S3's bucket, credentials and a service that dies mid-upload; the directory's temp files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, type BlobStore } from '../../src/store/blob/blob-store.js';
import { LocalBlobStore } from '../../src/store/blob/local.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import { openBlobStore, parseStorageUrl } from '../../src/store/blob/open.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { InvalidOptionError } from '../../src/errors.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes of any length, produced lazily in 64 KiB chunks (never the whole body). */
function pattern(length: number, seed = 1): { chunks(): AsyncGenerator<Uint8Array>; slice(start: number, end: number): Buffer; all(): Buffer } {
  const byteAt = (i: number): number => (i * 31 + seed * 7 + (i >>> 13)) & 0xff;
  const slice = (start: number, end: number): Buffer => {
    const b = Buffer.alloc(end - start);
    for (let i = start; i < end; i++) b[i - start] = byteAt(i);
    return b;
  };
  return {
    async *chunks() {
      for (let at = 0; at < length; at += 65536) yield slice(at, Math.min(length, at + 65536));
    },
    slice,
    all: () => slice(0, length),
  };
}

async function keys(store: BlobStore, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const b of store.list(prefix)) out.push(`${b.key}:${b.size}`);
  return out.sort();
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<StoreError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => (caught = e),
  );
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

let s3: S3Server;
before(async () => {
  s3 = await startS3Server(['dicom', 'other']);
});
after(async () => {
  await s3?.close();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Temporary directories made here, removed at the end. */
const made: string[] = [];
const tempRoot = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'blob-'));
  made.push(d);
  return d;
};

const kinds: { name: string; open(): Promise<BlobStore> }[] = [
  { name: 'directory', open: () => LocalBlobStore.open({ root: join(tempRoot(), 'store') }) },
  { name: 'S3', open: () => S3BlobStore.open({ ...s3.options('dicom', `t${Math.random().toString(36).slice(2, 8)}`), partSize: 5 * MiB }) },
];

for (const kind of kinds) {
  describe(`BlobStore contract: ${kind.name}`, () => {
    test('put, head, get, list, delete by relative key', async () => {
      const store = await kind.open();
      try {
        const key = '1.2.3/1.2.3.4/1.2.3.4.5.dcm';
        const info = await store.put(key, [Buffer.from('DICM'), Buffer.from(' body')]);
        assert.deepEqual({ key: info.key, size: info.size }, { key, size: 9 });
        if (kind.name === 'S3') assert.equal(info.parts, 1, 'one PutObject');
        assert.equal((await store.head(key))?.size, 9);
        assert.equal((await readAll(await store.get(key))).toString(), 'DICM body');
        await store.put('1.2.3/1.2.3.9/x.dcm', [Buffer.from('x')]);
        await store.put('1.2.4/y.dcm', [Buffer.from('yy')]);
        assert.deepEqual(await keys(store), ['1.2.3/1.2.3.4/1.2.3.4.5.dcm:9', '1.2.3/1.2.3.9/x.dcm:1', '1.2.4/y.dcm:2']);
        assert.deepEqual(await keys(store, '1.2.3/'), ['1.2.3/1.2.3.4/1.2.3.4.5.dcm:9', '1.2.3/1.2.3.9/x.dcm:1']);
        assert.deepEqual(await keys(store, '1.2.3/1.2.3.4'), ['1.2.3/1.2.3.4/1.2.3.4.5.dcm:9']);
        // A put over an existing key replaces it whole.
        await store.put(key, [Buffer.from('second')]);
        assert.equal((await readAll(await store.get(key))).toString(), 'second');
        await store.delete(key);
        await store.delete(key);
        assert.equal(await store.head(key), undefined);
        await rejectsWith(store.get(key), storeErrorCodes.blobNotFound);
        assert.deepEqual(await keys(store), ['1.2.3/1.2.3.9/x.dcm:1', '1.2.4/y.dcm:2']);
      } finally {
        await store.close();
      }
    });

    test('a large object (above the S3 part size) streams in and reads back whole and by byte range', async () => {
      const store = await kind.open();
      try {
        const length = 12 * MiB + 12345;
        const body = pattern(length, 3);
        const key = 'big/instance.dcm';
        const info = await store.put(key, body.chunks(), { size: length });
        assert.deepEqual({ key: info.key, size: info.size }, { key, size: length });
        if (kind.name === 'S3') assert.equal(info.parts, 3, 'a multipart upload of 5 MiB parts');
        assert.equal((await store.head(key))?.size, length);
        const hash = createHash('sha256');
        let got = 0;
        for await (const c of await store.get(key)) {
          hash.update(c);
          got += c.byteLength;
        }
        assert.equal(got, length);
        assert.equal(hash.digest('hex'), sha(body.all()));
        // Ranges: inside one part, across the first part boundary, open-ended to the end.
        for (const [start, end] of [[0, 131], [5 * MiB - 10, 5 * MiB + 9], [length - 100, undefined]] as const) {
          const bytes = await readAll(await store.get(key, end === undefined ? { start } : { start, end }));
          assert.deepEqual(bytes, body.slice(start, (end ?? length - 1) + 1), `range ${start}-${end ?? ''}`);
        }
      } finally {
        await store.close();
      }
    });

    test('a body that fails or differs from the announced size leaves no object and nothing incomplete', async () => {
      const store = await kind.open();
      try {
        async function* failing(): AsyncGenerator<Uint8Array> {
          yield* pattern(6 * MiB).chunks();
          throw new Error('peer went away');
        }
        await assert.rejects(store.put('a/failed.dcm', failing()));
        await rejectsWith(store.put('a/short.dcm', [Buffer.alloc(10)], { size: 11 }), storeErrorCodes.aborted);
        await rejectsWith(store.put('a/long.dcm', pattern(6 * MiB).chunks(), { size: 100 }), storeErrorCodes.aborted);
        for (const k of ['a/failed.dcm', 'a/short.dcm', 'a/long.dcm']) assert.equal(await store.head(k), undefined, k);
        assert.deepEqual(await keys(store), []);
        const incomplete = [];
        for await (const i of store.listIncomplete()) incomplete.push(i);
        assert.deepEqual(incomplete, []);
      } finally {
        await store.close();
      }
    });

    test('keys cannot leave the store', async () => {
      const store = await kind.open();
      try {
        for (const bad of ['', '../x', 'a/../../x', '/abs', 'a//b', '.hidden', 'a/.partial', 'a\\b', 'a\nb']) {
          await assert.rejects(store.put(bad, [Buffer.from('x')]), InvalidOptionError, JSON.stringify(bad));
          await assert.rejects(store.get(bad), InvalidOptionError, JSON.stringify(bad));
        }
        await assert.rejects(store.get('a/b', { start: -1 }), InvalidOptionError);
        await assert.rejects(store.get('a/b', { start: 5, end: 4 }), InvalidOptionError);
      } finally {
        await store.close();
      }
    });
  });
}

describe('S3BlobStore failures', () => {
  // s3rver checks the access key id but not SigV4 signatures, so a wrong secret is not tested here.
  test('a missing bucket, wrong credentials and an unreachable endpoint are told apart', async () => {
    await rejectsWith(S3BlobStore.open(s3.options('no-such-bucket')), storeErrorCodes.blobContainer);
    await rejectsWith(S3BlobStore.open({ ...s3.options('dicom'), credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'S3RVER' } }), storeErrorCodes.blobAccess);
    // A port nothing listens on (the server's own, briefly stopped).
    const other = await startS3Server([]);
    const gone = other.endpoint;
    await other.close();
    await rejectsWith(S3BlobStore.open({ ...s3.options('dicom'), endpoint: gone, maxAttempts: 1 }), storeErrorCodes.blobUnavailable);
  });

  test('a bucket removed under an open store: puts and lists fail with BLOB_CONTAINER', async () => {
    const store = await S3BlobStore.open(s3.options('other'));
    try {
      const { DeleteBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
      const admin = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.options('other').credentials });
      await admin.send(new DeleteBucketCommand({ Bucket: 'other' }));
      admin.destroy();
      await rejectsWith(store.put('k/x.dcm', [Buffer.from('x')]), storeErrorCodes.blobContainer);
      await rejectsWith(keys(store), storeErrorCodes.blobContainer);
    } finally {
      await store.close();
    }
  });

  test('the service killed mid-upload: the put fails BLOB_UNAVAILABLE and no partial object is ever visible', async () => {
    const own = await startS3Server(['dicom']);
    try {
      const store = await S3BlobStore.open({ ...own.options('dicom'), partSize: 5 * MiB, queueSize: 1, maxAttempts: 2 });
      try {
        let produced = 0;
        async function* body(): AsyncGenerator<Uint8Array> {
          for await (const c of pattern(20 * MiB).chunks()) {
            produced += c.byteLength;
            // Past two parts: the upload is under way when the service dies.
            if (produced === 11 * MiB) await own.kill();
            yield c;
          }
        }
        await rejectsWith(store.put('cut/instance.dcm', body()), storeErrorCodes.blobUnavailable);
        await own.restart();
        assert.equal(await store.head('cut/instance.dcm'), undefined);
        assert.deepEqual(await keys(store), []);
        // The service is back: the same key stores whole.
        await store.put('cut/instance.dcm', pattern(6 * MiB).chunks());
        assert.equal((await store.head('cut/instance.dcm'))?.size, 6 * MiB);
      } finally {
        await store.close();
      }
    } finally {
      await own.close();
    }
  });

  test('credentials from the environment (the SDK default chain) when none are configured', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      const { credentials: _omitted, ...options } = s3.options('dicom', 'env');
      const store = await S3BlobStore.open(options);
      await store.put('e/x.dcm', [Buffer.from('env')]);
      assert.equal((await readAll(await store.get('e/x.dcm'))).toString(), 'env');
      await store.close();
    } finally {
      for (const k of Object.keys(s3.env)) if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
});

describe('LocalBlobStore', () => {
  test('an interrupted put leaves a temporary file that listIncomplete reports and removeIncomplete clears; list never shows it', async () => {
    const root = join(tempRoot(), 'store');
    const store = await LocalBlobStore.open({ root, fsync: 'file-and-directory' });
    await store.put('s/1.dcm', [Buffer.from('one')]);
    await writeFile(join(root, '.1.2.3.dcm.partial-deadbeef0'), 'half');
    assert.deepEqual(await keys(store), ['s/1.dcm:3']);
    const incomplete = [];
    for await (const i of store.listIncomplete()) incomplete.push(i);
    assert.deepEqual(incomplete.map((i) => [i.key, i.id]), [['1.2.3.dcm', '.1.2.3.dcm.partial-deadbeef0']]);
    await store.removeIncomplete(incomplete[0]!);
    assert.deepEqual((await readdir(root)).sort(), ['s']);
    await assert.rejects(store.removeIncomplete({ key: 'x', id: 's/1.dcm' }), InvalidOptionError);
  });

  test('a root the process may not write: a put fails BLOB_ACCESS', { skip: process.getuid?.() === 0 ? 'root reads any directory' : false }, async () => {
    const root = join(tempRoot(), 'store');
    const store = await LocalBlobStore.open({ root });
    const { chmod } = await import('node:fs/promises');
    await chmod(root, 0o000);
    try {
      await rejectsWith(store.put('a/b.dcm', [Buffer.from('x')]), storeErrorCodes.blobAccess);
    } finally {
      await chmod(root, 0o755);
    }
  });

  test('a root removed under an open store: a put fails BLOB_CONTAINER', async () => {
    const root = join(tempRoot(), 'store');
    const store = await LocalBlobStore.open({ root });
    const { rm } = await import('node:fs/promises');
    await rm(root, { recursive: true });
    await rejectsWith(store.put('a/b.dcm', [Buffer.from('x')]), storeErrorCodes.blobContainer);
  });
});

test('storage URLs: s3://bucket/prefix, file:///dir, a path; others refused', async () => {
  assert.deepEqual(parseStorageUrl('s3://dicom/site-a/archive'), { kind: 's3', bucket: 'dicom', prefix: 'site-a/archive' });
  assert.deepEqual(parseStorageUrl('s3://dicom'), { kind: 's3', bucket: 'dicom', prefix: '' });
  assert.deepEqual(parseStorageUrl('file:///var/lib/dicom'), { kind: 'directory', root: '/var/lib/dicom' });
  assert.deepEqual(parseStorageUrl('/var/lib/dicom'), { kind: 'directory', root: '/var/lib/dicom' });
  assert.throws(() => parseStorageUrl('http://example.test/x'), InvalidOptionError);
  assert.throws(() => parseStorageUrl('s3:///x'), InvalidOptionError);
  const store = await openBlobStore({ url: `s3://dicom/via-url`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.options('dicom').credentials });
  assert.equal(store.url, 's3://dicom/via-url/');
  await store.put('k.dcm', [Buffer.from('k')]);
  assert.deepEqual(await keys(store), ['k.dcm:1']);
  await store.close();
});

test('openStoredDataset: a stored Part 10 object reads back as its header and the data set stream, in one request', async () => {
  const { encodeFileMetaInformation } = await import('../../src/dataset/part10.js');
  const { openStoredDataset } = await import('../../src/store/blob/read.js');
  const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.2', MediaStorageSOPInstanceUID: '1.2.3.4', TransferSyntaxUID: '1.2.840.10008.1.2.1', SourceApplicationEntityTitle: 'CT1' });
  const dataset = pattern(6 * MiB + 7, 5);
  for (const store of [await kinds[0]!.open(), await kinds[1]!.open()]) {
    try {
      async function* body(): AsyncGenerator<Uint8Array> {
        // The meta group split over two chunks: the header is found across chunk boundaries.
        yield meta.subarray(0, 100);
        yield meta.subarray(100);
        yield* dataset.chunks();
      }
      await store.put('s/1.2.3.4.dcm', body());
      const stored = await openStoredDataset(store, 's/1.2.3.4.dcm');
      assert.equal(stored.header.meta.MediaStorageSOPInstanceUID, '1.2.3.4');
      assert.equal(stored.header.datasetOffset, meta.length);
      assert.equal(sha(await readAll(stored.dataset)), sha(dataset.all()), store.url);
      await store.put('s/not-part10.dcm', [Buffer.from('not a DICOM file at all')]);
      await rejectsWith(openStoredDataset(store, 's/not-part10.dcm'), storeErrorCodes.cannotUnderstand);
      await rejectsWith(openStoredDataset(store, 's/missing.dcm'), storeErrorCodes.blobNotFound);
    } finally {
      await store.close();
    }
  }
});

test('an S3 endpoint that accepts connections and never answers: BLOB_UNAVAILABLE after the idle timeout, not a hang', async () => {
  const { createServer } = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const port = (silent.address() as import('node:net').AddressInfo).port;
    await rejectsWith(S3BlobStore.open({ ...s3.options('dicom'), endpoint: `http://127.0.0.1:${port}`, idleTimeout: 300, maxAttempts: 1 }), storeErrorCodes.blobUnavailable);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('S3 incomplete multipart uploads (a service with ListMultipartUploads): listed under the prefix, aborted by removeIncomplete and by store check past the grace period', async () => {
  const { createServer } = await import('node:http');
  const { checkStore } = await import('../../src/store/check.js');
  const { SqliteIndex } = await import('../../src/store/sqlite-index.js');
  const calls: string[] = [];
  const old = new Date(Date.now() - 3 * 3600_000).toISOString();
  const young = new Date().toISOString();
  // A stand-in for the few S3 calls this needs, answering as AWS documents them.
  const stub = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    calls.push(`${req.method} ${url.pathname}${url.searchParams.has('uploads') ? '?uploads' : ''}${url.searchParams.has('uploadId') ? `?uploadId=${url.searchParams.get('uploadId')}` : ''}`);
    if (req.method === 'HEAD') return res.writeHead(200).end();
    if (req.method === 'DELETE') return res.writeHead(204).end();
    if (url.searchParams.has('uploads')) {
      const upload = (key: string, id: string, at: string): string => `<Upload><Key>${key}</Key><UploadId>${id}</UploadId><Initiated>${at}</Initiated></Upload>`;
      return res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>dicom</Bucket><IsTruncated>false</IsTruncated>${upload('site/1.2/1.2.3/1.2.3.4.dcm', 'u-old', old)}${upload('site/1.2/1.2.3/1.2.3.5.dcm', 'u-young', young)}</ListMultipartUploadsResult>`);
    }
    return res.writeHead(200, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>dicom</Name><Prefix>site/</Prefix><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>');
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
  const port = (stub.address() as import('node:net').AddressInfo).port;
  const store = await S3BlobStore.open({ ...s3.options('dicom', 'site'), endpoint: `http://127.0.0.1:${port}` });
  const index = new SqliteIndex(join(tempRoot(), 'index.sqlite'));
  try {
    const listed = [];
    for await (const i of store.listIncomplete()) listed.push(i);
    assert.deepEqual(listed.map((i) => [i.key, i.id]), [['1.2/1.2.3/1.2.3.4.dcm', 'site/1.2/1.2.3/1.2.3.4.dcm\0u-old'], ['1.2/1.2.3/1.2.3.5.dcm', 'site/1.2/1.2.3/1.2.3.5.dcm\0u-young']]);
    const report = await checkStore({ index, blobs: store, graceSeconds: 900 });
    assert.deepEqual(report.findings.map((f) => [f.kind, f.key, f.action]), [['incomplete', '1.2/1.2.3/1.2.3.4.dcm', 'removed']]);
    assert.equal(report.counts.incomplete, 2);
    assert.ok(calls.includes('DELETE /dicom/site/1.2/1.2.3/1.2.3.4.dcm?uploadId=u-old'), calls.join('\n'));
    assert.ok(!calls.some((c) => c.includes('u-young')), 'a young upload is left alone');
    await assert.rejects(store.removeIncomplete({ key: 'x', id: 'other/x\0u' }), InvalidOptionError);
  } finally {
    await index.close();
    await store.close();
    await new Promise((r) => stub.close(r));
  }
});
