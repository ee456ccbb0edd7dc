/**
 * `serve`'s optional HTTP port for orchestrators and monitoring: `/healthz` (the process answers),
 * `/readyz` (the store directory takes a file and the index answers a query; 503 with the failing
 * check otherwise, and while stopping) and `/metrics` (Prometheus text format).
 */
import { createServer, type Server } from 'node:http';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Directory instances are written to. */
  readonly storeRoot: string;
  /** Runs one query on the index; rejects when it cannot. */
  indexQuery(): Promise<unknown>;
  /** True once a stop has begun. */
  stopping(): boolean;
}

type Check = { name: string; ok: boolean; error?: string };

/**
 * Connections the port keeps open at once; one more closes the oldest. Probes and scrapers open
 * one or two; unbounded, a peer opening idle or slow (slowloris) connections held one file
 * descriptor each for Node's 60-90 s header timeout, descriptors the DICOM ports and the store
 * share. Closing the oldest rather than refusing the newest keeps the probes answered.
 */
export const MAX_HTTP_CONNECTIONS = 32;
/** Milliseconds a request may take to send its headers, and the whole request (Node: 60 s, 300 s). */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;

async function checks(h: HealthChecks): Promise<Check[]> {
  const out: Check[] = [];
  const probe = join(h.storeRoot, `.readyz-${process.pid}`);
  try {
    mkdirSync(h.storeRoot, { recursive: true });
    writeFileSync(probe, 'ready\n');
    rmSync(probe, { force: true });
    out.push({ name: 'store', ok: true });
  } catch (e) {
    out.push({ name: 'store', ok: false, error: `${h.storeRoot} is not writable (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
  }
  try {
    await h.indexQuery();
    out.push({ name: 'index', ok: true });
  } catch (e) {
    out.push({ name: 'index', ok: false, error: (e as Error).message });
  }
  if (h.stopping()) out.push({ name: 'stopping', ok: false, error: 'the server is stopping' });
  return out;
}

export async function startHttp(port: number, host: string, registry: Registry, health: HealthChecks): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(405, 'text/plain', 'GET only\n'); return; }
    if (path === '/healthz') send(200, 'application/json', `${JSON.stringify({ status: 'ok' })}\n`);
    else if (path === '/readyz') {
      checks(health).then((c) => {
        const ready = c.every((x) => x.ok);
        send(ready ? 200 : 503, 'application/json', `${JSON.stringify({ status: ready ? 'ready' : 'not ready', checks: c })}\n`);
      }, (e: unknown) => send(500, 'text/plain', `${String(e)}\n`));
    } else if (path === '/metrics') {
      registry.metrics().then((text) => send(200, registry.contentType, text), (e: unknown) => send(500, 'text/plain', `${String(e)}\n`));
    } else send(404, 'text/plain', 'not found: /healthz, /readyz, /metrics\n');
  });
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size <= MAX_HTTP_CONNECTIONS) return;
    const oldest = open.values().next().value!;
    open.delete(oldest);
    oldest.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return { server, address: server.address() as AddressInfo };
}
