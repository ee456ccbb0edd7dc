/**
 * An rsyslog audit record repository for tests: `rsyslogd -n` in the foreground with its own
 * configuration, work directory and pid file (never the system service), a TLS input (ossl
 * network stream driver, mutual authentication: x509/certvalid) on a given port, writing every
 * message it receives, as received (%rawmsg%), one per line to a file the test reads back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export interface RsyslogOptions {
  readonly dir: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  /** CA file that client certificates must chain to. */
  readonly ca: string;
}

/** A port for rsyslogd's input: outside the ephemeral range, so it stays free across a restart. */
export { freePort } from './free-port.js';

export class Rsyslog {
  readonly output: string;
  readonly #o: RsyslogOptions;
  #child: ChildProcess | undefined;
  #stderr = '';

  constructor(o: RsyslogOptions) {
    this.#o = o;
    this.output = join(o.dir, 'received.log');
  }

  /** Start rsyslogd and wait until its TLS input accepts connections. */
  async start(): Promise<void> {
    const { dir, port, cert, key, ca } = this.#o;
    const work = join(dir, 'work');
    mkdirSync(work, { recursive: true });
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(conf, [
      `global(workDirectory="${work}" maxMessageSize="256k"`,
      `  defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="${ca}"`,
      `  defaultNetstreamDriverCertFile="${cert}" defaultNetstreamDriverKeyFile="${key}")`,
      `module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")`,
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      `template(name="raw" type="string" string="%rawmsg%\\n")`,
      // Only audit messages: rsyslogd's own notices (e.g. about the readiness probe) stay out.
      `if $msgid == "IHE+RFC-3881" then { action(type="omfile" file="${this.output}" template="raw") }`,
      '',
    ].join('\n'));
    this.#stderr = '';
    // A daemon killed with SIGKILL leaves its pid file; a new one refuses to start over it.
    rmSync(join(dir, 'rsyslogd.pid'), { force: true });
    const child = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    this.#child = child;
    // Never outlive the test process, even when it is killed mid-test.
    const reap = (): void => { child.kill('SIGKILL'); };
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`rsyslogd exited (${code}): ${this.#stderr}`))));
    // Ready when the port accepts a TCP connection (opened and closed at once: a bare TCP probe).
    const ready = (async (): Promise<void> => {
      for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
          s.on('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.race([ready, exited]);
    exited.catch(() => undefined);
  }

  /** The messages received so far, in order (one per line). */
  messages(): string[] {
    if (!existsSync(this.output)) return [];
    return readFileSync(this.output, 'utf8').split('\n').filter((l) => l !== '');
  }

  /** Wait (hang guard `timeout` ms) until `predicate(messages)` holds. */
  async waitFor(predicate: (m: string[]) => boolean, timeout = 30000): Promise<string[]> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const m = this.messages();
      if (predicate(m)) return m;
      if (Date.now() > deadline) throw new Error(`rsyslog: condition not met; ${m.length} messages so far; rsyslogd said: ${this.#stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop: SIGTERM (or SIGKILL with `kill`), and wait for the process to exit. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}
