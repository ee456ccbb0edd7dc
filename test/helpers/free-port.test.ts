/** The port helper for peers told their port in advance: outside the ephemeral range, retried when taken. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ephemeralRange, freePort, isAddressInUse, onFreePort } from './free-port.js';

test('freePort gives a port below the kernel ephemeral range that can be bound at once', async () => {
  const [low] = ephemeralRange();
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(port < low, `${port} is in the ephemeral range from ${low}`);
    const s = net.createServer();
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, '127.0.0.1', resolve); });
    await new Promise<void>((r) => s.close(() => r()));
  }
});

test('onFreePort starts again on another port when the port was taken, and throws any other failure as it is', async () => {
  const tried: number[] = [];
  const port = await onFreePort(async (p) => {
    tried.push(p);
    if (tried.length < 3) throw new Error(`storescp: TCP Initialization Error: Address already in use (${p})`);
    return p;
  });
  assert.equal(tried.length, 3);
  assert.equal(port, tried[2]);
  const other = new Error('no such file');
  await assert.rejects(onFreePort(async () => { throw other; }), (e) => e === other);
  let attempts = 0;
  await assert.rejects(onFreePort(async () => { attempts++; throw Object.assign(new Error('listen'), { code: 'EADDRINUSE' }); }, 4), /listen/);
  assert.equal(attempts, 4);
  assert.equal(isAddressInUse(new Error('could not bind IPv4 address "127.0.0.1": Address already in use')), true);
  assert.equal(isAddressInUse(new Error('error: --port 24001: the port is already in use on 127.0.0.1 (another program, perhaps another dicom-tls serve, listens there); stop it or choose another --port. [DICOM_ERR_CONNECTION]')), true);
  assert.equal(isAddressInUse(new Error('connection refused')), false);
});
