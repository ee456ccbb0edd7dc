/**
 * A reload hands the old TLS context back at once (SecureContext.dispose, which frees it when its
 * last connection is gone): kept until the stop, every reload (a watched file rewritten by a
 * config-management run, a SIGHUP in a loop) left one more SSL_CTX with its session cache behind.
 * A connection that started on the old context goes on.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { CertificateReloader } from '../../src/cli/serve-reload.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { createSecureServer } from '../../src/transport/tls/server.js';
import { SecureSocket } from '../../src/transport/tls/socket.js';
import { makeEngineCerts } from '../transport/tls/engine-fixtures.js';
import { createServeLog } from '../../src/cli/serve-log.js';
import { Writable } from 'node:stream';

const c = makeEngineCerts();
after(() => c.cleanup());

test('a reload disposes of the context it replaces; a connection on it keeps working until it closes', { timeout: 60_000 }, async () => {
  const make = (): SecureContext => new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert] });
  let current = make();
  const server = createSecureServer(current);
  const { port } = await server.listen();
  const clientCtx = new SecureContext({ role: 'client', ca: [c.caCert], identity: { cert: c.clientCert, key: c.clientKey } });
  const reloader: CertificateReloader = new CertificateReloader({
    files: { cert: c.serverCert, key: c.serverKey }, build: async () => make(), log: createServeLog(new Writable({ write(_c, _e, cb) { cb(); } }), { level: 'silent' }), watch: false, warningDays: 0,
    apply: (next) => { reloader.retire(current); current = next; server.context = next; },
  });
  try {
    const first = current;
    const accepted = once(server, 'secureConnection');
    const running = await SecureSocket.connect({ host: '127.0.0.1', port, context: clientCtx, servername: 'localhost' });
    const [serverSide] = (await accepted) as [SecureSocket];
    await reloader.reload('test');
    await reloader.reload('test again');
    assert.notEqual(current, first);
    assert.equal(first.disposed, true, 'the replaced context is handed back at the reload, not at the stop');
    // The connection that started on it still carries data both ways.
    serverSide.write('still here');
    const [d] = (await once(running, 'data')) as [Buffer];
    assert.equal(d.toString(), 'still here');
    running.destroy();
    serverSide.destroy();
    // New connections use the newest context.
    const next = await SecureSocket.connect({ host: '127.0.0.1', port, context: clientCtx, servername: 'localhost' });
    next.destroy();
  } finally {
    reloader.close();
    await server.close();
    current.dispose();
    clientCtx.dispose();
  }
});
