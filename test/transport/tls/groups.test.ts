// Key-exchange groups: the hybrid post-quantum X25519MLKEM768 between our own client and server
// (OpenSSL 3.5 in Node 22+), the classical fallback against the machine's OpenSSL 3.0 command, and
// requireHybridGroup failing with a typed error against such a peer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { SecureContext, VerifyMode, type InfoEvent, type SecureContextOptions } from '../../../src/transport/tls/context.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { HybridGroupRequiredError, TlsConfigurationError, TlsHandshakeError } from '../../../src/transport/tls/errors.js';
import { availableHybridGroups, defaultGroups, groupAvailable, resumptionGroups } from '../../../src/transport/tls/groups.js';
import { InvalidOptionError } from '../../../src/errors.js';
import { channelNames } from '../../../src/diagnostics.js';
import { makeEngineCerts, spawnOpenssl, startSServer, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

const hybrid = groupAvailable('X25519MLKEM768');
const needsHybrid = hybrid ? {} : { skip: 'the linked OpenSSL has no X25519MLKEM768' };

function client(extra: Partial<SecureContextOptions> = {}): SecureContext {
  return new SecureContext({ role: 'client', ca: [c.caCert], verifyHost: 'localhost', ...extra });
}
function server(extra: Partial<SecureContextOptions> = {}): SecureContext {
  return new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None, ...extra });
}

async function ours(serverOpts: Partial<SecureContextOptions>, clientOpts: Partial<SecureContextOptions>, onInfo?: (e: InfoEvent) => void) {
  const sctx = server(serverOpts);
  const cctx = client(clientOpts);
  const srv = createSecureServer(sctx);
  const { port } = await srv.listen(0, '127.0.0.1');
  const accepted = once(srv, 'secureConnection');
  const failed = once(srv, 'handshakeError');
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, ...(onInfo ? { infoCallback: onInfo } : {}) });
    const [a] = (await accepted) as [SecureSocket];
    const r = { client: s.group, server: a.group, clientInfo: s.tlsInfo?.group };
    s.destroy();
    return r;
  } catch (e) {
    const [serverError] = (await Promise.race([failed, new Promise((r) => setTimeout(() => r([undefined]), 2000))])) as [unknown];
    return { error: e, serverError };
  } finally {
    await srv.close();
    cctx.dispose();
    sctx.dispose();
  }
}

test('the default list offers X25519MLKEM768 first, with key shares for it, X25519 and secp256r1, where OpenSSL has it', needsHybrid, () => {
  const list = defaultGroups();
  assert.ok(list !== undefined);
  assert.match(list, /^\*X25519MLKEM768:\*X25519:\*secp256r1:/);
  assert.deepEqual(list.split(':').filter((g) => g.startsWith('*')), ['*X25519MLKEM768', '*X25519', '*secp256r1']);
  assert.equal(client().groups, list);
  assert.deepEqual(availableHybridGroups()[0], 'X25519MLKEM768');
});

test('our client and our server negotiate X25519MLKEM768; the group is in TlsInfo, the info events and the handshake channel', needsHybrid, async () => {
  const events: InfoEvent[] = [];
  const published: unknown[] = [];
  const onMessage = (m: unknown): void => { published.push((m as { group?: unknown }).group); };
  subscribe(channelNames.tlsHandshake, onMessage);
  try {
    const r = await ours({}, {}, (e) => events.push(e));
    assert.deepEqual(r, { client: 'X25519MLKEM768', server: 'X25519MLKEM768', clientInfo: 'X25519MLKEM768' });
    assert.equal(events.find((e) => e.handshakeDone)?.group, 'X25519MLKEM768');
    assert.equal(events.find((e) => e.handshakeStart)?.group, undefined); // not chosen yet
    assert.ok(published.includes('X25519MLKEM768'), String(published));
  } finally {
    unsubscribe(channelNames.tlsHandshake, onMessage);
  }
});

test('groups option: a classical list negotiates that group; an array works too', async () => {
  assert.deepEqual(await ours({}, { groups: 'secp384r1' }), { client: 'secp384r1', server: 'secp384r1', clientInfo: 'secp384r1' });
  assert.deepEqual(await ours({ groups: ['X25519'] }, {}), { client: 'x25519', server: 'x25519', clientInfo: 'x25519' });
});

