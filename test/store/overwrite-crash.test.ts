/**
 * An instance stored and acknowledged, then stored again under duplicates 'overwrite' by a process
 * killed with SIGKILL at each point of the commit (test/helpers/overwrite-crash-child.ts): after
 * the pending entries, half-way through the upload (S3: held by a relay, on s3rver, which writes
 * objects in place as some S3 stand-ins do), once the new copy is placed, once its row is written,
 * once the old copy is removed. On a directory store and on S3, with the embedded index and with
 * PostgreSQL (a cluster's shared index). Whatever the point, until the new row is in the old copy
 * is whole under its key; after the next start (reconcile) or a `store check`, the instance is
 * there and readable, the old version or the new one, its row naming a whole copy with the index's
 * attributes of that version, one copy of it in the store, nothing pending, and a further
 * `store check` finds nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodePart10Header } from '../../src/dataset/part10.js';
import { readAll, type BlobStore } from '../../src/store/blob/blob-store.js';
import { LocalBlobStore } from '../../src/store/blob/local.js';
import { S3BlobStore } from '../../src/store/blob/s3.js';
import { checkStore, type StoreCheckFinding } from '../../src/store/check.js';
import { FileStore } from '../../src/store/file-store.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { PostgresIndex } from '../../src/store/postgres-index.js';
import { SqliteIndex } from '../../src/store/sqlite-index.js';
import { ctImageStorage, encodeDataset, specElements, tempDir, type InstanceSpec } from '../helpers/dicom-data.js';
import type { CrashPoint } from '../helpers/overwrite-crash-child.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startS3Server, type S3Server } from '../helpers/s3.js';
import { startTcpTap, type TcpTap } from '../helpers/tcp-tap.js';

const STUDY = '1.2.826.0.1.3680043.9.7301';
const SERIES = `${STUDY}.1`;
const UID = `${SERIES}.1`;
const explicitLE = '1.2.840.10008.1.2.1';
/** Over 1 MiB (spooled to a file while it arrives), under S3's part size (one PutObject). */
const PIXELS = 1_500_000;

/** The two versions: the same size, another patient name and other pixels. */
function version(name: 'DOE^OLD' | 'DOE^NEW'): Buffer {
  const s: InstanceSpec = { PatientName: name, PatientID: 'CRASH', StudyInstanceUID: STUDY, SeriesInstanceUID: SERIES, SOPInstanceUID: UID, SOPClassUID: ctImageStorage, Modality: 'CT', InstanceNumber: '1' };
  const fill = name === 'DOE^OLD' ? 3 : 5;
  return encodeDataset([...specElements(s), [0x7fe00010, 'OW', new Uint8Array(PIXELS).map((_, k) => (k * fill + 1) & 0xff)]]);
}
const v1 = version('DOE^OLD');
const v2 = version('DOE^NEW');
const meta = { sopClassUid: ctImageStorage, sopInstanceUid: UID, transferSyntaxUid: explicitLE, callingAeTitle: 'SCU', calledAeTitle: 'SCP' };
async function* chunks(b: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < b.length; at += 64 * 1024) yield b.subarray(at, at + 64 * 1024);
}

const points: Record<'files' | 's3', readonly CrashPoint[]> = {
  files: ['pending', 'placed', 'indexed', 'removed'],
  s3: ['pending', 'put', 'placed', 'indexed', 'removed'],
};

