/**
 * Many short associations in one process leave nothing behind: after hundreds of them (TLS with
 * session resumption, and plain TCP) every listener on the long-lived objects, every live timer,
 * socket and immediate, every OpenSSL object and the server's bookkeeping are back where they
 * were after the first few. Outcomes only: counts, never timings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import net from 'node:net';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { live } from '../../src/transport/tls/openssl/ssl.js';
import { scenarioPki } from '../helpers/pki.js';

const quick = { connect: 10_000, association: 10_000, dimse: 10_000 };
const COUNT = 500;

/** Live async resources by type (created and not yet destroyed), kept by an async hook. */
function liveResources(): { counts(): Record<string, number>; stop(): void } {
  const types = new Map<number, string>();
  const hook = createHook({
    init(id, type) { if (type !== 'PROMISE' && type !== 'TickObject' && type !== 'Microtask') types.set(id, type); },
    destroy(id) { types.delete(id); },
  }).enable();
  return {
    counts() {
      const out: Record<string, number> = {};
      for (const t of types.values()) out[t] = (out[t] ?? 0) + 1;
      return out;
    },
    stop() { hook.disable(); },
  };
}

/** Listener counts of every event of the listening net.Server on `port` (found among the process's handles). */
function listeningServerListeners(port: number): Record<string, number> {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const server = handles.find((h): h is net.Server => h instanceof net.Server && (h.address() as net.AddressInfo | null)?.port === port);
  assert.ok(server !== undefined, 'the listening server');
  const out: Record<string, number> = {};
  for (const name of server.eventNames()) out[String(name)] = server.listenerCount(name);
  return out;
}

function serverListeners(server: DicomServer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ['association', 'rejected', 'connectionError', 'handshakeError'] as const) out[name] = server.listenerCount(name);
  return out;
}

async function settle(): Promise<void> {
  // Sockets closed with destroySoon and timers cleared in close handlers need a few turns.
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
}

async function churn(tls: { server: SecureContext; client: SecureContext } | undefined): Promise<void> {
  const server = new DicomServer({ ...(tls === undefined ? {} : { tls: tls.server }) });
  server.on('association', () => undefined);
  const { port } = await server.listen(0);
  const resources = liveResources();
  try {
    const one = async (): Promise<void> => {
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, callingAeTitle: 'CHURN-SCU', calledAeTitle: 'ANY-SCP', timeouts: quick,
        ...(tls === undefined ? {} : { tls: tls.client }),
      });
      assert.equal((await client.echo()).status, 0);
      await client.release();
    };
    for (let i = 0; i < 5; i++) await one(); // the first (full handshake) and lazily made things
    await settle();
    const before = {
      resources: resources.counts(),
      netServer: listeningServerListeners(port),
      server: serverListeners(server),
      openssl: live.snapshot(),
      associations: server.associations.size,
    };
    let resumed = 0;
    for (let i = 0; i < COUNT; i++) {
      const client = await DicomClient.associate({
        host: '127.0.0.1', port, callingAeTitle: 'CHURN-SCU', calledAeTitle: 'ANY-SCP', timeouts: quick,
        ...(tls === undefined ? {} : { tls: tls.client }),
      });
      if (client.tls?.resumed === true) resumed++;
      assert.equal((await client.echo()).status, 0);
      await client.release();
    }
    if (tls !== undefined) assert.equal(resumed, COUNT, 'every association resumed its TLS session');
    await settle();
    assert.deepEqual(resources.counts(), before.resources, 'live timers, sockets and immediates');
    assert.deepEqual(listeningServerListeners(port), before.netServer, 'listeners on the listening socket');
    assert.deepEqual(serverListeners(server), before.server, 'listeners on the DicomServer');
    assert.deepEqual(live.snapshot(), before.openssl, 'OpenSSL objects');
    assert.equal(server.associations.size, before.associations);
  } finally {
    resources.stop();
    await server.close({ timeout: 1000 });
  }
}

test(`${COUNT} resumed TLS associations leave no listener, timer, socket or OpenSSL object behind`, async () => {
  const pki = scenarioPki();
  const serverCtx = new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
  const clientCtx = new SecureContext({ role: 'client', identity: { cert: pki.clientA.cert, key: pki.clientA.key }, ca: [pki.root.cert], sessionResumption: true });
  try {
    await churn({ server: serverCtx, client: clientCtx });
  } finally {
    clientCtx.dispose();
    serverCtx.dispose();
  }
});

test(`${COUNT} plain TCP associations leave no listener, timer or socket behind`, async () => {
  await churn(undefined);
});
