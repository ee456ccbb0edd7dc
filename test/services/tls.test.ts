/**
 * Our client ↔ our StorageServer over DICOM TLS with mutual authentication and an AE title bound
 * to the client certificate: store, find, move (to a TLS destination), get, commitment; a calling
 * AE title that the certificate does not hold is rejected with the standard's reason, and the
 * server's event says why.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import type { AssociationRejection } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { FileStore } from '../../src/store/file-store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { NormalizedSopClass, QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { tempDir } from '../helpers/dicom-data.js';
import { scenarioPki } from '../helpers/pki.js';
import { datasetHash, spec, writeInstance } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
let dir: string;
let remove: () => Promise<void>;
let server: StorageServer;
let dest: StorageServer;
let port: number;
const files: { path: string; hash: string; uid: string }[] = [];

function serverTls(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
}
function clientTls(identity = scenarioPki().clientA): SecureContext {
  return new SecureContext({ role: 'client', identity: { cert: identity.cert, key: identity.key }, ca: [scenarioPki().root.cert] });
}

before(async () => {
  ({ dir, remove } = await tempDir('services-tls'));
  await mkdir(join(dir, 'in'));
  for (let n = 1; n <= 3; n++) files.push({ ...(await writeInstance(join(dir, 'in'), spec(n))), uid: spec(n).SOPInstanceUID });
  const pki = scenarioPki();
  const clientFingerprint = new X509Certificate(await readFile(pki.clientA.cert)).fingerprint256;
  dest = await StorageServer.create({ aeTitle: 'TLS-DEST', storeRoot: join(dir, 'dest'), fsync: 'none', tls: serverTls() });
  const { port: destPort } = await dest.listen(0);
  server = await StorageServer.create({
    aeTitle: 'TLS-SCP',
    storeRoot: join(dir, 'store'),
    fsync: 'none',
    tls: serverTls(),
    certificateBindings: [{ aeTitle: 'HOSPITAL-A', certificates: [{ sha256Fingerprint: clientFingerprint }] }],
    requireCertificateBinding: true,
    // The move destination is reached over TLS too, with the server's certificate as client identity.
    destinations: { 'TLS-DEST': { host: '127.0.0.1', port: destPort, tls: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } },
  });
  ({ port } = await server.listen(0));
});

after(async () => {
  await server.close({ timeout: 1000 });
  await dest.close({ timeout: 1000 });
  await remove();
});

test('over TLS (mutual, AE title bound to the certificate): store, find, move to a TLS destination, get, commitment', async () => {
  const { presentationContexts, roles } = getContexts({ scuRole: true, maxContexts: 100 });
  const client = await DicomClient.associate({
    host: '127.0.0.1',
    port,
    tls: clientTls(),
    callingAeTitle: 'HOSPITAL-A',
    calledAeTitle: 'TLS-SCP',
    presentationContexts: [
      ...(await storageContextsFor([join(dir, 'in')])),
      ...[QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, NormalizedSopClass.StorageCommitmentPushModel].map((abstractSyntax) => ({
        abstractSyntax,
        transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian],
      })),
      ...presentationContexts.filter((c) => c.abstractSyntax !== '1.2.840.10008.5.1.4.1.1.2'),
    ],
    roles,
    timeouts: quick,
  });
  assert.match(client.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  const stored = await client.store([join(dir, 'in')]);
  assert.deepEqual(stored.map((r) => r.status), [0, 0, 0]);
  for (const f of files) assert.equal(await datasetHash((await server.storedInstance(f.uid))!.path), f.hash);
  const studies: unknown[] = [];
  for await (const m of client.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' })) studies.push(m['StudyInstanceUID']);
  assert.equal(studies.length, 3);
  const moved = await client.move('STUDY_ROOT', { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1', SOPInstanceUID: files[0]!.uid }, 'TLS-DEST');
  assert.equal(moved.completed, 1);
  assert.equal(await datasetHash((await dest.storedInstance(files[0]!.uid))!.path), files[0]!.hash);
  const local = await FileStore.open({ root: join(dir, 'got'), fsync: 'none' });
  const got = await client.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.2' }, { store: local });
  assert.equal(got.completed, 1);
  const report = await client.commit(files.map((f) => ({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: f.uid })), { timeout: 10_000 });
  assert.equal(report.committed.length, 3);
  await client.release();
});

test('a calling AE title the client certificate is not bound to: rejected 1/1/3 and the server says why', async () => {
  const rejected = new Promise<AssociationRejection>((resolve) => server.server.once('rejected', resolve));
  await assert.rejects(
    DicomClient.associate({ host: '127.0.0.1', port, tls: clientTls(), callingAeTitle: 'HOSPITAL-B', calledAeTitle: 'TLS-SCP', presentationContexts: await storageContextsFor([files[0]!.path]), timeouts: quick }),
    (e: unknown) => e instanceof AssociationRejectedError && e.result === 1 && e.source === 1 && e.reason === 3,
  );
  const r = await rejected;
  assert.equal(r.callingAeTitle, 'HOSPITAL-B');
  assert.match(r.why, /certificate|binding|bound/i);
});

test('a resumed TLS session still carries the client certificate: the binding holds, and a wrong title is still refused', async () => {
  const tls = clientTls();
  const base = { host: '127.0.0.1', port, tls, calledAeTitle: 'TLS-SCP', timeouts: quick };
  try {
    const first = await DicomClient.associate({ ...base, callingAeTitle: 'HOSPITAL-A' });
    assert.equal(first.tls?.resumed, false);
    await first.echo();
    await first.release();
    const accepted = new Promise<Association>((resolve) => server.server.once('association', resolve));
    const again = await DicomClient.associate({ ...base, callingAeTitle: 'HOSPITAL-A' });
    assert.equal(again.tls?.resumed, true, 'the second association resumed the session');
    const seen = (await accepted).tls;
    assert.equal(seen?.resumed, true);
    assert.match(seen?.peerCertificate?.subject ?? '', /CN=Client A/);
    await again.echo();
    await again.release();
    await assert.rejects(
      DicomClient.associate({ ...base, callingAeTitle: 'HOSPITAL-B' }),
      (e: unknown) => e instanceof AssociationRejectedError && e.reason === 3,
    );
  } finally {
    tls.dispose();
  }
});
