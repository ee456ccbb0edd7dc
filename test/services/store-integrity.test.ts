/**
 * What the storing server acknowledges is what it keeps: a truncated data set is refused (C000
 * with an Error Comment) and leaves nothing; an A-RELEASE-RQ sent right after a C-STORE-RQ
 * gets the C-STORE-RSP first, then the A-RELEASE-RP.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { SecureContext } from '../../src/transport/tls/context.js';
import { scenarioPki } from '../helpers/pki.js';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { decodeCommand, encodeCommand } from '../../src/dimse/messages.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { ctImageStorage } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';
import { associateRq, pDataTf, pdu, pdus, pdvsOf } from '../helpers/scripted-ul.js';
import { storageServerIn } from '../helpers/storage-server-fixture.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
let dir: string;
let server: StorageServer;
let port: number;
let close: () => Promise<void>;

before(async () => {
  ({ dir, server, port, close } = await storageServerIn('store-integrity', { aeTitle: 'KEEP', limits: { maxPduLength: 16384 } }));
});
after(() => close());

async function dcmFiles(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).map(String).filter((f) => f.endsWith('.dcm'));
}

test('a data set whose Pixel Data runs past its end is refused C000 with a comment, nothing is kept, the association goes on', async () => {
  const s = spec(1, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.5.1' });
  const f = await writeInstance(dir, s, { pixels: 20_000 });
  const header = await readPart10Header(f.path);
  const whole = (await readFile(f.path)).subarray(header.datasetOffset);
  const client = await DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'CUT', calledAeTitle: 'KEEP', timeouts: quick,
    presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
  });
  try {
    const a = client.association;
    const command = { type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: s.SOPInstanceUID, priority: 0 } as const;
    for (const cut of [2, 7_000]) {
      const r = await a.request(command, { dataset: whole.subarray(0, whole.length - cut) }).response;
      assert.equal(r.command.status, 0xc000, `cut ${cut}`);
      assert.match(String((r.command as { errorComment?: string }).errorComment), /^truncated data set: the value of \(7FE0,0010\) lacks \d+ bytes$/);
    }
    assert.equal((await server.storedInstance(s.SOPInstanceUID)), undefined);
    assert.deepEqual(await dcmFiles(join(dir, 'store')), []);
    // The whole one is stored on the same association.
    const ok = await a.request(command, { dataset: whole }).response;
    assert.equal(ok.command.status, 0);
    assert.ok((await server.storedInstance(s.SOPInstanceUID)));
  } finally {
    await client.release();
  }
});

test('C-STORE-RQ then A-RELEASE-RQ at once: the C-STORE-RSP (0000) comes first, then the A-RELEASE-RP, and the instance is kept', async () => {
  const s = spec(2, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.5.2' });
  const f = await writeInstance(dir, s, { pixels: 60_000 });
  const header = await readPart10Header(f.path);
  const dataset = (await readFile(f.path)).subarray(header.datasetOffset);
  // The store's answer waits until the server has seen the A-RELEASE-RQ: whatever the timing,
  // the release is asked while the C-STORE is outstanding.
  const inner = server.server.handlers.get('C-STORE-RQ')!;
  let releaseSeen!: () => void;
  const released = new Promise<void>((resolve) => (releaseSeen = resolve));
  server.server.once('association', (a) => a.upperLayer.on('releaseIndication', () => releaseSeen()));
  server.server.handlers.unregister('C-STORE-RQ').register('C-STORE-RQ', {
    datasetSink: (request, context) => inner.datasetSink!(request, context),
    async handle(request, context) {
      await released;
      return inner.handle(request, context);
    },
  });
  const socket = net.connect(port, '127.0.0.1');
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    const incoming = pdus(socket);
    socket.write(associateRq({ called: 'KEEP', calling: 'HASTY', pcId: 1, abstractSyntax: ctImageStorage, transferSyntax: TransferSyntax.ExplicitVrLittleEndian, maxLength: 16384 }));
    assert.equal((await incoming.next()).value?.type, 0x02);
    const command = encodeCommand({ type: 'C-STORE-RQ', messageId: 7, affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: s.SOPInstanceUID, priority: 0, hasDataset: true });
    const parts = [pDataTf({ presentationContextId: 1, isCommand: true, isLast: true, data: command })];
    for (let o = 0; o < dataset.length; o += 16000) {
      parts.push(pDataTf({ presentationContextId: 1, isCommand: false, isLast: o + 16000 >= dataset.length, data: dataset.subarray(o, o + 16000) }));
    }
    // The whole message and the A-RELEASE-RQ in one write.
    socket.write(Buffer.concat([...parts, pdu(0x05, Buffer.alloc(4))]));
    const order: string[] = [];
    for await (const p of incoming) {
      if (p.type === 0x04) {
        const rsp = decodeCommand(pdvsOf(p.body)[0]!.data) as { type: string; status: number; messageIdBeingRespondedTo: number };
        order.push(`${rsp.type} ${rsp.messageIdBeingRespondedTo} ${rsp.status}`);
      } else order.push(`PDU ${p.type}`);
      if (p.type !== 0x04) break;
    }
    assert.deepEqual(order, ['C-STORE-RSP 7 0', 'PDU 6']);
    assert.ok((await server.storedInstance(s.SOPInstanceUID)));
  } finally {
    socket.destroy();
    server.server.handlers.unregister('C-STORE-RQ').register('C-STORE-RQ', inner);
  }
});

test('a release asked while a request never ends is bounded: after the release timeout the association is aborted, not held open', { timeout: 60_000 }, async () => {
  // No idle timeout: only the release bound can end this association.
  const stuck = await StorageServer.create({ aeTitle: 'STUCK', storeRoot: join(dir, 'stuck'), fsync: 'none', limits: { idleTimeout: 0 }, server: { timeouts: { artim: 1000 } } });
  const inner = stuck.server.handlers.get('C-STORE-RQ')!;
  stuck.server.handlers.unregister('C-STORE-RQ').register('C-STORE-RQ', {
    datasetSink: (request, context) => inner.datasetSink!(request, context),
    handle: () => new Promise(() => undefined),
  });
  const { port: stuckPort } = await stuck.listen(0);
  const s = spec(3, { SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.5.3' });
  const f = await writeInstance(dir, s, { pixels: 1000 });
  const header = await readPart10Header(f.path);
  const dataset = (await readFile(f.path)).subarray(header.datasetOffset);
  const socket = net.connect(stuckPort, '127.0.0.1');
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    const incoming = pdus(socket);
    socket.write(associateRq({ called: 'STUCK', calling: 'HASTY', pcId: 1, abstractSyntax: ctImageStorage, transferSyntax: TransferSyntax.ExplicitVrLittleEndian, maxLength: 16384 }));
    assert.equal((await incoming.next()).value?.type, 0x02);
    const command = encodeCommand({ type: 'C-STORE-RQ', messageId: 9, affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: s.SOPInstanceUID, priority: 0, hasDataset: true });
    socket.write(Buffer.concat([
      pDataTf({ presentationContextId: 1, isCommand: true, isLast: true, data: command }),
      pDataTf({ presentationContextId: 1, isCommand: false, isLast: true, data: dataset }),
      pdu(0x05, Buffer.alloc(4)),
    ]));
    const types: number[] = [];
    for await (const p of incoming) types.push(p.type);
    // A-ABORT, never an A-RELEASE-RP without the answer.
    assert.deepEqual(types, [0x07]);
  } finally {
    socket.destroy();
    await stuck.close({ timeout: 1000 });
  }
});

for (const useTls of [false, true]) {
  test(`C-STORE-RQ, A-RELEASE-RQ and the peer's FIN at once${useTls ? ' over TLS' : ''}: the C-STORE-RSP and the A-RELEASE-RP still reach it, then the server closes`, async () => {
    const pki = scenarioPki();
    const half = await StorageServer.create({
      aeTitle: 'HALF', storeRoot: join(dir, `half-${useTls}`), fsync: 'none',
      ...(useTls ? { tls: new SecureContext({ role: 'server', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }) } : {}),
    });
    // The answer waits until the server has seen the peer's end of the connection: whatever the
    // timing, the FIN is in before the C-STORE-RSP is sent.
    const inner = half.server.handlers.get('C-STORE-RQ')!;
    let peerEnded!: Promise<unknown>;
    half.server.once('association', (a) => (peerEnded = once(a.upperLayer.transport!.stream, 'end')));
    half.server.handlers.unregister('C-STORE-RQ').register('C-STORE-RQ', {
      datasetSink: (request, context) => inner.datasetSink!(request, context),
      async handle(request, context) {
        await peerEnded;
        return inner.handle(request, context);
      },
    });
    const { port: halfPort } = await half.listen(0);
    const uid = `1.2.826.0.1.3680043.9.7777.5.${useTls ? 5 : 4}`;
    const f = await writeInstance(dir, spec(4, { SOPInstanceUID: uid }), { pixels: 200_000 });
    const header = await readPart10Header(f.path);
    const dataset = (await readFile(f.path)).subarray(header.datasetOffset);
    const raw = net.connect(halfPort, '127.0.0.1');
    await once(raw, 'connect');
    const socket = useTls
      ? tls.connect({ socket: raw, cert: readFileSync(pki.valid.cert), key: readFileSync(pki.valid.key), ca: readFileSync(pki.root.cert), rejectUnauthorized: false })
      : raw;
    if (useTls) await once(socket, 'secureConnect');
    try {
      const incoming = pdus(socket);
      socket.write(associateRq({ called: 'HALF', calling: 'HASTY', pcId: 1, abstractSyntax: ctImageStorage, transferSyntax: TransferSyntax.ExplicitVrLittleEndian, maxLength: 16384 }));
      assert.equal((await incoming.next()).value?.type, 0x02);
      const command = encodeCommand({ type: 'C-STORE-RQ', messageId: 11, affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: uid, priority: 0, hasDataset: true });
      const parts = [pDataTf({ presentationContextId: 1, isCommand: true, isLast: true, data: command })];
      for (let o = 0; o < dataset.length; o += 16000) {
        parts.push(pDataTf({ presentationContextId: 1, isCommand: false, isLast: o + 16000 >= dataset.length, data: dataset.subarray(o, o + 16000) }));
      }
      // All of it, then our end of the connection: a peer that will send nothing more but still reads.
      socket.end(Buffer.concat([...parts, pdu(0x05, Buffer.alloc(4))]));
      const order: string[] = [];
      for await (const p of incoming) {
        if (p.type === 0x04) {
          const rsp = decodeCommand(pdvsOf(p.body)[0]!.data) as { type: string; status: number };
          order.push(`${rsp.type} ${rsp.status}`);
        } else order.push(`PDU ${p.type}`);
      }
      // The loop ended: the server closed the connection after its answers.
      assert.deepEqual(order, ['C-STORE-RSP 0', 'PDU 6']);
      assert.ok((await half.storedInstance(uid)));
    } finally {
      socket.destroy();
      await half.close({ timeout: 1000 });
    }
  });
}
