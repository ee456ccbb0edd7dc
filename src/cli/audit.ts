/**
 * The CLI's audit trail: an AuditTrail with its sender, built from AuditSettings, and log lines
 * for what the operator must know (a queue that fills, an untrusted repository, reconnects).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { AuditQueue } from '../audit/queue.js';
import { AuditSender, parseAuditUrl, type AuditTarget } from '../audit/sender.js';
import { AuditTrail } from '../audit/trail.js';
import { channelNames } from '../diagnostics.js';
import type { SecureContext, SecureContextOptions } from '../transport/tls/context.js';
import type { AuditSettings } from './audit-config.js';
import { buildContext } from './tls-options.js';

export type Log = (event: string, text: string, fields?: Record<string, unknown>) => void;

/**
 * Start the trail (Application Start is its first message). `tls`: the client identity and trust
 * for a syslog+tls repository, used when the settings name none of their own.
 */
export async function startAudit(s: AuditSettings, app: { name: string; aeTitles?: string[] }, tls: SecureContextOptions | undefined, log: Log): Promise<{ trail: AuditTrail; stop: () => Promise<void> }> {
  const u = parseAuditUrl(s.url);
  let context: SecureContext | undefined;
  let target: AuditTarget;
  if (u.kind === 'tls') {
    const own = s.tls.cert !== undefined || s.tls.ca !== undefined;
    const base: SecureContextOptions = own || tls === undefined
      ? { role: 'client', ...(s.tls.cert !== undefined && s.tls.key !== undefined ? { identity: { cert: s.tls.cert, key: s.tls.key } } : {}), ...(s.tls.ca !== undefined ? { ca: s.tls.ca } : {}) }
      : { ...tls, role: 'client' };
    // A context of its own: the trail recognises the audit channel's handshake failures by it.
    context = await buildContext(base);
    target = { kind: 'tls', host: u.host, port: u.port, context };
  } else if (u.kind === 'udp') {
    target = { kind: 'udp', host: u.host, port: u.port };
  } else {
    target = { kind: 'file', path: u.path };
  }
  const sender = new AuditSender({ target, queue: new AuditQueue({ directory: s.queue, maxMessages: s.maxQueued }) });
  let down = false;
  const onAudit = (m: unknown): void => {
    const e = m as { kind: string; error?: { message?: string }; description?: string; dropped?: number; limit?: number; queued?: number };
    if (e.kind === 'queue-full') log('audit-queue-full', `audit queue full (${e.limit} messages): an audit message was dropped (${e.dropped} so far)`, { dropped: e.dropped, limit: e.limit });
    else if (e.kind === 'local-security-alert') log('audit-security-alert', `audit repository ${s.url} refused: ${e.description}`, { url: s.url });
    else if (e.kind === 'connect-failed' && !down) { down = true; log('audit-unreachable', `audit repository ${s.url} unreachable (${e.error?.message ?? 'error'}); queueing in ${s.queue}`, { url: s.url }); }
    else if (e.kind === 'connected' && down) { down = false; log('audit-connected', `audit repository ${s.url} reachable again; sending what was queued`, { url: s.url }); }
  };
  diagnosticsChannel.subscribe(channelNames.audit, onAudit);
  const trail = new AuditTrail({ sender, application: app, ...(s.auditSourceId !== undefined ? { auditSourceId: s.auditSourceId } : {}), ...(s.enterpriseSiteId !== undefined ? { auditEnterpriseSiteId: s.enterpriseSiteId } : {}) }).start();
  if (sender.queue.length > 1) log('audit-resend', `audit: ${sender.queue.length - 1} message(s) queued by an earlier run will be sent first`, { queued: sender.queue.length - 1 });
  return {
    trail,
    stop: async () => {
      await trail.stop();
      diagnosticsChannel.unsubscribe(channelNames.audit, onAudit);
      context?.dispose();
      if (sender.queue.length > 0) log('audit-queued', `audit: ${sender.queue.length} message(s) stay queued in ${s.queue} for the next run`, { queued: sender.queue.length });
    },
  };
}

