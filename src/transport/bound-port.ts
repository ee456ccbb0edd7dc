/**
 * A TCP port taken before its server is ready to serve: bound, not listening. A connection to it
 * is refused (the kernel answers a SYN to a bound, non-listening port with a reset), so a
 * load balancer's TCP health check or a Kubernetes tcpSocket probe does not see the node up
 * before it serves; yet a port another program listens on fails here, as listen would, before
 * the caller creates anything. The server then listens on this very socket
 * (`net.Server.listen({ fd })`): the only listen there is. (Not a lock: with SO_REUSEADDR, as
 * every libuv server binds, another program may still bind and listen on the port meanwhile;
 * the listen then fails with EADDRINUSE as it would have.)
 *
 * Node's `net` binds only as part of listen, so the socket is made with the C library's own
 * calls (libc.ts), the way libuv makes a listening socket: SO_REUSEADDR (a port with connections
 * in TIME_WAIT from the previous run is free), and dual-stack for an IPv6 wildcard. Linux only,
 * like the package.
 */
import { lookup } from 'node:dns/promises';
import { getSystemErrorName } from 'node:util';
import { bind, close, inetPton, lastErrno, setsockopt, socket } from './tls/openssl/libc.js';

// Linux <sys/socket.h>, <netinet/in.h>.
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;

/** A Node-shaped system error (code, errno, syscall, address, port), as `listen` would throw it. */
function systemError(syscall: string, errno: number, address: string, port: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${syscall} ${code} ${address}:${port}`), { code, errno: -errno, syscall, address, port });
}

/**
 * struct sockaddr_in (16 bytes: family, port, 4 address bytes at 4) or sockaddr_in6 (28 bytes:
 * family, port, flow info, 16 address bytes at 8, scope id), the address as the C library's
 * inet_pton reads it. `address` comes from the resolver, so it is one of the family's forms; a
 * zone (`%eth0`) is dropped, the scope id left 0.
 */
function sockaddr(family: 4 | 6, address: string, port: number): Buffer {
  const b = Buffer.alloc(family === 4 ? 16 : 28);
  b.writeUInt16LE(family === 4 ? AF_INET : AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  const bytes = Buffer.alloc(family === 4 ? 4 : 16);
  const text = address.replace(/%.*$/, '');
  if (Number(inetPton(family === 4 ? AF_INET : AF_INET6, text, bytes)) !== 1) {
    throw Object.assign(new Error(`inet_pton EINVAL ${address}:${port}`), { code: 'EINVAL', syscall: 'inet_pton', address, port });
  }
  bytes.copy(b, family === 4 ? 4 : 8);
  return b;
}

export class BoundPort {
  #fd: number | undefined;
  constructor(readonly address: string, readonly port: number, fd: number) {
    this.#fd = fd;
  }

  /** The socket for `net.Server.listen`; from then on it is the server's (it closes it). */
  take(): { fd: number } {
    const fd = this.#fd;
    if (fd === undefined) throw new Error(`the socket bound to ${this.address}:${this.port} was already taken or closed`);
    this.#fd = undefined;
    return { fd };
  }

  /** Give the port back (a start-up that failed before its server listened). */
  close(): void {
    if (this.#fd !== undefined) close(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * Bind a TCP socket to `host` (resolved as `listen` resolves it) and `port` (1-65535), without
 * listening. Throws the system error listen would have thrown (EADDRINUSE, EACCES, EADDRNOTAVAIL).
 */
export async function bindPort(host: string, port: number): Promise<BoundPort> {
  const { address, family } = await lookup(host);
  const fd = Number(socket(family === 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0) throw systemError('socket', lastErrno(), address, port);
  const on = Buffer.alloc(4);
  on.writeInt32LE(1);
  const off = Buffer.alloc(4);
  try {
    if (Number(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, on, 4)) !== 0) throw systemError('setsockopt', lastErrno(), address, port);
    // libuv listens dual-stack on an IPv6 address unless asked for IPv6 only.
    if (family === 6 && Number(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, off, 4)) !== 0) throw systemError('setsockopt', lastErrno(), address, port);
    const sa = sockaddr(family === 6 ? 6 : 4, address, port);
    if (Number(bind(fd, sa, sa.length)) !== 0) throw systemError('bind', lastErrno(), address, port);
  } catch (e) {
    close(fd);
    throw e;
  }
  return new BoundPort(address, port, fd);
}
