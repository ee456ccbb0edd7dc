/**
 * TLS engine benchmark (not a test): bulk transfer over a SecureSocket pair vs Node's own `tls`
 * on loopback, and handshakes per second, side by side in one run.
 *   node dist/bench/tls-bench.js [--mb 256] [--handshakes 1000]
 * Target (issue 2): SecureSocket throughput ≥ 90% of Node's.
 *
 * Also the bench runner's `ceiling/secure-socket` row (issue 6): `secureSocketThroughput`, measured
 * like `nodeTlsThroughput` in peers/ceilings.ts (mutual auth, TLS 1.3, a sink in a child process
 * on our own engine, timed after the handshake). Importing this module runs nothing else.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureTail, freePort, stopChild, waitForPort } from './lib/proc.js';
import type { Measurement, TlsFiles } from './lib/types.js';
import { SecureContext, VerifyMode } from '../src/transport/tls/context.js';
import { createSecureServer } from '../src/transport/tls/server.js';
import { SecureSocket } from '../src/transport/tls/socket.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const MB = arg('mb', 256);
const HANDSHAKES = arg('handshakes', 1000);
const CHUNK = 64 * 1024;

function makeCerts(): { dir: string; ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-bench-'));
  const run = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '2', '-subj', '/CN=Bench CA', '-addext', 'basicConstraints=critical,CA:TRUE']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'srv.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'srv.ext']);
  return { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'srv.pem'), key: join(dir, 'srv.key') };
}

/** Send `total` bytes from `writer` and count them at `reader`; returns MB/s. */
async function bulk(writer: Duplex, reader: Duplex, total: number): Promise<number> {
  const chunk = Buffer.alloc(CHUNK, 0x5a);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    reader.on('data', (d: Buffer) => { received += d.length; if (received >= total) resolve(); });
  });
  const t0 = process.hrtime.bigint();
  let sent = 0;
  while (sent < total) {
    sent += chunk.length;
    if (!writer.write(chunk)) await once(writer, 'drain');
  }
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return total / (1024 * 1024) / secs;
}

async function benchOurs(certs: ReturnType<typeof makeCerts>, total: number, groups?: string): Promise<{ mbps: number; hps: number; cipher: string; group: string }> {
  const sctx = new SecureContext({ role: 'server', identity: { cert: certs.cert, key: certs.key }, verifyMode: VerifyMode.None, sessionResumption: false });
  // Same suite as node:tls picks by default, so the comparison is like for like.
  // `groups`: the client's key-exchange groups; by default X25519MLKEM768 first (the hybrid).
  const cctx = new SecureContext({ role: 'client', ca: [certs.ca], sessionResumption: false, cipherSuites: 'TLS_AES_256_GCM_SHA384', ...(groups !== undefined ? { groups } : {}) });
  const server = createSecureServer(sctx);
  const { port } = await server.listen();
  try {
    const accepted = once(server, 'secureConnection');
    const client = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
    const [srv] = (await accepted) as [SecureSocket];
    const mbps = await bulk(client, srv, total);
    const cipher = `${client.protocol} ${client.cipher}`;
    const group = client.group ?? 'none';
    client.destroy();
    srv.destroy();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < HANDSHAKES; i++) {
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
      s.destroy();
    }
    const hps = HANDSHAKES / (Number(process.hrtime.bigint() - t0) / 1e9);
    return { mbps, hps, cipher, group };
  } finally {
    await server.close();
    cctx.dispose();
    sctx.dispose();
  }
}

