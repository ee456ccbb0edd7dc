/**
 * A private HAProxy per test, running the configuration a site is given (docs/examples/
 * haproxy.cfg) in front of several `dicom-tls serve` nodes: TCP mode (the TLS of each association
 * passes through untouched to the node, which verifies the client certificate itself), a health
 * check against each node's HTTP `/readyz` (store writable, index answering) so that checks never
 * open a DICOM association, and a connection log line per balanced connection. Configuration,
 * admin socket and log live in a temporary directory; nothing touches a system service.
 *
 * Behaviour of HAProxy 2.6 (Debian 12) that shapes this helper:
 * - `log stdout` with `-db` (foreground) writes the log to the process's stdout; we read it there.
 * - A server with `check` is probed as soon as the process starts; a refused probe marks it DOWN
 *   after `fall` failures. The helper waits until every server is UP on the admin socket before
 *   handing the balancer out, so no test connection meets a not-yet-checked backend.
 * - In TCP mode a connection that cannot reach its server is retried (`retries`) and, with
 *   `option redispatch`, sent to another server: a node killed between two checks costs a
 *   client nothing but a retry.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasDcmtk } from './dcmtk.js';
import { onFreePort } from './free-port.js';

/**
 * The HAProxy binary, or undefined: HAPROXY_BIN when set (and only it, so a wrong value shows as
 * a skip), else `haproxy` on the PATH, else the Debian location (sbin is not on every user's PATH).
 */
