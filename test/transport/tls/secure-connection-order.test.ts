/**
 * SecureServer announces a connection ('secureConnection') as its handshake completes, before
 * the application data that came with the client's last flight is decrypted: the owner's reader
 * is in place for it (a DICOM client's Finished and its A-ASSOCIATE-RQ arrive together), instead
 * of that data being pushed into the stream's buffer first and read back out a tick later.
 */
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

test("'secureConnection' comes as the handshake completes: before the handshake promise's reactions and before the data sent with the client's Finished is decrypted", { timeout: 60_000 }, async () => {
  const serverCtx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, ca: [c.caCert] });
  const clientCtx = new SecureContext({ role: 'client', identity: { cert: c.clientCert, key: c.clientKey }, ca: [c.caCert] });
  const server = createSecureServer(serverCtx);
  const { port } = await server.listen(0, '127.0.0.1');
  const order: string[] = [];
  let bufferedAtAnnounce = -1;
  const received: Buffer[] = [];
  server.on('connection', (s) => {
    void s.handshake().then(() => order.push('handshake promise'), () => undefined);
  });
  server.on('secureConnection', (s) => {
    order.push('secureConnection');
    bufferedAtAnnounce = s.readableLength;
    s.on('data', (d: Buffer) => received.push(d));
  });
  const announced = once(server, 'secureConnection');
  const client = await SecureSocket.connect({ host: '127.0.0.1', port, context: clientCtx, servername: 'localhost', timeout: 20_000 });
  try {
    client.write('first request'); // leaves with the client's Finished (one flush)
    await announced;
    while (Buffer.concat(received).toString() !== 'first request') await once(server.connections.values().next().value!, 'data');
    assert.deepEqual(order.slice(0, 2), ['secureConnection', 'handshake promise']);
    assert.equal(bufferedAtAnnounce, 0, 'nothing decrypted into the stream before its owner was told');
  } finally {
    client.destroy();
    await server.close();
    serverCtx.dispose();
    clientCtx.dispose();
  }
});
