/**
 * Odd lengths on the wire against DCMTK 3.6.7's storescp, which aborts an association on any PDV
 * of odd length ("DIMSE: Odd Fragment Length"). A deflated data set (PS3.5 A.5) is a raw deflate
 * stream of any length: DCMTK's own dump2dcm +td writes files whose data set is odd, and DCMTK
 * pads such a stream with one zero byte when it sends it. We must do the same, for a file sent
 * as it is and for a data set given as a stream read in odd pieces.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { storageContextsFor, part10StreamSource } from '../../src/services/scu/store.js';
import { decodePart10Header } from '../../src/dataset/part10.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { hasDcmtk, startListening, type Daemon } from '../helpers/dcmtk.js';
import { dcmdump, dumpValue, run, tempDir } from '../helpers/dicom-data.js';
import { runCli } from '../helpers/cli.js';

const skip = ['storescp', 'dump2dcm', 'dcmdump'].every((t) => hasDcmtk(t)) ? false : 'DCMTK tools missing';

let dir: string;
let remove: () => Promise<void>;
/** Deflated files made by DCMTK, with the length of their data set. */
const deflated: { path: string; uid: string; datasetLength: number }[] = [];

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('odd-length'));
  await mkdir(join(dir, 'in'));
  for (let n = 1; n <= 8 && deflated.filter((d) => d.datasetLength % 2 === 1).length < 2; n++) {
    const uid = `1.2.826.0.1.3680043.9.7781.${n}`;
    const dump = join(dir, `d${n}.dump`);
    await writeFile(dump, ['(0008,0016) UI =SecondaryCaptureImageStorage', `(0008,0018) UI [${uid}]`,
      `(0010,0010) PN [ODD^${'x'.repeat(n)}]`, '(0020,000d) UI [1.2.826.0.1.3680043.9.7781]', '(0020,000e) UI [1.2.826.0.1.3680043.9.7781.1]', ''].join('\n'));
    const path = join(dir, 'in', `d${n}.dcm`);
    await run('dump2dcm', ['-q', '+td', dump, path]);
    const file = await readFile(path);
    const header = decodePart10Header(file, { final: true });
    assert.equal(header.meta.TransferSyntaxUID, TransferSyntax.DeflatedExplicitVrLittleEndian);
    deflated.push({ path, uid, datasetLength: file.length - header.datasetOffset });
  }
  assert.ok(deflated.some((d) => d.datasetLength % 2 === 1), 'dump2dcm made a deflated data set of odd length');
});
after(async () => {
  await remove?.();
});

async function withStorescp(name: string, fn: (scp: Daemon, out: string) => Promise<void>): Promise<void> {
  const out = join(dir, name);
  await mkdir(out);
  // +xd: accept Deflated Explicit VR Little Endian; -d: log why an association is aborted.
  const scp = await startListening('storescp', ['+xd', '-d', '-od', out, '-aet', 'STORESCP']);
  try {
    await fn(scp, out);
  } finally {
    await scp.stop();
  }
}

test('store: a deflated data set of odd length reaches storescp (padded as DCMTK pads), every instance of the batch', { skip }, async () => {
  await withStorescp('cli', async (scp, out) => {
    const r = await runCli(['store', `127.0.0.1:${scp.port}`, '--no-tls', '--call', 'STORESCP', join(dir, 'in')], { killAfter: 120_000 });
    assert.doesNotMatch(scp.output(), /Odd Fragment Length/);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`sent ${deflated.length}, warnings 0, failed 0`));
    const stored = await readdir(out);
    assert.equal(stored.length, deflated.length);
    for (const d of deflated) {
      const dump = await dcmdump(join(out, `SC.${d.uid}`), ['-Un']);
      assert.equal(dumpValue(dump, '0002,0010'), TransferSyntax.DeflatedExplicitVrLittleEndian);
      assert.equal(dumpValue(dump, '0008,0018'), d.uid);
    }
  });
});

test('store: a deflated Part 10 stream read in odd-sized pieces still travels in even PDVs', { skip }, async () => {
  const odd = deflated.find((d) => d.datasetLength % 2 === 1)!;
  await withStorescp('stream', async (scp, out) => {
    const bytes = await readFile(odd.path);
    // 7-byte pieces: every chunk boundary is odd.
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let o = 0; o < bytes.length; o += 7) yield bytes.subarray(o, o + 7);
    }
    const source = await part10StreamSource(pieces());
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: scp.port, callingAeTitle: 'ODDTEST', calledAeTitle: 'STORESCP',
      presentationContexts: await storageContextsFor([odd.path]),
      timeouts: { connect: 5000, association: 5000, dimse: 20000 },
    });
    try {
      const [result] = await client.store([source]);
      assert.equal(result?.status, 0, result?.errorComment);
    } finally {
      await client.release();
    }
    assert.doesNotMatch(scp.output(), /Odd Fragment Length/);
    assert.deepEqual(await readdir(out), [`SC.${odd.uid}`]);
  });
});
