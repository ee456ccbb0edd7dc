/**
 * Shared plumbing of the TLS scenario tests: a client or server of ours whose verify callback
 * records every call and answers with a fixed policy, next to the `openssl` peers whose printed
 * verify trace is the oracle (test/helpers/openssl-peer.ts).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SecureContext, type SecureContextOptions } from '../../../src/transport/tls/context.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { TlsHandshakeError } from '../../../src/transport/tls/errors.js';

/** How the recording callback answers: a fixed 0/1, OpenSSL's `ok`, or no callback at all. */
export type Policy = 0 | 1 | 'ok' | 'none';

export interface RecordedCall {
  depth: number;
  ok: number;
  error: number;
  errorString: string;
  errorName: string;
  certificateString: string;
  role: string;
  der: Buffer;
}

/** The subject line of a certificate string, in the same one-line form s_client prints. */
export function subjectOf(certificateString: string): string {
  const line = certificateString.split('\n')[0] ?? '';
  return line.replace(/^Subject Name: /, '').trimEnd();
}

export function recordingOptions(policy: Policy, calls: RecordedCall[]): Partial<SecureContextOptions> {
  if (policy === 'none') return {};
  return {
    verifyCallback: (ok, certificateString, error, errorString, context) => {
      calls.push({ depth: context.depth, ok, error, errorString, errorName: context.errorName, certificateString,
        role: context.role, der: context.der });
      return policy === 'ok' ? ok : policy;
    },
  };
}

export interface ClientOutcome {
  calls: RecordedCall[];
  socket?: SecureSocket;
  error?: unknown;
}

/** Connects our client to 127.0.0.1:port; never throws (the outcome carries the error). */
export async function connectOurClient(port: number, options: Partial<SecureContextOptions>, policy: Policy): Promise<ClientOutcome> {
  const calls: RecordedCall[] = [];
  const context = new SecureContext({ role: 'client', ...options, ...recordingOptions(policy, calls) } as SecureContextOptions);
  try {
    const socket = await SecureSocket.connect({ host: '127.0.0.1', port, context });
    return { calls, socket };
  } catch (error) {
    return { calls, error };
  } finally {
    // The SSL objects keep their own reference to the SSL_CTX; freeing the context here is legal.
    context.dispose();
  }
}

/** Ends our socket politely and waits until it is closed. */
export async function closeSocket(socket: SecureSocket | undefined): Promise<void> {
  if (socket === undefined || socket.destroyed) return;
  const closed = once(socket, 'close');
  socket.end();
  const guard = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(guard);
}

/**
 * Our client with `context` against the server on `port`: undefined when it connected (and was
 * closed again), else what the connect threw. The context is disposed of either way.
 */
export async function handshakeOutcome(port: number, context: SecureContext): Promise<unknown> {
  try {
    const socket = await SecureSocket.connect({ host: '127.0.0.1', port, context });
    await closeSocket(socket);
    return undefined;
  } catch (e) {
    return e;
  } finally {
    context.dispose();
  }
}

export function assertHandshakeError(e: unknown): TlsHandshakeError {
  if (!(e instanceof TlsHandshakeError)) {
    throw new Error(`expected a TlsHandshakeError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
  }
  return e;
}

export interface ServerOutcome {
  calls: RecordedCall[];
  socket?: SecureSocket;
  error?: unknown;
}

export interface OurServer {
  port: number;
  /** Next connection's outcome: 'secureConnection' or 'handshakeError'. */
  next(): Promise<ServerOutcome>;
  close(): Promise<void>;
}

/** Our server on 127.0.0.1 with a recording verify callback. */
export async function startOurServer(options: Partial<SecureContextOptions>, policy: Policy): Promise<OurServer> {
  let calls: RecordedCall[] = [];
  const context = new SecureContext({ role: 'server', ...options, ...recordingOptions(policy, calls) } as SecureContextOptions);
  const outcomes: ServerOutcome[] = [];
  const waiting: ((o: ServerOutcome) => void)[] = [];
  const deliver = (o: ServerOutcome): void => {
    const w = waiting.shift();
    if (w !== undefined) w(o); else outcomes.push(o);
  };
  const server = createSecureServer(context, (socket) => {
    const o: ServerOutcome = { calls: calls.splice(0), socket };
    socket.on('error', () => { /* peer may go away first */ });
    deliver(o);
  });
  server.on('handshakeError', (error: unknown) => deliver({ calls: calls.splice(0), error }));
  const address: AddressInfo = await server.listen(0, '127.0.0.1');
  return {
    port: address.port,
    next: () => new Promise<ServerOutcome>((resolve) => {
      const o = outcomes.shift();
      if (o !== undefined) resolve(o); else waiting.push(resolve);
    }),
    close: async () => {
      await server.close();
      context.dispose();
      calls = [];
    },
  };
}

/** Waits for a promise but gives up after `ms` (a hang guard, not an assertion). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** The seeds' certificate string for a certificate, as the `openssl x509` command shows it (the one oracle). */
export { certificateStringFromCli } from '../../helpers/x509-openssl.js';