async function benchNode(certs: ReturnType<typeof makeCerts>, total: number): Promise<{ mbps: number; hps: number; cipher: string; group: string }> {
  const server = tls.createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const ca = readFileSync(certs.ca);
  const connect = (): Promise<tls.TLSSocket> => new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', session: undefined }, () => resolve(s));
    s.once('error', reject);
  });
  try {
    const accepted = once(server, 'secureConnection');
    const client = await connect();
    const [srv] = (await accepted) as [tls.TLSSocket];
    const mbps = await bulk(client, srv, total);
    const cipher = `${client.getProtocol()} ${client.getCipher().name}`;
    const group = (client.getEphemeralKeyInfo() as { name?: string } | null)?.name ?? 'n/a';
    client.destroy();
    srv.destroy();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < HANDSHAKES; i++) {
      const s = await connect();
      s.destroy();
    }
    const hps = HANDSHAKES / (Number(process.hrtime.bigint() - t0) / 1e9);
    return { mbps, hps, cipher, group };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function main(): Promise<void> {
  const certs = makeCerts();
  try {
    const total = MB * 1024 * 1024;
    // Warm-up of both, then the measured runs, interleaved to share machine noise.
    await benchOurs(certs, 16 * 1024 * 1024);
    await benchNode(certs, 16 * 1024 * 1024);
    const node = await benchNode(certs, total);
    const ours = await benchOurs(certs, total);
    // The same handshakes with the classical X25519 alone: what the hybrid group costs.
    const classic = await benchOurs(certs, 16 * 1024 * 1024, 'X25519');
    const rows = [
      ['', 'node:tls', 'SecureSocket', 'ratio'],
      ['bulk MB/s', node.mbps.toFixed(0), ours.mbps.toFixed(0), `${((ours.mbps / node.mbps) * 100).toFixed(0)}%`],
      ['handshakes/s', node.hps.toFixed(0), ours.hps.toFixed(0), `${((ours.hps / node.hps) * 100).toFixed(0)}%`],
      ['negotiated', node.cipher, ours.cipher, ''],
      ['key exchange', node.group, ours.group, ''],
      ['handshakes/s, X25519 only', '', classic.hps.toFixed(0), `hybrid/classical ${((ours.hps / classic.hps) * 100).toFixed(0)}%`],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`TLS loopback, ${MB} MB bulk in ${CHUNK / 1024} KB writes, ${HANDSHAKES} sequential handshakes (Node ${process.version})`);
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
    console.log(`target: SecureSocket bulk ≥ 90% of node:tls → ${ours.mbps / node.mbps >= 0.9 ? 'met' : 'NOT met'}`);
  } finally {
    rmSync(certs.dir, { recursive: true, force: true });
  }
}

const sinkScript = fileURLToPath(new URL('./peers/secure-socket-sink.js', import.meta.url));

/**
 * Raw TLS 1.3 bulk throughput of a SecureSocket client into a SecureSocket sink in a child
 * process, mutual auth, 256 KiB writes, timed after the handshake until the sink's count is back.
 */
export async function secureSocketThroughput(tlsFiles: TlsFiles, totalBytes: number): Promise<Measurement> {
  const port = await freePort();
  const child = spawn(process.execPath, [sinkScript, JSON.stringify({ port, key: tlsFiles.serverKey, cert: tlsFiles.serverCert, ca: tlsFiles.caCert })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = captureTail(child);
  const context = new SecureContext({ role: 'client', identity: { cert: tlsFiles.clientCert, key: tlsFiles.clientKey }, ca: [tlsFiles.caCert], minProtocol: 'TLSv1.3', sessionResumption: false });
  try {
    await waitForPort(port, child).catch((e: Error) => {
      throw new Error(`${e.message}\n${tail()}`);
    });
    const socket = await SecureSocket.connect({ host: '127.0.0.1', port, context, servername: 'localhost' });
    const chunk = Buffer.alloc(256 * 1024, 0x5a);
    const start = process.hrtime.bigint();
    const reply: Buffer[] = [];
    socket.on('data', (d: Buffer) => reply.push(Buffer.from(d)));
    const closed = new Promise<void>((resolve, reject) => {
      socket.once('end', resolve);
      socket.once('error', reject);
    });
    let sent = 0;
    while (sent < totalBytes) {
      const n = Math.min(chunk.length, totalBytes - sent);
      sent += n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await once(socket, 'drain');
    }
    socket.end();
    await closed;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    socket.destroy();
    const received = Number(Buffer.concat(reply).readBigUInt64BE(0));
    if (received !== totalBytes) throw new Error(`sink received ${received} of ${totalBytes} bytes`);
    return { seconds, bytes: totalBytes, instances: 0 };
  } finally {
    context.dispose();
    await stopChild(child);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
