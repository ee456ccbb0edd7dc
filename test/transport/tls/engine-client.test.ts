// SecureSocket as a client against real `openssl s_server` processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { SecureContext, type InfoEvent, type VerifyCallback } from '../../../src/transport/tls/context.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { TlsHandshakeError } from '../../../src/transport/tls/errors.js';
import { makeEngineCerts, startSServer, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

function clientContext(extra: Partial<ConstructorParameters<typeof SecureContext>[0]> = {}): SecureContext {
  return new SecureContext({ role: 'client', ca: [c.caCert], ...extra });
}

test('handshake, data both ways and the post-handshake facts', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const ctx = clientContext({ verifyHost: 'localhost' });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.equal(s.protocol, 'TLSv1.3');
    assert.match(s.cipher ?? '', /^TLS_AES_(128|256)_GCM_SHA(256|384)$/);
    assert.equal(s.resumed, false);
    assert.equal(s.alpnProtocol, undefined);
    assert.deepEqual(s.verifyResult, { code: 0, name: 'X509_V_OK', text: 'ok' });
    assert.equal(s.peerCertificateChain.length, 1);
    assert.match(s.peerCertificateChain[0]!.subject, /CN=localhost/);
    assert.equal(s.tls, s.tlsInfo);
    assert.equal(s.stream, s);
    assert.equal(s.remotePort, port);
    s.write('hello from dicom-tls\n');
    await server.waitFor(/hello from dicom-tls/);
    server.proc.stdin.write('pong from s_server\n');
    const [data] = await once(s, 'data') as [Buffer];
    assert.equal(data.toString(), 'pong from s_server\n');
    s.end();
    s.resume();
    await once(s, 'close');
  } finally {
    await server.kill();
    ctx.dispose();
  }
});

test("verify callback: the seeds' INVALID_PURPOSE example (error 26), return ok / 0 / 1", async () => {
  for (const mode of ['ok', 0, 1] as const) {
    const { port, server } = await startSServer(['-cert', c.emailCert, '-key', c.emailKey]);
    const calls: { ok: number; depth: number; error: number; errorName: string; certificateString: string }[] = [];
    const verifyCallback: VerifyCallback = (ok, certificateString, error, _errorString, context) => {
      calls.push({ ok, depth: context.depth, error, errorName: context.errorName, certificateString });
      assert.equal(context.role, 'client');
      assert.ok(context.certificate.subject.length > 0);
      return mode === 'ok' ? ok : mode;
    };
    const ctx = clientContext({ verifyCallback });
    try {
      const attempt = SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
      const purpose = calls.find((x) => x.error === 26);
      if (mode === 1) {
        const s = await attempt;
        assert.equal(s.verifyResult?.code, 26, 'the failure is still reported as the verify result');
        s.destroy();
      } else {
        const e = await attempt.then(() => assert.fail('handshake should fail'), (err: unknown) => err);
        assert.ok(e instanceof TlsHandshakeError, String(e));
        assert.equal(e.code, 'DICOM_TLS_ERR_HANDSHAKE');
        assert.equal(e.verifyFailure?.depth, 0);
        assert.equal(e.verifyFailure?.error, 26);
        assert.equal(e.verifyFailure?.errorName, 'X509_V_ERR_INVALID_PURPOSE');
        assert.match(e.message, /depth 0: unsuitable certificate purpose \(X509_V_ERR_INVALID_PURPOSE\)/);
        assert.match(e.verifyFailure?.certificateString ?? '', /^Subject Name: CN ?= ?Email Only/);
        assert.equal(e.alert?.direction, 'write');
        assert.equal(e.alert?.description, 'unsupported certificate');
        await server.waitFor(/alert|error/i);
      }
      void purpose;
      const p = calls.find((x) => x.error === 26);
      assert.ok(p !== undefined, `a call with error 26: ${JSON.stringify(calls.map((x) => [x.ok, x.depth, x.error]))}`);
      assert.equal(p.ok, 0);
      assert.equal(p.depth, 0);
      assert.match(p.certificateString, /Subject Name: CN ?= ?Email Only/);
      if (mode === 1) assert.ok(calls.some((x) => x.ok === 1 && x.depth === 0), 'verification continued past the failure');
      else assert.equal(calls[calls.length - 1], p, 'returning 0 stops verification at the failing certificate');
    } finally {
      await server.kill();
      ctx.dispose();
    }
  }
});

test('no verify callback means OpenSSL default; class style onVerify override', async () => {
  {
    const { port, server } = await startSServer(['-cert', c.emailCert, '-key', c.emailKey]);
    const ctx = clientContext();
    try {
      await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }),
        (e: TlsHandshakeError) => e.verifyFailure?.error === 26);
    } finally { await server.kill(); ctx.dispose(); }
  }
  {
    class Lenient extends SecureContext {
      seen: number[] = [];
      override onVerify(ok: 0 | 1, _cs: string, error: number): number { this.seen.push(error); return 1; }
    }
    const { port, server } = await startSServer(['-cert', c.emailCert, '-key', c.emailKey]);
    const ctx = new Lenient({ role: 'client', ca: [c.caCert] });
    try {
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
      assert.ok(ctx.seen.includes(26));
      s.destroy();
    } finally { await server.kill(); ctx.dispose(); }
  }
});

