/**
 * TLS engine benchmark (not a test): bulk transfer over a SecureSocket pair vs Node's own `tls`
 * on loopback, and handshakes per second, side by side in one run.
 *   node dist/bench/tls-bench.js [--mb 256] [--handshakes 1000]
 * Target (issue 2): SecureSocket throughput ≥ 90% of Node's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
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

async function benchOurs(certs: ReturnType<typeof makeCerts>, total: number): Promise<{ mbps: number; hps: number; cipher: string }> {
  const sctx = new SecureContext({ role: 'server', identity: { cert: certs.cert, key: certs.key }, verifyMode: VerifyMode.None, sessionResumption: false });
  // Same suite as node:tls picks by default, so the comparison is like for like.
  const cctx = new SecureContext({ role: 'client', ca: [certs.ca], sessionResumption: false, cipherSuites: 'TLS_AES_256_GCM_SHA384' });
  const server = createSecureServer(sctx);
  const { port } = await server.listen();
  try {
    const accepted = once(server, 'secureConnection');
    const client = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
    const [srv] = (await accepted) as [SecureSocket];
    const mbps = await bulk(client, srv, total);
    const cipher = `${client.protocol} ${client.cipher}`;
    client.destroy();
    srv.destroy();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < HANDSHAKES; i++) {
      const s = await SecureSocket.connect({ host: '127.0.0.1', port, context: cctx });
      s.destroy();
    }
    const hps = HANDSHAKES / (Number(process.hrtime.bigint() - t0) / 1e9);
    return { mbps, hps, cipher };
  } finally {
    await server.close();
    cctx.dispose();
    sctx.dispose();
  }
}

async function benchNode(certs: ReturnType<typeof makeCerts>, total: number): Promise<{ mbps: number; hps: number; cipher: string }> {
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
    client.destroy();
    srv.destroy();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < HANDSHAKES; i++) {
      const s = await connect();
      s.destroy();
    }
    const hps = HANDSHAKES / (Number(process.hrtime.bigint() - t0) / 1e9);
    return { mbps, hps, cipher };
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
    const rows = [
      ['', 'node:tls', 'SecureSocket', 'ratio'],
      ['bulk MB/s', node.mbps.toFixed(0), ours.mbps.toFixed(0), `${((ours.mbps / node.mbps) * 100).toFixed(0)}%`],
      ['handshakes/s', node.hps.toFixed(0), ours.hps.toFixed(0), `${((ours.hps / node.hps) * 100).toFixed(0)}%`],
      ['negotiated', node.cipher, ours.cipher, ''],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`TLS loopback, ${MB} MB bulk in ${CHUNK / 1024} KB writes, ${HANDSHAKES} sequential handshakes (Node ${process.version})`);
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
    console.log(`target: SecureSocket bulk ≥ 90% of node:tls → ${ours.mbps / node.mbps >= 0.9 ? 'met' : 'NOT met'}`);
  } finally {
    rmSync(certs.dir, { recursive: true, force: true });
  }
}

await main();
