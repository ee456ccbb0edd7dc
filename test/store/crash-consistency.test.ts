/**
 * Crash consistency of the storing server: a real server process (test/helpers/storage-server-
 * child.ts, with the default flushes: fsync of each file, of the index at each commit) is
 * killed with SIGKILL during stores, again and again, and restarted on the same
 * store. After every restart: each instance acknowledged with 0000 is there, byte for byte; the
 * index and the files agree (no file without its row, no row without its file, no temporary
 * file, no pending entry); and at the end every instance is storable (Success). When the kill
 * lands is random; what is asserted holds wherever it lands. With the pending entries taken out
 * of the commit protocol, runs of this test failed ("files and index rows differ") in about a
 * third to a half of the runs tried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { IndexDb } from '../../src/store/index-db.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { ctImageStorage, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

const CYCLES = 15;
/** New instances per cycle, sent with those not yet acknowledged and some already acknowledged. */
const PER_CYCLE = 16;
/** Associations storing at once: a busy server stretches every step a kill can land in. */
const LANES = 4;

interface Instance {
  readonly uid: string;
  readonly n: number;
}

/** The data set of an instance, made again when needed (the test keeps no hundreds of MB). */
function datasetOf(i: Instance): Buffer {
  // Mostly small (written whole at the end), every fourth over 1 MiB (written while it arrives).
  const pixels = i.n % 4 === 0 ? 1_100_000 + i.n : 2_000 + i.n * 997;
  return encodeDataset([
    ...specElements({ PatientID: 'CRASH', StudyInstanceUID: '1.2.826.0.1.3680043.9.4242.1', SeriesInstanceUID: `1.2.826.0.1.3680043.9.4242.1.${i.n % 3}`, SOPInstanceUID: i.uid, SOPClassUID: ctImageStorage }),
    [0x7fe00010, 'OW', new Uint8Array(pixels).map((_, k) => (k * 31 + i.n) & 0xff)],
  ]);
}

function instances(cycle: number): Instance[] {
  return Array.from({ length: PER_CYCLE }, (_, k) => ({ uid: `1.2.826.0.1.3680043.9.4242.1.${cycle}.${k + 1}`, n: k + 1 }));
}

interface Server {
  readonly port: number;
  readonly reconciled: string[];
  kill(): Promise<void>;
}

