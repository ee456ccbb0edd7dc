/**
 * `serve` on a data directory whose index an older version wrote: the index is re-read from the
 * stored files before the server listens, and the log says so.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir } from '../helpers/cli.js';
import { IndexDb } from '../../src/store/index-db.js';
import { FileStore } from '../../src/store/file-store.js';
import { encodeDataset, specElements } from '../helpers/dicom-data.js';

const tmp = tempDir('cli-serve-reindex-');
after(() => tmp.cleanup());

test('serve re-indexes an index of an older version before it listens, and logs it', async () => {
  const data = join(tmp.dir, 'dicom-tls-data');
  mkdirSync(data, { recursive: true });
  const index = new IndexDb(join(data, 'index.sqlite'));
  const store = await FileStore.open({ root: join(data, 'files'), index });
  const ivanov = Buffer.from('\xb8\xd2\xd0\xdd\xde\xd2^\xb8\xd2\xd0\xdd', 'latin1'); // Иванов^Иван in ISO_IR 144
  for (let n = 1; n <= 2; n++) {
    const sop = `1.6.${n}.1.1`;
    const spec = { StudyInstanceUID: `1.6.${n}`, SeriesInstanceUID: `1.6.${n}.1`, SOPInstanceUID: sop, PatientID: `P${n}`, SpecificCharacterSet: 'ISO_IR 144' };
    const ds = encodeDataset([...specElements(spec), [0x00100010, 'PN', ivanov]]);
    await store.store({ sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: sop, transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
      yield ds;
    })());
  }
  // As the previous version left it: names read as Latin-1, content version 0.
  index.connection.prepare('UPDATE patient SET patient_name = ?').run(ivanov.toString('latin1'));
  await index.setContentVersion(0);
  await index.close();

  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  await new Promise<void>((resolve, reject) => {
    // A hang guard, not a timed assertion.
    const guard = setTimeout(() => reject(new Error(`serve never listened:\n${log}`)), 60_000);
    const check = (): void => {
      if (/listening for DICOM/.test(log)) {
        clearTimeout(guard);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${log}`)));
  });
  child.kill('SIGTERM');
  await once(child, 'exit');
  const started = log.indexOf('re-reading 2 stored instances');
  const done = log.indexOf('re-indexed 2 of 2 instances');
  const listening = log.indexOf('listening for DICOM');
  assert.ok(started >= 0 && done > started && listening > done, log);
  const reopened = new IndexDb(join(data, 'index.sqlite'), { readonly: true });
  try {
    const names = (reopened.connection.prepare('SELECT patient_name AS n FROM patient ORDER BY id').all() as { n: string }[]).map((r) => r.n);
    assert.deepEqual(names, ['Иванов^Иван', 'Иванов^Иван']);
  } finally {
    await reopened.close();
  }
});
