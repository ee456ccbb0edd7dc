/**
 * serve's handshake and ARTIM timeouts from the config file's "limits" (docs/limits.md): a peer
 * that connects and sends nothing is closed after the configured time, not the 30 s default. The
 * hang guards (20 s) sit below that default, so the test fails when the setting is not applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

/**
 * Connects, sends `first` (if any) and then nothing, resolves when the server closes the
 * connection (rejects after `guardMs`).
 */
function silentPeer(port: number, guardMs: number, first?: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      if (first !== undefined) socket.write(first);
    });
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept a silent connection on port ${port} open for ${guardMs} ms`));
    }, guardMs);
    socket.on('error', () => undefined);
    socket.resume();
    socket.once('close', () => {
      clearTimeout(guard);
      resolve();
    });
  });
}

test('serve closes a silent connection after limits.handshakeTimeout (TLS port) and limits.artimTimeout (plain port), and logs the failed handshake', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-serve-timeouts-');
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ tls: { devPki: true }, limits: { handshakeTimeout: 300, artimTimeout: 300 } }));
  const p = spawnServe(['--config', 'c.json', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(dir, 'data')], { cwd: dir });
  try {
    const { port, plainPort } = await listening(p);
    assert.ok(plainPort !== undefined, p.output());
    // Silent from the start (closed before any TLS or DICOM byte), then a TLS record header whose
    // ClientHello never comes (a handshake under way: its timeout is logged as a failed handshake).
    await silentPeer(port, 20_000);
    await silentPeer(plainPort, 20_000);
    await silentPeer(port, 20_000, Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x80));
    await p.waitFor(/TLS handshake from 127\.0\.0\.1:\d+ failed.*300 ms/, 20_000);
  } finally {
    await p.kill();
    cleanup();
  }
});
