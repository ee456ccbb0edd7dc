/**
 * Ports for peers that must be told their port before they bind it (storescp, haproxy,
 * PostgreSQL, Orthanc, rsyslogd, openssl s_server, a serve node restarted on its old port).
 *
 * A port taken with listen(0) and released is from the kernel's ephemeral range: until the peer
 * binds it, any listen(0) or connect() on the machine (the other test files, the other suites
 * sharing CI) may be given the same port, and the peer then fails to bind or, worse, the
 * readiness probe reaches someone else's listener. So the port is drawn at random from below the
 * ephemeral range, which the kernel never hands out by itself, and checked free by binding it.
 * Two test processes drawing the same port at the same moment is the one clash left;
 * `onFreePort` retries a start that failed because the port was in use.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Lowest port drawn from: above the registered ports most local services use. */
const FLOOR = 20_000;

/** The kernel's ephemeral range [low, high] (Linux; the usual default elsewhere). */
export function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux
  }
  return [32_768, 60_999];
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on now, outside the ephemeral range. Checked on the wildcard address,
 * which clashes with a listener on any address, so it also suits peers binding 0.0.0.0.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  for (let i = 0; i < 100 && low - FLOOR > 1000; i++) {
    const port = randomInt(FLOOR, low);
    if (await bindable(port, '0.0.0.0')) return port;
  }
  // No room below the ephemeral range (an unusual kernel setting): the kernel's own choice.
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** True for an error that says a port was already taken, in the words of Node or of a peer. */
export function isAddressInUse(e: unknown): boolean {
  const text = e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` : String(e);
  // The last: `dicom-tls serve`'s own sentence for a busy port.
  return /EADDRINUSE|address already in use|the port is already in use/i.test(text);
}

/**
 * `start(port)` on a free port; a start that failed because another process took the port in the
 * meantime is retried on a new one (a few times), any other failure is thrown as it is.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (e) {
      if (i >= attempts || !isAddressInUse(e)) throw e;
    }
  }
}

/**
 * Resolves once something accepts a TCP connection on 127.0.0.1:`port` (each probe is closed at
 * once); rejects when `child` (the peer meant to listen there) exits first, or after a generous
 * hang guard. A peer that has merely been spawned may need long to bind on a loaded machine, so
 * the wait is for the listener, never for a number of tries.
 */
export async function waitListening(port: number, child?: { exitCode: number | null; signalCode: NodeJS.Signals | null }, guardMs = 60_000): Promise<void> {
  const end = Date.now() + guardMs;
  for (;;) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the peer for port ${port} exited (${child.exitCode ?? child.signalCode}) before it listened`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port} after the hang guard`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