let s3: S3Server;
let tap: TcpTap;
let dir: string;
let remove: () => Promise<void>;
let cases = 0;
before(async () => {
  s3 = await startS3Server(['dicom']);
  tap = await startTcpTap(s3.port);
  ({ dir, remove } = await tempDir('overwrite-crash'));
});
after(async () => {
  await tap?.close();
  await s3?.close();
  await remove?.();
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`overwrite killed at each point, ${backend} index`, { skip: backend === 'postgres' ? postgresSkip() : false }, () => {
    let pg: PostgresServer | undefined;
    before(async () => {
      if (backend === 'postgres') pg = await startPostgres();
    });
    after(async () => {
      await pg?.stop();
    });

    for (const mode of ['files', 's3'] as const) {
      for (const point of points[mode]) {
        for (const settle of ['reconcile', 'check'] as const) {
          test(`${mode === 's3' ? 'S3 (writes in place)' : 'directory'}: killed at '${point}', settled by ${settle === 'check' ? 'store check' : 'the next start'}: the instance whole, one version, the store consistent`, { timeout: 120_000 }, async () => {
            const n = ++cases;
            const base = join(dir, `case-${n}`);
            const root = join(base, mode === 's3' ? 'spool' : 'files');
            const prefix = `case-${n}`;
            await mkdir(base, { recursive: true });
            const sqlite = join(base, 'index.sqlite');
            const postgres = pg === undefined ? undefined : await pg.createDatabase();
            const openIndex = async (): Promise<InstanceIndex> => (postgres === undefined ? new SqliteIndex(sqlite) : PostgresIndex.open({ url: postgres, maxConnections: 2 }));
            const openBlobs = async (): Promise<BlobStore> => (mode === 's3' ? S3BlobStore.open({ ...s3.options('dicom', prefix), maxAttempts: 1 }) : LocalBlobStore.at({ root }));

            // The acknowledged instance.
            let index = await openIndex();
            let blobs = await openBlobs();
            const first = await FileStore.open({ root, index, duplicates: 'overwrite', ...(mode === 's3' ? { blobs } : {}) });
            const acknowledged = await first.store(meta, chunks(v1));
            const oldObject = await readAll(await blobs.get(acknowledged.key));
            await blobs.close();
            await index.close();

            // The overwrite, killed.
            const datasetPath = join(base, 'v2.bin');
            await writeFile(datasetPath, v2);
            const config = { root, crashAt: point, datasetPath, meta, ...(postgres === undefined ? { sqlite } : { postgres }), ...(mode === 's3' ? { s3: { bucket: 'dicom', prefix, endpoint: tap.endpoint } } : {}) };
            const script = new URL('../helpers/overwrite-crash-child.js', import.meta.url).pathname;
            const child = spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
            const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
            const lines = createInterface({ input: child.stdout });
            if (point === 'put') {
              await new Promise<void>((resolve) => lines.on('line', (l) => (l.includes('placing') ? resolve() : undefined)));
              // 64 KiB of the PutObject reach s3rver, which has started writing the object; then kill.
              tap.holdRequestAfter(64 * 1024);
              child.stdin.write('go\n');
              await tap.holding();
              const direct = await openBlobs();
              for (let partial = false; !partial; ) {
                for await (const o of direct.list('')) if (o.size > 0 && o.size < oldObject.length) partial = true;
              }
              await direct.close();
              child.kill('SIGKILL');
            }
            const [, signal] = await exited;
            tap.release();
            assert.equal(signal, 'SIGKILL', `the crash point '${point}' was never reached`);

            index = await openIndex();
            blobs = await openBlobs();
            try {
              // Until the new row is in, the acknowledged copy is whole where its row says.
              if (point === 'pending' || point === 'put' || point === 'placed') {
                assert.equal((await index.findInstance(UID))?.key, acknowledged.key);
                assert.ok((await readAll(await blobs.get(acknowledged.key))).equals(oldObject), 'the acknowledged copy was damaged');
              }
              let findings: readonly StoreCheckFinding[];
              if (settle === 'reconcile') {
                await FileStore.open({ root, index, duplicates: 'overwrite', ...(mode === 's3' ? { blobs } : {}) });
                findings = (await checkStore({ index, blobs, graceSeconds: 0 })).findings;
                // Left for store check: only the temporary file of the killed store, where a shared
                // index leaves temporary files to their grace period at start-up.
                assert.deepEqual(findings.filter((f) => f.kind !== 'incomplete'), [], JSON.stringify(findings));
              } else {
                await checkStore({ index, blobs, graceSeconds: 0 });
              }
              findings = (await checkStore({ index, blobs, graceSeconds: 0 })).findings;
              assert.deepEqual(findings, [], 'store check after the settling finds nothing');
              assert.deepEqual(await index.pendingEntries(), []);

              const row = await index.findInstance(UID);
              assert.ok(row !== undefined, 'the instance is no longer indexed');
              const object = await readAll(await blobs.get(row.key));
              assert.equal(object.length, row.size);
              const data = object.subarray(decodePart10Header(object, { final: true }).datasetOffset);
              const which = data.equals(v1) ? 'DOE^OLD' : data.equals(v2) ? 'DOE^NEW' : 'neither';
              assert.notEqual(which, 'neither', 'the stored copy is neither version');
              if (point === 'indexed' || point === 'removed') assert.equal(which, 'DOE^NEW');
              // The row's attributes are those of the copy it names.
              const studies = [];
              for await (const m of index.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: STUDY, PatientName: '' })) studies.push(m['PatientName']);
              assert.deepEqual(studies, [[{ Alphabetic: which }]]);
              // One copy of the instance in the store.
              const held = [];
              for await (const o of blobs.list(`${STUDY}/`)) held.push(o.key);
              assert.deepEqual(held, [row.key]);
              // Readable as a retrieve reads it.
              const reader = await FileStore.open({ root, index, ...(mode === 's3' ? { blobs } : {}) });
              assert.ok((await readAll((await reader.openDataset(row.key, row.size)).dataset)).equals(data));
            } finally {
              await blobs.close();
              await index.close();
            }
          });
        }
      }
    }
  });
}
