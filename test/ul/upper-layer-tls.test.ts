/**
 * The upper layer is transport-agnostic: the same association over Node's own TLS sockets on
 * loopback (a certificate generated for this test with the openssl CLI, removed afterwards).
 * The project's OpenSSL engine (transport/tls) is tested by its own suite; this checks that
 * nothing in the upper layer assumes a net.Socket (half-close, 'end'/'close' order, records).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import tls from 'node:tls';
import { UpperLayer } from '../../src/ul/upper-layer.js';
import type { TransportConnection } from '../../src/transport/connection.js';
import type { PDataTfPdu } from '../../src/ul/pdu/types.js';
import { acFor, pdata, rqPdu } from './fixtures.js';

function tlsTransport(s: tls.TLSSocket): TransportConnection {
  const peer = s.getPeerX509Certificate();
  return {
    stream: s,
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    localAddress: s.localAddress,
    localPort: s.localPort,
    tls: {
      protocol: s.getProtocol() ?? '',
      cipher: s.getCipher().name,
      alpn: typeof s.alpnProtocol === 'string' ? s.alpnProtocol : undefined,
      resumed: s.isSessionReused(),
      peerCertificateChain: peer === undefined ? [] : [peer],
      peerCertificate: peer,
      verifyResult: { code: 0, name: 'X509_V_OK', text: 'ok' },
    },
  };
}

test('association, a 200 kB P-DATA-TF and release over TLS sockets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-ul-'));
  const servers: tls.Server[] = [];
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));

    const acceptor = new UpperLayer({ maxPduLength: 256 * 1024 });
    acceptor.on('associateIndication', (rq) => acceptor.acceptAssociation(acFor(rq, 256 * 1024)));
    acceptor.on('releaseIndication', () => acceptor.respondRelease());
    const server = tls.createServer({ key, cert }, (s) => acceptor.acceptConnection(tlsTransport(s)));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;

    const requestor = new UpperLayer();
    requestor.requestAssociation(async () => {
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: cert });
      await once(s, 'secureConnect');
      return tlsTransport(s);
    }, rqPdu());
    await requestor.associated();
    assert.equal(requestor.transport?.tls?.peerCertificate?.subject, 'CN=localhost');

    const payload = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const got = new Promise<PDataTfPdu>((resolve) => acceptor.once('pData', resolve));
    requestor.sendPData(pdata(payload, false));
    // Node's tls hands over ~16 kB reads: the one PDV item comes as pieces, views of them.
    const { pdvs } = await got;
    assert.deepEqual(Buffer.concat(pdvs.map((p) => p.data)), Buffer.from(payload));
    assert.ok(pdvs.length > 1);
    assert.ok(pdvs.slice(0, -1).every((p) => p.continued === true && !p.isLast) && pdvs.at(-1)!.continued === undefined);

    await requestor.release();
    assert.deepEqual(await acceptor.whenClosed(), { error: undefined });
  } finally {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
