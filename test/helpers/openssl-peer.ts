/**
 * Real `openssl s_server` / `openssl s_client` peers for integration tests, and the parser that
 * turns their verify trace into the sequence of verify-callback calls OpenSSL made.
 *
 * The apps' verify callback (apps/lib/s_cb.c, `verify_callback`) prints, for every call:
 *   `depth=<error depth> <subject one-line>`          (always, unless -verify_quiet and ok=1)
 *   `verify error:num=<n>:<X509_verify_cert_error_string>`   (only when called with ok=0)
 *   optional detail lines (`issuer= …`, `notBefore=…`, `notAfter=…`)
 *   `verify return:<r>`                               (only when it returns non-zero)
 * With `-verify_return_error` unset the apps return 1 for every error, which is what our tests'
 * recording callbacks do too, so both sides see the same sequence of calls.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** One call of the verify callback as the trace shows it. `error` is set only when ok = 0. */
export interface VerifyCall {
  depth: number;
  ok: 0 | 1;
  error?: number;
  errorString?: string;
  subject: string;
  /** What the app's callback returned (absent when it returned 0: the app prints nothing then). */
  returned?: number;
}

/** The comparable core of a call: what OpenSSL passed in (depth, ok, error when ok = 0). */
export function callKey(c: { depth: number; ok: number; error?: number }): { depth: number; ok: number; error?: number } {
  return c.ok === 0 ? { depth: c.depth, ok: 0, error: c.error } : { depth: c.depth, ok: 1 };
}

const DEPTH = /^depth=(-?\d+) (.*)$/;
const ERROR = /^verify error:num=(\d+):(.*)$/;
const RETURN = /^verify return:(-?\d+)$/;

/** Parses an s_client / s_server stderr into verify-callback calls, in order. */
export function parseVerifyTrace(text: string): VerifyCall[] {
  const calls: VerifyCall[] = [];
  let current: VerifyCall | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    let m = DEPTH.exec(line);
    if (m !== null) {
      current = { depth: Number(m[1]), ok: 1, subject: m[2] === '<no cert>' ? '' : m[2]! };
      calls.push(current);
      continue;
    }
    if (current === undefined) continue;
    m = ERROR.exec(line);
    if (m !== null) {
      current.ok = 0;
      current.error = Number(m[1]);
      current.errorString = m[2]!;
      continue;
    }
    m = RETURN.exec(line);
    if (m !== null) {
      current.returned = Number(m[1]);
      current = undefined;
    }
  }
  return calls;
}

/** Alert numbers a peer reports receiving (`... SSL alert number 43`). */
export function parseAlerts(text: string): number[] {
  return [...text.matchAll(/SSL alert number (\d+)/g)].map((m) => Number(m[1]));
}

/** `Acceptable client certificate CA names` block of s_client, one-line names. */
export function parseAcceptableCaNames(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const start = lines.indexOf('Acceptable client certificate CA names');
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^[A-Za-z][A-Za-z0-9.]* = /.test(line)) break;
    names.push(line);
  }
  return names;
}

/**
 * s_client's `Verify return code: N (text)` (SSL_get_verify_result), or undefined when the
 * handshake did not get there. TLS 1.2 prints it only inside the indented SSL-Session block.
 */
export function parseVerifyReturnCode(text: string): number | undefined {
  const m = /^\s*Verify return code: (\d+)/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

export interface PeerTlsOptions {
  cert?: string;
  key?: string;
  /** Extra certificates sent after the leaf (s_server -cert_chain / s_client -cert_chain). */
  chain?: string;
  pass?: string;
  CAfile?: string;
  crl?: string;
  crlCheck?: 'leaf' | 'chain';
  verifyReturnError?: boolean;
  verifyHostname?: string;
  alpn?: string[];
  /** Pin one protocol version. */
  protocol?: 'tls1_2' | 'tls1_3';
  extraArgs?: string[];
}

function commonArgs(o: PeerTlsOptions): string[] {
  const a: string[] = [];
  if (o.cert !== undefined) a.push('-cert', o.cert);
  if (o.key !== undefined) a.push('-key', o.key);
  if (o.chain !== undefined) a.push('-cert_chain', o.chain);
  if (o.pass !== undefined) a.push('-pass', `pass:${o.pass}`);
  if (o.CAfile !== undefined) a.push('-CAfile', o.CAfile);
  if (o.crl !== undefined) a.push('-CRL', o.crl);
  if (o.crlCheck === 'leaf') a.push('-crl_check');
  if (o.crlCheck === 'chain') a.push('-crl_check_all');
  if (o.verifyReturnError === true) a.push('-verify_return_error');
  if (o.verifyHostname !== undefined) a.push('-verify_hostname', o.verifyHostname);
  if (o.alpn !== undefined) a.push('-alpn', o.alpn.join(','));
  if (o.protocol !== undefined) a.push(`-${o.protocol}`);
  a.push(...(o.extraArgs ?? []));
  return a;
}

class Captured {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    child.stdin.on('error', () => { /* peer gone: nothing to write to */ });
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }
  get output(): string { return this.stdout + this.stderr; }
}

