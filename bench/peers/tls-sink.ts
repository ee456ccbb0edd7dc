/**
 * Raw TLS sink for the ceiling measurement: Node's own `tls`, TLS 1.3, mutual authentication, no
 * DICOM. Counts what it receives until the peer ends, then answers the count (8 bytes, BE) and
 * closes. Usage: node tls-sink.js <json {port,key,cert,ca}>.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';

const o = JSON.parse(process.argv[2] ?? '{}') as { port: number; key: string; cert: string; ca: string };
const server = createServer(
  {
    key: readFileSync(o.key),
    cert: readFileSync(o.cert),
    ca: readFileSync(o.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  },
  (socket) => {
    socket.setNoDelay(true);
    let count = 0;
    socket.on('data', (d: Buffer) => (count += d.length));
    socket.on('end', () => {
      const reply = Buffer.alloc(8);
      reply.writeBigUInt64BE(BigInt(count));
      socket.end(reply);
    });
    socket.on('error', () => socket.destroy());
  },
);
server.listen(o.port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
