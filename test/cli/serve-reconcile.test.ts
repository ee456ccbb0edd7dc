/**
 * `serve` after a crash: what the previous run left between a file and its index row is settled
 * at start-up, one log line per instance, and the instance is then found by C-FIND.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, tempDir } from '../helpers/cli.js';
import { IndexDb } from '../../src/store/index-db.js';
import { encodeFileMetaInformation } from '../../src/dataset/part10.js';
import { ctImageStorage, encodeDataset, specElements } from '../helpers/dicom-data.js';

test('serve logs, per instance, what an interrupted run left and it settled: the complete file is indexed and found', async () => {
  const tmp = tempDir('cli-reconcile-');
  const data = join(tmp.dir, 'data');
  const s = { PatientID: 'RECONCILE-1', StudyInstanceUID: '1.2.826.0.1.3680043.9.5151.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.5151.1.1', SOPInstanceUID: '1.2.826.0.1.3680043.9.5151.1.1.1', SOPClassUID: ctImageStorage };
  const never = '1.2.826.0.1.3680043.9.5151.1.1.2';
  // What a kill -9 between the rename and the index commit leaves: the file in place, a pending entry.
  const dirOf = join(data, 'files', s.StudyInstanceUID, s.SeriesInstanceUID);
  mkdirSync(dirOf, { recursive: true });
  const path = join(dirOf, `${s.SOPInstanceUID}.dcm`);
  const bytes = Buffer.concat([
    encodeFileMetaInformation({ MediaStorageSOPClassUID: ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: '1.2.840.10008.1.2.1' }),
    encodeDataset(specElements(s)),
  ]);
  writeFileSync(path, bytes);
  const blank = { SpecificCharacterSet: '', PatientName: '', PatientBirthDate: '', PatientSex: '', StudyDate: '', StudyTime: '', AccessionNumber: '', StudyID: '', StudyDescription: '', ReferringPhysicianName: '', Modality: 'CT', SeriesNumber: '', SeriesDescription: '', InstanceNumber: '' };
  const key = `${s.StudyInstanceUID}/${s.SeriesInstanceUID}/${s.SOPInstanceUID}.dcm`;
  const neverKey = `${s.StudyInstanceUID}/${s.SeriesInstanceUID}/${never}.dcm`;
  const record = { ...blank, ...s, key, transferSyntaxUid: '1.2.840.10008.1.2.1', size: bytes.length };
  const index = new IndexDb(join(data, 'index.sqlite'));
  await index.beginPending([
    { key, sopInstanceUid: s.SOPInstanceUID, record },
    // And one killed before its rename: nothing to index, nothing to say.
    { key: neverKey, sopInstanceUid: never, record: { ...record, SOPInstanceUID: never, key: neverKey } },
  ]);
  await index.close();
  const server = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout.setEncoding('utf8').on('data', (d: string) => {
        log += d;
        const m = /listening for DICOM over TLS on 127\.0\.0\.1:(\d+)/.exec(log);
        if (m !== null) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${log}`)));
    });
    const lines = log.split('\n').filter((l) => l.includes('after an interrupted run'));
    assert.equal(lines.length, 1, log);
    assert.match(lines[0]!, /after an interrupted run: 1\.2\.826\.0\.1\.3680043\.9\.5151\.1\.1\.1 indexed \(its file was complete; the sender was never answered\)/);
    // Over TLS with the development PKI serve made (the plain port lets anonymous peers only echo and store).
    const pki = (f: string): string => join(data, 'pki', f);
    const found = await runCli(['find', `127.0.0.1:${port}`, '--ca', pki('ca.pem'), '--cert', pki('client.pem'), '--key', pki('client-key.pem'), '--call', 'DICOM-TLS', '--level', 'IMAGE', '-k', `StudyInstanceUID=${s.StudyInstanceUID}`, '-k', `SeriesInstanceUID=${s.SeriesInstanceUID}`, '-k', 'SOPInstanceUID', '--json']);
    assert.equal(found.code, 0, found.stderr);
    assert.match(found.stdout, /1\.2\.826\.0\.1\.3680043\.9\.5151\.1\.1\.1/);
    assert.doesNotMatch(found.stdout, /5151\.1\.1\.2/);
  } finally {
    server.kill('SIGKILL');
    tmp.cleanup();
  }
});
