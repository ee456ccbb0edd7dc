/**
 * A duplex to put between a TLS client and its TCP socket, for tests that tamper with what the
 * client sends: each chunk the client writes goes to `onWrite` (which writes to `raw` what it
 * chooses); what the socket reads, its end, close and error pass through to the client.
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';

export function interposed(raw: net.Socket, onWrite: (chunk: Buffer) => void): Duplex {
  const d = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      onWrite(chunk);
      cb();
    },
    read() {},
    final(cb) {
      raw.end();
      cb();
    },
  });
  raw.on('data', (c: Buffer) => d.push(c));
  raw.on('end', () => d.push(null));
  raw.on('close', () => d.destroy());
  raw.on('error', () => d.destroy());
  return d;
}
