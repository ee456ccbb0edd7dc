/**
 * Interop with DCMTK 3.6.7 through the public client and server: echoscu → our DicomServer and
 * our DicomClient → storescp (as C-ECHO SCP), plain and TLS with mutual authentication (DCMTK's
 * default profile BCP195-ND), a rejected certificate each way, and user identity negotiation
 * from storescu (echoscu 3.6.7 has no --user option; storescu does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { DicomClient } from '../../src/ae/client.js';
import type { HandshakeFailure } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { TlsHandshakeError } from '../../src/transport/tls/errors.js';
import { TransportMismatchError } from '../../src/ul/upper-layer-errors.js';
import { Status } from '../../src/dictionary/status.js';
import { StorageSopClass, VerificationSopClass } from '../../src/dictionary/uids.js';
import { scenarioPki } from '../helpers/pki.js';
import { hasDcmtk, run, startListening } from '../helpers/dcmtk.js';
import { withServer } from '../helpers/with-server.js';

const quick = { connect: 10_000, association: 10_000, dimse: 10_000 };
const skip = !hasDcmtk('echoscu') || !hasDcmtk('storescp');

function ourServerTls(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] });
}

test('echoscu → our server over plain TCP: Success, and we saw its AE titles', { skip }, async () => {
  await withServer({ aeTitle: 'OUR-SCP' }, async (port, server) => {
    const seen = new Promise<Association>((resolve) => server.once('association', resolve));
    const r = await run('echoscu', ['-v', '-aet', 'DCMTK-SCU', '-aec', 'OUR-SCP', '127.0.0.1', String(port)]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Received Echo Response \(Success\)/);
    const a = await seen;
    assert.equal(a.callingAeTitle, 'DCMTK-SCU');
    assert.match(a.info.peerImplementationVersionName ?? '', /OFFIS_DCMTK/);
  });
});

test('echoscu +tls → our TLS server (mutual authentication): Success; we see its certificate', { skip }, async () => {
  const pki = scenarioPki();
  await withServer({ tls: ourServerTls() }, async (port, server) => {
    const seen = new Promise<Association>((resolve) => server.once('association', resolve));
    const r = await run('echoscu', ['-v', '+tls', pki.valid.key, pki.valid.cert, '+cf', pki.root.cert, '127.0.0.1', String(port)]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Received Echo Response \(Success\)/);
    const a = await seen;
    assert.match(a.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.ok(a.tls?.peerCertificate !== undefined);
  });
});

test('echoscu with a certificate from an unknown CA: our server reports depth, code and certificate string; echoscu fails', { skip }, async () => {
  const pki = scenarioPki();
  await withServer({ tls: ourServerTls() }, async (port, server) => {
    const failed = new Promise<HandshakeFailure>((resolve) => server.once('handshakeError', resolve));
    const r = await run('echoscu', ['+tls', pki.unknownCaLeaf.key, pki.unknownCaLeaf.cert, '+cf', pki.root.cert, '127.0.0.1', String(port)]);
    assert.notEqual(r.code, 0, r.output);
    const f = await failed;
    assert.equal(f.peer.address, '127.0.0.1');
    assert.equal(f.depth, 0);
    assert.equal(f.code, 20);
    assert.equal(f.errorName, 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.match(f.certificateString ?? '', /^Subject Name: .*\nIssuer Name: .*Unknown/i);
    assert.ok(f.error instanceof TlsHandshakeError);
  });
});

test('our client → storescp as C-ECHO SCP, plain TCP', { skip }, async () => {
  const scp = await startListening('storescp', ['-aet', 'STORESCP']);
  try {
    const client = await DicomClient.associate({ host: '127.0.0.1', port: scp.port, callingAeTitle: 'OUR-SCU', calledAeTitle: 'STORESCP', timeouts: quick });
    assert.equal(client.tls, undefined);
    assert.equal((await client.echo()).status, Status.Success);
    assert.match(client.association.info.peerImplementationVersionName ?? '', /OFFIS_DCMTK/);
    await client.release();
  } finally {
    await scp.stop();
  }
});

test('our client → storescp +tls (it requires our certificate): Success, TLS facts after the handshake', { skip }, async () => {
  const pki = scenarioPki();
  const scp = await startListening('storescp', ['+tls', pki.valid.key, pki.valid.cert, '+cf', pki.root.cert]);
  try {
    const tls = new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] });
    const client = await DicomClient.associate({ host: '127.0.0.1', port: scp.port, tls, callingAeTitle: 'OUR-SCU', calledAeTitle: 'ANY-SCP', timeouts: quick });
    assert.match(client.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(client.tls?.verifyResult.code, 0);
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
  } finally {
    await scp.stop();
  }
});

test('storescp rejects our client certificate (unknown CA): TlsHandshakeError naming the alert', { skip }, async () => {
  const pki = scenarioPki();
  const scp = await startListening('storescp', ['+tls', pki.valid.key, pki.valid.cert, '+cf', pki.root.cert]);
  try {
    const tls = new SecureContext({ role: 'client', identity: { cert: pki.unknownCaLeaf.cert, key: pki.unknownCaLeaf.key }, ca: [pki.root.cert] });
    await assert.rejects(
      DicomClient.associate({ host: '127.0.0.1', port: scp.port, tls, callingAeTitle: 'OUR-SCU', calledAeTitle: 'ANY-SCP', timeouts: quick }),
      (e: unknown) => {
        assert.ok(e instanceof TlsHandshakeError, String(e));
        assert.match(e.message, /alert "unknown CA"/);
        return true;
      },
    );
  } finally {
    await scp.stop();
  }
});

test('user identity from storescu --user/--password: accepted with the right passcode, rejected with a wrong one', { skip: skip || !hasDcmtk('storescu') || !hasDcmtk('dump2dcm') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-ae-'));
  try {
    writeFileSync(
      join(dir, 'sc.dump'),
      '(0008,0016) UI =SecondaryCaptureImageStorage\n(0008,0018) UI [1.2.826.0.1.3680043.2.1143.99.1]\n(0010,0010) PN [Test^Patient]\n',
    );
    execFileSync('dump2dcm', ['-q', join(dir, 'sc.dump'), join(dir, 'sc.dcm')]);
    const seen: string[] = [];
    let stored = 0;
    await withServer(
      {
        presentationContexts: { supported: [{ abstractSyntax: VerificationSopClass }, { abstractSyntax: StorageSopClass.SecondaryCaptureImageStorage }] },
        userIdentity: (identity) => {
          seen.push(`${identity.username}:${identity.passcode}`);
          return identity.username === 'alice' && identity.passcode === 'secret';
        },
      },
      async (port, server) => {
        server.handlers.register('C-STORE-RQ', {
          handle: (_rq, ctx) => {
            stored += ctx.dataset === undefined ? 0 : 1;
            return { status: Status.Success };
          },
        });
        const rejections: string[] = [];
        server.on('rejected', (r) => rejections.push(r.why));
        const ok = await run('storescu', ['-v', '--user', 'alice', '--password', 'secret', '127.0.0.1', String(port), join(dir, 'sc.dcm')]);
        assert.equal(ok.code, 0, ok.output);
        assert.equal(stored, 1);
        const bad = await run('storescu', ['-v', '--user', 'alice', '--password', 'wrong', '127.0.0.1', String(port), join(dir, 'sc.dcm')]);
        assert.notEqual(bad.code, 0, bad.output);
        assert.match(bad.output, /Association Rejected/i);
        assert.deepEqual(seen, ['alice:secret', 'alice:wrong']);
        assert.equal(rejections.length, 1);
        assert.match(rejections[0]!, /alice/);
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('echoscu speaking TLS to our plain port, and plain to our TLS port: our server names the mismatch, echoscu fails fast', { skip }, async () => {
  const pki = scenarioPki();
  await withServer({}, async (port, server) => {
    const saw = new Promise<Error>((resolve) => server.once('connectionError', resolve));
    const r = await run('echoscu', ['+tls', pki.valid.key, pki.valid.cert, '+cf', pki.root.cert, '127.0.0.1', String(port)], 20_000);
    assert.notEqual(r.code, 0, r.output);
    const e = await saw;
    assert.ok(e instanceof TransportMismatchError && e.detected === 'tls' && e.role === 'acceptor', String(e));
  });
  await withServer({ tls: ourServerTls() }, async (port, server) => {
    const saw = new Promise<HandshakeFailure>((resolve) => server.once('handshakeError', resolve));
    const r = await run('echoscu', ['127.0.0.1', String(port)], 20_000);
    assert.notEqual(r.code, 0, r.output);
    const f = await saw;
    assert.ok(f.error instanceof TransportMismatchError && f.error.detected === 'dicom' && f.error.role === 'acceptor', String(f.error));
  });
});
