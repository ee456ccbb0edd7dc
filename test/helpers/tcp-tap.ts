/**
 * A TCP relay between a client and a server (an S3 endpoint, here) that a test can make misbehave
 * at a byte it chooses, without timing: `cutReplyAfter(n)` destroys the next connection whose
 * replies pass n bytes (a read the service breaks off); `holdRequestAfter(n)` forwards n more
 * request bytes and then holds the rest (a put under way, for as long as the test wants: it then
 * kills the client, or calls `release()`). Listens on 127.0.0.1 port 0: the client is told the
 * port after it is bound.
 */
import net from 'node:net';

export interface TcpTap {
  readonly port: number;
  readonly endpoint: string;
  /** Connections cut so far by cutReplyAfter. */
  readonly cuts: number;
  /** The next connection whose reply bytes (from now) pass `n` is destroyed, both ways, once. */
  cutReplyAfter(n: number): void;
  /** Request bytes (from now, all connections) past `n` are held, not forwarded, until release(). */
  holdRequestAfter(n: number): void;
  /** Resolves once a hold is holding bytes (what it forwarded has reached the server). */
  holding(): Promise<void>;
  /** Forward what is held, and stop holding. */
  release(): void;
  close(): Promise<void>;
}

export async function startTcpTap(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpTap> {
  let cut: { left: number } | undefined;
  let cuts = 0;
  let hold: { left: number; held: { socket: net.Socket; chunk: Buffer }[]; waiters: (() => void)[] } | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      if (hold === undefined) return void upstream.write(chunk);
      if (hold.left >= chunk.length) {
        hold.left -= chunk.length;
        return void upstream.write(chunk);
      }
      const pass = chunk.subarray(0, hold.left);
      hold.left = 0;
      if (pass.length > 0) upstream.write(pass);
      hold.held.push({ socket: upstream, chunk: chunk.subarray(pass.length) });
      // Once what was forwarded is on its way out, the hold is in place.
      const h = hold;
      upstream.write(Buffer.alloc(0), () => {
        for (const w of h.waiters.splice(0)) w();
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut !== undefined) {
        if (chunk.length > cut.left) {
          const pass = chunk.subarray(0, cut.left);
          cut = undefined;
          cuts++;
          client.write(pass, () => end());
          upstream.pause();
          return;
        }
        cut.left -= chunk.length;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    cutReplyAfter: (n) => void (cut = { left: n }),
    holdRequestAfter: (n) => void (hold = { left: n, held: [], waiters: [] }),
    holding: () =>
      new Promise<void>((resolve) => {
        if (hold === undefined) return resolve();
        if (hold.held.length > 0) return resolve();
        hold.waiters.push(resolve);
      }),
    release() {
      const h = hold;
      hold = undefined;
      for (const { socket, chunk } of h?.held ?? []) if (!socket.destroyed) socket.write(chunk);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
