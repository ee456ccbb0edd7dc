/**
 * The small-instance floor's server, in its own process so the runner reads its CPU like an SCP's:
 * accepts connections and reads framed messages (a 6-byte header as a PDU's: type, flags — 1 on a
 * message's last frame — and a 32-bit big-endian length), answering each message with 100 bytes;
 * the answers of one read leave in one write, as our SCP gathers them. No DICOM: what a bare Node
 * server pays to take 100 KB and answer it, over node:net, node:tls, or our TLS engine (read and
 * written as our upper layer does: receiveDirect, writeDirect).
 * Usage: node floor-small-scp.js <json {port, transport: 'net'|'tls'|'secure-socket', key, cert, ca}>.
 */
import { readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { SecureContext } from '../../src/transport/tls/context.js';
import { createSecureServer } from '../../src/transport/tls/server.js';
import type { SecureSocket } from '../../src/transport/tls/socket.js';
import { release } from '../../src/internal/buffer-pool.js';

interface Options { port: number; transport: 'net' | 'tls' | 'secure-socket'; key: string; cert: string; ca: string }
interface Duplex {
  on(event: 'data', f: (chunk: Uint8Array) => void): unknown;
  on(event: 'end', f: () => void): unknown;
  on(event: 'error', f: () => void): unknown;
  write(b: Uint8Array): unknown;
  end(): unknown;
  destroy(): unknown;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const answer = Buffer.alloc(100);
answer[0] = 0x04;
answer.writeUInt32BE(94, 2);

/**
 * `direct`: our engine's receiveDirect/writeDirect, the way our upper layer reads and answers (the
 * stream's machinery only when the engine falls back to it).
 */
function serve(socket: Duplex, direct?: SecureSocket): void {
  const header = Buffer.alloc(6);
  let have = 0; // bytes of the header read so far
  let left = 0; // bytes of the current frame's body still to come
  const write = (b: Uint8Array): void => {
    if (direct === undefined || !direct.writeDirect([b])) socket.write(b);
  };
  const onChunk = (chunk: Uint8Array): void => {
    let off = 0;
    let answers = 0;
    while (off < chunk.length) {
      if (left > 0) {
        const k = Math.min(left, chunk.length - off);
        left -= k;
        off += k;
        if (left === 0 && header[1] === 1) answers++;
        continue;
      }
      const k = Math.min(6 - have, chunk.length - off);
      header.set(chunk.subarray(off, off + k), have);
      have += k;
      off += k;
      if (have === 6) {
        have = 0;
        left = header.readUInt32BE(2);
        if (left === 0 && header[1] === 1) answers++;
      }
    }
    if (answers === 1) write(answer);
    else if (answers > 1) write(Buffer.concat(Array<Buffer>(answers).fill(answer)));
    // The engine's receive slabs are pooled: a reader gives each chunk back once done with it.
    if (direct !== undefined) release(chunk);
  };
  socket.on('data', onChunk);
  direct?.receiveDirect(onChunk);
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
}

if (o.transport === 'net') {
  createNetServer((s) => { s.setNoDelay(true); serve(s); }).listen(o.port, '127.0.0.1');
} else if (o.transport === 'tls') {
  const files = { key: readFileSync(o.key), cert: readFileSync(o.cert), ca: readFileSync(o.ca) };
  createTlsServer({ ...files, requestCert: true, rejectUnauthorized: true }, (s) => { s.setNoDelay(true); serve(s); }).listen(o.port, '127.0.0.1');
} else {
  const context = new SecureContext({ role: 'server', identity: { cert: o.cert, key: o.key }, ca: [o.ca] });
  const server = createSecureServer(context);
  server.on('secureConnection', (s: SecureSocket) => serve(s, s));
  await server.listen(o.port, '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