export interface SServerOptions extends PeerTlsOptions {
  /** -verify N (request a certificate) or -Verify N (require one). */
  verify?: number;
  Verify?: number;
  /** Connections to accept before exiting (default 1). */
  naccept?: number;
}

export interface SServer {
  port: number;
  /** Combined stdout + stderr so far. */
  readonly output: string;
  readonly stderr: string;
  /** Verify calls on the client's chain (needs -verify/-Verify). */
  verifyCalls(): VerifyCall[];
  /** Alerts s_server reports receiving. */
  alerts(): number[];
  /** Resolves when s_server has exited (after -naccept connections). */
  exited: Promise<number | null>;
  close(): Promise<void>;
}

/** Starts `openssl s_server` on 127.0.0.1 on a kernel-chosen port; resolves once it accepts. */
export async function startSServer(o: SServerOptions): Promise<SServer> {
  const args = ['s_server', '-accept', '127.0.0.1:0', '-naccept', String(o.naccept ?? 1)];
  if (o.verify !== undefined) args.push('-verify', String(o.verify));
  if (o.Verify !== undefined) args.push('-Verify', String(o.Verify));
  args.push(...commonArgs(o));
  // stdin stays an open pipe: s_server treats EOF on stdin as "shut down".
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const cap = new Captured(child);
  const port = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(cap.stdout);
      if (m !== null) { child.stdout.off('data', check); resolve(Number(m[1])); }
    };
    child.stdout.on('data', check);
    void cap.exited.then((code) => reject(new Error(`openssl s_server exited (${code}) before accepting:\n${cap.output}`)));
  });
  let closed = false;
  return {
    port,
    get output() { return cap.output; },
    get stderr() { return cap.stderr; },
    verifyCalls: () => parseVerifyTrace(cap.stderr),
    alerts: () => parseAlerts(cap.output),
    exited: cap.exited,
    close: async () => {
      if (!closed) {
        closed = true;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }
      await cap.exited;
    },
  };
}

export interface SClientOptions extends PeerTlsOptions {
  port: number;
  host?: string;
  servername?: string;
  /** Written to stdin; stdin is then closed, which makes s_client close the connection. */
  input?: string;
  /**
   * Keep stdin open: s_client then stays until the server closes or sends an alert, so an alert
   * the server sends after the client's last flight (TLS 1.3 client-certificate failures) is seen.
   */
  keepStdinOpen?: boolean;
  /** Kill after this many ms (a hang guard, not an assertion). Default 20 s. */
  killAfter?: number;
}

export interface SClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
  output: string;
  verifyCalls: VerifyCall[];
  verifyReturnCode: number | undefined;
  alerts: number[];
  acceptableCaNames: string[];
}

/** Runs `openssl s_client` to completion and parses what it printed. */
export async function runSClient(o: SClientOptions): Promise<SClientResult> {
  const args = ['s_client', '-connect', `${o.host ?? '127.0.0.1'}:${o.port}`];
  if (o.servername !== undefined) args.push('-servername', o.servername);
  else args.push('-noservername');
  args.push(...commonArgs(o));
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const cap = new Captured(child);
  const guard = setTimeout(() => child.kill('SIGKILL'), o.killAfter ?? 20_000);
  if (o.keepStdinOpen === true) child.stdin.write(o.input ?? '');
  else child.stdin.end(o.input ?? '');
  const code = await cap.exited;
  clearTimeout(guard);
  return {
    code, stdout: cap.stdout, stderr: cap.stderr, output: cap.output,
    verifyCalls: parseVerifyTrace(cap.stderr),
    verifyReturnCode: parseVerifyReturnCode(cap.stdout),
    alerts: parseAlerts(cap.output),
    acceptableCaNames: parseAcceptableCaNames(cap.stdout),
  };
}
