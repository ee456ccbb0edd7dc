// Our client against our server on loopback: bulk data with backpressure, half-close, context
// build-time errors, profiles, password callback, SNI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SecureContext, VerifyMode } from '../../../src/transport/tls/context.js';
import { createSecureServer, type SecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import {
  KeyMismatchError, TlsConfigurationError, TlsHandshakeError, UnableToReadPrivateKeyError, UnknownProfileError,
} from '../../../src/transport/tls/errors.js';
import { profiles, resolveProfile } from '../../../src/transport/tls/profiles.js';
import { makeEngineCerts, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

async function pair(serverOpts: Partial<ConstructorParameters<typeof SecureContext>[0]> = {},
  clientOpts: Partial<ConstructorParameters<typeof SecureContext>[0]> = {}): Promise<{
    server: SecureServer; client: SecureSocket; accepted: SecureSocket; dispose(): Promise<void>;
  }> {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None, ...serverOpts });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert], ...clientOpts });
  const server = createSecureServer(sctx, undefined, { allowHalfOpen: true });
  const { port } = await server.listen(0, '127.0.0.1');
  const acceptedP = once(server, 'secureConnection');
  const client = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, allowHalfOpen: true });
  const [accepted] = (await acceptedP) as [SecureSocket];
  return {
    server, client, accepted,
    dispose: async () => { client.destroy(); await server.close(); cctx.dispose(); sctx.dispose(); },
  };
}

/** Hash what a stream delivers until 'end' (without destroying it, unlike for-await). */
function sha256Of(stream: NodeJS.ReadableStream, slow: boolean): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      h.update(chunk);
      const before = bytes;
      bytes += chunk.length;
      if (slow && (before >> 20) !== (bytes >> 20)) { stream.pause(); setImmediate(() => stream.resume()); }
    });
    stream.once('end', () => resolve({ hash: h.digest('hex'), bytes }));
    stream.once('error', reject);
  });
}

test('large transfers both ways keep every byte, with a slow reader (backpressure)', async () => {
  const p = await pair();
  try {
    const size = 24 * 1024 * 1024;
    const data = randomBytes(size);
    const expected = createHash('sha256').update(data).digest('hex');
    // client → server: writes honour write()'s return value
    const recv = sha256Of(p.accepted, true);
    let off = 0;
    let sawBackpressure = false;
    while (off < size) {
      const n = Math.min(size - off, 100_000 + (off % 7777));
      if (!p.client.write(data.subarray(off, off + n))) { sawBackpressure = true; await once(p.client, 'drain'); }
      off += n;
    }
    p.client.end();
    const got = await recv;
    assert.equal(got.bytes, size);
    assert.equal(got.hash, expected);
    assert.ok(sawBackpressure, 'the writer saw backpressure');
    // half-close: the client's side ended, the server can still answer
    const back = sha256Of(p.client, false);
    p.accepted.end(data.subarray(0, 5 * 1024 * 1024));
    const echoed = await back;
    assert.equal(echoed.bytes, 5 * 1024 * 1024);
    assert.equal(echoed.hash, createHash('sha256').update(data.subarray(0, 5 * 1024 * 1024)).digest('hex'));
  } finally {
    await p.dispose();
  }
});

test('a paused reader stops the socket instead of buffering without bound', async () => {
  const p = await pair();
  try {
    p.accepted.pause();
    const chunk = Buffer.alloc(1 << 20, 7);
    let writes = 0;
    while (p.client.write(chunk)) writes++;
    // give the transport time to fill up; the server's Duplex buffer must stay near its high-water mark
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.ok(p.accepted.readableLength <= 2 * 1024 * 1024, `buffered ${p.accepted.readableLength}`);
    assert.ok(p.accepted.socket.isPaused(), 'the TCP socket was paused');
    const all = sha256Of(p.accepted, false);
    p.accepted.resume();
    p.client.end();
    const got = await all;
    assert.ok(got.bytes >= (writes + 1) * chunk.length);
  } finally {
    await p.dispose();
  }
});

