/**
 * `serve` takes its ports before it creates anything (data directory, development PKI, index):
 * a busy port must not leave a fresh PKI and an empty store behind. Each port is bound then, not
 * listened on (transport/bound-port.ts): until the server is ready a connection to it is refused,
 * so a TCP health check (HAProxy `check`, a Kubernetes tcpSocket probe) never sees the node up
 * before it serves. The server later listens on that same socket, the only listen there is.
 */
import type { BoundPort } from '../transport/bound-port.js';
import { CliError, codeOf, fromSystemError } from './errors.js';

/** A port the system refused (bind or listen), as one sentence naming the option. */
export function portError(e: unknown, host: string, port: number, option: string): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    return new CliError(codeOf('CONNECTION'), `${option} ${port}: the port is already in use on ${host} (another program, perhaps another dicom-tls serve, listens there); stop it or choose another ${option}`, { cause: e });
  }
  if (code === 'EACCES') {
    return new CliError(codeOf('CONNECTION'), `${option} ${port}: permission denied on ${host} (ports below 1024 need privileges); choose a port above 1023, e.g. 2762`, { cause: e });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new CliError(codeOf('CONNECTION'), `--host ${host}: not an address of this machine; choose one of its addresses, or 0.0.0.0 for all`, { cause: e });
  }
  return fromSystemError(e);
}

/**
 * Bind each port given (0 and absent ones are left to the listen: the system picks a free one).
 * On failure the ports already bound are given back and the error is portError's.
 */
export async function bindPorts(host: string, ports: ReadonlyArray<{ port: number | undefined; option: string }>): Promise<Array<BoundPort | undefined>> {
  const { bindPort } = await import('../transport/bound-port.js');
  const bound: Array<BoundPort | undefined> = [];
  for (const { port, option } of ports) {
    if (port === undefined || port === 0) {
      bound.push(undefined);
      continue;
    }
    try {
      bound.push(await bindPort(host, port));
    } catch (e) {
      for (const b of bound) b?.close();
      throw portError(e, host, port, option);
    }
  }
  return bound;
}

/** HOST:PORT as printed and as `dicom-tls echo` reads it: an IPv6 address in brackets (`[::1]:2762`). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The host a printed connect line names: `localhost` where the server listens on every address or
 * on 127.0.0.1; else the address it listens on, which `localhost` may not reach (`--host ::1`,
 * where localhost resolves to 127.0.0.1 only).
 */
export function connectHost(host: string): string {
  return ['0.0.0.0', '::', '127.0.0.1', 'localhost'].includes(host) ? 'localhost' : host;
}
