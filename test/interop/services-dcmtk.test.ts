/**
 * Services interop with DCMTK 3.6.7: storescu (plain and TLS with mutual authentication),
 * findscu (plain and TLS), movescu and getscu (plain: 3.6.7 has no TLS for them) → our
 * StorageServer; our client → storescp (plain and TLS, bit-preserving, hashes compared) and →
 * dcmqrscp (store, find at each level, move to our server, get).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { FileStore } from '../../src/store/file-store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { freePort, hasDcmtk, run, startListening } from '../helpers/dcmtk.js';
import { waitListening } from '../helpers/free-port.js';
import { dcmdump, dumpValue, tempDir } from '../helpers/dicom-data.js';
import { scenarioPki } from '../helpers/pki.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const skip = ['storescu', 'findscu', 'movescu', 'getscu', 'storescp', 'dcmqrscp'].every((t) => hasDcmtk(t)) ? false : 'DCMTK tools missing';
const quick = { connect: 5000, association: 5000, dimse: 20000 };
const qrContexts = Object.values(QueryRetrieveSopClass)
  .filter((u) => u !== QueryRetrieveSopClass.ModalityWorklistInformationModelFind)
  .map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] }));

let dir: string;
let remove: () => Promise<void>;
const files: { path: string; hash: string; uid: string }[] = [];

before(async () => {
  ({ dir, remove } = await tempDir('services-dcmtk'));
  await mkdir(join(dir, 'in'));
  for (let n = 1; n <= 4; n++) {
    const s = spec(n);
    files.push({ ...(await writeInstance(join(dir, 'in'), s, { pixels: 3000 + n })), uid: s.SOPInstanceUID });
  }
});
after(async () => {
  await remove();
});

function serverTls(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] });
}
function clientTls(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] });
}
function dcmtkTls(): string[] {
  const pki = scenarioPki();
  return ['+tls', pki.valid.key, pki.valid.cert, '+cf', pki.root.cert];
}

async function withServer(name: string, tls: boolean, fn: (server: StorageServer, port: number) => Promise<void>, extra: Partial<Parameters<typeof StorageServer.create>[0]> = {}): Promise<void> {
  const server = await StorageServer.create({ aeTitle: 'OUR-SCP', storeRoot: join(dir, name), fsync: 'none', ...(tls ? { tls: serverTls() } : {}), ...extra });
  const { port } = await server.listen(0);
  try {
    await fn(server, port);
  } finally {
    await server.close({ timeout: 1000 });
  }
}

for (const tls of [false, true]) {
  test(`storescu${tls ? ' +tls (mutual)' : ''} → our server: every file stored, data sets byte-identical; findscu finds them`, { skip }, async () => {
    await withServer(`from-storescu-${tls}`, tls, async (server, port) => {
      const r = await run('storescu', [...(tls ? dcmtkTls() : []), '-aec', 'OUR-SCP', '-aet', 'STORESCU', '127.0.0.1', String(port), ...files.map((f) => f.path)]);
      assert.equal(r.code, 0, r.output);
      for (const f of files) assert.equal(await datasetHash((await server.storedInstance(f.uid))!.path), f.hash);
      const out = join(dir, `find-out-${tls}`);
      await mkdir(out);
      const q = await run('findscu', [...(tls ? dcmtkTls() : []), '-S', '-aec', 'OUR-SCP', '-X', '-od', out, '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientName=TEST*', '127.0.0.1', String(port)]);
      assert.equal(q.code, 0, q.output);
      const found: string[] = [];
      for (const f of await readdir(out)) found.push(dumpValue(await dcmdump(join(out, f)), '0020,000d') ?? '');
      assert.deepEqual(found.sort(), [...new Set(files.map((f) => f.uid.split('.').slice(0, -2).join('.')))].sort());
    });
  });
}

test('movescu → our server → our second server (the move destination); getscu → our server', { skip }, async () => {
  await withServer(
    'dest',
    false,
    async (dest, destPort) => {
    await withServer(
      'qr',
      false,
      async (server, port) => {
        const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'LOADER', calledAeTitle: 'OUR-SCP', presentationContexts: await storageContextsFor([join(dir, 'in')]), timeouts: quick });
        assert.ok((await client.store([join(dir, 'in')])).every((r) => r.status === 0));
        await client.release();
        const study = '1.2.826.0.1.3680043.9.7777.1';
        const m = await run('movescu', ['-S', '-aec', 'OUR-SCP', '-aem', 'DEST', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, '127.0.0.1', String(port)]);
        assert.equal(m.code, 0, m.output);
        const moved = files.filter((f) => f.uid.startsWith(`${study}.`));
        assert.ok(moved.length > 0);
        for (const f of moved) assert.equal(await datasetHash((await dest.storedInstance(f.uid))!.path), f.hash);
        const out = join(dir, 'getscu-out');
        await mkdir(out);
        const g = await run('getscu', ['-S', '-aec', 'OUR-SCP', '-od', out, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, '127.0.0.1', String(port)]);
        assert.equal(g.code, 0, g.output);
        const got = await readdir(out);
        assert.equal(got.length, moved.length, g.output);
        for (const name of got) {
          const uid = dumpValue(await dcmdump(join(out, name)), '0008,0018');
          const f = moved.find((x) => x.uid === uid);
          assert.ok(f, `${uid} was not asked for`);
          assert.equal(await datasetHash(join(out, name)), f.hash);
        }
      },
      { destinations: { DEST: { host: '127.0.0.1', port: destPort } } },
    );
    },
    { aeTitle: 'DEST' },
  );
});

for (const tls of [false, true]) {
  test(`our client → storescp${tls ? ' +tls (mutual)' : ''} --bit-preserving: files byte-identical`, { skip }, async () => {
    const out = join(dir, `storescp-${tls}`);
    await mkdir(out);
    const scp = await startListening('storescp', [...(tls ? dcmtkTls() : []), '+B', '-od', out]);
    try {
      const client = await DicomClient.associate({ host: '127.0.0.1', port: scp.port, ...(tls ? { tls: clientTls() } : {}), callingAeTitle: 'OUR-SCU', calledAeTitle: 'STORESCP', presentationContexts: await storageContextsFor([join(dir, 'in')]), timeouts: quick });
      const results = await client.store([join(dir, 'in')]);
      assert.deepEqual(results.map((r) => r.status), files.map(() => 0));
      await client.release();
      const written = await readdir(out);
      assert.equal(written.length, files.length, scp.output());
      for (const name of written) {
        const uid = dumpValue(await dcmdump(join(out, name)), '0008,0018');
        assert.equal(await datasetHash(join(out, name)), files.find((f) => f.uid === uid)?.hash);
      }
    } finally {
      await scp.stop();
    }
  });
}

test('our client → dcmqrscp: store, C-FIND at each level, C-MOVE to our server, C-GET back', { skip }, async () => {
  const db = join(dir, 'qrdb');
  await mkdir(db);
  await withServer('from-dcmqrscp', false, async (dest, destPort) => {
    const port = await freePort();
    const config = [
      `NetworkTCPPort = ${port}`,
      'MaxPDUSize = 16384',
      'MaxAssociations = 4',
      'HostTable BEGIN',
      `ourscp = (OUR-SCP, 127.0.0.1, ${destPort})`,
      'HostTable END',
      'VendorTable BEGIN',
      'VendorTable END',
      'AETable BEGIN',
      `QRSCP ${db} RW (100, 1024mb) ANY`,
      'AETable END',
    ].join('\n');
    await writeFile(join(dir, 'qr.cfg'), `${config}\n`);
    let client: DicomClient | undefined;
    const scp: ChildProcess = spawn('dcmqrscp', ['-c', join(dir, 'qr.cfg'), String(port)], { stdio: 'ignore' });
    try {
      await waitListening(port, scp);
      const sources = [join(dir, 'in')];
      const { presentationContexts, roles } = getContexts({ scuRole: true, maxContexts: 100 });
      const c = await DicomClient.associate({
        host: '127.0.0.1',
        port,
        callingAeTitle: 'OUR-SCU',
        calledAeTitle: 'QRSCP',
        presentationContexts: [...(await storageContextsFor(sources)), ...qrContexts, ...presentationContexts.filter((c) => !c.abstractSyntax.startsWith('1.2.840.10008.5.1.4.1.2.'))],
        roles,
        timeouts: quick,
      });
      client = c;
      const stored = await c.store(sources);
      assert.ok(stored.every((r) => r.status === 0), JSON.stringify(stored.map((r) => [r.status, r.errorComment])));
      const collect = async (model: 'PATIENT_ROOT' | 'STUDY_ROOT', id: Record<string, unknown>, key: string): Promise<string[]> => {
        const out: string[] = [];
        for await (const m of c.find(model, { [key]: '', ...id })) out.push(String(m[key]));
        return out.sort();
      };
      assert.deepEqual(await collect('PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientName: 'TEST*' }, 'PatientID'), ['PID0', 'PID1', 'PID2']);
      assert.deepEqual(await collect('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyDate: '20200102-' }, 'StudyInstanceUID'), ['1.2.826.0.1.3680043.9.7777.1', '1.2.826.0.1.3680043.9.7777.2']);
      assert.deepEqual(await collect('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, 'SeriesInstanceUID'), ['1.2.826.0.1.3680043.9.7777.1.1']);
      assert.deepEqual(
        await collect('PATIENT_ROOT', { QueryRetrieveLevel: 'IMAGE', PatientID: 'PID1', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1' }, 'SOPInstanceUID'),
        files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.1.1.')).map((f) => f.uid).sort(),
      );
      const moved = await c.move('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, 'OUR-SCP');
      assert.equal(moved.outcome, 'Success');
      const expected = files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.1.'));
      assert.equal(moved.completed, expected.length);
      for (const f of expected) assert.ok((await dest.storedInstance(f.uid)), f.uid);
      const local = await FileStore.open({ root: join(dir, 'got-from-dcmqrscp'), fsync: 'none' });
      const got: string[] = [];
      const r = await c.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.2' }, { store: local, onStored: (i) => got.push(i.sopInstanceUid) });
      assert.equal(r.outcome, 'Success');
      assert.deepEqual(got.sort(), files.filter((f) => f.uid.startsWith('1.2.826.0.1.3680043.9.7777.2.')).map((f) => f.uid).sort());
      await c.release();
    } finally {
      if (client !== undefined && !client.association.isClosed) await client.abort();
      scp.kill('SIGTERM');
      await new Promise((r) => (scp.exitCode !== null ? r(undefined) : scp.once('exit', r)));
    }
  });
});

