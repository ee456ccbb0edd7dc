/**
 * `serve` takes its ports before it listens (cli/port-check.ts over transport/bound-port.ts), on
 * whatever address --host names: IPv4, IPv6 loopback, the IPv6 wildcard (dual-stack, as libuv
 * listens), an IPv4-mapped IPv6 address. A port bound there refuses connections until a server
 * listens on that very socket; a busy port, a foreign address and a name that does not resolve
 * each fail with the typed error a user sees. Then a whole `serve --host ::1` answers a C-ECHO.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { DicomError } from '../../src/errors.js';
import { bindPorts } from '../../src/cli/port-check.js';
import { exitCodeFor } from '../../src/cli/errors.js';
import { skipWithoutIpv6 } from '../helpers/ipv6.js';
import { freePort, onFreePort } from '../helpers/free-port.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

const tmp = tempDir('cli-bind-address-');
after(() => tmp.cleanup());

function connect(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function holder(host: string): Promise<{ port: number; close(): Promise<void> }> {
  const s = net.createServer((c) => c.destroy()).listen(0, host);
  await once(s, 'listening');
  return { port: (s.address() as net.AddressInfo).port, close: () => new Promise((r) => s.close(() => r())) };
}

/** Bound on `host`: refused on every `reach` address; listened on: accepted on each of them. */
async function bindsAndServes(host: string, reach: readonly string[]): Promise<void> {
  const bound = await onFreePort(async (port) => (await bindPorts(host, [{ port, option: '--port' }]))[0]);
  assert.ok(bound !== undefined);
  const port = bound.port;
  for (const to of reach) assert.equal(await connect(port, to), 'ECONNREFUSED', `${host} bound, ${to} reached before the listen`);
  const server = net.createServer((c) => { c.on('error', () => undefined); c.end(); });
  server.listen(bound.take());
  await once(server, 'listening');
  try {
    assert.deepEqual([(server.address() as net.AddressInfo).address, (server.address() as net.AddressInfo).port], [host, port]);
    for (const to of reach) assert.equal(await connect(port, to), 'connected', `${host} listening, reached on ${to}`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('an IPv4 address: bound, refused, then served on that socket', async () => {
  await bindsAndServes('127.0.0.1', ['127.0.0.1']);
});

test('the IPv6 loopback ::1', { skip: skipWithoutIpv6 }, async () => {
  await bindsAndServes('::1', ['::1']);
});

test('the IPv6 wildcard :: is dual-stack: reached on ::1 and on 127.0.0.1', { skip: skipWithoutIpv6 }, async () => {
  await bindsAndServes('::', ['::1', '127.0.0.1']);
});

test('an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is 127.0.0.1', { skip: skipWithoutIpv6 }, async () => {
  await bindsAndServes('::ffff:127.0.0.1', ['127.0.0.1']);
});

test('a name that is no address: the unknown-host error, exit 6, as before any bind', async () => {
  for (const host of ['not an address', '::1::2', '1.2.3.4.5', 'fe80::zz']) {
    await assert.rejects(bindPorts(host, [{ port: 40000, option: '--port' }]), (e: unknown) =>
      e instanceof DicomError && e.code === 'DICOM_ERR_UNKNOWN_HOST' && exitCodeFor(e) === 6 && e.message.includes(`"${host}"`), host);
  }
});

test('an IPv6 address not of this machine: "not an address of this machine", EADDRNOTAVAIL from bind', { skip: skipWithoutIpv6 }, async () => {
  await assert.rejects(bindPorts('2001:db8::7', [{ port: 40000, option: '--port' }]), (e: unknown) =>
    e instanceof DicomError && e.code === 'DICOM_ERR_CONNECTION' && /--host 2001:db8::7: not an address of this machine/.test(e.message)
    && (e.cause as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL' && (e.cause as NodeJS.ErrnoException).syscall === 'bind');
});

const busy = (port: number, host: string) => (e: unknown): boolean =>
  e instanceof DicomError && e.code === 'DICOM_ERR_CONNECTION' && exitCodeFor(e) === 8
  && e.message.includes(`--port ${port}: the port is already in use on ${host}`) && (e.cause as NodeJS.ErrnoException).code === 'EADDRINUSE';

test('a busy port on IPv6: already in use, on ::1 and on the wildcard; the ports bound before it are given back', { skip: skipWithoutIpv6 }, async () => {
  const h = await holder('::1');
  try {
    await assert.rejects(bindPorts('::1', [{ port: h.port, option: '--port' }]), busy(h.port, '::1'));
    await assert.rejects(bindPorts('::', [{ port: h.port, option: '--port' }]), busy(h.port, '::'));
    // --port bound, then --plain-port busy: --port is free again afterwards.
    const first = await freePort();
    await assert.rejects(bindPorts('::1', [{ port: first, option: '--port' }, { port: h.port, option: '--plain-port' }]), (e: unknown) =>
      e instanceof DicomError && e.message.includes(`--plain-port ${h.port}: the port is already in use`));
    const again = await bindPorts('::1', [{ port: first, option: '--port' }]);
    again[0]!.close();
  } finally {
    await h.close();
  }
});

test('the dual-stack wildcard conflicts with IPv4: :: on a port 127.0.0.1 holds, and the other way round', { skip: skipWithoutIpv6 }, async () => {
  const v4 = await holder('127.0.0.1');
  try {
    await assert.rejects(bindPorts('::', [{ port: v4.port, option: '--port' }]), busy(v4.port, '::'));
  } finally {
    await v4.close();
  }
  const dual = await holder('::');
  try {
    await assert.rejects(bindPorts('127.0.0.1', [{ port: dual.port, option: '--port' }]), busy(dual.port, '127.0.0.1'));
  } finally {
    await dual.close();
  }
});

test('serve --host ::1 on ports it binds first says so, and answers its printed echo line over TLS and a plain echo on ::1', { skip: skipWithoutIpv6 }, async () => {
  const [port, plainPort] = [await freePort(), await freePort()];
  const p = spawnServe(['--host', '::1', '--port', String(port), '--plain-port', String(plainPort), '--data', join(tmp.dir, 'data')], { cwd: tmp.dir });
  try {
    const seen = await listening(p);
    assert.deepEqual([seen.port, seen.plainPort], [port, plainPort], p.output());
    // The address in brackets, as HOST:PORT is written, and the connect line names it: localhost
    // may not reach ::1 (it resolves to 127.0.0.1 only on many machines).
    assert.match(p.output(), new RegExp(`listening for DICOM over TLS on \\[::1\\]:${port} as AE DICOM-TLS, plain DICOM on \\[::1\\]:${plainPort};`));
    await p.waitFor(/Stop with Ctrl-C/);
    const printed = /^ {2}dicom-tls (echo .*)$/m.exec(p.output())![1]!.split(' ');
    assert.equal(printed[1], `[::1]:${port}`, p.output());
    const tls = await runCli([...printed, '--json'], { cwd: tmp.dir });
    assert.equal(tls.code, 0, tls.stdout + tls.stderr + p.output());
    assert.equal((JSON.parse(tls.stdout) as { echo: { status: number }[] }).echo[0]!.status, 0);
    const plain = await runCli(['echo', `[::1]:${plainPort}`, '--no-tls', '--call', 'DICOM-TLS']);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr + p.output());
    await p.waitFor(/association from \S+ .*released[\s\S]*association from \S+ .*released/);
  } finally {
    await p.kill();
  }
});
