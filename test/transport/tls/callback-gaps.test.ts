// The seeds' callbacks, the corners: a verify refusal of a certificate OpenSSL accepted (the alert
// the peer gets), class-style overrides as fields or assigned later, the chain in the verify
// context, a per-connection info callback, and what non-numeric answers do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SecureContext, VerifyMode, type InfoEvent, type SecureContextOptions, type VerifyContext } from '../../../src/transport/tls/context.js';
import type { IdentityOptions } from '../../../src/transport/tls/identity.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { TlsHandshakeError, UnableToReadPrivateKeyError } from '../../../src/transport/tls/errors.js';
import { InvalidOptionError } from '../../../src/errors.js';
import { makeEngineCerts, spawnOpenssl, startSServer, type EngineCerts } from './engine-fixtures.js';
import { parseAlerts } from '../../helpers/openssl-peer.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

function client(extra: Partial<SecureContextOptions> = {}): SecureContext {
  return new SecureContext({ role: 'client', ca: [c.caCert], ...extra });
}

async function againstSServer(ctx: SecureContext, args: string[] = ['-cert', c.serverCert, '-key', c.serverKey]) {
  const { port, server } = await startSServer(args);
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    s.destroy();
    return { ok: true as const };
  } catch (e) {
    await server.exited.catch(() => undefined);
    return { ok: false as const, error: e as TlsHandshakeError, peer: server.output() };
  } finally {
    await server.kill();
    ctx.dispose();
  }
}

test('a verify callback refusing a certificate OpenSSL accepted: bad_certificate to the peer, and a local error that says so', async () => {
  const r = await againstSServer(client({ verifyCallback: (ok, _s, _e, _es, ctx) => (ctx.depth === 0 ? 0 : ok) }));
  assert.equal(r.ok, false);
  const e = r.error!;
  assert.ok(e instanceof TlsHandshakeError);
  assert.match(e.message, /the verify callback refused the certificate at depth 0 \(CN = localhost\), which OpenSSL had accepted/);
  assert.doesNotMatch(e.message, /X509_V_OK/);
  assert.equal(e.verifyFailure?.refusedByCallback, true);
  assert.equal(e.verifyFailure?.errorName, 'X509_V_ERR_CERT_REJECTED');
  assert.deepEqual({ level: e.alert?.level, code: e.alert?.code, direction: e.alert?.direction }, { level: 'fatal', code: 42, direction: 'write' });
  assert.deepEqual(parseAlerts(r.peer ?? ''), [42], r.peer); // s_server: "... SSL alert number 42"
});

test('a server verify callback refusing an accepted client certificate: s_client gets bad certificate', async () => {
  const sctx = new SecureContext({
    role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert],
    verifyCallback: (ok, _s, _e, _es, ctx) => (ctx.depth === 0 ? 0 : ok),
  });
  const srv = createSecureServer(sctx);
  const { port } = await srv.listen(0, '127.0.0.1');
  const failed = once(srv, 'handshakeError');
  const peer = spawnOpenssl(['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', c.caCert, '-cert', c.clientCert, '-key', c.clientKey]);
  try {
    const [e] = (await failed) as [TlsHandshakeError];
    assert.match(e.message, /the verify callback refused the certificate at depth 0 \(CN = Test Client\)/);
    assert.equal(e.alert?.code, 42);
    const out = await peer.waitFor(/alert/);
    assert.match(out, /alert bad certificate|SSL alert number 42/);
  } finally { await peer.kill(); await srv.close(); sctx.dispose(); }
});

test('a refusal of a certificate OpenSSL had refused too keeps OpenSSL\'s own error and alert', async () => {
  const r = await againstSServer(client({ verifyCallback: (ok) => ok }), ['-cert', c.emailCert, '-key', c.emailKey]);
  assert.equal(r.error?.verifyFailure?.errorName, 'X509_V_ERR_INVALID_PURPOSE');
  assert.equal(r.error?.verifyFailure?.refusedByCallback, undefined);
  assert.equal(r.error?.alert?.code, 43);
});

