// SecureServer / SecureSocket as a server against real `openssl s_client` processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SecureContext, VerifyMode, type InfoEvent, type VerifyCallback } from '../../../src/transport/tls/context.js';
import { createSecureServer, type SecureServer } from '../../../src/transport/tls/server.js';
import type { SecureSocket } from '../../../src/transport/tls/socket.js';
import { TlsHandshakeError } from '../../../src/transport/tls/errors.js';
import { makeEngineCerts, spawnOpenssl, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

interface Harness {
  server: SecureServer;
  port: number;
  next(): Promise<SecureSocket>;
  nextError(): Promise<{ error: TlsHandshakeError; peer: { address: string | undefined; port: number | undefined } }>;
}

async function serve(ctx: SecureContext): Promise<Harness> {
  const server = createSecureServer(ctx);
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server, port,
    next: async () => ((await once(server, 'secureConnection')) as [SecureSocket])[0],
    nextError: async () => {
      const [error, peer] = (await once(server, 'handshakeError')) as [TlsHandshakeError, { address: string; port: number }];
      return { error, peer };
    },
  };
}

function sClient(port: number, args: string[]): ReturnType<typeof spawnOpenssl> {
  return spawnOpenssl(['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', c.caCert, ...args]);
}

test('server handshake with a client certificate, data both ways, close_notify ends s_client', async () => {
  const ctx = new SecureContext({
    role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert], alpn: ['dicom'],
  });
  const h = await serve(ctx);
  const client = sClient(h.port, ['-cert', c.clientCert, '-key', c.clientKey, '-alpn', 'dicom', '-verify_return_error']);
  try {
    const s = await h.next();
    assert.equal(s.protocol, 'TLSv1.3');
    assert.equal(s.alpnProtocol, 'dicom');
    assert.equal(s.verifyResult?.code, 0);
    // s_client builds its chain from -CAfile (OpenSSL auto-chaining): leaf, then the CA.
    assert.equal(s.peerCertificateChain.length, 2);
    assert.match(s.peerCertificate?.subject ?? '', /CN=Test Client/);
    assert.match(s.peerCertificateChain[1]!.subject, /CN=Engine Test CA/);
    assert.equal(s.tls?.peerCertificate, s.peerCertificateChain[0]);
    client.proc.stdin.write('from s_client\n');
    const [d] = (await once(s, 'data')) as [Buffer];
    assert.equal(d.toString(), 'from s_client\n');
    s.write('from dicom-tls server\n');
    await client.waitFor(/from dicom-tls server/);
    assert.match(client.output(), /Verify return code: 0 \(ok\)/);
    assert.match(client.output(), /ALPN protocol: dicom/);
    const closed = once(s, 'close');
    s.end(); // close_notify + FIN: s_client sees the end and exits
    s.resume();
    await client.exited;
    await closed;
  } finally {
    await client.kill();
    await h.server.close();
    ctx.dispose();
  }
});

test('server verify callback on an emailProtection-only client certificate: ok / 0 fail, 1 continues', async () => {
  for (const mode of ['ok', 0, 1] as const) {
    const calls: [number, number, number][] = [];
    const verifyCallback: VerifyCallback = (ok, cs, error, _es, context) => {
      calls.push([context.depth, ok, error]);
      assert.equal(context.role, 'server');
      assert.match(cs, /^Subject Name: /);
      return mode === 'ok' ? ok : mode;
    };
    const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert], verifyCallback });
    const h = await serve(ctx);
    const client = sClient(h.port, ['-cert', c.emailCert, '-key', c.emailKey]);
    try {
      if (mode === 1) {
        const s = await h.next();
        assert.equal(s.verifyResult?.code, 26);
        assert.ok(calls.some(([d, ok, e]) => d === 0 && ok === 0 && e === 26));
        s.destroy();
      } else {
        const { error, peer } = await h.nextError();
        assert.equal(error.verifyFailure?.error, 26);
        assert.equal(error.verifyFailure?.depth, 0);
        assert.equal(peer.address, '127.0.0.1');
        assert.equal(typeof peer.port, 'number');
        await client.waitFor(/alert|error/i);
        assert.deepEqual(calls[calls.length - 1], [0, 0, 26]);
      }
    } finally {
      await client.kill();
      await h.server.close();
      ctx.dispose();
    }
  }
});

test('client without certificate when one is required fails; VerifyMode.Peer alone lets it in', async () => {
  for (const verifyMode of [VerifyMode.Peer | VerifyMode.FailIfNoPeerCert, VerifyMode.Peer]) {
    const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert], verifyMode });
    const h = await serve(ctx);
    const client = sClient(h.port, []);
    try {
      if (verifyMode === VerifyMode.Peer) {
        const s = await h.next();
        assert.equal(s.peerCertificateChain.length, 0);
        s.destroy();
      } else {
        const { error } = await h.nextError();
        assert.ok(error instanceof TlsHandshakeError);
        assert.match(error.message, /certificate required|did not return a certificate|peer/i);
        assert.equal(error.alert?.direction, 'write');
      }
    } finally {
      await client.kill();
      await h.server.close();
      ctx.dispose();
    }
  }
});

test('server info callback reports the accept side; server-side TLS 1.2 facts', async () => {
  const events: InfoEvent[] = [];
  const ctx = new SecureContext({
    role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None,
    maxProtocol: 'TLSv1.2', infoCallback: (e) => { events.push(e); },
  });
  const h = await serve(ctx);
  const client = sClient(h.port, []);
  try {
    const s = await h.next();
    assert.equal(s.protocol, 'TLSv1.2');
    assert.match(s.cipher ?? '', /^ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)$/);
    assert.ok(events.some((e) => e.side === 'accept' && e.loop && /read client hello/.test(e.state)), events.map((e) => e.state).join('|'));
    assert.ok(events.some((e) => e.handshakeDone));
    s.destroy();
  } finally {
    await client.kill();
    await h.server.close();
    ctx.dispose();
  }
});

test('renegotiation is refused', async () => {
  const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None, maxProtocol: 'TLSv1.2' });
  const h = await serve(ctx);
  const client = sClient(h.port, []);
  try {
    const s = await h.next();
    s.on('error', () => undefined);
    await client.waitFor(/Verify return code/);
    client.proc.stdin.write('R\n'); // s_client: 'R' at line start asks for renegotiation
    await client.waitFor(/RENEGOTIATING/);
    await client.waitFor(/no renegotiation|alert|error/i);
    s.destroy();
  } finally {
    await client.kill();
    await h.server.close();
    ctx.dispose();
  }
});

test('a client offering only TLS 1.0 or 1.1 is refused with the version it offered named', async () => {
  const ctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const h = await serve(ctx);
  try {
    for (const [flag, name] of [['-tls1', 'TLSv1'], ['-tls1_1', 'TLSv1.1']] as const) {
      const failed = h.nextError();
      // s_client at security level 0: OpenSSL 3 refuses to even offer these versions above it.
      const client = sClient(h.port, [flag, '-cipher', 'DEFAULT:@SECLEVEL=0']);
      try {
        const { error } = await failed;
        assert.equal(error.peerVersion, name);
        assert.match(error.message, new RegExp(`the peer offered ${name.replace('.', '\\.')} at most, below this side's minimum \\(TLSv1\\.2\\)`));
        assert.equal(error.alert?.code, 70);
      } finally { await client.kill(); }
    }
  } finally {
    await h.server.close();
    ctx.dispose();
  }
});
