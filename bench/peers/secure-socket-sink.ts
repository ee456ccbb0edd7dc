/**
 * Raw TLS sink on our engine (SecureServer/SecureSocket), the twin of tls-sink.ts (Node's tls):
 * TLS 1.3, mutual authentication, no DICOM. Counts what it receives until the peer ends, answers
 * the count (8 bytes, BE) and closes. Usage: node secure-socket-sink.js <json {port,key,cert,ca}>.
 */
import { SecureContext } from '../../src/transport/tls/context.js';
import { createSecureServer } from '../../src/transport/tls/server.js';
import type { SecureSocket } from '../../src/transport/tls/socket.js';

const o = JSON.parse(process.argv[2] ?? '{}') as { port: number; key: string; cert: string; ca: string };
const context = new SecureContext({ role: 'server', identity: { cert: o.cert, key: o.key }, ca: [o.ca], minProtocol: 'TLSv1.3' });
const server = createSecureServer(context);
server.on('secureConnection', (socket: SecureSocket) => {
  let count = 0;
  socket.on('data', (d: Buffer) => (count += d.length));
  socket.on('end', () => {
    const reply = Buffer.alloc(8);
    reply.writeBigUInt64BE(BigInt(count));
    socket.end(reply);
  });
  socket.on('error', () => socket.destroy());
});
await server.listen(o.port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
