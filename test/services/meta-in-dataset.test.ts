/**
 * A C-STORE data set that carries File Meta Information elements (group 0002) is refused, C000,
 * naming the element, and nothing is kept. Stored as it came (after our own meta group), such an
 * element was read back as part of the file's meta: a (0002,0010) of the sender's choosing became
 * the file's Transfer Syntax UID, and every retrieve of the instance handed out a broken file.
 * The same store serves `serve` (SCP) and `dicom-tls get` (the C-GET's C-STORE sub-operations).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';
import { spec } from '../helpers/services.js';
import { runCli, tempDir as cliTempDir } from '../helpers/cli.js';
import { CT, hostileGetScp, implicitDataset } from '../helpers/hostile-get-scp.js';

const EXPLICIT = '1.2.840.10008.1.2.1';

/** Files under `dir`, recursively, relative. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

test('serve side: a data set holding (0002,0010) is refused C000 naming it, and nothing is stored', { timeout: 60_000 }, async () => {
  const { dir, remove } = await tempDir('meta-in-dataset');
  const server = await StorageServer.create({ aeTitle: 'STORE-SCP', storeRoot: join(dir, 'store'), fsync: 'none' });
  const { port } = await server.listen(0);
  try {
    const s = spec(1);
    const dataset = encodeDataset([[0x0002_0010, 'UI', '1.2.840.10008.1.2.4.50'], ...specElements(s)]);
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'STORE-SCP', presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [EXPLICIT] }] });
    const [r] = await client.store([{ sopClassUid: ctImageStorage, sopInstanceUid: s.SOPInstanceUID, transferSyntaxUid: EXPLICIT, dataset }]);
    await client.release();
    assert.equal(r?.status, 0xc000);
    assert.equal(r?.errorComment, 'File Meta Information (0002,0010) in the data set');
    assert.equal(await server.storedInstance(s.SOPInstanceUID), undefined);
    assert.deepEqual(files(join(dir, 'store')).filter((f) => f.endsWith('.dcm')), []);
  } finally {
    await server.close({ timeout: 1000 });
    await remove();
  }
});

test('get side: a C-STORE sub-operation whose data set holds (0002,0010) is refused and leaves no file; exit 16', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = cliTempDir('get-meta-');
  let status: number | undefined;
  const scp = await hostileGetScp(async (s) => {
    const uid = '1.2.3.4.5';
    s.storeRq(100, uid);
    s.data(implicitDataset([[0x0002_0010, '1.2.840.10008.1.2.4.50'], [0x0008_0016, CT], [0x0008_0018, uid], [0x0010_0020, 'PID'], [0x0020_000d, '1.2.3'], [0x0020_000e, '1.2.3.4'], [0x7fe0_0010, 'XX']]), true);
    status = await s.storeStatus();
    s.getRsp(0xa702, { completed: 0, failed: 1, warning: 0 });
    await s.end();
  });
  try {
    const r = await runCli(['get', `127.0.0.1:${scp.port}`, '--no-tls', '--timeout', '30', '-k', 'StudyInstanceUID=1.2.3', '--out', dir]);
    await scp.done;
    assert.equal(status, 0xc000);
    assert.equal(r.code, 16, r.stderr);
    assert.match(r.stdout + r.stderr, /File Meta Information element \(0002,0010\)/);
    assert.deepEqual(files(dir), []);
  } finally {
    await scp.close();
    cleanup();
  }
});
