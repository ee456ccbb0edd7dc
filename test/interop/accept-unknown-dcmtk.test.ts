/**
 * Retired, private and unknown storage SOP classes sent by DCMTK 3.6.7's dcmsend to our
 * StorageServer: the retired US Image Storage (1.2.840.10008.5.1.4.1.1.6) is stored by default;
 * a private SOP class only with `acceptUnknownSopClasses` (serve --accept-unknown).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { OtherStorageSopClass, RetiredStorageSopClass } from '../../src/dictionary/uids.js';
import { hasDcmtk, run } from '../helpers/dcmtk.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';
import { serveSettings } from '../../src/cli/serve-config.js';

const skip = hasDcmtk('dcmsend') ? false : 'DCMTK dcmsend missing';
const PRIVATE_CLASS = '1.2.826.0.1.3680043.9.7785.1.1';

let dir: string;
let remove: () => Promise<void>;
let retired: string;
let privateFile: string;
let dicos: string;

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('accept-unknown'));
  await mkdir(join(dir, 'in'));
  retired = (await writeInstance(join(dir, 'in'), spec(1, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7785.2.1', SOPClassUID: RetiredStorageSopClass.UltrasoundImageStorage }))).path;
  dicos = (await writeInstance(join(dir, 'in'), spec(3, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7785.2.3', SOPClassUID: OtherStorageSopClass.DicosCtImageStorage }))).path;
  privateFile = (await writeInstance(join(dir, 'in'), spec(2, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7785.2.2', SOPClassUID: PRIVATE_CLASS }))).path;
});
after(async () => {
  await remove?.();
});

async function withServer(name: string, acceptUnknownSopClasses: boolean, fn: (server: StorageServer, port: number) => Promise<void>): Promise<void> {
  const server = await StorageServer.create({ aeTitle: 'OURSCP', storeRoot: join(dir, name), fsync: 'none', acceptUnknownSopClasses });
  const { port } = await server.listen(0);
  try {
    await fn(server, port);
  } finally {
    await server.close({ timeout: 1000 });
  }
}

/**
 * DCMTK's dcmsend proposing the file's own SOP class (-nuc: no UID checks, so a private class is
 * sent too; storescu refuses to send a class it does not know).
 */
const storescu = (port: number, file: string): ReturnType<typeof run> => run('dcmsend', ['-nuc', '-aec', 'OURSCP', '127.0.0.1', String(port), file]);

test('the retired US Image Storage and a DICOS CT are stored by default; a private SOP class is refused', { skip }, async () => {
  await withServer('default', false, async (server, port) => {
    const r = await storescu(port, retired);
    assert.equal(r.code, 0, r.output);
    assert.equal((await server.storedInstance('1.2.826.0.1.3680043.9.7785.2.1'))?.SOPClassUID, RetiredStorageSopClass.UltrasoundImageStorage);
    const d = await storescu(port, dicos);
    assert.equal(d.code, 0, d.output);
    assert.equal((await server.storedInstance('1.2.826.0.1.3680043.9.7785.2.3'))?.SOPClassUID, OtherStorageSopClass.DicosCtImageStorage);
    const p = await storescu(port, privateFile);
    assert.match(p.output, /No Acceptable Presentation Contexts/);
    assert.equal((await server.storedInstance('1.2.826.0.1.3680043.9.7785.2.2')), undefined);
  });
});

test('acceptUnknownSopClasses: a private SOP class is stored, Verification still answered', { skip }, async () => {
  await withServer('unknown', true, async (server, port) => {
    const p = await storescu(port, privateFile);
    assert.equal(p.code, 0, p.output);
    assert.equal((await server.storedInstance('1.2.826.0.1.3680043.9.7785.2.2'))?.SOPClassUID, PRIVATE_CLASS);
    const echo = await run('echoscu', ['-aec', 'OURSCP', '127.0.0.1', String(port)]);
    assert.equal(echo.code, 0, echo.output);
  });
});

test('serve: --accept-unknown and the config key "acceptUnknown"', async () => {
  const { writeFile: write, mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  assert.equal(serveSettings({}, process.cwd()).acceptUnknown, false);
  assert.equal(serveSettings({ 'accept-unknown': true }, process.cwd()).acceptUnknown, true);
  const cfg = await mkdtemp(join(tmpdir(), 'accept-unknown-config-'));
  try {
    await write(join(cfg, 'on.json'), JSON.stringify({ aet: 'X', acceptUnknown: true, tls: { devPki: true } }));
    assert.equal(serveSettings({ config: 'on.json' }, cfg).acceptUnknown, true);
    await write(join(cfg, 'bad.json'), JSON.stringify({ aet: 'X', acceptUnknown: 'yes', tls: { devPki: true } }));
    assert.throws(() => serveSettings({ config: 'bad.json' }, cfg), /acceptUnknown must be true or false/);
  } finally {
    await rm(cfg, { recursive: true, force: true });
  }
});