test('info callback reports handshake start/done, loop/exit on the connect side, and alerts', async () => {
  const { port, server } = await startSServer(['-cert', c.emailCert, '-key', c.emailKey]);
  const events: InfoEvent[] = [];
  const ctx = clientContext({ infoCallback: (ev) => { events.push(ev); } });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }));
    assert.ok(events.some((e) => e.handshakeStart));
    assert.ok(events.some((e) => e.loop && e.side === 'connect' && /write client hello/.test(e.state)), events.map((e) => e.state).join('|'));
    const alert = events.find((e) => e.alert);
    assert.equal(alert?.alertInfo?.level, 'fatal');
    assert.equal(alert?.alertInfo?.direction, 'write');
    assert.equal(alert?.alertInfo?.description, 'unsupported certificate');
    assert.equal(alert?.alertInfo?.code, 43);
  } finally { await server.kill(); ctx.dispose(); }
  const ok = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const events2: InfoEvent[] = [];
  const ctx2 = clientContext({ infoCallback: (ev) => { events2.push(ev); } });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port: ok.port, context: ctx2 });
    assert.ok(events2.some((e) => e.handshakeDone));
    assert.ok(events2.some((e) => e.exit && e.side === 'connect'));
    s.destroy();
  } finally { await ok.server.kill(); ctx2.dispose(); }
});

test('a throwing callback fails the handshake with the error as cause', async () => {
  for (const which of ['verify', 'info'] as const) {
    const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
    const boom = new Error(`boom from ${which}`);
    const ctx = clientContext(which === 'verify'
      ? { verifyCallback: () => { throw boom; } }
      : { infoCallback: () => { throw boom; } });
    try {
      await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }),
        (e: TlsHandshakeError) => e instanceof TlsHandshakeError && e.cause === boom && /callback threw/.test(e.message));
    } finally { await server.kill(); ctx.dispose(); }
  }
});

test('calls made from inside a callback are deferred until OpenSSL returns', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  let wrote = false;
  const ctx = clientContext({
    verifyCallback: (ok, _s, _e, _es, context) => {
      if (!wrote) { wrote = true; context.socket.write('written during verify\n'); }
      return ok;
    },
  });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    await server.waitFor(/written during verify/);
    s.destroy();
  } finally { await server.kill(); ctx.dispose(); }
  const second = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const ctx2 = clientContext({ verifyCallback: (ok, _s, _e, _es, context) => { context.socket.destroy(); return ok; } });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port: second.port, context: ctx2 }), TlsHandshakeError);
  } finally { await second.server.kill(); ctx2.dispose(); }
});

test('client-certificate callback: picks the CA-B identity from the acceptable issuer names', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-Verify', '2', '-CAfile', c.caBCert]);
  let issuers: string[] = [];
  const ctx = clientContext({
    clientCertificateCallback: (req) => {
      issuers = req.acceptableIssuers;
      assert.equal(req.acceptableIssuersDer.length, req.acceptableIssuers.length);
      const wantB = req.acceptableIssuers.some((n) => /CN = CA-B/.test(n));
      return wantB ? { cert: c.clientBCert, key: c.clientBKey } : { cert: c.clientCert, key: c.clientKey };
    },
  });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.deepEqual(issuers, ['CN = CA-B, O = dicom-tls tests']);
    s.write('after client auth\n');
    const out = await server.waitFor(/after client auth/);
    assert.match(out, /CN = Client of B/);
    assert.doesNotMatch(out, /verify error/);
    s.destroy();
  } finally { await server.kill(); ctx.dispose(); }
});

test("ALPN 'dicom', key-log file and session resumption", async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-alpn', 'dicom', '-naccept', '2']);
  const keyLogFile = join(c.dir, 'keys.log');
  const ctx = clientContext({ alpn: ['dicom'], keyLogFile });
  try {
    const s1 = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.equal(s1.alpnProtocol, 'dicom');
    assert.equal(s1.resumed, false);
    // TLS 1.3 tickets come after the handshake; exchange data so they are read.
    s1.write('one\n');
    await server.waitFor(/one/);
    server.proc.stdin.write('ticket?\n');
    await once(s1, 'data');
    assert.ok(ctx.cachedSessions >= 1, 'a session was kept for 127.0.0.1:port');
    s1.end();
    s1.resume();
    await once(s1, 'close');
    const s2 = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.equal(s2.resumed, true);
    assert.equal(s2.alpnProtocol, 'dicom');
    s2.destroy();
    const log = readFileSync(keyLogFile, 'utf8');
    assert.match(log, /^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$/m);
    assert.match(log, /^CLIENT_TRAFFIC_SECRET_0 /m);
  } finally { await server.kill(); ctx.dispose(); }
});

test('TLS 1.2 only: protocol and cipher facts follow the profile', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const ctx = clientContext({ maxProtocol: 'TLSv1.2' });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.equal(s.protocol, 'TLSv1.2');
    assert.match(s.cipher ?? '', /^ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)$/);
    s.destroy();
  } finally { await server.kill(); ctx.dispose(); }
});

test('host name check: mismatch fails with X509_V_ERR_HOSTNAME_MISMATCH', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const ctx = clientContext({ verifyHost: 'not-this-host.example' });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }),
      (e: TlsHandshakeError) => e.verifyFailure?.error === 62 && e.verifyFailure.depth === 0);
  } finally { await server.kill(); ctx.dispose(); }
});

test('SNI: the client sends the servername; an IP address host sends none', async () => {
  for (const servername of ['dicom.example', undefined]) {
    const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-servername', 'dicom.example',
      '-cert2', c.serverCert, '-key2', c.serverKey]);
    const ctx = clientContext();
    try {
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx, ...(servername !== undefined ? { servername } : {}) });
      s.write('sni-check\n');
      const out = await server.waitFor(/^sni-check$/m);
      if (servername !== undefined) assert.match(out, /Hostname in TLS extension: "dicom\.example"/);
      else assert.doesNotMatch(out, /Hostname in TLS extension/);
      s.destroy();
    } finally { await server.kill(); ctx.dispose(); }
  }
});
