/**
 * A UDP datagram sender (the audit trail's RFC 5426 syslog transport). Here because the transport
 * folder is the only place that opens sockets. It never keeps the process alive.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

export interface DatagramSender {
  send(data: Uint8Array, port: number, host: string, done: (error: Error | null) => void): void;
  close(): void;
}

export function datagramSender(host: string): DatagramSender {
  const socket: Socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  socket.on('error', () => undefined); // reported per send through `done`
  socket.unref();
  return {
    send: (data, port, h, done) => socket.send(data, port, h, (error) => done(error ?? null)),
    close: () => { try { socket.close(); } catch { /* already closed */ } },
  };
}
