/**
 * The small-instance floor's client (node:net or node:tls, mutual auth): sends each file as one
 * framed message (floor-small-scp.ts), at most 16 unanswered as our SCU's window, and waits for
 * every 100-byte answer. Input as JSON on stdin: {port, tls: {key, cert, ca} | null, files}.
 * Prints {"seconds": n} (first byte to last answer, the connection included).
 */
import { readFileSync } from 'node:fs';
import { connect as connectNet } from 'node:net';
import { connect as connectTls } from 'node:tls';

interface Options { port: number; tls: { key: string; cert: string; ca: string } | null; files: string[] }
const o = JSON.parse(readFileSync(0, 'utf8')) as Options;
const WINDOW = 16;
const messages = o.files.map((f) => {
  const body = readFileSync(f);
  const header = Buffer.alloc(6);
  header[0] = 0x04;
  header[1] = 1;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
});
const start = process.hrtime.bigint();
const socket = o.tls === null
  ? connectNet({ port: o.port, host: '127.0.0.1' })
  : connectTls({ port: o.port, host: '127.0.0.1', key: readFileSync(o.tls.key), cert: readFileSync(o.tls.cert), ca: readFileSync(o.tls.ca), servername: 'localhost' });
socket.setNoDelay(true);
let sent = 0;
let answered = 0;
let received = 0;
const pump = (): void => {
  while (sent < messages.length && sent - answered < WINDOW) socket.write(messages[sent++]!);
};
socket.on(o.tls === null ? 'connect' : 'secureConnect', pump);
socket.on('data', (chunk: Buffer) => {
  received += chunk.length;
  answered = Math.floor(received / 100);
  if (answered === messages.length) socket.end();
  else pump();
});
socket.on('error', (e) => { process.stderr.write(`${e.message}\n`); process.exit(1); });
socket.on('close', () => {
  if (answered !== messages.length) { process.stderr.write(`${answered} of ${messages.length} answered\n`); process.exit(1); }
  process.stdout.write(`${JSON.stringify({ seconds: Number(process.hrtime.bigint() - start) / 1e9 })}\n`);
});
