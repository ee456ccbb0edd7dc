/**
 * Error Comment (0000,0902) is LO, 64 characters: a longer reason is cut after a whole word and
 * ends in "...". Cut anywhere, a C-MOVE to a destination that never answers told the requestor
 * "no A-ASSOCIATE-AC or -RJ from 127.0.0.1:1121" for port 11211: another port, it seemed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DimseStatusError } from '../../src/ae/errors.js';
import { safeErrorComment } from '../../src/ae/error-comment.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { QueryRetrieveStatus, Status } from '../../src/dictionary/status.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';

test('a long Error Comment is cut after a whole word and marked "..."; a short one is kept as it is', () => {
  const cut = safeErrorComment('cannot reach STALL: no A-ASSOCIATE-AC or -RJ from 127.0.0.1:11211 within 3000 ms');
  assert.equal(cut, 'cannot reach STALL: no A-ASSOCIATE-AC or -RJ from...');
  assert.equal(safeErrorComment('x'.repeat(80)), `${'x'.repeat(61)}...`);
  assert.equal(safeErrorComment('unknown destination WS1'), 'unknown destination WS1');
  assert.equal(safeErrorComment('y'.repeat(64)), 'y'.repeat(64));
});

test('C-MOVE to a destination that never answers: the final response names the reason without a number cut short', { timeout: 120_000 }, async () => {
  const { dir, remove } = await tempDir('comment-cut');
  // Accepts the connection, reads, never says a word.
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => { sockets.push(socket); socket.resume(); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const server = await StorageServer.create({
    aeTitle: 'MOVE-SCP', storeRoot: join(dir, 'store'), fsync: 'none',
    limits: { moveTimeout: 300 },
    destinations: { STALL: { host: '127.0.0.1', port: silentPort, tls: undefined } },
  });
  const { port } = await server.listen(0);
  try {
    const study = '1.2.826.0.1.3680043.9.7777.41';
    const file = await writeInstance(dir, spec(411, { SOPInstanceUID: `${study}.1.1`, StudyInstanceUID: study, SeriesInstanceUID: `${study}.1` }));
    const move = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove;
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'MOVER', calledAeTitle: 'MOVE-SCP',
      presentationContexts: [...(await storageContextsFor([file.path])), { abstractSyntax: move, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
      timeouts: { connect: 10_000, association: 10_000, dimse: 60_000 },
    });
    for (const r of await client.store([file.path])) assert.equal(r.status, Status.Success);
    await assert.rejects(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study }, 'STALL'), (e: unknown) => {
      assert.ok(e instanceof DimseStatusError, String(e));
      assert.equal(e.status, QueryRetrieveStatus.OutOfResourcesUnableToPerformSuboperations);
      const comment = /\((cannot reach[^)]*)\)/.exec(e.message)?.[1];
      assert.equal(comment, 'cannot reach STALL: no A-ASSOCIATE-AC or -RJ from...', e.message);
      return true;
    });
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await remove();
  }
});