export function findHaproxy(): string | undefined {
  const fromEnv = process.env['HAPROXY_BIN'];
  const candidates = fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : ['haproxy', '/usr/sbin/haproxy'];
  for (const c of candidates) {
    try {
      execFileSync(c, ['-v'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/**
 * `skip` for a test that needs HAProxy (and DCMTK's storescu, which every cluster test sends
 * with): false when installed, a message when not; under CI (`CI` set) a missing one fails
 * instead, since .ci/run installs them.
 */
export function clusterSkip(): string | false {
  const missing = findHaproxy() === undefined ? 'haproxy is not installed (Debian: apt-get install haproxy)'
    : !hasDcmtk('storescu') ? 'DCMTK is not installed (Debian: apt-get install dcmtk)' : undefined;
  if (missing === undefined) return false;
  if (process.env['CI'] !== undefined && process.env['CI'] !== '') throw new Error(`${missing}: CI installs it, so this is a failure`);
  return missing;
}

export interface HaproxyBackend {
  /** Server name in the configuration and the log (letters, digits, `-`, `_`). */
  readonly name: string;
  /** The node's DICOM (TLS) port. */
  readonly port: number;
  /** The node's HTTP port, for the `/readyz` check. */
  readonly httpPort: number;
}

export interface HaproxyOptions {
  readonly backends: readonly HaproxyBackend[];
}

/** One balanced connection, from the log line HAProxy writes when it closes. */
export interface HaproxyConnection {
  readonly client: string;
  /** The server it went to (`<NOSRV>` when none was available). */
  readonly server: string;
  /** HAProxy's own address:port towards the server: the peer the node sees and logs. */
  readonly via: string;
  /** Bytes from the client to the server, and back. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** HAProxy's two-letter termination state: `--` is a normal close by either side. */
  readonly termination: string;
  /** Connect retries to the server (`retries`), and whether it was redispatched to another one. */
  readonly retries: string;
}

/** A server's line of `show stat`. */
export interface HaproxyServerStat {
  readonly name: string;
  /** `UP`, `DOWN`, `MAINT`, `DRAIN`, or a transition such as `UP 1/2`. */
  readonly status: string;
  /** Sessions sent to it so far. */
  readonly sessions: number;
  /** Last check result, e.g. `L7OK`, `L4CON` (without the `* ` HAProxy puts before it while a check runs). */
  readonly check: string;
}

export interface Haproxy {
  /** The balanced DICOM port on 127.0.0.1. */
  readonly port: number;
  readonly dir: string;
  /** Everything HAProxy wrote (log lines, warnings), for failure messages. */
  output(): string;
  /** The connections logged so far (a connection is logged when it closes). */
  connections(): HaproxyConnection[];
  /** Waits (a hang guard) until at least `n` connections are logged: the line comes after both sides closed. */
  waitForConnections(n: number, guardMs?: number): Promise<HaproxyConnection[]>;
  stats(): Promise<HaproxyServerStat[]>;
  /** Waits (a hang guard, not a timed assertion) until `test` holds for the server stats. */
  waitForStats(test: (s: HaproxyServerStat[]) => boolean, what: string, guardMs?: number): Promise<HaproxyServerStat[]>;
  stop(): Promise<void>;
}

const BACKEND = 'dicom_nodes';
// One line per closed connection; fields separated by single spaces, values without spaces.
const LOG_FORMAT = 'conn client=%ci:%cp server=%s via=%bi:%bp in=%U out=%B term=%ts retries=%rc';
const LOG_LINE = /^conn client=(\S+) server=(\S+) via=(\S+) in=(\d+) out=(\d+) term=(\S+) retries=(\S+)$/;

/** The documented configuration (docs/examples/haproxy.cfg), which the tests run. */
export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../docs/examples/haproxy.cfg', import.meta.url));

/**
 * The documented configuration with this test's addresses: the log to stdout (in a form the
 * helper parses) and an admin socket, the frontend on 127.0.0.1:`port`, the example's servers
 * replaced by `backends`. Everything else — mode, timeouts, retries, balancing, health check —
 * is the example's own, so a change there is what the tests run.
 */
function config(o: HaproxyOptions, port: number, socket: string): string {
  const lines = readFileSync(EXAMPLE_CONFIG, 'utf8').split('\n');
  const replace = (test: RegExp, by: (indent: string) => string[]): void => {
    const at = lines.findIndex((l) => test.test(l));
    if (at < 0) throw new Error(`${EXAMPLE_CONFIG}: no line ${test}`);
    lines.splice(at, 1, ...by(/^\s*/.exec(lines[at]!)![0]));
  };
  replace(/^\s*log \/dev\/log /, (i) => [`${i}log stdout format raw local0 info`, `${i}stats socket ${socket} mode 600 level admin`]);
  replace(/^\s*option tcplog$/, (i) => [`${i}log-format "${LOG_FORMAT}"`]);
  replace(/^\s*bind :\d+$/, (i) => [`${i}bind 127.0.0.1:${port}`]);
  if (!lines.some((l) => l.trim() === `backend ${BACKEND}`)) throw new Error(`${EXAMPLE_CONFIG}: no backend ${BACKEND}`);
  const servers = o.backends.map((b) => {
    if (!/^[A-Za-z0-9_-]+$/.test(b.name)) throw new Error(`haproxy server name "${b.name}" has characters the configuration does not take`);
    return `    server ${b.name} 127.0.0.1:${b.port} check port ${b.httpPort}`;
  });
  // The example's servers make way for ours, where they stood.
  const first = lines.findIndex((l) => /^\s*server /.test(l));
  if (first < 0) throw new Error(`${EXAMPLE_CONFIG}: no server line`);
  const out = [...lines.slice(0, first), ...servers, ...lines.slice(first).filter((l) => !/^\s*server /.test(l))];
  return `${out.join('\n').trimEnd()}\n`;
}

/** A `show stat`-style command on the admin socket; the whole answer. */
function admin(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let text = '';
    s.setEncoding('utf8').on('data', (d: string) => { text += d; });
    s.once('error', reject);
    s.once('connect', () => s.end(`${command}\n`));
    s.once('close', () => resolve(text));
  });
}

function parseStats(csv: string): HaproxyServerStat[] {
  const [header, ...rows] = csv.split('\n').filter((l) => l.length > 0);
  if (header === undefined || !header.startsWith('# ')) throw new Error(`haproxy: unexpected "show stat" answer: ${csv.slice(0, 200)}`);
  const names = header.slice(2).split(',');
  const col = (row: string[], name: string): string => row[names.indexOf(name)] ?? '';
  return rows.map((r) => r.split(','))
    .filter((r) => col(r, 'pxname') === BACKEND && col(r, 'svname') !== 'BACKEND')
    .map((r) => ({ name: col(r, 'svname'), status: col(r, 'status'), sessions: Number(col(r, 'stot')), check: col(r, 'check_status').replace(/^\* /, '') }));
}

/** Starts HAProxy in front of `backends` and resolves once every backend is UP. */
export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  const bin = findHaproxy();
  if (bin === undefined) throw new Error('haproxy is not installed (Debian: apt-get install haproxy)');
  // A haproxy that could not bind its frontend ("Address already in use") exits, and is retried.
  return onFreePort((port) => startOn(o, bin, port));
}

async function startOn(o: HaproxyOptions, bin: string, port: number): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config(o, port, socket));
  // -db: stay in the foreground, log to our pipe; -f: only our file.
  const child: ChildProcess = spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  let exited = false;
  const closed = new Promise<void>((r) => child.once('close', () => { exited = true; r(); }));
  const stop = async (): Promise<void> => {
    // SIGTERM: a hard stop (SIGUSR1 would wait for open connections).
    if (!exited) child.kill('SIGTERM');
    await closed;
    rmSync(dir, { recursive: true, force: true });
  };
  const stats = async (): Promise<HaproxyServerStat[]> => parseStats(await admin(socket, 'show stat'));
  const waitForStats = async (test: (s: HaproxyServerStat[]) => boolean, what: string, guardMs = 60_000): Promise<HaproxyServerStat[]> => {
    const end = Date.now() + guardMs;
    let last: HaproxyServerStat[] | string = 'no answer yet';
    for (;;) {
      if (exited) throw new Error(`haproxy exited while waiting for ${what}:\n${out}`);
      try {
        const s = await stats();
        if (test(s)) return s;
        last = s;
      } catch (e) {
        last = String(e); // the socket is not there yet
      }
      if (Date.now() > end) throw new Error(`haproxy: no ${what}; last stats ${JSON.stringify(last)}\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const connections = (): HaproxyConnection[] => out.split('\n').flatMap((l) => {
    const m = LOG_LINE.exec(l.trim());
    return m === null ? [] : [{ client: m[1]!, server: m[2]!, via: m[3]!, bytesIn: Number(m[4]), bytesOut: Number(m[5]), termination: m[6]!, retries: m[7]! }];
  });
  const waitForConnections = async (n: number, guardMs = 60_000): Promise<HaproxyConnection[]> => {
    const end = Date.now() + guardMs;
    while (connections().length < n) {
      if (exited || Date.now() > end) throw new Error(`haproxy logged ${connections().length} of ${n} connections:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return connections();
  };
  const h: Haproxy = {
    port, dir, output: () => out, connections, waitForConnections,
    stats, waitForStats,
    stop,
  };
  try {
    await waitForStats((s) => s.length === o.backends.length && s.every((x) => x.status === 'UP'), 'backend all UP');
  } catch (e) {
    await stop();
    throw e;
  }
  return h;
}