test('groups option mistakes are typed errors that name the option', () => {
  assert.throws(() => client({ groups: 'NoSuchGroup' }), (e: unknown) => e instanceof TlsConfigurationError && e.option === 'groups' && /NoSuchGroup/.test(e.message));
  assert.throws(() => client({ groups: '' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'groups');
  assert.throws(() => client({ groups: [42 as unknown as string] }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'groups');
});

test('requireHybridGroup: TLS 1.3 only, only hybrid groups; mistakes are refused at construction', needsHybrid, async () => {
  const ctx = client({ requireHybridGroup: true });
  assert.equal(ctx.requiresHybridGroup, true);
  assert.equal(ctx.groups, availableHybridGroups().join(':'));
  ctx.dispose();
  assert.throws(() => client({ requireHybridGroup: true, groups: 'X25519MLKEM768:X25519' }),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'groups' && /X25519 is not/.test(e.message));
  assert.throws(() => client({ requireHybridGroup: true, maxProtocol: 'TLSv1.2' }),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'requireHybridGroup');
  assert.throws(() => client({ requireHybridGroup: true, profile: 'bcp195-extended' }),
    (e: unknown) => e instanceof InvalidOptionError && e.option === 'requireHybridGroup' && /TLS 1\.3/.test(e.message));
  assert.deepEqual(await ours({ requireHybridGroup: true }, { requireHybridGroup: true }),
    { client: 'X25519MLKEM768', server: 'X25519MLKEM768', clientInfo: 'X25519MLKEM768' });
  // Our default client meets a server that requires the hybrid.
  assert.equal((await ours({ requireHybridGroup: true }, {}) as { client?: string }).client, 'X25519MLKEM768');
});

test('against an OpenSSL 3.0 s_server our default client falls back to X25519 without a HelloRetryRequest', async () => {
  const { port, server: proc } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const states: string[] = [];
  const ctx = client({ infoCallback: (e) => { if (e.loop) states.push(e.state); } });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.equal(s.protocol, 'TLSv1.3');
    assert.equal(s.group?.toLowerCase(), 'x25519');
    // One ServerHello: the X25519 key share was already in the first ClientHello.
    assert.equal(states.filter((st) => /read server hello/.test(st)).length, 1, states.join('|'));
    s.destroy();
  } finally { await proc.kill(); ctx.dispose(); }
});

// Several key shares need OpenSSL's `*` syntax in our default list, set only where the hybrid exists
// (OpenSSL 3.5); OpenSSL 3.0's own default sends one share (X25519) and a NIST-only peer retries.
const severalKeyShares = defaultGroups() !== undefined ? {} : { skip: 'the linked OpenSSL keeps its own default list, one key share' };

test("against a peer that offers only the NIST curves (DCMTK's TLS profiles) our default client is answered with P-256 without a HelloRetryRequest", severalKeyShares, async () => {
  const { port, server: proc } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-groups', 'P-256:P-384:P-521']);
  const states: string[] = [];
  const ctx = client({ infoCallback: (e) => { if (e.loop) states.push(e.state); } });
  try {
    const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
    assert.equal(s.protocol, 'TLSv1.3');
    assert.match(String(s.group), /^(secp256r1|prime256v1|P-256)$/i);
    // One ServerHello: the P-256 key share was already in the first ClientHello.
    assert.equal(states.filter((st) => /read server hello/.test(st)).length, 1, states.join('|'));
    s.destroy();
  } finally { await proc.kill(); ctx.dispose(); }
});

/** The key_share groups (TLS code points) of each ClientHello in an `s_server -trace` output. */
function keyShareGroups(trace: string): number[][] {
  return trace.split(/ClientHello, Length=/).slice(1).map((hello) => {
    const ext = /extension_type=key_share\(51\)[\s\S]*?(?=extension_type=|\n\n|$)/.exec(hello);
    return ext === null ? [] : [...ext[0].matchAll(/NamedGroup: .*\((\d+)\)$/gm)].map((m) => Number(m[1]));
  });
}
const X25519 = 29;
const SECP256R1 = 23;
const X25519MLKEM768 = 4588;

test('a resumed handshake sends key shares for the resumed session\'s group and the list\'s first alone, still an (EC)DHE exchange (s_server -trace)', severalKeyShares, async () => {
  for (const [groups, chosen] of [[[], X25519], [['-groups', 'P-256:P-384'], SECP256R1]] as const) {
    const { port, server: proc } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-trace', '-naccept', '2', ...groups]);
    const ctx = client();
    try {
      for (const resumed of [false, true]) {
        const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: ctx });
        // The ticket comes after the handshake; the session is kept once it has been read.
        while (ctx.cachedSessions === 0) await new Promise((r) => setTimeout(r, 5));
        assert.equal(s.resumed, resumed);
        s.end();
        await once(s, 'close');
      }
      await proc.kill();
      const shares = keyShareGroups(proc.output());
      assert.equal(shares.length, 2, proc.output());
      // The full handshake: the hybrid, X25519 and P-256. The resumption: the list's first (the
      // hybrid, which a server that has gained it since would take) and the group agreed then.
      assert.deepEqual(shares[0], [X25519MLKEM768, X25519, SECP256R1]);
      assert.deepEqual(shares[1], [X25519MLKEM768, chosen]);
      // psk_dhe_ke: the resumption still runs a key exchange (forward secrecy), not psk_ke alone.
      const resumedHello = proc.output().split(/ClientHello, Length=/)[2]!;
      const modes = /extension_type=psk_key_exchange_modes[\s\S]*?(?=extension_type=|\n\n)/.exec(resumedHello)?.[0] ?? '';
      assert.match(modes, /psk_dhe_ke/);
      assert.doesNotMatch(modes, /\bpsk_ke\b/);
    } finally { await proc.kill(); ctx.dispose(); }
  }
});

