/**
 * The warm-up peer's relay (warm-up-peer.ts): between its DicomClient (plain TCP, on 127.0.0.1)
 * and the warming server (plain TCP or TLS), it writes the client's PDUs one write each, an
 * event-loop turn apart, as DCMTK's storescu writes them: a C-STORE-RQ's command then reaches the
 * server before its data set, in a read of its own. Our client writes a whole message at once; a
 * server warmed only by that meets other read shapes from the field's most common sender, and
 * V8 throws away the code it optimised for the first (measured: ~35 ms more SCP CPU over the
 * first 200 instances from storescu). The server's bytes pass back as they come.
 */
import { setImmediate as turn } from 'node:timers/promises';
import type { TransportConnection } from '../../transport/connection.js';
import { listenTcp, type TcpListener } from '../../transport/tcp.js';

/** PS3.8 9.3.1: type (1), reserved (1), length (4, big endian), then `length` bytes. */
const PDU_HEADER_LENGTH = 6;

/** Split `buffered` into the whole PDUs at its start and what is left. */
function wholePdus(buffered: Buffer): { pdus: Buffer[]; rest: Buffer } {
  const pdus: Buffer[] = [];
  let at = 0;
  while (buffered.length - at >= PDU_HEADER_LENGTH) {
    const end = at + PDU_HEADER_LENGTH + buffered.readUInt32BE(at + 2);
    if (end > buffered.length) break;
    pdus.push(buffered.subarray(at, end));
    at = end;
  }
  return { pdus, rest: buffered.subarray(at) };
}

/** Relay one client connection to `upstream`, PDU by PDU. */
function relay(down: TransportConnection, connectUpstream: () => Promise<TransportConnection>): void {
  let buffered: Buffer = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let ended = false;
  down.stream.on('data', (chunk: Uint8Array) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  down.stream.on('end', () => {
    ended = true;
    wake?.();
  });
  down.stream.on('error', () => undefined);
  void (async () => {
    let up: TransportConnection | undefined;
    try {
      up = await connectUpstream();
      const upstream = up;
      // Copied: a TLS socket's chunks are views of a buffer it reuses, and a write may hold its chunk.
      upstream.stream.on('data', (chunk: Uint8Array) => down.stream.write(Buffer.from(chunk)));
      upstream.stream.on('close', () => down.stream.destroy());
      upstream.stream.on('error', () => down.stream.destroy());
      for (;;) {
        const { pdus, rest } = wholePdus(buffered);
        // A view: the next chunk's concat makes a new buffer, and nothing writes into this one.
        buffered = rest;
        for (const pdu of pdus) {
          upstream.stream.write(pdu);
          await turn();
        }
        if (pdus.length > 0) continue;
        if (ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      upstream.stream.end();
    } catch {
      up?.stream.destroy();
      down.stream.destroy();
    }
  })();
}

/** Listen on 127.0.0.1 (any free port) and relay each connection to a new upstream connection. */
export function pduRelay(connectUpstream: () => Promise<TransportConnection>): Promise<TcpListener> {
  return listenTcp({ port: 0, host: '127.0.0.1' }, (down) => relay(down, connectUpstream));
}
