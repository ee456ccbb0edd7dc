/**
 * serve's `limits.maxIdentifierLength` (docs/limits.md): a C-FIND identifier over it is answered
 * C000 (Unable to process) and logged as a 'request-too-large' warning; the association goes on.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { DicomClient } from '../../src/ae/client.js';
import { QueryRetrieveSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { QueryRetrieveStatus, Status } from '../../src/dictionary/status.js';
import { encodeDataset } from '../helpers/dicom-data.js';

const tmp = tempDir('cli-serve-identifier-');
after(() => tmp.cleanup());
const FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;

test('serve: a C-FIND identifier over limits.maxIdentifierLength is answered C000 and logged; the association still answers a C-ECHO', async () => {
  const config = join(tmp.dir, 'serve.json');
  writeFileSync(config, JSON.stringify({ access: [{ aet: 'BIGQUERY', permissions: ['echo', 'query'] }], limits: { maxIdentifierLength: 2048 } }));
  const p = spawnServe(['--config', config, '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, 'data'), '--dev-pki', '--log-format', 'json'], { cwd: tmp.dir });
  try {
    const { plainPort } = await listening(p);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: plainPort!, callingAeTitle: 'BIGQUERY', calledAeTitle: 'DICOM-TLS',
      presentationContexts: [FIND, VerificationSopClass].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] })),
      timeouts: { connect: 10_000, association: 10_000, dimse: 30_000 },
    });
    const identifier = encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x00100020, 'LO', ''], [0x00091010, 'OB', Buffer.alloc(8192, 1)]]);
    let last: { status: number; errorComment?: string } | undefined;
    for await (const m of client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: FIND, priority: 0 }, { dataset: identifier })) last = m.command as never;
    assert.equal(last?.status, QueryRetrieveStatus.UnableToProcess);
    assert.equal(last?.errorComment, 'identifier larger than 2048 bytes');
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
    await p.waitFor(/"event":"request-too-large"/);
    const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const r = lines.filter((l) => l.event === 'request-too-large');
    assert.equal(r.length, 1, p.output());
    assert.equal(r[0]!.level, 'warn');
    assert.equal(r[0]!.callingAeTitle, 'BIGQUERY');
    assert.equal(r[0]!.command, 'C-FIND-RQ');
    assert.equal(r[0]!.status, QueryRetrieveStatus.UnableToProcess);
    assert.equal(r[0]!.length, identifier.length);
    assert.equal(r[0]!.limit, 2048);
  } finally {
    await p.kill();
  }
});
