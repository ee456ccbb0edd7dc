/**
 * The C-STORE SCU's sending path: how a request reaches the transport, and that the files it
 * reads arrive at the peer byte for byte whatever their shape.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { STORAGE_TRANSFER_SYNTAXES, type StorageServer } from '../../src/services/scp/storage-server.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { storageContextsFor, type StoreResult } from '../../src/services/scu/store.js';
import { encodeFileMetaInformation, readPart10Header } from '../../src/dataset/part10.js';
import { Status } from '../../src/dictionary/status.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { ctImageStorage, encodeDataset, specElements } from '../helpers/dicom-data.js';
import { scenarioPki } from '../helpers/pki.js';
import { spec, writeBigInstance, writeInstance } from '../helpers/services.js';
import { storageServerIn } from '../helpers/storage-server-fixture.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
let dir: string;
let server: StorageServer;
let port: number;
let close: () => Promise<void>;

before(async () => {
  // 16 KiB PDUs, as DCMTK's storescp announces by default: a 100 KB instance is 7 PDUs.
  ({ dir, server, port, close } = await storageServerIn('store-send-path', { aeTitle: 'SEND-SCP', limits: { maxPduLength: 16384 } }));
});
after(() => close());

/** Counts the transport's write calls (`_write` and `_writev`) and the bytes of each. */
function countWrites(stream: Duplex): { readonly calls: number[]; restore(): void } {
  const calls: number[] = [];
  const s = stream as Duplex & { _writev?: (chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void) => void };
  const write = s._write;
  const writev = s._writev;
  s._write = function (chunk: Buffer, encoding: BufferEncoding, cb: (e?: Error | null) => void) {
    calls.push(chunk.length);
    return write.call(this, chunk, encoding, cb);
  };
  if (writev !== undefined) {
    s._writev = function (chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void) {
      calls.push(chunks.reduce((n, c) => n + c.chunk.length, 0));
      return writev.call(this, chunks, cb);
    };
  }
  return {
    calls,
    restore() {
      s._write = write;
      if (writev !== undefined) s._writev = writev;
    },
  };
}

test('an in-memory C-STORE-RQ of 100 KB in 16 KiB PDUs reaches the transport in one write, command and data set together', async () => {
  const s = spec(1, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.8.1' });
  const f = await writeInstance(dir, s, { pixels: 100_000 });
  const header = await readPart10Header(f.path);
  const dataset = (await readFile(f.path)).subarray(header.datasetOffset);
  const client = await DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'SEND', calledAeTitle: 'SEND-SCP', timeouts: quick,
    presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
  });
  try {
    assert.equal(client.association.peerMaxPduLength, 16384);
    const stream = client.association.upperLayer.transport!.stream;
    const command = { type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: s.SOPInstanceUID, priority: 0 } as const;
    const writes = countWrites(stream);
    let rsp;
    try {
      const request = client.association.request(command, { dataset });
      await request.sent;
      rsp = await request.response;
    } finally {
      writes.restore();
    }
    assert.equal(rsp.command.status, 0);
    // 7 data PDUs and the command's: 12 bytes of headers each, the command set, the data set.
    assert.equal(writes.calls.length, 1, `writes of ${writes.calls.join(', ')} bytes`);
    assert.ok(writes.calls[0]! > dataset.length + 8 * 12, `one write of ${writes.calls[0]} bytes`);
  } finally {
    await client.release();
  }
  const stored = await server.storedInstance(s.SOPInstanceUID);
  assert.ok(stored !== undefined);
});

/** A C-STORE SCP that keeps the SHA-256 and length of every data set exactly as it arrived. */
async function recordingServer(tls: boolean): Promise<{ server: DicomServer; port: number; received: Map<string, { hash: string; length: number }> }> {
  const received = new Map<string, { hash: string; length: number }>();
  const handlers = new HandlerRegistry();
  handlers.register('C-STORE-RQ', {
    datasetSink(request) {
      const hash = createHash('sha256');
      let length = 0;
      return {
        write(fragment) {
          hash.update(fragment);
          length += fragment.length;
        },
        end() {
          received.set(request.affectedSopInstanceUid, { hash: hash.digest('hex'), length });
        },
      };
    },
    handle: () => ({ status: Status.Success }),
  });
  const pki = scenarioPki();
  const server = new DicomServer({
    aeTitle: 'RECORD-SCP',
    maxPduLength: 16384,
    ...(tls ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] }) } : {}),
    presentationContexts: { supported: [{ abstractSyntax: ctImageStorage, transferSyntaxes: STORAGE_TRANSFER_SYNTAXES }] },
    handlers,
  });
  const { port } = await server.listen(0);
  return { server, port, received };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** An explicit-VR meta element (PS3.10 7.1), its value as given (odd lengths kept). */
