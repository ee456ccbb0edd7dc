/**
 * `serve`'s Prometheus metrics (prom-client), fed only from the library's diagnostics channels:
 * the protocol layers know nothing of them. Certificate and CRL days are read from the files in
 * use at each scrape (a reload changes them).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { channelNames } from '../diagnostics.js';
import { daysLeft, type Expiry } from './serve-expiry.js';

export interface ServeMetrics {
  readonly registry: Registry;
  /** Stop listening on the channels. */
  close(): void;
}

interface AssociationMessage { association?: { role?: string }; kind?: string; detail?: { event?: string } }
interface DimseMessage { association?: object & { role?: string }; direction?: string; command?: { type?: string; messageId?: number; messageIdBeingRespondedTo?: number } }
interface ServerMessage { kind?: string; size?: number; errorName?: string; error?: { code?: string; cause?: unknown } }

export function createMetrics(expiries: () => readonly Expiry[], running: () => number): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dicom_tls_' });
  const registers = [registry];
  const associations = new Counter({ name: 'dicom_tls_associations_total', help: 'Associations accepted by this server, by outcome (accepted, rejected, released, aborted)', labelNames: ['outcome'], registers });
  new Gauge({ name: 'dicom_tls_associations_running', help: 'Associations established now', registers, collect() { this.set(running()); } });
  const instances = new Counter({ name: 'dicom_tls_instances_stored_total', help: 'Instances stored (file complete and indexed)', registers });
  const bytes = new Counter({ name: 'dicom_tls_stored_bytes_total', help: 'Bytes of the stored files (meta header and data set)', registers });
  const storeFailures = new Counter({ name: 'dicom_tls_store_failures_total', help: 'Instances that were refused or could not be stored', registers });
  const handshakes = new Counter({ name: 'dicom_tls_handshake_failures_total', help: 'Failed TLS handshakes, by X509 error name (or error code when no certificate was refused)', labelNames: ['error'], registers });
  const shed = new Counter({ name: 'dicom_tls_connections_shed_total', help: 'Connections closed for a newer one while more than limits.maxPendingConnections held no association (a TLS handshake or an A-ASSOCIATE-RQ not completed)', registers });
  const pduErrors = new Counter({ name: 'dicom_tls_pdu_errors_total', help: 'Associations aborted for an unrecognised or invalid PDU (PS3.8 Evt19)', registers });
  const latency = new Histogram({ name: 'dicom_tls_store_duration_seconds', help: 'C-STORE: from the request received to the response sent', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
  new Gauge({
    name: 'dicom_tls_certificate_expiry_days', help: 'Days until a certificate in use expires (kind: certificate = the server\'s, ca = a trusted CA)', labelNames: ['kind', 'subject', 'file'], registers,
    collect() {
      this.reset();
      for (const e of expiries()) if (e.kind !== 'crl') this.set({ kind: e.kind, subject: e.name, file: e.file }, daysLeft(e));
    },
  });
  new Gauge({
    name: 'dicom_tls_crl_next_update_days', help: 'Days until a CRL in use reaches its nextUpdate', labelNames: ['file'], registers,
    collect() {
      this.reset();
      for (const e of expiries()) if (e.kind === 'crl') this.set({ file: e.file }, daysLeft(e));
    },
  });

  const onAssociation = (m: unknown): void => {
    const e = m as AssociationMessage;
    if (e.association?.role !== 'acceptor') return;
    if (e.kind === 'accepted' || e.kind === 'rejected' || e.kind === 'released' || e.kind === 'aborted') associations.inc({ outcome: e.kind });
    if (e.kind === 'aborted' && e.detail?.event === 'Evt19') pduErrors.inc();
  };
  const started = new WeakMap<object, Map<number, bigint>>();
  const onDimse = (m: unknown): void => {
    const e = m as DimseMessage;
    const a = e.association;
    if (a === undefined || a.role !== 'acceptor') return;
    if (e.direction === 'received' && e.command?.type === 'C-STORE-RQ' && e.command.messageId !== undefined) {
      let open = started.get(a);
      if (open === undefined) started.set(a, (open = new Map()));
      open.set(e.command.messageId, process.hrtime.bigint());
    } else if (e.direction === 'sent' && e.command?.type === 'C-STORE-RSP' && e.command.messageIdBeingRespondedTo !== undefined) {
      const open = started.get(a);
      const t0 = open?.get(e.command.messageIdBeingRespondedTo);
      if (t0 === undefined) return;
      open!.delete(e.command.messageIdBeingRespondedTo);
      latency.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  };
  const onServer = (m: unknown): void => {
    const e = m as ServerMessage;
    if (e.kind === 'stored') { instances.inc(); bytes.inc(e.size ?? 0); }
    else if (e.kind === 'store-failed') storeFailures.inc();
    else if (e.kind === 'connection-shed') shed.inc();
    else if (e.kind === 'tls-handshake-failed') {
      handshakes.inc({ error: e.errorName ?? e.error?.code ?? 'unknown' });
      if ((e.error?.cause as { code?: string } | undefined)?.code === 'DICOM_ERR_PENDING_CONNECTION_LIMIT') shed.inc();
    }
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssociation);
  diagnosticsChannel.subscribe(channelNames.dimse, onDimse);
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  return {
    registry,
    close() {
      diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
      diagnosticsChannel.unsubscribe(channelNames.dimse, onDimse);
      diagnosticsChannel.unsubscribe(channelNames.server, onServer);
    },
  };
}