test('our client resumes with our server on X25519MLKEM768, in one ServerHello, after it offered only that key share', needsHybrid, async () => {
  const sctx = server();
  const states: string[] = [];
  const cctx = client({ infoCallback: (e) => { if (e.loop) states.push(e.state); } });
  const srv = createSecureServer(sctx);
  srv.on('secureConnection', (a: SecureSocket) => { a.resume(); a.on('end', () => a.end()); });
  const { port } = await srv.listen(0, '127.0.0.1');
  try {
    for (const resumed of [false, true, true]) {
      states.length = 0;
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
      while (cctx.cachedSessions === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(s.resumed, resumed);
      assert.equal(s.group, 'X25519MLKEM768');
      assert.equal(states.filter((st) => /read server hello/.test(st)).length, 1, states.join('|'));
      s.end();
      await once(s, 'close');
    }
  } finally { await srv.close(); cctx.dispose(); sctx.dispose(); }
});

test('a session agreed on X25519 does not keep the client off X25519MLKEM768 with a server that has it (the same session key: a restarted or upgraded server)', needsHybrid, async () => {
  const cctx = client();
  const classic = server({ groups: 'X25519' });
  const hybridServer = server();
  const servers = [createSecureServer(classic), createSecureServer(hybridServer)];
  for (const srv of servers) srv.on('secureConnection', (a: SecureSocket) => { a.resume(); a.on('end', () => a.end()); });
  try {
    const ports = [(await servers[0]!.listen(0, '127.0.0.1')).port, (await servers[1]!.listen(0, '127.0.0.1')).port];
    const groups: (string | undefined)[] = [];
    for (const port of [ports[0]!, ports[1]!, ports[1]!]) {
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, sessionKey: 'pacs' });
      while (cctx.cachedSessions === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20)); // the ticket of this connection, not the last one's
      groups.push(s.group);
      s.end();
      await once(s, 'close');
    }
    // A fresh client gets the hybrid from the second server: so must this one, whose last session was classical.
    assert.deepEqual(groups, ['x25519', 'X25519MLKEM768', 'X25519MLKEM768']);
  } finally {
    for (const srv of servers) await srv.close();
    cctx.dispose(); classic.dispose(); hybridServer.dispose();
  }
});

