/** Whether this machine can run the IPv6 tests. */
import { readFileSync } from 'node:fs';

/**
 * An IPv6 loopback (`::1` on `lo`) is configured: /proc/net/if_inet6 lists it. A container may
 * run without IPv6, and then `::1` is no address to bind.
 */
export function hasIpv6Loopback(): boolean {
  try {
    return readFileSync('/proc/net/if_inet6', 'utf8').split('\n').some((l) => /^0{31}1\s/.test(l));
  } catch {
    return false;
  }
}

/** The reason to skip an IPv6 test, or false where it can run. */
export const skipWithoutIpv6: string | false = hasIpv6Loopback() ? false : 'no IPv6 loopback on this machine (/proc/net/if_inet6)';
