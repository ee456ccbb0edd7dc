/** A raw peer over a real socket: writes whatever bytes a test scripts, reads PDUs back verbatim. */
import type net from 'node:net';

export class ScriptedPeer {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;
  /** Resolves when the socket has closed (the other side let go, or we did). */
  readonly closed: Promise<void>;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, c]);
      this.#wake?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      }),
    );
    socket.once('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next complete PDU (header + body) as sent, or undefined if the stream ended first. */
  async nextPdu(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.#buffer.length >= 6) {
        const total = 6 + this.#buffer.readUInt32BE(2);
        if (this.#buffer.length >= total) {
          const pdu = this.#buffer.subarray(0, total);
          this.#buffer = this.#buffer.subarray(total);
          return pdu;
        }
      }
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Resolves when the peer half-closed or closed the connection (we saw 'end' or 'close'). */
  async ended(): Promise<void> {
    while (!this.#ended) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/**
 * A listener on 127.0.0.1 whose first connection becomes a ScriptedPeer: `connection` resolves
 * with it; `close()` destroys every peer's socket and closes the listener.
 */
export async function listenForScriptedPeer(): Promise<{ port: number; connection: Promise<ScriptedPeer>; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const peers: ScriptedPeer[] = [];
  let accepted!: (peer: ScriptedPeer) => void;
  const connection = new Promise<ScriptedPeer>((resolve) => (accepted = resolve));
  const server = createServer((socket) => {
    const peer = new ScriptedPeer(socket);
    peers.push(peer);
    accepted(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connection,
    async close(): Promise<void> {
      for (const p of peers) p.socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A listener on 127.0.0.1 where every connection becomes a ScriptedPeer handed to `serve` (each
 * in turn, its errors ignored: the test's assertions say what went wrong); `close()` destroys
 * every peer's socket and closes the listener.
 */
export async function scriptedServer(serve: (peer: ScriptedPeer) => Promise<void>): Promise<{ port: number; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const peers: ScriptedPeer[] = [];
  const server = createServer((socket) => {
    const peer = new ScriptedPeer(socket);
    peers.push(peer);
    serve(peer).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close(): Promise<void> {
      for (const p of peers) p.socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
