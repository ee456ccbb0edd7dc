/**
 * `dicom-tls store` of a folder where one file's File Meta Information names a SOP class or
 * instance with something that is not a UID (a path, a letter): that file fails alone, with its
 * reason, and the others are sent. Before, the SOP class refused the whole run as a bad option
 * (exit 2, nothing sent), and the instance UID ended the association at its C-STORE-RQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { spec, writeInstance } from '../helpers/services.js';

/** A valid instance whose meta's `placeholder` (first occurrence: the meta group) becomes `value`, same length. */
async function withMetaValue(dir: string, n: number, over: Parameters<typeof spec>[1], placeholder: string, value: string): Promise<string> {
  assert.equal(placeholder.length, value.length);
  const { path } = await writeInstance(dir, spec(n, over));
  const bytes = readFileSync(path);
  const at = bytes.indexOf(placeholder, 132, 'latin1');
  bytes.write(value, at, 'latin1');
  writeFileSync(path, bytes);
  return path;
}

test('store: a file whose meta UIDs are not UIDs fails alone with its reason; the other files are sent (exit 16)', { timeout: 120_000 }, async () => {
  const tmp = tempDir('store-meta-');
  const server = await StorageServer.create({ aeTitle: 'STORE-SCP', storeRoot: join(tmp.dir, 'store'), fsync: 'none' });
  const { port } = await server.listen(0);
  try {
    const good = await writeInstance(tmp.dir, spec(1));
    const badClass = await withMetaValue(tmp.dir, 2, { SOPClassUID: '1.2.3.4.56' }, '1.2.3.4.56', '1.2.3/../x');
    const badInstance = await withMetaValue(tmp.dir, 3, { SOPInstanceUID: '1.2.3.4.57' }, '1.2.3.4.57', '../../../x');
    const r = await runCli(['store', `127.0.0.1:${port}`, '--no-tls', '--call', 'STORE-SCP', '--timeout', '30', '--json', good.path, badClass, badInstance]);
    assert.equal(r.code, 16, r.stderr);
    const doc = JSON.parse(r.stdout) as { sent: number; failed: number; results: { file: string; outcome: string; error?: string }[] };
    assert.equal(doc.sent, 1);
    assert.equal(doc.failed, 2);
    const outcome = (f: string): { outcome: string; error?: string } | undefined => doc.results.find((x) => x.file === f);
    assert.equal(outcome(good.path)?.outcome, 'sent');
    assert.equal(outcome(badClass)?.outcome, 'failed');
    assert.match(outcome(badClass)?.error ?? '', /MediaStorageSOPClassUID is not a valid UID: "1\.2\.3\/\.\.\/x"/);
    assert.equal(outcome(badInstance)?.outcome, 'failed');
    assert.match(outcome(badInstance)?.error ?? '', /MediaStorageSOPInstanceUID is not a valid UID: "\.\.\/\.\.\/\.\.\/x"/);
    assert.ok(await server.storedInstance(spec(1).SOPInstanceUID), 'the good file is stored');
  } finally {
    await server.close({ timeout: 1000 });
    tmp.cleanup();
  }
});