async function startServer(storeRoot: string): Promise<Server> {
  const script = new URL('../helpers/storage-server-child.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [script, JSON.stringify({ storeRoot, aeTitle: 'CRASH', maxPduLength: 65536, fsync: 'file' })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const reconciled: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { port?: number; reconciled?: string; action?: string };
      if (typeof m.port === 'number') resolve(m.port);
      if (m.reconciled !== undefined) reconciled.push(`${m.action} ${m.reconciled}`);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return {
    port,
    reconciled,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The data set bytes of a stored file (after its File Meta Information). */
async function storedDataset(path: string): Promise<Buffer> {
  const header = await readPart10Header(path);
  return (await readFile(path)).subarray(header.datasetOffset);
}

/** Files and index rows agree: every .dcm has its row and every row its file; nothing half-done is left. */
async function assertAgreement(root: string, cycle: number): Promise<Map<string, string>> {
  const names = (await readdir(root, { recursive: true })).map(String);
  const files = names.filter((f) => f.endsWith('.dcm')).map((f) => join(root, f)).sort();
  assert.deepEqual(names.filter((f) => f.includes('.partial-')), [], `cycle ${cycle}: temporary files left`);
  const index = new IndexDb(join(root, '.index.sqlite'), { readonly: true });
  try {
    const rows = (index.connection.prepare('SELECT sop_uid AS uid, storage_key AS key FROM instance').all() as { uid: string; key: string }[]).map((r) => ({ uid: r.uid, path: join(root, ...r.key.split('/')) }));
    const pending = index.connection.prepare('SELECT count(*) AS n FROM pending').get() as { n: number };
    assert.equal(Number(pending.n), 0, `cycle ${cycle}: pending entries left after start-up`);
    assert.deepEqual(rows.map((r) => r.path).sort(), files, `cycle ${cycle}: files and index rows differ`);
    return new Map(rows.map((r) => [r.uid, r.path]));
  } finally {
    index.close();
  }
}

test(`kill -9 during stores, ${CYCLES} times: every acknowledged instance intact, every other storable, index and files agree`, { timeout: 600_000 }, async () => {
  const { dir, remove } = await tempDir('crash');
  const all: Instance[] = [];
  const byUid = new Map<string, Instance>();
  const acknowledged = new Set<string>();
  const reconciledTotal: string[] = [];
  let current: Server | undefined;
  try {
    const root = join(dir, 'store');
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const server = (current = await startServer(root));
      reconciledTotal.push(...server.reconciled);
      const indexed = await assertAgreement(root, cycle);
      for (const uid of acknowledged) {
        const path = indexed.get(uid);
        assert.ok(path !== undefined, `cycle ${cycle}: acknowledged ${uid} is gone`);
        assert.ok((await storedDataset(path)).equals(datasetOf(byUid.get(uid)!)), `cycle ${cycle}: acknowledged ${uid} differs`);
      }
      // Send this cycle's new instances, everything not yet acknowledged and a few acknowledged
      // ones again (keep-first: Success), in a random order over LANES associations at once,
      // and kill the server after a random number of answers (and a random few milliseconds
      // more): mid-write, mid-rename, mid-commit, between instances, wherever it lands.
      for (const i of instances(cycle)) {
        all.push(i);
        byUid.set(i.uid, i);
      }
      const todo = all.filter((i) => !acknowledged.has(i.uid) || randomInt(10) === 0).sort(() => randomInt(3) - 1);
      const killAfter = randomInt(Math.max(1, todo.length));
      let answered = 0;
      let killing: Promise<void> | undefined;
      const kill = (): void => {
        killing ??= new Promise<void>((resolve) => setTimeout(resolve, randomInt(4))).then(() => server.kill());
      };
      if (killAfter === 0) kill();
      const lane = async (): Promise<void> => {
        let client: DicomClient;
        try {
          client = await DicomClient.associate({
            host: '127.0.0.1', port: server.port, callingAeTitle: 'SCU', calledAeTitle: 'CRASH',
            presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
            timeouts: { connect: 10_000, association: 10_000, dimse: 60_000 },
          });
        } catch {
          return; // killed before this lane got in
        }
        for (let instance = todo.shift(); instance !== undefined; instance = todo.shift()) {
          let status: number;
          try {
            const r = await client.association.request(
              { type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: instance.uid, priority: 0 },
              { dataset: datasetOf(instance) },
            ).response;
            status = r.command.status;
          } catch {
            break; // the server is gone
          }
          assert.equal(status, 0, `cycle ${cycle}: ${instance.uid} answered 0x${status.toString(16)}`);
          acknowledged.add(instance.uid);
          if (++answered === killAfter) kill();
        }
        await client.association.abort().catch(() => undefined);
      };
      await Promise.all(Array.from({ length: LANES }, lane));
      kill();
      await killing;
    }
    // The last start: every instance, acknowledged or not, is stored with Success, and once.
    const server = (current = await startServer(root));
    reconciledTotal.push(...server.reconciled);
    await assertAgreement(root, CYCLES + 1);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: server.port, callingAeTitle: 'SCU', calledAeTitle: 'CRASH',
      presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
    });
    for (const instance of all) {
      const r = await client.association.request(
        { type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: instance.uid, priority: 0 },
        { dataset: datasetOf(instance) },
      ).response;
      assert.equal(r.command.status, 0, `${instance.uid} is not storable after the crashes`);
    }
    await client.release();
    await server.kill();
    // Killed once more: the last entry ended without a commit of its own (it goes with the next
    // write) may be left, its copy in place and its row naming it; the next start clears it.
    const last = (current = await startServer(root));
    const indexed = await assertAgreement(root, CYCLES + 2);
    await last.kill();
    assert.equal(indexed.size, all.length);
    for (const instance of all) assert.ok((await storedDataset(indexed.get(instance.uid)!)).equals(datasetOf(instance)), `${instance.uid} differs`);
    // Not asserted (it depends on where the kills landed); shown so a run can be read.
    console.log(`# crash consistency: ${acknowledged.size} acknowledged before the last start; settled at start-up: ${reconciledTotal.length ? reconciledTotal.join(', ') : 'nothing'}`);
  } finally {
    // A failed assertion must not leave a server process behind (the run would never end).
    await current?.kill();
    await remove();
  }
});
