import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { sniffTransport } from '../../../src/ul/pdu/sniff.js';
import { PduReader } from '../../../src/ul/pdu/pdu-reader.js';
import { PduDecodeError } from '../../../src/ul/errors.js';
import { hexBytes } from '../../helpers/hex.js';
import * as F from './fixtures-dcmtk.js';

/** First bytes a client sends to a plain net.Server on 127.0.0.1. */
async function firstBytesFrom(connect: (port: number) => { destroy(): void }): Promise<Uint8Array> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = connect(port);
  try {
    const [socket] = (await once(server, 'connection')) as [net.Socket];
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    return new Uint8Array(chunk);
  } finally {
    client.destroy();
    server.close();
  }
}

test('a real TLS ClientHello (Node tls.connect) is recognised as TLS; the PDU reader refuses it by type, not by length', async () => {
  const hello = await firstBytesFrom((port) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    s.on('error', () => {});
    return s;
  });
  assert.equal(hello[0], 0x16);
  assert.equal(sniffTransport(hello), 'tls');
  assert.equal(sniffTransport(hello.subarray(0, 3)), 'tls');
  assert.throws(
    () => new PduReader({ maxPduLength: 16384 }).push(hello),
    (e: unknown) => e instanceof PduDecodeError && e.sniffed === 'tls' && !/length/.test(e.message),
  );
});

test('a real A-ASSOCIATE-RQ from DCMTK echoscu is recognised as DICOM', async () => {
  let child: ReturnType<typeof spawn> | undefined;
  const rq = await firstBytesFrom((port) => {
    child = spawn('echoscu', ['-to', '5', '-aet', 'A', '-aec', 'B', '127.0.0.1', String(port)], { stdio: 'ignore' });
    return { destroy: () => child?.kill() };
  });
  if (child !== undefined && child.exitCode === null) await once(child, 'exit');
  assert.equal(sniffTransport(rq), 'dicom');
  assert.equal(sniffTransport(F.ECHOSCU_RQ), 'dicom');
});

test('DICOM PDUs of every type, TLS alerts, HTTP and noise', () => {
  assert.equal(sniffTransport(F.STORESCP_AC), 'dicom');
  assert.equal(sniffTransport(F.ECHOSCU_PDATA), 'dicom');
  assert.equal(sniffTransport(hexBytes('07 00 00000004 00000206')), 'dicom');
  assert.equal(sniffTransport(hexBytes('03 00 00000004 00010107')), 'dicom');
  assert.equal(sniffTransport(hexBytes('01 00')), 'dicom');
  // A TLS server answering plain DICOM with an alert record.
  assert.equal(sniffTransport(hexBytes('15 03 03 0002 0246')), 'tls');
  assert.equal(sniffTransport(hexBytes('16 03 01')), 'tls');
  assert.equal(sniffTransport(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 'http');
  assert.equal(sniffTransport(new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n')), 'http');
  assert.equal(sniffTransport(new TextEncoder().encode('POST')), 'http');
  assert.equal(sniffTransport(new Uint8Array(0)), 'unknown');
  assert.equal(sniffTransport(hexBytes('16')), 'unknown');
  assert.equal(sniffTransport(hexBytes('16 03 09')), 'unknown');
  assert.equal(sniffTransport(hexBytes('08 00 00000004')), 'unknown');
  assert.equal(sniffTransport(hexBytes('05 00 00000009')), 'unknown'); // A-RELEASE-RQ is always length 4
  assert.equal(sniffTransport(hexBytes('01 00 00000010 0001')), 'unknown'); // too short to be an A-ASSOCIATE-RQ
  assert.equal(sniffTransport(hexBytes('01 00 000000cd 0000')), 'unknown'); // protocol version bit 0 clear
  assert.equal(sniffTransport(new TextEncoder().encode('SSH-2.0-OpenSSH')), 'unknown');
});
