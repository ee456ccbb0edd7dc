/**
 * The operations side of `serve`, started next to the DICOM listeners: certificate reloads and
 * expiry warnings (serve-reload.ts), and the optional health and metrics port (serve-http.ts,
 * serve-metrics.ts). Kept apart from serve.ts so the command reads as the job it does.
 */
import type { Server } from 'node:http';
import { CertificateReloader, type TlsFiles } from './serve-reload.js';
import { createMetrics, type ServeMetrics } from './serve-metrics.js';
import { startHttp } from './serve-http.js';
import type { ServeLog } from './serve-log.js';
import type { SecureContext } from '../transport/tls/context.js';
import type { InstanceIndex } from '../store/instance-index.js';

export interface OperationsOptions {
  readonly log: ServeLog;
  readonly tls: TlsFiles;
  readonly context: SecureContext;
  build(): Promise<SecureContext>;
  /** Hands a new context to the TLS listener. */
  setContext(context: SecureContext): void;
  readonly watchCerts: boolean;
  readonly expiryWarningDays: number;
  readonly http: { port: number; host: string } | undefined;
  readonly storeRoot: string;
  readonly index: InstanceIndex;
  running(): number;
}

export interface Operations {
  /** The server context in use now (the last one reloaded). */
  readonly context: SecureContext;
  /** Readiness turns 503 from here on. */
  stopping(): void;
  /** Read the TLS files again, as SIGHUP does. */
  reload(reason: string): Promise<void>;
  close(): Promise<void>;
}

/** Metrics subscribe to the channels before the first association; call before `listen`. */
export function startMetrics(http: OperationsOptions['http'], running: () => number): ServeMetrics | undefined {
  return http === undefined ? undefined : createMetrics(currentExpiries, running);
}

export async function startOperations(o: OperationsOptions, metrics: ServeMetrics | undefined): Promise<Operations> {
  let current = o.context;
  let stopping = false;
  const reloader: CertificateReloader = new CertificateReloader({
    files: o.tls, build: o.build, log: o.log, watch: o.watchCerts, warningDays: o.expiryWarningDays,
    apply: (next) => { reloader.retire(current); current = next; o.setContext(next); },
  });
  expiriesOf = () => reloader.expiries;
  let server: Server | undefined;
  if (o.http !== undefined && metrics !== undefined) {
    const h = await startHttp(o.http.port, o.http.host, metrics.registry, {
      storeRoot: o.storeRoot, indexQuery: () => o.index.findInstance('0'), stopping: () => stopping,
    });
    server = h.server;
    o.log('http', `health and metrics on http://${o.http.host}:${h.address.port} (/healthz, /readyz, /metrics)`, { httpPort: h.address.port, httpHost: o.http.host });
  }
  return {
    get context() { return current; },
    stopping: () => { stopping = true; },
    reload: (reason) => reloader.reload(reason),
    close: async () => {
      reloader.close();
      metrics?.close();
      if (server !== undefined) {
        server.closeAllConnections();
        await new Promise<void>((r) => server!.close(() => r()));
      }
    },
  };
}

/** The expiries the metrics read: empty until the reloader has read the files. */
let expiriesOf: () => CertificateReloader['expiries'] = () => [];
export const currentExpiries = (): CertificateReloader['expiries'] => expiriesOf();