test('close_notify: end() on one side ends the other side\'s readable stream', async () => {
  const p = await pair();
  try {
    const ended = once(p.accepted, 'end');
    p.accepted.resume();
    p.client.end('bye');
    await ended;
    assert.equal(p.accepted.writable, true, 'half-closed: the server may still write');
    const got = once(p.client, 'data');
    p.accepted.write('still here');
    assert.equal(((await got) as [Buffer])[0].toString(), 'still here');
  } finally {
    await p.dispose();
  }
});

test('ALPN mismatch: the server refuses a client offering only other protocols', async () => {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None, alpn: ['dicom'] });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert], alpn: ['http/1.1'] });
  const server = createSecureServer(sctx);
  const { port } = await server.listen();
  try {
    const serverErr = once(server, 'handshakeError');
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, servername: 'localhost' }),
      (e: Error) => /no application protocol/.test(e.message));
    const [err] = (await serverErr) as [Error];
    assert.match(err.message, /no application protocol/);
  } finally {
    await server.close(); cctx.dispose(); sctx.dispose();
  }
});

test('session resumption between our own client and server', async () => {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert] });
  const server = createSecureServer(sctx, (s) => { s.write('x'); s.resume(); });
  const { port } = await server.listen();
  try {
    const a = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
    await once(a, 'data');
    a.destroy();
    assert.ok(cctx.cachedSessions >= 1);
    const b = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
    assert.equal(b.resumed, true);
    b.destroy();
  } finally {
    await server.close(); cctx.dispose(); sctx.dispose();
  }
});

test('a session is offered only with the server name and host check it was verified under', async () => {
  // A resumed handshake verifies no certificate: a session kept for "localhost" offered where
  // another name is expected would skip the host check.
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert] });
  const server = createSecureServer(sctx, (s) => { s.on('error', () => undefined); s.write('x'); s.resume(); });
  const { port } = await server.listen();
  const connect = async (o: { verifyHost?: string; servername?: string }): Promise<boolean> => {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, ...o });
    await once(s, 'data'); // the ticket came before this
    s.destroy();
    return s.resumed;
  };
  try {
    assert.equal(await connect({ verifyHost: 'localhost' }), false);
    assert.equal(await connect({ verifyHost: 'localhost' }), true);
    await assert.rejects(connect({ verifyHost: 'not-this-host.example' }), (e: TlsHandshakeError) =>
      e instanceof TlsHandshakeError && e.verifyFailure?.errorName === 'X509_V_ERR_HOSTNAME_MISMATCH');
    assert.equal(await connect({}), false, 'no host check is another slot too');
    assert.equal(await connect({ servername: 'a.example' }), false);
    assert.equal(await connect({ servername: 'b.example' }), false, 'another server name');
    assert.equal(await connect({ servername: 'a.example' }), true);
    assert.equal(await connect({ verifyHost: 'localhost' }), true, 'the first slot is still there');
  } finally {
    await server.close(); cctx.dispose(); sctx.dispose();
  }
});

test('sessionResumption: false on either side: every handshake is a full one, and no ticket is sent or kept', async () => {
  for (const off of ['server', 'client'] as const) {
    const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None, sessionResumption: off !== 'server' });
    const cctx = new SecureContext({ role: 'client', ca: [c.caCert], sessionResumption: off !== 'client' });
    const server = createSecureServer(sctx, (s) => { s.write('x'); s.resume(); });
    const { port } = await server.listen();
    try {
      for (let i = 0; i < 2; i++) {
        const a = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
        await once(a, 'data'); // the server's tickets, if any, came before this
        assert.equal(a.resumed, false, `${off} off, connection ${i + 1}`);
        a.destroy();
      }
      assert.equal(cctx.cachedSessions, 0, `${off} off: the client kept no session`);
      // A server that resumes keeps each full handshake's session: it cannot know the client won't come back with it.
      assert.equal(sctx.cachedSessions, off === 'server' ? 0 : 2, `${off} off: sessions the server kept`);
    } finally {
      await server.close(); cctx.dispose(); sctx.dispose();
    }
  }
});

