/**
 * Certificates change without a restart: SIGHUP (and, with --watch-certs, a change of any of the
 * TLS files) builds a new context from the same settings — key, certificate, CAs, CRLs — and
 * hands it to the listeners. Associations already running keep the context they started with;
 * new ones get the new. A reload that fails (a half-written file, a key that does not match the
 * certificate, a certificate that has expired) keeps the current context and logs why. Expiry warnings come at start-up, after
 * each reload and once a day.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { daysLeft, expiries, type Expiry } from './serve-expiry.js';
import type { ServeLog } from './serve-log.js';
import type { SecureContext } from '../transport/tls/context.js';

export interface TlsFiles { cert?: string | undefined; key?: string | undefined; pkcs12?: string | undefined; ca?: readonly string[] | undefined; crl?: readonly string[] | undefined }

export interface ReloaderOptions {
  readonly files: TlsFiles;
  /** Builds the new server context (and anything else that depends on the files). */
  build(): Promise<SecureContext>;
  /** Puts the new context in service. */
  apply(context: SecureContext): void;
  readonly log: ServeLog;
  readonly watch: boolean;
  readonly warningDays: number;
}

const DAY_MS = 86_400_000;

export class CertificateReloader {
  readonly #o: ReloaderOptions;
  #current: Expiry[];
  #running: Promise<void> = Promise.resolve();
  #debounce: NodeJS.Timeout | undefined;
  readonly #daily: NodeJS.Timeout;
  readonly #onHup = (): void => { void this.reload('SIGHUP'); };
  readonly #watched: string[];

  constructor(o: ReloaderOptions) {
    this.#o = o;
    this.#current = expiries(o.files);
    this.warnExpiry();
    this.#daily = setInterval(() => this.warnExpiry(), DAY_MS).unref();
    process.on('SIGHUP', this.#onHup);
    const f = o.files;
    this.#watched = o.watch ? [f.cert, f.key, f.pkcs12, ...(f.ca ?? []), ...(f.crl ?? [])].filter((x): x is string => x !== undefined) : [];
    for (const file of this.#watched) {
      // Polling stat() follows symlinks and survives the rename-into-place that certbot and
      // editors do, where an inotify watch on the old inode would go quiet.
      watchFile(file, { interval: 1000, persistent: false }, (now, before) => {
        if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
        clearTimeout(this.#debounce);
        // Several files change together (key and certificate): one reload after they settle.
        this.#debounce = setTimeout(() => void this.reload(`${file} changed`), 1500).unref();
      });
    }
  }

  /** What the metrics read: the certificates and CRLs in use now. */
  get expiries(): readonly Expiry[] { return this.#current; }

  /** Log a warning for each certificate or CRL that runs out within the warning period. */
  warnExpiry(): void {
    const now = Date.now();
    for (const e of this.#current) {
      const days = daysLeft(e, now);
      if (days >= this.#o.warningDays) continue;
      const n = Math.floor(Math.abs(days));
      const text = e.kind === 'crl'
        ? `the CRL ${e.file} ${days < 0 ? `was due for its next update ${n} days ago` : `is due for its next update in ${n} days`}`
        : `the ${e.kind === 'ca' ? 'trusted CA' : 'server'} certificate ${e.name} (${e.file}) ${days < 0 ? `expired ${n} days ago` : `expires in ${n} days`}`;
      this.#o.log('certificate-expiry', `${text} (${e.until.toISOString()}); replace it and send SIGHUP`,
        { kind: e.kind, file: e.file, name: e.name, until: e.until.toISOString(), daysLeft: Math.floor(days) }, days < 0 ? 'error' : 'warn');
    }
  }

  /** One reload at a time; a request during a reload runs after it. */
  reload(reason: string): Promise<void> {
    this.#running = this.#running.then(() => this.#reload(reason));
    return this.#running;
  }

  async #reload(reason: string): Promise<void> {
    const log = this.#o.log;
    let context: SecureContext;
    try {
      context = await this.#o.build();
    } catch (e) {
      log('reload-failed', `${reason}: reloading the TLS files failed, the current certificates stay in use: ${(e as Error).message}`,
        { reason, error: (e as Error).message, code: (e as { code?: string }).code ?? null }, 'error');
      return;
    }
    // A pair that loads but has run out (an old file copied back) would make every peer refuse
    // us: keep the current one. (One not yet valid is put in service: a certificate issued on a
    // host whose clock runs ahead becomes valid by itself, and a watched file changes only once.)
    const next = expiries(this.#o.files);
    const expired = next.find((e) => e.kind === 'certificate' && e.until.getTime() <= Date.now());
    if (expired !== undefined) {
      context.dispose();
      log('reload-failed', `${reason}: reloading the TLS files failed, the current certificates stay in use: the new certificate ${expired.name} (${expired.file}) expired on ${expired.until.toISOString()}; peers would refuse it`,
        { reason, error: 'certificate expired', code: null, file: expired.file, subject: expired.name, notAfter: expired.until.toISOString() }, 'error');
      return;
    }
    this.#o.apply(context);
    this.#current = next;
    const cert = this.#current.find((e) => e.kind === 'certificate');
    log('reloaded', `${reason}: TLS files reloaded; new associations use them${cert !== undefined ? ` (certificate ${cert.name}, valid until ${cert.until.toISOString()})` : ''}, running ones continue on the previous ones`,
      { reason, subject: cert?.name ?? null, notAfter: cert?.until.toISOString() ?? null });
    this.warnExpiry();
  }

  /**
   * A context a reload replaced: disposed at once. SecureContext defers freeing it until its last
   * connection has closed, so running associations go on; kept until the stop instead, every
   * reload left one more SSL_CTX and its session cache behind.
   */
  retire(context: SecureContext): void { context.dispose(); }

  close(): void {
    process.off('SIGHUP', this.#onHup);
    clearInterval(this.#daily);
    clearTimeout(this.#debounce);
    for (const f of this.#watched) unwatchFile(f);
  }
}
