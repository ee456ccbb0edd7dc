/**
 * serve bounds the connections that hold no association (limits.maxPendingConnections): one more
 * closes the oldest, with a 'connection-shed' warning naming it and the error code.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

const tmp = tempDir('cli-serve-pending-');
after(() => tmp.cleanup());

test('serve: a third silent connection on the TLS port with limits.maxPendingConnections 2 closes the oldest, logs it and counts it', { timeout: 120_000 }, async () => {
  writeFileSync(join(tmp.dir, 'pending.json'), JSON.stringify({ limits: { maxPendingConnections: 2 } }));
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data', join(tmp.dir, 'data'), '--config', 'pending.json', '--dev-pki', '--log-format', 'json'], { cwd: tmp.dir });
  const socks: net.Socket[] = [];
  try {
    const { port, httpPort } = await listening(p, true);
    // Connected one after another: the server accepts them in that order.
    for (let i = 0; i < 3; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      socks.push(s);
    }
    const oldest = socks[0]!.localPort;
    await once(socks[0]!, 'close');
    await p.waitFor(/"event":"connection-shed"/);
    const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const shed = lines.filter((l) => l.event === 'connection-shed');
    assert.equal(shed.length, 1, p.output());
    assert.equal(shed[0]!.level, 'warn');
    assert.equal(shed[0]!.code, 'DICOM_ERR_PENDING_CONNECTION_LIMIT');
    assert.equal(shed[0]!.limit, 2);
    assert.equal((shed[0]!.peer as { port: number }).port, oldest);
    assert.match(String(shed[0]!.msg), new RegExp(`connection from 127\\.0\\.0\\.1:${oldest} closed: 2 connections were waiting`));
    // Operators see it in the metrics too.
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(metrics, /^dicom_tls_connections_shed_total 1$/m);
  } finally {
    for (const s of socks) s.destroy();
    await p.kill();
  }
});

test('serve: limits.maxPendingBytes bounds what connections send before their A-ASSOCIATE-RQ is complete, the oldest closed and logged', { timeout: 120_000 }, async () => {
  writeFileSync(join(tmp.dir, 'pending-bytes.json'), JSON.stringify({ limits: { maxPendingBytes: 100000 } }));
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(tmp.dir, 'data-bytes'), '--config', 'pending-bytes.json', '--dev-pki', '--log-format', 'json'], { cwd: tmp.dir });
  const socks: net.Socket[] = [];
  try {
    const { plainPort } = await listening(p);
    // Each the start of an A-ASSOCIATE-RQ announcing 1 MiB, 40 000 bytes of it sent.
    for (let i = 0; i < 3; i++) {
      const s = net.connect(plainPort!, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      const rq = Buffer.alloc(40_006);
      rq[0] = 0x01;
      rq.writeUInt32BE(1024 * 1024, 2);
      s.write(rq);
      socks.push(s);
    }
    const oldest = socks[0]!.localPort;
    await once(socks[0]!, 'close');
    await p.waitFor(/"event":"connection-shed"/);
    const shed = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'connection-shed');
    assert.equal(shed.length, 1, p.output());
    assert.equal(shed[0]!.code, 'DICOM_ERR_PENDING_CONNECTION_LIMIT');
    assert.equal((shed[0]!.peer as { port: number }).port, oldest);
    assert.match(String(shed[0]!.msg), /maxPendingBytes/);
  } finally {
    for (const s of socks) s.destroy();
    await p.kill();
  }
});
