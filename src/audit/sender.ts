/**
 * Delivery of syslog messages to an audit record repository: TLS (RFC 5425, octet counting, mutual
 * authentication through a SecureContext), UDP (RFC 5426, one message per datagram) or a local
 * file (one message per line). Everything goes through the AuditQueue first, then out in order.
 *
 * At-least-once over TLS: syslog over TLS has no acknowledgement, so a message written to the
 * connection stays queued until the connection has stayed up for `confirmAfter` ms after the
 * write (a repository that died would have closed or reset it by then). When the connection
 * breaks, every queued message written within that time is sent again on the next connection:
 * the repository may see it twice, never zero times. UDP and file have no such window (see
 * docs/audit.md).
 */
import { appendFileSync } from 'node:fs';
import { publish, channelNames } from '../diagnostics.js';
import { InvalidOptionError } from '../errors.js';
import type { SecureContext } from '../transport/tls/context.js';
import { SecureSocket } from '../transport/tls/socket.js';
import { TlsError } from '../transport/tls/errors.js';
import { datagramSender, type DatagramSender } from '../transport/udp.js';
import { AuditQueue } from './queue.js';
import { octetCounted } from './syslog.js';

/**
 * Contexts of audit channels: a handshake failure on a connection made with one is about the audit
 * channel itself (known before the connection exists, unlike the socket, which fails inside connect).
 */
export const auditContexts = new WeakSet<object>();

/** TLS alerts by which a peer refuses a certificate (RFC 8446 6.2): bad_certificate … access_denied, certificate_required. */
const certificateAlerts = new Set([42, 43, 44, 45, 46, 48, 49, 116]);

export type AuditTarget =
  | { readonly kind: 'tls'; readonly host: string; readonly port: number; readonly context: SecureContext }
  | { readonly kind: 'udp'; readonly host: string; readonly port: number }
  | { readonly kind: 'file'; readonly path: string };

export interface AuditSenderOptions {
  readonly target: AuditTarget;
  readonly queue: AuditQueue;
  /** Milliseconds a written message must survive on an open connection to count as delivered (TLS). Default 2000. */
  readonly confirmAfter?: number;
  /** Reconnect delay bounds in ms (doubling). Defaults 200 and 30000. */
  readonly reconnectMin?: number;
  readonly reconnectMax?: number;
  /** Connect + handshake timeout in ms. Default 10000. */
  readonly connectTimeout?: number;
  /**
   * TLS 1.3: how long to wait, after our handshake completed, for the repository's first record
   * (its session ticket once it accepted our certificate, or the alert refusing it) before
   * writing anyway, for a repository that sends no tickets. Default 2000 ms.
   */
  readonly answerWait?: number;
}

