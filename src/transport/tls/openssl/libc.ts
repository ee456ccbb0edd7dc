/**
 * The few C library socket calls Node's `net` does not offer: a TCP socket bound to its port
 * and not yet listening (src/transport/bound-port.ts), its address parsed as the C library
 * parses it. Bound like OpenSSL's functions, through
 * the running process (lib.ts): Node links the C library, so its symbols are there too.
 */
import { koffi, lib } from './lib.js';

export const socket = lib.func('int socket(int domain, int type, int protocol)');
export const setsockopt = lib.func('int setsockopt(int sockfd, int level, int optname, const void *optval, uint32_t optlen)');
export const bind = lib.func('int bind(int sockfd, const void *addr, uint32_t addrlen)');
export const close = lib.func('int close(int fd)');
/** An address in text form to its bytes in network order: 1 done, 0 not an address of that family. */
export const inetPton = lib.func('int inet_pton(int af, const char *src, void *dst)');

/** errno after the last call through koffi on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}
