/**
 * dcmjs (~16 MB resident, tens of ms to load) is loaded on first use of the dataset codec, not
 * when the server, client or store modules are imported: a storing SCP never pays for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('importing the SCP and SCU modules does not load dcmjs; the first codec call does', () => {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(root)});
    const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/dcmjs/'));
    await import(${JSON.stringify(`${root}src/services/scp/storage-server.js`)});
    await import(${JSON.stringify(`${root}src/ae/client.js`)});
    const codec = await import(${JSON.stringify(`${root}src/dataset/codec.js`)});
    const before = loaded();
    const bytes = codec.encodeDataset({ PatientID: 'X' }, '1.2.840.10008.1.2.1');
    const back = codec.decodeDataset(bytes, '1.2.840.10008.1.2.1');
    console.log(JSON.stringify({ before, after: loaded(), id: back.PatientID }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim()), { before: false, after: true, id: 'X' });
});
