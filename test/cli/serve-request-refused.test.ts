/**
 * serve logs a request whose SOP class is not its presentation context's (a Secondary Capture
 * C-STORE-RQ on the CT Image Storage context): a 'request-refused' warning naming the peer, the
 * command, the status and both UIDs; the instance is not stored and the association goes on.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { DicomClient } from '../../src/ae/client.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { Status } from '../../src/dictionary/status.js';
import { ctImageStorage, encodeDataset, secondaryCaptureStorage, specElements } from '../helpers/dicom-data.js';
import { spec } from '../helpers/services.js';

const tmp = tempDir('cli-serve-refused-');
after(() => tmp.cleanup());

test('serve refuses and logs a C-STORE-RQ whose SOP class is not its context\'s (request-refused, 0122H), then stores the next', async () => {
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, 'data'), '--dev-pki', '--log-format', 'json'], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(p);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: plainPort!, callingAeTitle: 'MIXUP', calledAeTitle: 'DICOM-TLS',
      presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
      timeouts: { connect: 10_000, association: 10_000, dimse: 30_000 },
    });
    const pcId = client.association.contexts.select(ctImageStorage).id;
    const sc = spec(1, { SOPClassUID: secondaryCaptureStorage });
    const refused = await client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: secondaryCaptureStorage, affectedSopInstanceUid: sc.SOPInstanceUID, priority: 0 },
      { presentationContextId: pcId, dataset: encodeDataset(specElements(sc), { explicit: false }) }).response;
    assert.equal(refused.command.status, Status.SopClassNotSupported);
    const ct = spec(2);
    const stored = await client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: ct.SOPInstanceUID, priority: 0 },
      { presentationContextId: pcId, dataset: encodeDataset(specElements(ct), { explicit: false }) }).response;
    assert.equal(stored.command.status, Status.Success);
    await client.release();
    await p.waitFor(/"event":"request-refused"/);
    const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const r = lines.filter((l) => l.event === 'request-refused');
    assert.equal(r.length, 1, p.output());
    assert.equal(r[0]!.level, 'warn');
    assert.equal(r[0]!.callingAeTitle, 'MIXUP');
    assert.equal(r[0]!.command, 'C-STORE-RQ');
    assert.equal(r[0]!.status, Status.SopClassNotSupported);
    assert.equal(r[0]!.sopClassUid, secondaryCaptureStorage);
    assert.equal(r[0]!.abstractSyntax, ctImageStorage);
    assert.match(String(r[0]!.msg), /refused 0122H/);
    const files = (readdirSync(join(tmp.dir, 'data'), { recursive: true }) as string[]).filter((f) => f.endsWith('.dcm'));
    assert.deepEqual(files.map((f) => f.split('/').pop()), [`${ct.SOPInstanceUID}.dcm`]);
  } finally {
    await p.kill();
  }
});