/** Parse `syslog+tls://host:6514`, `syslog+udp://host:514` (also `syslog://`), `file:///path`. */
export function parseAuditUrl(url: string): { kind: 'tls'; host: string; port: number } | { kind: 'udp'; host: string; port: number } | { kind: 'file'; path: string } {
  let u: URL;
  try { u = new URL(url); } catch (cause) { throw new InvalidOptionError('audit url', `'${url}' is not a URL (syslog+tls://host:6514, syslog+udp://host:514, file:///path)`, { cause }); }
  if (u.protocol === 'file:') return { kind: 'file', path: decodeURIComponent(u.pathname) };
  const kind: 'tls' | 'udp' | undefined = u.protocol === 'syslog+tls:' ? 'tls' : u.protocol === 'syslog+udp:' || u.protocol === 'syslog:' ? 'udp' : undefined;
  if (kind === undefined) throw new InvalidOptionError('audit url', `'${url}': scheme must be syslog+tls:, syslog+udp: or file:`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new InvalidOptionError('audit url', `'${url}' has no host`);
  return kind === 'tls' ? { kind, host, port: u.port === '' ? 6514 : Number(u.port) } : { kind, host, port: u.port === '' ? 514 : Number(u.port) };
}

export class AuditSender {
  readonly #target: AuditTarget;
  readonly queue: AuditQueue;
  readonly #confirmAfter: number;
  readonly #min: number;
  readonly #max: number;
  readonly #connectTimeout: number;
  #conn: SecureSocket | undefined;
  /** The repository has answered our handshake on #conn (see #connect): messages may be written. */
  #answered = false;
  readonly #answerWait: number;
  #answerTimer: NodeJS.Timeout | undefined;
  #connecting = false;
  #udp: DatagramSender | undefined;
  /** Messages from the queue head already written on the current connection, with when. */
  /** One entry per message written on this connection, in queue order; `at` is set when the write completed. */
  #written: { at: number }[] = [];
  #confirmTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #delay: number;
  #closed = false;
  #busy = false;
  #flushed: (() => void) | undefined;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  delivered = 0;

  constructor(options: AuditSenderOptions) {
    this.#target = options.target;
    this.queue = options.queue;
    this.#confirmAfter = options.confirmAfter ?? 2000;
    this.#min = options.reconnectMin ?? 200;
    this.#max = options.reconnectMax ?? 30000;
    this.#connectTimeout = options.connectTimeout ?? 10000;
    this.#answerWait = options.answerWait ?? 2000;
    this.#delay = this.#min;
    if (this.#target.kind === 'tls') auditContexts.add(this.#target.context);
  }

  /** Queue one syslog message and start sending; never waits, never throws. */
  send(message: Buffer): boolean {
    if (this.#closed) return false;
    let ok: boolean;
    try {
      ok = this.queue.push(message);
    } catch (error) {
      ok = false;
      publish(channelNames.audit, () => ({ kind: 'queue-error', error }));
    }
    if (!ok) {
      this.dropped++;
      publish(channelNames.audit, () => ({ kind: 'queue-full', dropped: this.dropped, queued: this.queue.length, limit: this.queue.maxMessages }));
      return false;
    }
    this.#pump();
    return true;
  }

  /** Start sending what an earlier run left queued. */
  start(): void { this.#pump(); }

  #pump(): void {
    if (this.#closed) return;
    const t = this.#target;
    if (t.kind === 'file') return this.#drainFile(t.path);
    if (t.kind === 'udp') return this.#drainUdp(t.host, t.port);
    if (this.#conn === undefined) return this.#connect();
    if (!this.#answered) return;
    while (this.#written.length < this.queue.length) {
      const data = this.queue.at(this.#written.length)!;
      const conn = this.#conn;
      // An object, not an index: confirming shifts the list while later writes are pending.
      const entry = { at: Number.POSITIVE_INFINITY };
      this.#written.push(entry);
      conn.write(octetCounted(data), (error) => {
        if (error == null && conn === this.#conn) entry.at = Date.now();
        this.#armConfirm();
      });
    }
  }

  #armConfirm(): void {
    if (this.#confirmTimer !== undefined || this.#written.length === 0) return;
    this.#confirmTimer = setTimeout(() => {
      this.#confirmTimer = undefined;
      const now = Date.now();
      let n = 0;
      while (n < this.#written.length && now - this.#written[n]!.at >= this.#confirmAfter) n++;
      if (n > 0) this.#confirm(n);
      this.#armConfirm();
    }, this.#confirmAfter);
    this.#confirmTimer.unref();
  }

  #confirm(n: number): void {
    this.queue.shift(n);
    this.#written.splice(0, n);
    this.delivered += n;
    // The reconnect delay starts again from its minimum only once something got through: under
    // TLS 1.3 a repository that refuses our certificate still lets every attempt connect first.
    this.#delay = this.#min;
    publish(channelNames.audit, () => ({ kind: 'delivered', count: n, queued: this.queue.length }));
  }

  #connect(): void {
    if (this.#connecting || this.#retryTimer !== undefined || this.queue.length === 0) return;
    const t = this.#target as Extract<AuditTarget, { kind: 'tls' }>;
    this.#connecting = true;
    const pending = SecureSocket.connect({ host: t.host, port: t.port, context: t.context, timeout: this.#connectTimeout });
    pending.then(
      (conn) => {
        this.#connecting = false;
        if (this.#closed) { conn.destroy(); return; }
        this.#conn = conn;
        publish(channelNames.audit, () => ({ kind: 'connected', host: t.host, port: t.port }));
        conn.on('data', () => undefined); // a repository sends nothing; keep the stream flowing
        conn.on('error', (error: unknown) => {
          // TLS 1.3: the client's handshake ends before the server has checked our certificate; a
          // refusal arrives as a fatal alert on the first read. Say so: it is a node authentication failure.
          if (error instanceof TlsError && error.alert?.direction === 'read' && certificateAlerts.has(error.alert.code)) {
            publish(channelNames.audit, () => ({ kind: 'certificate-refused', host: t.host, port: t.port, connection: conn, error }));
          }
        });
        conn.on('close', () => this.#lost(conn));
        // Under TLS 1.3 our handshake completes before the repository has checked our
        // certificate. A message written now arrives while it decides: when it refuses, it closes
        // with our bytes unread, its kernel answers with a reset and may drop the alert still
        // queued behind it, so that we see a plain reset instead of the refusal. So the first
        // write waits for the repository's first record: its session ticket (accepted) or its
        // alert (refused; the read fails with it). A repository that sends no ticket is written
        // to after answerWait.
        this.#answered = conn.protocol !== 'TLSv1.3';
        if (!this.#answered) {
          const answered = (): void => {
            conn.socket.off('data', answered);
            if (this.#answerTimer !== undefined) { clearTimeout(this.#answerTimer); this.#answerTimer = undefined; }
            if (conn !== this.#conn || conn.destroyed || this.#answered) return;
            this.#answered = true;
            this.#pump();
          };
          // The socket's data reaches the TLS engine first (its listener came first): by now a
          // refusing alert has failed the connection.
          conn.socket.on('data', answered);
          this.#answerTimer = setTimeout(answered, this.#answerWait);
          this.#answerTimer.unref();
        }
        this.#pump();
      },
      (error: unknown) => {
        this.#connecting = false;
        publish(channelNames.audit, () => ({ kind: 'connect-failed', host: t.host, port: t.port, error }));
        this.#retry();
      },
    );
  }

  #lost(conn: SecureSocket): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    this.#answered = false;
    if (this.#answerTimer !== undefined) { clearTimeout(this.#answerTimer); this.#answerTimer = undefined; }
    if (this.#flushed !== undefined) {
      // We ended after everything was written and the repository closed in answer: it read it all.
      if (this.#written.length > 0) this.#confirm(this.#written.length);
      this.#flushed();
      return;
    }
    // Unconfirmed messages go again on the next connection (at-least-once).
    this.#written = [];
    if (this.#confirmTimer !== undefined) { clearTimeout(this.#confirmTimer); this.#confirmTimer = undefined; }
    publish(channelNames.audit, () => ({ kind: 'disconnected', queued: this.queue.length }));
    if (!this.#closed) this.#retry();
  }

  #retry(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => { this.#retryTimer = undefined; this.#pump(); }, this.#delay);
    this.#retryTimer.unref();
    this.#delay = Math.min(this.#max, this.#delay * 2);
  }

  #drainFile(path: string): void {
    try {
      while (this.queue.length > 0) {
        appendFileSync(path, Buffer.concat([this.queue.at(0)!, Buffer.from('\n')]));
        this.#confirm(1);
      }
    } catch (error) {
      publish(channelNames.audit, () => ({ kind: 'connect-failed', path, error }));
      this.#retry();
    }
  }

  #drainUdp(host: string, port: number): void {
    if (this.#busy) return;
    this.#udp ??= datagramSender(host);
    const next = (): void => {
      const data = this.queue.at(0);
      if (data === undefined || this.#closed) { this.#busy = false; return; }
      this.#busy = true;
      this.#udp!.send(data, port, host, (error) => {
        if (error != null) {
          this.#busy = false;
          publish(channelNames.audit, () => ({ kind: 'connect-failed', host, port, error }));
          this.#retry();
          return;
        }
        this.#confirm(1);
        next();
      });
    };
    next();
  }

  /**
   * Stop: with `flush`, wait (up to `timeout` ms) until everything queued was written and the
   * repository closed the connection after our close_notify, which means it read it all.
   */
  async close(options: { flush?: boolean; timeout?: number } = {}): Promise<void> {
    const { flush = true, timeout = 5000 } = options;
    // Nothing to wait for without a connection: what is queued stays on disk for the next run.
    if (flush && this.#target.kind === 'tls' && this.queue.length > 0 && (this.#conn !== undefined || this.#connecting)) {
      await new Promise<void>((resolve) => {
        let settled = false;
        const done = (): void => { if (!settled) { settled = true; clearTimeout(guard); resolve(); } };
        // Both timers keep the process alive on purpose: a stopping process waits for the flush.
        const guard = setTimeout(done, timeout);
        const check = (): void => {
          if (settled) return;
          const conn = this.#conn;
          if (conn !== undefined && this.#written.length === this.queue.length && this.#written.every((w) => Number.isFinite(w.at))) {
            this.#flushed = done;
            this.#closed = true;
            conn.end();
            return;
          }
          if (this.#conn === undefined && !this.#connecting) { done(); return; }
          setTimeout(check, 20);
        };
        check();
      });
    }
    if (flush && this.#target.kind === 'udp' && this.queue.length > 0) {
      // Datagrams in flight: let the send callbacks empty the queue (bounded by `timeout`).
      const until = Date.now() + timeout;
      while (this.queue.length > 0 && this.#udp !== undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    }
    this.#closed = true;
    if (this.#confirmTimer !== undefined) clearTimeout(this.#confirmTimer);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#conn?.destroy();
    this.#udp?.close();
  }
}
