/**
 * The codec against real DCMTK 3.6.7 peers on 127.0.0.1, with the socket's own chunking:
 * our encoded PDUs to `storescp`, and `echoscu` to a scripted acceptor built from
 * PduReader + encodePdu only. The DIMSE command sets are the opaque captured fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { decodePdu } from '../../../src/ul/pdu/decode.js';
import { encodePdu, encodePduParts } from '../../../src/ul/pdu/encode.js';
import { PduReader } from '../../../src/ul/pdu/pdu-reader.js';
import type { AAssociateRqPdu, Pdu } from '../../../src/ul/pdu/types.js';
import * as F from './fixtures-dcmtk.js';
import { userInformation } from '../../helpers/user-information.js';
import { freePort } from '../../helpers/free-port.js';

/** Reads PDUs from a socket through PduReader, one at a time. */
function pduStream(socket: net.Socket): () => Promise<Pdu> {
  const reader = new PduReader({ maxPduLength: 1 << 20 });
  const queue: Pdu[] = [];
  const waiters: ((p: Pdu) => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const p of reader.push(chunk)) {
      const w = waiters.shift();
      if (w) w(p);
      else queue.push(p);
    }
  });
  return () => {
    const p = queue.shift();
    return p ? Promise.resolve(p) : new Promise((resolve) => waiters.push(resolve));
  };
}

const ECHO_RQ_COMMAND = (() => {
  const p = decodePdu(F.ECHOSCU_PDATA);
  assert.ok(p.type === 'P-DATA-TF');
  return p.pdvs[0]!.data;
})();
const ECHO_RSP_COMMAND = (() => {
  const p = decodePdu(F.STORESCP_PDATA);
  assert.ok(p.type === 'P-DATA-TF');
  return p.pdvs[0]!.data;
})();

test('our encoded PDUs are accepted by DCMTK storescp; its answers decode', async () => {
  const port = await freePort();
  const scp: ChildProcess = spawn('storescp', ['-aet', 'DCMTK-SCP', String(port)], { stdio: 'ignore' });
  let socket: net.Socket | undefined;
  try {
    // Until storescp listens (it may start slowly on a loaded machine) or exits; the bound is a
    // hang guard, not a number of tries.
    for (const end = Date.now() + 60_000; socket === undefined && scp.exitCode === null && Date.now() < end;) {
      try {
        const s = net.connect(port, '127.0.0.1');
        await once(s, 'connect');
        socket = s;
      } catch {
        await delay(50);
      }
    }
    assert.ok(socket, 'storescp listens');
    const next = pduStream(socket);
    const rq: AAssociateRqPdu = {
      type: 'A-ASSOCIATE-RQ',
      protocolVersion: 1,
      calledAeTitle: 'DCMTK-SCP',
      callingAeTitle: 'DICOM-TLS',
      applicationContextName: '1.2.840.10008.3.1.1.1',
      presentationContexts: [
        { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2'] },
        { id: 3, abstractSyntax: '1.2.3.4.5.6.7', transferSyntaxes: ['1.2.840.10008.1.2'] },
      ],
      userInformation: userInformation({
        maximumLength: 32768,
        implementationClassUid: '1.2.826.0.1.3680043.10.1234',
        implementationVersionName: 'DICOM_TLS_010',
        roleSelections: [{ sopClassUid: '1.2.840.10008.1.1', scuRole: true, scpRole: false }],
        unknownSubItems: [{ itemType: 0x7e, data: Uint8Array.of(1, 2) }],
      }),
    };
    socket.write(encodePdu(rq));
    const ac = await next();
    assert.equal(ac.type, 'A-ASSOCIATE-AC');
    if (ac.type !== 'A-ASSOCIATE-AC') return;
    assert.equal(ac.calledAeTitle, 'DCMTK-SCP');
    assert.equal(ac.callingAeTitle, 'DICOM-TLS');
    assert.deepEqual(ac.presentationContexts.map((p) => [p.id, p.result]), [[1, 0], [3, 3]]);
    assert.equal(ac.userInformation.implementationVersionName, 'OFFIS_DCMTK_367');
    // C-ECHO-RQ, sent with writev-style parts.
    for (const part of encodePduParts({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: 1, isCommand: true, isLast: true, data: ECHO_RQ_COMMAND }] })) socket.write(part);
    const rsp = await next();
    assert.equal(rsp.type, 'P-DATA-TF');
    if (rsp.type === 'P-DATA-TF') {
      assert.equal(rsp.pdvs[0]?.isCommand, true);
      assert.equal(rsp.pdvs[0]?.isLast, true);
    }
    socket.write(encodePdu({ type: 'A-RELEASE-RQ' }));
    assert.deepEqual(await next(), { type: 'A-RELEASE-RP' });
  } finally {
    socket?.destroy();
    scp.kill();
    if (scp.exitCode === null) await once(scp, 'exit');
  }
});

test('DCMTK echoscu completes a C-ECHO against an acceptor scripted with PduReader and encodePdu', async () => {
  const server = net.createServer((socket) => {
    const next = pduStream(socket);
    void (async () => {
      const rq = await next();
      assert.equal(rq.type, 'A-ASSOCIATE-RQ');
      if (rq.type !== 'A-ASSOCIATE-RQ') return;
      socket.write(
        encodePdu({
          type: 'A-ASSOCIATE-AC',
          protocolVersion: 1,
          calledAeTitle: rq.calledAeTitle,
          callingAeTitle: rq.callingAeTitle,
          applicationContextName: rq.applicationContextName,
          presentationContexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: 0, transferSyntax: pc.transferSyntaxes[0]! })),
          userInformation: { ...rq.userInformation, implementationVersionName: 'SCRIPTED', userIdentityRq: undefined },
        }),
      );
      const data = await next();
      assert.equal(data.type, 'P-DATA-TF');
      socket.write(encodePdu({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: 1, isCommand: true, isLast: true, data: ECHO_RSP_COMMAND }] }));
      assert.deepEqual(await next(), { type: 'A-RELEASE-RQ' });
      socket.end(encodePdu({ type: 'A-RELEASE-RP' }));
    })().catch((e: unknown) => socket.destroy(e as Error));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as net.AddressInfo).port;
    const child = spawn('echoscu', ['-to', '10', '-aet', 'A', '-aec', 'B', '127.0.0.1', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0, stderr);
  } finally {
    server.close();
  }
});
