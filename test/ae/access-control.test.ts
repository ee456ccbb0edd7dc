/**
 * Access control (issue 15, item 10): what a peer may do is decided per association from its AE
 * title, its verified certificate and its user identity; refused contexts are rejected at
 * negotiation (what DCMTK reports as "No Acceptable Presentation Contexts" / "No presentation
 * context for"), a peer with no permission is rejected 1/1/3, and a request sent on a context
 * accepted for something else is answered 0124H Refused: Not Authorized.
 * Real peers: DCMTK's echoscu, storescu, findscu, getscu and our own client.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { accessRules, permissionForContext, type AccessRule } from '../../src/acse/access-control.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { QueryRetrieveSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { Status } from '../../src/dictionary/status.js';
import { hasDcmtk, run } from '../helpers/dcmtk.js';
import { ctImageStorage, encodeDataset, tempDir } from '../helpers/dicom-data.js';
import { scenarioPki } from '../helpers/pki.js';
import { spec, writeInstance } from '../helpers/services.js';

const skip = ['echoscu', 'storescu', 'findscu', 'getscu'].every((t) => hasDcmtk(t)) ? false : 'DCMTK tools missing';
const quick = { connect: 5000, association: 5000, dimse: 10000 };
const pki = scenarioPki();
const PATIENT_FIND = QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind;
const LE = [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian];

let dir: string;
let remove: () => Promise<void>;
let file: { path: string; uid: string };
let second: { path: string; uid: string };

before(async () => {
  ({ dir, remove } = await tempDir('access-control'));
  await mkdir(join(dir, 'in'));
  const s = spec(1);
  file = { ...(await writeInstance(join(dir, 'in'), s)), uid: s.SOPInstanceUID };
  await mkdir(join(dir, 'in2'));
  const s2 = spec(2);
  second = { ...(await writeInstance(join(dir, 'in2'), s2)), uid: s2.SOPInstanceUID };
});
after(async () => {
  await remove();
});

let n = 0;
async function withServer(access: readonly AccessRule[] | undefined, fn: (server: StorageServer, port: number) => Promise<void>, tls = false): Promise<void> {
  const server = await StorageServer.create({
    aeTitle: 'OUR-SCP', storeRoot: join(dir, `store-${++n}`), fsync: 'none', ...(access === undefined ? {} : { access }),
    ...(tls ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
  });
  const { port } = await server.listen(0);
  try {
    await fn(server, port);
  } finally {
    await server.close({ timeout: 1000 });
  }
}
const dcmtkTls = (): string[] => ['+tls', pki.valid.key, pki.valid.cert, '+cf', pki.root.cert];

test('permissions of presentation contexts follow the table in access-control.ts', () => {
  assert.equal(permissionForContext(VerificationSopClass, 'scu'), 'echo');
  assert.equal(permissionForContext(PATIENT_FIND, 'scu'), 'query');
  assert.equal(permissionForContext(QueryRetrieveSopClass.ModalityWorklistInformationModelFind, 'scu'), 'query');
  assert.equal(permissionForContext(QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet, 'scu'), 'retrieve');
  assert.equal(permissionForContext(QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelMove, 'scu'), 'retrieve');
  assert.equal(permissionForContext(ctImageStorage, 'scu'), 'store');
  assert.equal(permissionForContext(ctImageStorage, 'scp'), 'retrieve');
  assert.equal(permissionForContext('1.2.840.10008.1.20.1', 'scu'), 'store');
});

test('rules: first match wins, then the defaults (verified certificate: all; anyone: echo + store)', () => {
  const decide = accessRules([{ aeTitle: 'CT1', permissions: ['store'] }, { aeTitle: 'WS1', user: 'alice', permissions: ['query'] }]);
  const peer = { calledAeTitle: 'OUR-SCP' };
  assert.deepEqual(decide({ ...peer, callingAeTitle: 'CT1' }), { permissions: ['store'], rule: "access rule 0 (AE 'CT1'): store" });
  assert.deepEqual((decide({ ...peer, callingAeTitle: 'WS1' }) as { permissions: string[] }).permissions, ['echo', 'store']);
  assert.deepEqual((decide({ ...peer, callingAeTitle: 'WS1', userIdentity: { type: 'username', username: 'alice', positiveResponseRequested: false } }) as { permissions: string[] }).permissions, ['query']);
  const verified = { protocol: 'TLSv1.3', cipher: 'x', alpn: undefined, resumed: false, peerCertificateChain: [], peerCertificate: {} as X509Certificate, verifyResult: { code: 0, name: 'X509_V_OK', text: 'ok' } };
  assert.deepEqual((decide({ ...peer, callingAeTitle: 'ANY', tls: verified }) as { permissions: string[] }).permissions, ['echo', 'store', 'query', 'retrieve']);
  // A certificate that did not verify (a verify callback let it through) is not an authenticated peer.
  assert.deepEqual((decide({ ...peer, callingAeTitle: 'ANY', tls: { ...verified, verifyResult: { code: 20, name: 'x', text: 'x' } } }) as { permissions: string[] }).permissions, ['echo', 'store']);
  assert.throws(() => accessRules([{ aeTitle: 'X', permissions: ['read' as never] }]), /access\[0\]\.permissions/);
});

test('plain port, default rules: echoscu and storescu work; findscu and getscu get no context', { skip }, async () => {
  await withServer([], async (server, port) => {
    const e = await run('echoscu', ['-aec', 'OUR-SCP', '127.0.0.1', String(port)]);
    assert.equal(e.code, 0, e.output);
    const s = await run('storescu', ['-aec', 'OUR-SCP', '127.0.0.1', String(port), file.path]);
    assert.equal(s.code, 0, s.output);
    assert.ok((await server.storedInstance(file.uid)), 'stored');
    const f = await run('findscu', ['-S', '-aec', 'OUR-SCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
    assert.notEqual(f.code, 0);
    assert.match(f.output, /No Acceptable Presentation Contexts/);
    const out = join(dir, 'get-refused');
    await mkdir(out);
    const g = await run('getscu', ['-S', '-aec', 'OUR-SCP', '-od', out, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${spec(1).StudyInstanceUID}`, '127.0.0.1', String(port)]);
    assert.notEqual(g.code, 0, g.output);
    assert.deepEqual(await readdir(out), []);
  });
});

test('without access rules (the library default) the same findscu is answered: the refusal above is the rules\' doing', { skip }, async () => {
  await withServer(undefined, async (_server, port) => {
    const f = await run('findscu', ['-S', '-aec', 'OUR-SCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
    assert.equal(f.code, 0, f.output);
  });
});

test('per-AE rules: CT1 may only store; an AE with no permission is rejected 1/1/3 (DCMTK: Calling AE Title Not Recognized)', { skip }, async () => {
  await withServer([{ aeTitle: 'CT1', permissions: ['store'] }, { aeTitle: '*', permissions: [] }], async (server, port) => {
    const s = await run('storescu', ['-aet', 'CT1', '-aec', 'OUR-SCP', '127.0.0.1', String(port), file.path]);
    assert.equal(s.code, 0, s.output);
    assert.ok((await server.storedInstance(file.uid)));
    const e = await run('echoscu', ['-aet', 'CT1', '-aec', 'OUR-SCP', '127.0.0.1', String(port)]);
    assert.notEqual(e.code, 0);
    assert.match(e.output, /No Acceptable Presentation Contexts/);
    const rejections: string[] = [];
    server.server.on('rejected', (r) => rejections.push(r.why));
    const o = await run('echoscu', ['-aet', 'OTHER', '-aec', 'OUR-SCP', '127.0.0.1', String(port)]);
    assert.notEqual(o.code, 0);
    assert.match(o.output, /Association Rejected[\s\S]*Rejected Permanent, Source: Service User[\s\S]*Calling AE Title Not Recognized/);
    assert.match(rejections[0] ?? '', /'OTHER' may do nothing here/);
    // Our client gets the typed rejection with the same reason.
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'OTHER', calledAeTitle: 'OUR-SCP', presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: LE }], timeouts: quick }),
      (err: unknown) => err instanceof AssociationRejectedError && err.reason === 3 && err.source === 1,
    );
  });
});

test('TLS, rule bound to a certificate fingerprint: findscu +tls with it may query, not store; over TLS storescu is refused its context', { skip }, async () => {
  const fp = new X509Certificate(await readFile(pki.valid.cert)).fingerprint256;
  await withServer([{ aeTitle: 'READER', certificate: { sha256Fingerprint: fp }, permissions: ['echo', 'query'] }, { aeTitle: 'READER', permissions: ['echo'] }], async (server, port) => {
    const s = await run('storescu', [...dcmtkTls(), '-aet', 'STORER', '-aec', 'OUR-SCP', '127.0.0.1', String(port), file.path]);
    assert.equal(s.code, 0, `a verified certificate may store by default: ${s.output}`);
    const f = await run('findscu', [...dcmtkTls(), '-S', '-aet', 'READER', '-aec', 'OUR-SCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
    assert.equal(f.code, 0, f.output);
    const r = await run('storescu', [...dcmtkTls(), '-aet', 'READER', '-aec', 'OUR-SCP', '127.0.0.1', String(port), second.path]);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /No presentation context for|No Acceptable Presentation Contexts/);
    assert.equal((await server.storedInstance(second.uid)), undefined);
  }, true);
});

test('a request on a context accepted for something else: C-FIND on the Verification context → 0122H (not its SOP class), C-STORE on a retrieve-only context → 0124H', async () => {
  await withServer([{ aeTitle: 'READER', permissions: ['echo', 'retrieve'] }], async (server, port) => {
    const contexts = await storageContextsFor([join(dir, 'in2')]);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'READER', calledAeTitle: 'OUR-SCP', timeouts: quick,
      presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] },
        { abstractSyntax: PATIENT_FIND, transferSyntaxes: LE }, ...contexts],
      roles: [{ sopClassUid: ctImageStorage, scuRole: true, scpRole: true }],
    });
    try {
      const ctx = client.association.info.contexts;
      assert.ok(ctx.rejected.some((c) => c.abstractSyntax === PATIENT_FIND && c.result === 1), 'FIND context rejected (user-rejection)');
      const ct = ctx.all.find((c) => c.abstractSyntax === ctImageStorage);
      assert.deepEqual(ct?.roles, { requestorIsScu: false, requestorIsScp: true }, 'CT storage accepted for C-GET deliveries only');
      const verification = ctx.all.find((c) => c.abstractSyntax === VerificationSopClass)!;
      assert.equal((await client.echo()).status, Status.Success);

      const identifier = encodeDataset([[0x00080052, 'CS', 'PATIENT'], [0x00100020, 'LO', '']], { explicit: false });
      const find = client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: PATIENT_FIND, priority: 0 } as never, { presentationContextId: verification.id, dataset: identifier });
      const rsp = await find.response;
      // Refused before access control looks at it: the Verification context carries no C-FIND
      // for anyone (see context-sop-class.test.ts).
      assert.equal(rsp.command.status, Status.SopClassNotSupported);

      // Whatever the data set holds, it is dropped unread.
      const store = client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: second.uid, priority: 0 } as never,
        { presentationContextId: ct!.id, dataset: identifier });
      assert.equal((await store.response).command.status, Status.NotAuthorized);
      assert.equal((await server.storedInstance(second.uid)), undefined, 'nothing stored');
    } finally {
      await client.release();
    }
  });
});