test('build-time checks: encrypted key with right / wrong / no password, key mismatch, unknown profile', () => {
  const ok = new SecureContext({ role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey, password: 'secret' } });
  ok.dispose();
  const calls: [number, boolean][] = [];
  const viaCallback = new SecureContext({
    role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey },
    passwordCallback: (max, writing) => { calls.push([max, writing]); return 'secret'; },
  });
  viaCallback.dispose();
  assert.deepEqual(calls, [[1024, false]]);
  class ClassStyle extends SecureContext {
    override onPassword(): string { return 'secret'; }
  }
  new ClassStyle({ role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey } }).dispose();
  assert.throws(() => new SecureContext({ role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey, password: 'wrong' } }),
    (e: UnableToReadPrivateKeyError) => e instanceof UnableToReadPrivateKeyError && e.code === 'DICOM_TLS_ERR_PRIVATE_KEY' && e.reason === 'wrong-password');
  assert.throws(() => new SecureContext({ role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey } }),
    (e: UnableToReadPrivateKeyError) => e instanceof UnableToReadPrivateKeyError && e.reason === 'missing-password');
  assert.throws(() => new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.clientKey } }), KeyMismatchError);
  assert.throws(() => new SecureContext({ role: 'server', profile: 'nope' as never }),
    (e: UnknownProfileError) => e instanceof UnknownProfileError && e.code === 'DICOM_TLS_ERR_PROFILE' && /nope/.test(e.message));
  assert.throws(() => new SecureContext({ role: 'server', ciphers: 'NO-SUCH-CIPHER' }), TlsConfigurationError);
});

test('profiles: one table, B.12 default, legacy only with the opt-in', () => {
  assert.equal(resolveProfile(undefined).section, 'B.12');
  assert.equal(resolveProfile(undefined).minProtocol, 'TLSv1.2');
  assert.equal(resolveProfile(undefined).maxProtocol, 'TLSv1.3');
  for (const name of Object.keys(profiles) as (keyof typeof profiles)[]) {
    const p = profiles[name];
    if (p.legacy) {
      assert.throws(() => new SecureContext({ role: 'client', profile: name }), UnknownProfileError);
      new SecureContext({ role: 'client', profile: name, allowLegacyProfiles: true }).dispose();
    } else {
      const ctx = new SecureContext({ role: 'client', profile: name });
      assert.equal(ctx.profile, name);
      ctx.dispose();
    }
  }
});

test('legacy NULL profile negotiates an unencrypted suite between consenting peers', async () => {
  const p = await pair({ profile: 'legacy-null', allowLegacyProfiles: true }, { profile: 'legacy-null', allowLegacyProfiles: true });
  try {
    assert.equal(p.client.protocol, 'TLSv1.2');
    assert.match(p.client.cipher ?? '', /NULL-SHA/);
    const got = once(p.accepted, 'data');
    p.client.write('plain but authenticated');
    assert.equal(((await got) as [Buffer])[0].toString(), 'plain but authenticated');
  } finally {
    await p.dispose();
  }
});

test('PKCS#12 identity for the server', async () => {
  const { execFileSync } = await import('node:child_process');
  const p12 = `${c.dir}/server.p12`;
  execFileSync('openssl', ['pkcs12', '-export', '-in', c.serverCert, '-inkey', c.serverKey, '-out', p12, '-passout', 'pass:p12pass']);
  const p = await pair({ identity: { pkcs12: readFileSync(p12), password: 'p12pass' } });
  try {
    assert.match(p.client.peerCertificate?.subject ?? '', /CN=localhost/);
  } finally {
    await p.dispose();
  }
});

