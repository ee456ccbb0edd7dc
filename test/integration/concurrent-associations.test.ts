/** Many concurrent associations against one DicomServer, plain and TLS, each doing several echoes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { scenarioPki } from '../helpers/pki.js';

const quick = { connect: 20_000, association: 20_000, dimse: 20_000 };

for (const mode of ['plain', 'tls'] as const) {
  test(`${mode}: 16 concurrent associations, 3 echoes each, all released; the server saw 16 distinct calling AE titles`, async () => {
    const pki = scenarioPki();
    const server = new DicomServer({
      ...(mode === 'tls' ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
    });
    const { port } = await server.listen(0);
    const callers = new Set<string>();
    let peak = 0;
    const ended: Promise<unknown>[] = [];
    server.on('association', (a) => {
      ended.push(a.whenClosed());
      callers.add(a.callingAeTitle);
      peak = Math.max(peak, server.associations.size);
    });
    const tls = mode === 'tls' ? new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) : undefined;
    try {
      await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const c = await DicomClient.associate({ host: '127.0.0.1', port, tls, callingAeTitle: `SCU-${i}`, calledAeTitle: 'SCP', timeouts: quick });
          for (let k = 0; k < 3; k++) assert.equal((await c.echo()).messageIdBeingRespondedTo, k + 1);
          await c.release();
        }),
      );
      assert.equal(callers.size, 16);
      assert.ok(peak >= 2, 'associations overlapped');
      // The server side ends when the requestor's close arrives, just after the client's release resolves.
      assert.deepEqual(await Promise.all(ended), new Array(16).fill({ error: undefined }));
      assert.equal(server.associations.size, 0);
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
}