test('the verify context shows the chain built so far and the certificates the peer sent, while the callback runs', async () => {
  const seen: { depth: number; chain: string[]; chainDer: number; peer: string[]; peerDer: number }[] = [];
  let kept: VerifyContext | undefined;
  const r = await againstSServer(client({
    verifyCallback: (ok, _s, _e, _es, ctx) => {
      seen.push({
        depth: ctx.depth, chain: ctx.chain.map((x) => x.subject), chainDer: ctx.chainDer.length,
        peer: ctx.peerCertificates.map((x) => x.subject), peerDer: ctx.peerCertificatesDer.length,
      });
      assert.ok(ctx.chainDer[0]!.equals(ctx.chain[0]!.raw));
      kept = ctx;
      return ok;
    },
  }), ['-cert', c.serverCert, '-key', c.serverKey, '-cert_chain', c.caCert]);
  assert.equal(r.ok, true);
  const last = seen.at(-1)!;
  assert.equal(last.depth, 0);
  assert.deepEqual(last.chain.map((s) => /CN=([^\n]*)/.exec(s)?.[1]), ['localhost', 'Engine Test CA']);
  assert.equal(last.chainDer, 2);
  assert.deepEqual(last.peer.map((s) => /CN=([^\n]*)/.exec(s)?.[1]), ['localhost', 'Engine Test CA']);
  // Read during the callback: still there afterwards. Never read: refused, the store is gone.
  assert.equal(kept!.chain.length, 2);
  let unread: VerifyContext | undefined;
  await againstSServer(client({ verifyCallback: (ok, _s, _e, _es, ctx) => { unread = ctx; return ok; } }));
  assert.throws(() => unread!.peerCertificatesDer, (e: unknown) => e instanceof InvalidOptionError && /only while the verify callback runs/.test(e.message));
});

test('class style: overrides written as class fields are honoured (verify, info, client certificate)', async () => {
  const infos: string[] = [];
  class Fields extends SecureContext {
    // @ts-expect-error TS forbids a property over a method; JavaScript users write it anyway
    onVerify = (): number => 1; // accept the emailProtection-only certificate OpenSSL refuses
    // @ts-expect-error as above
    onInfo = (e: InfoEvent): void => { infos.push(e.state); };
  }
  const r = await againstSServer(new Fields({ role: 'client', ca: [c.caCert] }), ['-cert', c.emailCert, '-key', c.emailKey]);
  assert.equal(r.ok, true, r.error?.message);
  assert.ok(infos.includes('SSL negotiation finished successfully'));

  class ClientCertField extends SecureContext {
    // @ts-expect-error as above
    onClientCertificate = (): IdentityOptions => ({ cert: c.clientCert, key: c.clientKey });
  }
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-Verify', '1', '-CAfile', c.caCert]);
  const ctx = new ClientCertField({ role: 'client', ca: [c.caCert] });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    s.write('ping\n');
    await server.waitFor(/ping/);
    assert.match(server.output(), /subject=CN = Test Client/);
    s.destroy();
  } finally { await server.kill(); ctx.dispose(); }
});

test('class style: hooks assigned after construction are honoured', async () => {
  const ctx = client();
  const infos: InfoEvent[] = [];
  (ctx as { onVerify: unknown }).onVerify = (): number => 1;
  (ctx as { onInfo: unknown }).onInfo = (e: InfoEvent): void => { infos.push(e); };
  const r = await againstSServer(ctx, ['-cert', c.emailCert, '-key', c.emailKey]);
  assert.equal(r.ok, true, r.error?.message);
  assert.ok(infos.some((e) => e.handshakeDone));
});

test('class style: an onPassword class field or assignment is refused at construction / assignment', () => {
  class PasswordField extends SecureContext {
    // @ts-expect-error as above
    onPassword = (): string => 'secret';
  }
  // With an encrypted key the constructor needs the password before the field exists: the error says why.
  assert.throws(() => new PasswordField({ role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey } }),
    (e: unknown) => e instanceof UnableToReadPrivateKeyError && e.reason === 'missing-password' && /must override onPassword as a method/.test(e.message));
  // Without one, the field itself is refused when the subclass defines it.
  assert.throws(() => new PasswordField({ role: 'client' }), /onPassword/);
  const ctx = client();
  try {
    assert.throws(() => { (ctx as { onPassword: unknown }).onPassword = (): string => 'secret'; },
      (e: unknown) => e instanceof InvalidOptionError && e.option === 'onPassword' && /override it as a method/.test(e.message));
  } finally { ctx.dispose(); }
  // The method form still works, super included.
  class PasswordMethod extends SecureContext {
    override onPassword(max: number, writing: boolean): string | Buffer | undefined { return super.onPassword(max, writing) ?? 'secret'; }
  }
  new PasswordMethod({ role: 'client', identity: { cert: c.clientCert, key: c.encryptedKey } }).dispose();
});