test('our server names its CA in CertificateRequest; our client picks the CA-B identity', async () => {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caBCert] });
  let issuers: string[] = [];
  const cctx = new SecureContext({
    role: 'client', ca: [c.caCert],
    clientCertificateCallback: (req) => {
      issuers = req.acceptableIssuers;
      return req.acceptableIssuers.some((n) => n.includes('CN = CA-B'))
        ? { cert: c.clientBCert, key: c.clientBKey } : { cert: c.clientCert, key: c.clientKey };
    },
  });
  const server = createSecureServer(sctx);
  const { port } = await server.listen();
  try {
    const accepted = once(server, 'secureConnection');
    const client = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
    const [s] = (await accepted) as [SecureSocket];
    assert.deepEqual(issuers, ['CN = CA-B, O = dicom-tls tests']);
    assert.match(s.peerCertificate?.subject ?? '', /CN=Client of B/);
    assert.equal(s.verifyResult?.code, 0);
    client.destroy();
  } finally {
    await server.close(); cctx.dispose(); sctx.dispose();
  }
});

test('verify callback answers: a boolean counts as 1/0; an async callback fails the handshake and says why', async () => {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const server = createSecureServer(sctx);
  server.on('handshakeError', () => undefined);
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const yes = new SecureContext({ role: 'client', ca: [c.caCert], verifyCallback: () => true as unknown as number });
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: yes });
    s.destroy();
    yes.dispose();

    const no = new SecureContext({ role: 'client', ca: [c.caCert], verifyCallback: () => false as unknown as number });
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: no }), { code: 'DICOM_TLS_ERR_HANDSHAKE' });
    no.dispose();

    const later = new SecureContext({ role: 'client', ca: [c.caCert], verifyCallback: (async () => 1) as unknown as () => number });
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: later }), (e: Error & { code: string; cause?: Error & { code?: string } }) => {
      assert.equal(e.code, 'DICOM_TLS_ERR_HANDSHAKE');
      assert.equal(e.cause?.code, 'DICOM_ERR_INVALID_OPTION');
      assert.match(e.cause?.message ?? '', /returned a Promise.*synchronously/);
      return true;
    });
    later.dispose();
  } finally {
    await server.close(); sctx.dispose();
  }
});

test('corked writes (small header, large body, small tail) arrive intact and in order: one flush for the batch', async () => {
  const p = await pair();
  try {
    const parts = [randomBytes(12), randomBytes(40_000), randomBytes(5), randomBytes(20_000), randomBytes(3)];
    const expected = Buffer.concat(parts);
    const got = sha256Of(p.accepted, false);
    let socketWrites = 0;
    const raw = p.client.socket;
    const origWrite = raw.write.bind(raw);
    raw.write = ((...args: Parameters<typeof raw.write>) => {
      socketWrites++;
      return origWrite(...args);
    }) as typeof raw.write;
    p.client.cork();
    for (const part of parts) p.client.write(part);
    p.client.uncork();
    raw.write = origWrite;
    p.client.end();
    const { hash, bytes } = await got;
    assert.equal(bytes, expected.length);
    assert.equal(hash, createHash('sha256').update(expected).digest('hex'));
    assert.equal(socketWrites, 1, 'all records of the corked batch in one socket write');
  } finally {
    await p.dispose();
  }
});

test('records decrypted together are pushed as one chunk: a 64 KiB write read in one go arrives in chunks larger than a record', async () => {
  const p = await pair();
  try {
    const data = randomBytes(200_000);
    // Hold the receiver's TCP reads so several records are waiting when it reads again.
    p.accepted.socket.pause();
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      p.accepted.on('data', (d: Buffer) => {
        sizes.push(d.length);
        parts.push(Buffer.from(d));
        if (parts.reduce((n, b) => n + b.length, 0) >= data.length) resolve();
      });
    });
    p.client.write(data);
    await new Promise((r) => setTimeout(r, 50));
    p.accepted.socket.resume();
    await all;
    assert.ok(Buffer.concat(parts).equals(data));
    assert.ok(Math.max(...sizes) > 16384, `chunk sizes ${sizes.join(',')}`);
  } finally {
    await p.dispose();
  }
});
