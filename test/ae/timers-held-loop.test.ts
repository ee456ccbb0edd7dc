/**
 * The client's association and release timers, and the server's TLS handshake timeout, after
 * the event loop was held: timers run before the loop reads its sockets, so a loop held past a
 * timeout (a busy or starved process) reaches the timer with the peer's answer already in the
 * socket. That is a peer that answered in time, not a silent one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { channelNames } from '../../src/diagnostics.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import tls from 'node:tls';
import { SecureContext } from '../../src/transport/tls/context.js';
import { rqPdu } from '../ul/fixtures.js';
import { scenarioPki } from '../helpers/pki.js';

function serverContext(): SecureContext {
  const pki = scenarioPki();
  return new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert, pki.caA.cert] });
}

const TIMEOUT = 100;
const contexts = [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }];

/** Holds the event loop (as a long synchronous step or a starved process would) past TIMEOUT. */
function holdLoop(): void {
  const until = performance.now() + 3 * TIMEOUT;
  while (performance.now() < until);
}

/** Holds the loop once, right after the PDU of this type went to the socket (before anyone could read it). */
function holdAfterSent(type: string): { readonly held: () => boolean; readonly stop: () => void } {
  let held = false;
  const hold = (m: unknown): void => {
    if (held || (m as { pdu: { type: string } }).pdu.type !== type) return;
    held = true;
    process.nextTick(holdLoop);
  };
  diagnosticsChannel.subscribe(channelNames.pduSent, hold);
  return { held: () => held, stop: () => diagnosticsChannel.unsubscribe(channelNames.pduSent, hold) };
}

async function withServer(fn: (port: number) => Promise<void>): Promise<void> {
  const server = new DicomServer({ presentationContexts: { supported: [{ abstractSyntax: VerificationSopClass }] } });
  const { port } = await server.listen(0);
  try {
    await fn(port);
  } finally {
    await server.close({ timeout: 1000 });
  }
}

test('association timer: an A-ASSOCIATE-AC waiting unread after the loop was held past the timeout is taken', async () => {
  await withServer(async (port) => {
    const hold = holdAfterSent('A-ASSOCIATE-AC');
    try {
      const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: contexts, timeouts: { association: TIMEOUT } });
      assert.equal(hold.held(), true);
      hold.stop();
      await client.release();
    } finally {
      hold.stop();
    }
  });
});

test('release timer: an A-RELEASE-RP waiting unread after the loop was held past the timeout is a release, not an abort', async () => {
  await withServer(async (port) => {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: contexts, timeouts: { association: TIMEOUT } });
    const hold = holdAfterSent('A-RELEASE-RP');
    try {
      await client.release();
      assert.equal(hold.held(), true);
      assert.equal((await client.association.whenClosed()).error, undefined);
    } finally {
      hold.stop();
    }
  });
});

test('TLS handshake timeout: the client\'s last flight waiting unread after the loop was held past the timeout completes the handshake', async () => {
  const server = new DicomServer({ tls: serverContext(), timeouts: { handshake: TIMEOUT }, presentationContexts: { supported: [{ abstractSyntax: VerificationSopClass }] } });
  const failures: unknown[] = [];
  server.on('handshakeError', (f) => failures.push(f.error));
  const { port } = await server.listen(0);
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, cert: readFileSync(scenarioPki().clientA.cert), key: readFileSync(scenarioPki().clientA.key) });
  client.on('error', () => undefined);
  try {
    // Our Finished has gone to the socket; the server has not read it.
    await once(client, 'secureConnect');
    holdLoop();
    client.write(encodePdu(rqPdu()));
    const [reply] = (await Promise.race([once(client, 'data'), once(client, 'close').then(() => [Buffer.alloc(1)])])) as [Buffer];
    assert.equal(reply[0], 0x02, 'an A-ASSOCIATE-AC over the secured connection, not a close');
    assert.deepEqual(failures, []);
  } finally {
    client.destroy();
    await server.close({ timeout: 1000 });
  }
});
