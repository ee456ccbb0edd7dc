// RFC 8879 certificate compression: a client sends its certificate uncompressed. OpenSSL would
// compress it afresh at every full handshake (Brotli at its highest quality: ~0.9 ms of CPU, a
// fifth of a mutual-auth handshake's client side) to save a few hundred bytes once per connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SecureContext } from '../../../src/transport/tls/context.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { makeEngineCerts, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

test('a client sends its certificate uncompressed; the server reads and verifies it', async () => {
  const states: string[] = [];
  const sctx = new SecureContext({
    role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert],
    infoCallback: (e) => { if (e.loop) states.push(e.state); },
  });
  const cctx = new SecureContext({ role: 'client', identity: { cert: c.clientCert, key: c.clientKey }, ca: [c.caCert], sessionResumption: false });
  const server = createSecureServer(sctx);
  const { port } = await server.listen(0, '127.0.0.1');
  const accepted = once(server, 'secureConnection');
  const client = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx, servername: 'localhost' });
  try {
    const [secure] = (await accepted) as [SecureSocket];
    assert.equal(secure.protocol, 'TLSv1.3');
    assert.match(secure.peerCertificate?.subject ?? '', /CN=/, 'the server has the client certificate');
    assert.ok(states.some((s) => /read client certificate/i.test(s)), states.join('\n'));
    assert.ok(!states.some((s) => /compressed/i.test(s)), states.join('\n'));
  } finally {
    client.destroy();
    await server.close();
    cctx.dispose();
    sctx.dispose();
  }
});
