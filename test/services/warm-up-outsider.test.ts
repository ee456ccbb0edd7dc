/**
 * The warm-up's scratch servers listen on the loopback, where any local process can connect:
 * one that does not know the run's AE title is rejected, even with the documented WARM-UP.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmUpStoragePath } from '../../src/services/scp/warm-up.js';
import { channelNames } from '../../src/diagnostics.js';
import { DicomClient } from '../../src/ae/client.js';
import { VerificationSopClass, TransferSyntax } from '../../src/dictionary/uids.js';

const dir = mkdtempSync(join(tmpdir(), 'warm-up-outsider-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an outsider associating with a scratch server during the warm-up is rejected', async () => {
  // The scratch servers' ports: every server that starts listening while the warm-up runs.
  const servers: net.Server[] = [];
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    servers.push(this);
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  let outsider: Promise<string> | undefined;
  // At the warm-up's first association, while its servers surely listen.
  const onAssociation = (m: unknown): void => {
    if ((m as { kind: string }).kind !== 'accepted' || outsider !== undefined) return;
    // The one listening now (the warm-up opens and closes a first server before any traffic).
    const port = (servers.find((s) => s.listening)!.address() as net.AddressInfo).port;
    outsider = DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'WARM-UP', calledAeTitle: 'WARM-UP',
      presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
    }).then(async (c) => { await c.abort(); return 'accepted'; }, (e: unknown) => (e as { code?: string }).code ?? String(e));
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssociation);
  try {
    await warmUpStoragePath({ instances: 800, directory: dir, fsync: 'none', tls: false });
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
    net.Server.prototype.listen = listen;
  }
  assert.ok(outsider !== undefined, 'the warm-up made no association');
  assert.equal(await outsider, 'DICOM_ERR_ASSOCIATION_REJECTED');
});