function metaElement(tag: number, vr: string, value: Uint8Array): Buffer {
  const long = vr === 'OB';
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(tag >>> 16, 0);
  h.writeUInt16LE(tag & 0xffff, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

interface Source { readonly path: string; readonly uid: string; readonly expected: { hash: string; length: number } | undefined }

/**
 * Files of every shape the single-read path meets: small ones read whole (one with an odd-length
 * meta element, so its data set starts at an odd offset; a deflated one of odd length, which
 * travels with one zero pad byte), a large one streamed from the descriptor its head was read
 * from, and two that are not Part 10 files (no preamble; a meta group cut short).
 */
async function sources(folder: string, n: number): Promise<Source[]> {
  const out: Source[] = [];
  const plain = async (k: number, pixels: number): Promise<void> => {
    const s = spec(n + k, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.${n}.${k}` });
    const f = await writeInstance(folder, s, { pixels });
    const { datasetOffset } = await readPart10Header(f.path);
    const dataset = (await readFile(f.path)).subarray(datasetOffset);
    out.push({ path: f.path, uid: s.SOPInstanceUID, expected: { hash: sha(dataset), length: dataset.length } });
  };
  await plain(1, 100_000);
  // No preamble: 'DICM' at offset 0.
  {
    const path = join(folder, `no-preamble-${n}.dcm`);
    const s = spec(n + 2, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.${n}.2` });
    const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: TransferSyntax.ExplicitVrLittleEndian });
    await writeFile(path, Buffer.concat([meta.subarray(128), encodeDataset(specElements(s))]));
    out.push({ path, uid: s.SOPInstanceUID, expected: undefined });
  }
  // A deflated data set of odd length.
  {
    const s = spec(n + 3, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.${n}.3` });
    let deflated: Buffer;
    for (let pixels = 30_000; ; pixels += 2) {
      const px = new Uint8Array(pixels).map((_, i) => (i * 13 + (i >> 7)) & 0xff);
      deflated = deflateRawSync(encodeDataset([...specElements(s), [0x7fe00010, 'OW', px]]));
      if (deflated.length % 2 === 1) break;
    }
    const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: TransferSyntax.DeflatedExplicitVrLittleEndian });
    const path = join(folder, `deflated-${n}.dcm`);
    await writeFile(path, Buffer.concat([meta, deflated]));
    out.push({ path, uid: s.SOPInstanceUID, expected: { hash: sha(Buffer.concat([deflated, Buffer.of(0)])), length: deflated.length + 1 } });
  }
  // An odd-length meta element (Source AE Title "ABCDE"): the data set starts at an odd offset.
  {
    const s = spec(n + 4, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.${n}.4` });
    const text = (v: string): Buffer => Buffer.from(v.length % 2 === 1 ? `${v}\0` : v, 'latin1');
    const body = Buffer.concat([
      metaElement(0x00020001, 'OB', Uint8Array.of(0, 1)),
      metaElement(0x00020002, 'UI', text(ctImageStorage)),
      metaElement(0x00020003, 'UI', text(s.SOPInstanceUID)),
      metaElement(0x00020010, 'UI', text(TransferSyntax.ExplicitVrLittleEndian)),
      metaElement(0x00020012, 'UI', text('1.2.826.0.1.3680043.9.7777.1')),
      metaElement(0x00020016, 'AE', Buffer.from('ABCDE', 'latin1')),
    ]);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(body.length);
    const px = new Uint8Array(50_001 + 1).map((_, i) => (i * 3) & 0xff);
    const dataset = encodeDataset([...specElements(s), [0x7fe00010, 'OW', px]]);
    const path = join(folder, `odd-meta-${n}.dcm`);
    const head = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), metaElement(0x00020000, 'UL', length), body]);
    assert.equal(head.length % 2, 1, 'the data set starts at an odd offset');
    await writeFile(path, Buffer.concat([head, dataset]));
    out.push({ path, uid: s.SOPInstanceUID, expected: { hash: sha(dataset), length: dataset.length } });
  }
  // Larger than what is read whole (4 MiB): streamed.
  {
    const s = spec(n + 5, { SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.${n}.5` });
    const f = await writeBigInstance(folder, s, 5 << 20);
    out.push({ path: f.path, uid: s.SOPInstanceUID, expected: { hash: f.hash, length: f.size } });
  }
  // The meta group cut short.
  {
    const path = join(folder, `cut-meta-${n}.dcm`);
    const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: `1.2.826.0.1.3680043.9.7777.9.${n}.6`, TransferSyntaxUID: TransferSyntax.ExplicitVrLittleEndian });
    await writeFile(path, meta.subarray(0, meta.length - 7));
    out.push({ path, uid: '', expected: undefined });
  }
  await plain(7, 30_000);
  await plain(8, 200_001);
  return out;
}

for (const tls of [false, true]) {
  test(`files of every shape, one association${tls ? ' over TLS' : ''}: each data set arrives byte for byte; files that are not Part 10 fail alone`, async () => {
    const n = tls ? 200 : 100;
    const folder = join(dir, `shapes-${n}`);
    await (await import('node:fs/promises')).mkdir(folder);
    const files = await sources(folder, n);
    const { server, port, received } = await recordingServer(tls);
    try {
      const pki = scenarioPki();
      const paths = files.map((f) => f.path);
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, callingAeTitle: 'SHAPES', calledAeTitle: 'RECORD-SCP', timeouts: quick,
        ...(tls ? { tls: new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert] }) } : {}),
        presentationContexts: await storageContextsFor(paths),
      });
      let results: StoreResult[];
      try {
        results = await client.store(paths);
      } finally {
        await client.release();
      }
      assert.equal(results.length, files.length);
      for (const [i, f] of files.entries()) {
        const r = results[i]!;
        assert.equal(r.path, f.path);
        if (f.expected === undefined) {
          assert.equal(r.outcome, 'Failure', f.path);
          assert.equal(r.status, undefined, 'never sent');
          assert.equal((r.error as { code?: string }).code?.startsWith('DICOM_ERR_PART10'), true, String(r.error));
          continue;
        }
        assert.equal(r.status, Status.Success, `${f.path}: ${String(r.error)}`);
        assert.equal(r.sopInstanceUid, f.uid);
        assert.deepEqual(received.get(f.uid), f.expected, `${f.path} arrived different from its data set`);
      }
      assert.equal(received.size, files.filter((f) => f.expected !== undefined).length);
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}