test('resumptionGroups: the same list with one key share, or undefined where it must stay', () => {
  const list = '*X25519MLKEM768:*X25519:*secp256r1:X448:secp521r1';
  assert.equal(resumptionGroups(list, 'X25519MLKEM768'), '*X25519MLKEM768:X25519:secp256r1:X448:secp521r1');
  assert.equal(resumptionGroups(list, 'x25519'), '*X25519MLKEM768:*X25519:secp256r1:X448:secp521r1');
  assert.equal(resumptionGroups(list, 'secp256r1'), '*X25519MLKEM768:X25519:*secp256r1:X448:secp521r1');
  // A group without a share in the context's list gets a share, beside the first one's.
  assert.equal(resumptionGroups(list, 'X448'), '*X25519MLKEM768:X25519:secp256r1:*X448:secp521r1');
  assert.equal(resumptionGroups('?*X25519MLKEM768:?*X25519:?*secp256r1', 'secp256r1'), '?*X25519MLKEM768:?X25519:?*secp256r1');
  assert.equal(resumptionGroups(undefined, 'X25519'), undefined); // OpenSSL's default: one share
  assert.equal(resumptionGroups('X25519MLKEM768:X25519', 'X25519'), undefined); // one share already
  assert.equal(resumptionGroups('*X25519MLKEM768:*X25519', 'secp384r1'), undefined); // not in the list
  assert.equal(resumptionGroups('*X25519MLKEM768:*X25519:-secp384r1', 'secp384r1'), undefined); // removed
  assert.equal(resumptionGroups('*X25519MLKEM768 / *X25519:secp256r1', 'X25519'), undefined); // tuples
});

test('an OpenSSL 3.0 s_client reaches our default server with a classical group', async () => {
  const sctx = server();
  const srv = createSecureServer(sctx);
  const { port } = await srv.listen(0, '127.0.0.1');
  const accepted = once(srv, 'secureConnection');
  const peer = spawnOpenssl(['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', c.caCert]);
  try {
    const [a] = (await accepted) as [SecureSocket];
    a.on('error', () => undefined); // the peer is killed below
    assert.equal(a.group?.toLowerCase(), 'x25519');
    const out = await peer.waitFor(/Server Temp Key: [^\n]*\n/);
    assert.match(out, /Server Temp Key: X25519/);
    a.destroy();
  } finally { await peer.kill(); await srv.close(); sctx.dispose(); }
});

test('requireHybridGroup against an OpenSSL 3.0 s_server fails with HybridGroupRequiredError', needsHybrid, async () => {
  const { port, server: proc } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  const ctx = client({ requireHybridGroup: true });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }), (e: unknown) => {
      assert.ok(e instanceof HybridGroupRequiredError && e instanceof TlsHandshakeError);
      assert.equal(e.code, 'DICOM_TLS_ERR_NO_HYBRID_GROUP');
      assert.equal(e.alert?.code, 40);
      assert.deepEqual(e.offered, availableHybridGroups());
      assert.match(e.message, /no hybrid post-quantum key exchange with the peer/);
      return true;
    });
    await proc.waitFor(/no suitable key share/);
  } finally { await proc.kill(); ctx.dispose(); }
});

test('a server with requireHybridGroup refuses an OpenSSL 3.0 s_client with HybridGroupRequiredError', needsHybrid, async () => {
  const sctx = server({ requireHybridGroup: true });
  const srv = createSecureServer(sctx);
  const { port } = await srv.listen(0, '127.0.0.1');
  const failed = once(srv, 'handshakeError');
  const peer = spawnOpenssl(['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', c.caCert]);
  try {
    const [e] = (await failed) as [TlsHandshakeError];
    assert.ok(e instanceof HybridGroupRequiredError, e.message);
    assert.equal(e.alert?.direction, 'write');
    assert.match(await peer.waitFor(/alert/), /handshake failure/);
  } finally { await peer.kill(); await srv.close(); sctx.dispose(); }
});

test('a TLS 1.2-only peer meets requireHybridGroup: the same typed error', needsHybrid, async () => {
  const { port, server: proc } = await startSServer(['-tls1_2', '-cert', c.serverCert, '-key', c.serverKey]);
  const ctx = client({ requireHybridGroup: true });
  try {
    await assert.rejects(SecureSocket.connect({ host: '127.0.0.1', port, context: ctx }), HybridGroupRequiredError);
  } finally { await proc.kill(); ctx.dispose(); }
});

test('an OpenSSL without hybrid groups refuses requireHybridGroup at construction, naming itself', hybrid ? { skip: 'the linked OpenSSL has hybrid groups' } : {}, () => {
  assert.equal(defaultGroups(), undefined);
  assert.equal(client().groups, undefined); // OpenSSL's own default list
  assert.throws(() => client({ requireHybridGroup: true }),
    (e: unknown) => e instanceof TlsConfigurationError && e.option === 'requireHybridGroup' && /OpenSSL 3\.5/.test(e.message));
});
