/**
 * C-CANCEL of a C-MOVE whose destination has stopped reading (PS3.4 C.4.2.3.1: the SCP stops
 * its sub-operations and answers Cancel). The move timeout is far longer than the test's hang
 * guard, so only the cancel itself can end the move: the sub-association is aborted at once,
 * not left to wait for the destination until the move timeout (and then its release timeout).
 * The instance the abort cut short counts as not performed (remaining), not as failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import type { Association } from '../../src/ae/association.js';
import { DicomServer } from '../../src/ae/server.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { QueryRetrieveSopClass, StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { QueryRetrieveStatus, Status } from '../../src/dictionary/status.js';
import { encodeDataset as encodeNatural } from '../../src/dataset/codec.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeBigInstance } from '../helpers/services.js';

const STUDY_MOVE = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove;
const EXPLICIT = TransferSyntax.ExplicitVrLittleEndian;

test('C-CANCEL of a C-MOVE stuck on a destination that reads nothing: the final response is Cancel, without waiting for the move timeout', { timeout: 120_000 }, async () => {
  const { dir, remove } = await tempDir('move-cancel');
  const destination = new DicomServer({ aeTitle: 'ZEROWIN', presentationContexts: { supported: [{ abstractSyntax: StorageSopClass.CtImageStorage, transferSyntaxes: [EXPLICIT, TransferSyntax.ImplicitVrLittleEndian] }] } });
  const stalled: Association[] = [];
  let sawSubAssociation!: () => void;
  const subAssociation = new Promise<void>((resolve) => (sawSubAssociation = resolve));
  destination.on('association', (a) => {
    stalled.push(a);
    a.upperLayer.transport!.stream.pause();
    sawSubAssociation();
  });
  const { port: destinationPort } = await destination.listen(0);
  // Ten minutes: longer than the hang guard, so the move cannot end by its own timeout here.
  const server = await StorageServer.create({
    aeTitle: 'MOVE-SCP', storeRoot: join(dir, 'store'), fsync: 'none',
    limits: { moveTimeout: 600_000 },
    destinations: { ZEROWIN: { host: '127.0.0.1', port: destinationPort, tls: undefined } },
  });
  const { port } = await server.listen(0);
  try {
    await mkdir(join(dir, 'in'), { recursive: true });
    const study = '1.2.826.0.1.3680043.9.7777.31';
    // Several instances of 8 MiB: more than both kernels' socket buffers hold, so the first stalls.
    const files = [];
    for (let i = 1; i <= 3; i++) files.push(await writeBigInstance(join(dir, 'in'), spec(310 + i, { SOPInstanceUID: `${study}.1.${i}`, StudyInstanceUID: study, SeriesInstanceUID: `${study}.1` }), 8 * 1024 * 1024));
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'MOVER', calledAeTitle: 'MOVE-SCP',
      presentationContexts: [...(await storageContextsFor(files.map((f) => f.path))), { abstractSyntax: STUDY_MOVE, transferSyntaxes: [EXPLICIT] }],
      timeouts: { connect: 10_000, association: 10_000, dimse: 0 },
    });
    for (const r of await client.store(files.map((f) => f.path))) assert.equal(r.status, Status.Success);
    const move = client.association.request(
      { type: 'C-MOVE-RQ', affectedSopClassUid: STUDY_MOVE, priority: 0, moveDestination: 'ZEROWIN' },
      { dataset: encodeNatural({ QueryRetrieveLevel: 'STUDY', StudyInstanceUID: study }, EXPLICIT), timeout: 0 },
    );
    await subAssociation;
    await move.cancel();
    const final = await move.response;
    assert.equal(final.command.status, QueryRetrieveStatus.Cancel);
    // The instance cut short by the cancel was not performed, not failed: counted remaining,
    // no Failed SOP Instance UID List.
    const counts = final.command as { numberOfRemainingSuboperations?: number; numberOfCompletedSuboperations?: number; numberOfFailedSuboperations?: number };
    assert.deepEqual([counts.numberOfCompletedSuboperations, counts.numberOfFailedSuboperations, counts.numberOfRemainingSuboperations], [0, 0, 3]);
    assert.equal(final.dataset, undefined);
    await client.release();
  } finally {
    for (const a of stalled) a.upperLayer.transport?.stream.resume();
    await server.close({ timeout: 1000 });
    await destination.close({ timeout: 500 });
    await remove();
  }
});
