/**
 * The C-STORE SCU's sending path: how a request reaches the transport, and that the files it
 * reads arrive at the peer byte for byte whatever their shape.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { ctImageStorage, tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
let dir: string;
let remove: () => Promise<void>;
let server: StorageServer;
let port: number;

before(async () => {
  ({ dir, remove } = await tempDir('store-send-path'));
  // 16 KiB PDUs, as DCMTK's storescp announces by default: a 100 KB instance is 7 PDUs.
  server = await StorageServer.create({ aeTitle: 'SEND-SCP', storeRoot: join(dir, 'store'), fsync: 'none', limits: { maxPduLength: 16384 } });
  port = (await server.listen(0)).port;
});

after(async () => {
  await server.close({ timeout: 1000 });
  await remove();
});

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
