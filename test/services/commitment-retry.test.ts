/**
 * A Storage Commitment report the requestor could not take (its SCP down) is sent again by the
 * running node once the requestor is back: no restart needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { channelNames } from '../../src/diagnostics.js';
import { NormalizedSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { InvalidOptionError } from '../../src/errors.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { CommitmentReceiver, requestStorageCommitment } from '../../src/services/scu/commitment.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { tempDir } from '../helpers/dicom-data.js';
import { freePort } from '../helpers/dcmtk.js';
import { spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };

test('a report that failed because the requestor was down is sent by the running node once the requestor listens again', { timeout: 60_000 }, async () => {
  const { dir, remove } = await tempDir('commitment-retry');
  await mkdir(join(dir, 'in'));
  const s = spec(1);
  const file = await writeInstance(join(dir, 'in'), s);
  const requestorPort = await freePort();
  const failures: string[] = [];
  const onServer = (message: unknown): void => {
    const m = message as { kind?: string; transactionUid?: string };
    if (m.kind === 'commitment-report-failed' && m.transactionUid !== undefined) failures.push(m.transactionUid);
  };
  subscribe(channelNames.server, onServer);
  const scp = await StorageServer.create({
    aeTitle: 'COMMIT-SCP',
    storeRoot: join(dir, 'store'),
    fsync: 'none',
    commitmentReport: 'new-association',
    destinations: { MODALITY: { host: '127.0.0.1', port: requestorPort } },
    recoverCommitments: { interval: 100, staleAfter: 0 },
  });
  const { port } = await scp.listen(0);
  let requestor: DicomServer | undefined;
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'MODALITY', calledAeTitle: 'COMMIT-SCP', timeouts: quick,
      presentationContexts: [...(await storageContextsFor([file.path])), { abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
    });
    assert.equal((await client.store([file.path]))[0]?.status, 0);
    const uid = await requestStorageCommitment(client.association, [{ sopClassUid: s.SOPClassUID!, sopInstanceUid: s.SOPInstanceUID }]);
    await client.release();
    // Nothing listens at the requestor's address yet: the report fails, and is tried again.
    while (failures.filter((f) => f === uid).length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.notEqual((await scp.index.commitment(uid))?.state, 'reported');
    const receiver = new CommitmentReceiver();
    requestor = new DicomServer({
      aeTitle: 'MODALITY',
      handlers: new HandlerRegistry().register('N-EVENT-REPORT-RQ', receiver.handler),
      presentationContexts: { supported: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, roles: { scu: false, scp: true } }] },
    });
    await requestor.listen(requestorPort, '127.0.0.1');
    const report = await receiver.wait(uid, 30_000);
    assert.equal(report.fromAeTitle, 'COMMIT-SCP');
    assert.deepEqual(report.committed.map((r) => r.sopInstanceUid), [s.SOPInstanceUID]);
    while ((await scp.index.commitment(uid))?.state !== 'reported') await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    unsubscribe(channelNames.server, onServer);
    await scp.close({ timeout: 1000 });
    await requestor?.close({ timeout: 1000 });
    await remove();
  }
});

test('recoverCommitments.interval must be a whole number of milliseconds', async () => {
  await assert.rejects(StorageServer.create({ aeTitle: 'X', storeRoot: '/nonexistent-never-created', recoverCommitments: { interval: 0 } }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'recoverCommitments');
});
