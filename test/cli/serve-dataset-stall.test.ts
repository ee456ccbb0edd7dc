/**
 * serve names a peer that stalled in the middle of a data set while others waited for the
 * server's buffer budget (limits.datasetStallTimeout): a 'dataset-stalled' warning with the error
 * code, and the association's end with it; the peer waiting behind it is answered.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { DicomClient } from '../../src/ae/client.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { encodeDataset } from '../helpers/dicom-data.js';

const tmp = tempDir('cli-serve-stall-');
after(() => tmp.cleanup());
const FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const MiB = 1024 * 1024;

function connect(port: number): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'STALLER', calledAeTitle: 'DICOM-TLS',
    presentationContexts: [{ abstractSyntax: FIND, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
    timeouts: { connect: 10_000, association: 10_000, dimse: 0 },
  });
}

function identifier(size: number): Buffer {
  return encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x00100020, 'LO', 'NOBODY'], [0x00420011, 'OB', Buffer.alloc(size, 7)]]);
}

test('serve logs a peer that stalled mid data set while another waited (dataset-stalled, DICOM_ERR_DATASET_STALLED) and answers the other', async () => {
  writeFileSync(join(tmp.dir, 'stall.json'), JSON.stringify({ access: [{ aet: 'STALLER', permissions: ['echo', 'query'] }], limits: { maxBufferedBytes: 4 * MiB, datasetStallTimeout: 300, maxIdentifierLength: 0 } }));
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, 'data'), '--config', 'stall.json', '--dev-pki', '--log-format', 'json'], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(p);
    const stuck = await connect(plainPort!);
    const ul = stuck.association.upperLayer;
    const pcId = stuck.association.contexts.select(FIND).id;
    ul.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: true, isLast: true, data: encodeCommand({ type: 'C-FIND-RQ', messageId: 1, affectedSopClassUid: FIND, priority: 0 }) }] });
    const part = identifier(3 * MiB);
    for (let o = 0; o < part.length; o += 16_000) {
      ul.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: pcId, isCommand: false, isLast: false, data: part.subarray(o, Math.min(o + 16_000, part.length)) }] });
    }
    const other = await connect(plainPort!);
    const answer = await other.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 }, { dataset: identifier(3 * MiB) }).response;
    assert.ok(answer.command.status !== undefined);
    await p.waitFor(/"event":"dataset-stalled"/);
    await other.release();
    await p.waitFor(/"event":"association-end"[^\n]*DICOM_ERR_DATASET_STALLED/);
    const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const stalled = lines.filter((l) => l.event === 'dataset-stalled');
    assert.equal(stalled.length, 1, p.output());
    assert.equal(stalled[0]!.level, 'warn');
    assert.equal(stalled[0]!.code, 'DICOM_ERR_DATASET_STALLED');
    assert.equal(stalled[0]!.callingAeTitle, 'STALLER');
    assert.equal(stalled[0]!.stalledMs, 300);
    assert.ok(Number(stalled[0]!.heldBytes) >= 3 * MiB);
    assert.match(String(stalled[0]!.msg), /made no progress for 300 ms/);
    const ends = lines.filter((l) => l.event === 'association-end');
    assert.deepEqual(ends.filter((l) => l.code !== null).map((l) => l.code), ['DICOM_ERR_DATASET_STALLED']);
    stuck.abort();
  } finally {
    await p.kill();
  }
});
