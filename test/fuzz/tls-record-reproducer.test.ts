/**
 * Crash reproducer found by the live fuzzer: a client whose first application-data record has a
 * bad MAC and arrives in the same read as its handshake Finished. The server's SecureSocket
 * failed before anyone owned it, and its unhandled 'error' ended the process. Kept as a test: the
 * server survives, the connection is closed, and the next association is answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { Status } from '../../src/dictionary/status.js';
import { scenarioPki } from '../helpers/pki.js';
import { rawAssociateRq } from '../helpers/raw-pdu.js';
import { interposed } from '../helpers/interposed-socket.js';

/** Between the TLS client and its socket: holds writes for one turn of the event loop and sends them as one, the last byte flipped once app data follows the handshake. */
function coalescingCorrupter(raw: net.Socket): Duplex {
  let held: Buffer[] = [];
  let scheduled = false;
  let writes = 0;
  return interposed(raw, (chunk) => {
    held.push(Buffer.from(chunk));
    writes++;
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        const out = Buffer.concat(held);
        held = [];
        // The client's first flight is one write; Finished and app data come after it.
        if (writes > 1 && out.length > 0) out[out.length - 1] = out[out.length - 1]! ^ 0xff;
        if (!raw.destroyed) raw.write(out);
      });
    }
  });
}

test('a bad record MAC in the read that completes the TLS handshake does not end the server', async () => {
  const pki = scenarioPki();
  const server = new DicomServer({ tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) });
  const { port } = await server.listen(0);
  try {
    for (let i = 0; i < 5; i++) {
      const raw = net.connect(port, '127.0.0.1');
      await once(raw, 'connect');
      const closed = once(raw, 'close');
      const socket = tls.connect({
        cert: readFileSync(pki.valid.cert),
        key: readFileSync(pki.valid.key),
        ca: readFileSync(pki.root.cert),
        rejectUnauthorized: false,
        socket: coalescingCorrupter(raw) as unknown as net.Socket,
      });
      socket.on('error', () => undefined);
      socket.once('close', () => raw.end());
      socket.once('secureConnect', () => socket.write(rawAssociateRq()));
      await closed;
      socket.destroy();
    }
    const client = await DicomClient.associate({
      host: '127.0.0.1',
      port,
      callingAeTitle: 'AFTER',
      calledAeTitle: 'ANY',
      tls: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }),
      timeouts: { connect: 10_000, association: 10_000, dimse: 10_000 },
    });
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
  }
});