test('a per-connection info callback sees only its connection, after the context\'s callback', async () => {
  const order: string[] = [];
  const ctx = client({ infoCallback: (e) => { if (e.handshakeDone) order.push('context'); } });
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const mine: InfoEvent[] = [];
  try {
    const sockets = new Set<SecureSocket>();
    const s = await SecureSocket.connect({
      host: '127.0.0.1', port, context: ctx,
      infoCallback: (e, socket) => { mine.push(e); sockets.add(socket); if (e.handshakeDone) order.push('socket'); },
    });
    assert.deepEqual([...sockets], [s]);
    assert.ok(mine.some((e) => e.handshakeDone));
    assert.deepEqual(order, ['context', 'socket']);
    s.destroy();
  } finally { await server.kill(); ctx.dispose(); }
});

test('a server sets a per-connection info callback on the connection event', async () => {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const srv = createSecureServer(sctx);
  const perSocket = new Map<SecureSocket, number>();
  srv.on('connection', (socket) => { socket.infoCallback = (e, s) => { if (e.handshakeDone) perSocket.set(s, (perSocket.get(s) ?? 0) + 1); }; });
  const { port } = await srv.listen(0, '127.0.0.1');
  const cctx = client({ verifyHost: 'localhost' });
  try {
    for (let i = 0; i < 2; i++) {
      const accepted = once(srv, 'secureConnection');
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
      const [a] = (await accepted) as [SecureSocket];
      assert.equal(perSocket.get(a), 1);
      s.destroy();
    }
    assert.equal(perSocket.size, 2);
  } finally { await srv.close(); cctx.dispose(); sctx.dispose(); }
});

test('verify answers that are not numbers: booleans are taken, anything else fails the handshake naming it', async () => {
  assert.equal((await againstSServer(client({ verifyCallback: () => true as unknown as number }), ['-cert', c.emailCert, '-key', c.emailKey])).ok, true);
  const refused = await againstSServer(client({ verifyCallback: () => false as unknown as number }));
  assert.equal(refused.error?.verifyFailure?.refusedByCallback, true);
  for (const [answer, text] of [
    [undefined, /must return 0, 1 or ok \(or a boolean\), not undefined/],
    [null, /not null/],
    [Number.NaN, /not NaN/],
    ['1', /not string/],
    [Promise.resolve(1), /returned a Promise/],
  ] as const) {
    const r = await againstSServer(client({ verifyCallback: () => answer as unknown as number }));
    assert.equal(r.ok, false, String(answer));
    assert.ok(r.error!.cause instanceof InvalidOptionError, String(answer));
    assert.match(r.error!.message, /a callback threw: verifyCallback: /);
    assert.match(r.error!.message, text);
  }
});

test('an async info callback that rejects fails the handshake with its error as cause; its return value is otherwise ignored', async () => {
  const boom = new Error('audit log unavailable');
  const r = await againstSServer(client({ infoCallback: async (e) => { if (e.loop) throw boom; } }));
  // The first loop event comes with the ClientHello; the rejection is handled before the
  // server's answer can arrive, so it is the handshake that fails.
  assert.equal(r.ok, false);
  assert.equal(r.error?.cause, boom);
  assert.match(r.error!.message, /a callback threw: audit log unavailable/);
  assert.equal((await againstSServer(client({ infoCallback: () => 42 as unknown as void }))).ok, true);
});

test('client-certificate answers that are not identity options or undefined fail the handshake, naming them', async () => {
  for (const [answer, text] of [[Promise.resolve({ cert: 'x' }), /returned a Promise/], [null, /not null/], [true, /not boolean/]] as const) {
    const ctx = client({ clientCertificateCallback: () => answer as unknown as IdentityOptions });
    const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-Verify', '1', '-CAfile', c.caCert]);
    try {
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }).catch((e: unknown) => e);
      assert.ok(s instanceof TlsHandshakeError, String(answer));
      assert.ok(s.cause instanceof InvalidOptionError && s.cause.option === 'clientCertificateCallback');
      assert.match(s.message, text);
    } finally { await server.kill(); ctx.dispose(); }
  }
});
