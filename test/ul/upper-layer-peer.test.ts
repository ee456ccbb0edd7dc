/**
 * The upper layer against a scripted raw peer on real loopback TCP: malformed and unexpected PDUs
 * (A-ABORT with the PS3.8 Table 9-26 source/reason), another protocol on the port, and a peer
 * that never speaks or never closes (ARTIM).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';
import { UpperLayer } from '../../src/ul/upper-layer.js';
import { TransportMismatchError } from '../../src/ul/upper-layer-errors.js';
import { PduDecodeError, PduTooLargeError } from '../../src/ul/errors.js';
import { TimeoutError, type DicomError } from '../../src/errors.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { loopback, plainTransport, type Loopback } from '../helpers/loopback.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { acFor, pdata, rqPdu } from './fixtures.js';

/** Our acceptor on a loopback port, and a raw peer connected to it. */
async function acceptorWithRawPeer(options: ConstructorParameters<typeof UpperLayer>[0] = {}) {
  const lb = await loopback();
  const ul = new UpperLayer(options);
  const errors: DicomError[] = [];
  ul.on('protocolError', (e) => errors.push(e));
  ul.on('associateIndication', (rq) => ul.acceptAssociation(acFor(rq)));
  const raw = net.connect(lb.port, '127.0.0.1');
  ul.acceptConnection(plainTransport(await lb.nextAccepted()));
  await once(raw, 'connect');
  return { lb, ul, errors, peer: new ScriptedPeer(raw) };
}

const abortBytes = (source: number, reason: number): number[] => [0x07, 0, 0, 0, 0, 4, 0, 0, source, reason];

async function expectAbortThenClose(peer: ScriptedPeer, ul: UpperLayer, reason: number): Promise<void> {
  const pdu = await peer.nextPdu();
  assert.deepEqual([...(pdu ?? [])], abortBytes(2, reason), 'A-ABORT, source service-provider');
  assert.equal(ul.state, 'Sta13');
  peer.socket.end(); // the peer closes as PS3.8 expects; Sta13 + Evt17 → AR-5 → Sta1
  await ul.whenClosed();
  assert.equal(ul.state, 'Sta1');
}

async function finish(lb: Loopback, peer: ScriptedPeer): Promise<void> {
  peer.socket.destroy();
  await lb.close();
}

test('Sta2, unrecognized PDU type: A-ABORT reason 1, protocolError PduDecodeError, association only', async () => {
  const { lb, ul, errors, peer } = await acceptorWithRawPeer();
  try {
    peer.write(new Uint8Array([0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
    await expectAbortThenClose(peer, ul, 1);
    assert.ok(errors[0] instanceof PduDecodeError);
    assert.equal(errors[0].code, 'DICOM_ERR_PDU_MALFORMED');
    assert.equal((await ul.whenClosed()).error, errors[0]);
    // The server socket is still there for the next association.
    const again = net.connect(lb.port, '127.0.0.1');
    await once(again, 'connect');
    again.destroy();
  } finally {
    await finish(lb, peer);
  }
});

test('Sta2, A-RELEASE-RQ with PDU-length 6: A-ABORT reason 6 (invalid PDU parameter value)', async () => {
  const { lb, ul, errors, peer } = await acceptorWithRawPeer();
  try {
    peer.write(new Uint8Array([0x05, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0]));
    await expectAbortThenClose(peer, ul, 6);
    assert.ok(errors[0] instanceof PduDecodeError);
  } finally {
    await finish(lb, peer);
  }
});

test('Sta6, P-DATA-TF above maxPduLength: refused from its header, A-ABORT reason 6, A-P-ABORT to the user', async () => {
  const { lb, ul, errors, peer } = await acceptorWithRawPeer({ maxPduLength: 1024 });
  try {
    const pAborted = new Promise<{ origin: string; reason: number; cause?: unknown }>((resolve) => ul.once('providerAborted', resolve));
    peer.write(encodePdu(rqPdu()));
    assert.equal((await peer.nextPdu())?.[0], 0x02, 'A-ASSOCIATE-AC');
    // Only the 6-byte header of a 100 MB P-DATA-TF: the limit applies before any body arrives.
    peer.write(new Uint8Array([0x04, 0, 0x05, 0xf5, 0xe1, 0x00]));
    await expectAbortThenClose(peer, ul, 6);
    assert.ok(errors[0] instanceof PduTooLargeError);
    const e = await pAborted;
    assert.deepEqual([e.origin, e.reason], ['local', 6]);
    assert.equal(e.cause, errors[0]);
  } finally {
    await finish(lb, peer);
  }
});

test('Sta6, unexpected A-ASSOCIATE-RQ: AA-8 sends A-ABORT reason 2 (unexpected PDU)', async () => {
  const { lb, ul, errors, peer } = await acceptorWithRawPeer();
  try {
    const pAborted = new Promise<{ origin: string; reason: number }>((resolve) => ul.once('providerAborted', resolve));
    peer.write(encodePdu(rqPdu()));
    await peer.nextPdu();
    peer.write(encodePdu(pdata(new Uint8Array([1]))));
    peer.write(encodePdu(rqPdu()));
    await expectAbortThenClose(peer, ul, 2);
    assert.deepEqual(errors, [], 'a well-formed but unexpected PDU is not a decode error');
    const e = await pAborted;
    assert.deepEqual([e.origin, e.reason], ['local', 2]);
  } finally {
    await finish(lb, peer);
  }
});

test('a real TLS ClientHello on a plain port is reported as TransportMismatchError, not as a huge PDU', async () => {
  const lb = await loopback();
  const ul = new UpperLayer();
  const errors: DicomError[] = [];
  ul.on('protocolError', (e) => errors.push(e));
  const client = tls.connect({ port: lb.port, host: '127.0.0.1', rejectUnauthorized: false });
  const clientDone = new Promise<void>((resolve) => {
    client.on('error', () => resolve());
    client.on('close', () => resolve());
  });
  try {
    ul.acceptConnection(plainTransport(await lb.nextAccepted()));
    const { error } = await ul.whenClosed();
    assert.ok(error instanceof TransportMismatchError);
    assert.equal(error.code, 'DICOM_ERR_UL_TLS_ON_PLAIN_PORT');
    assert.equal(error.detected, 'tls');
    assert.equal(error.role, 'acceptor');
    assert.equal(error.firstBytes[0], 0x16, 'TLS handshake record');
    assert.deepEqual(errors, [error]);
    await clientDone;
  } finally {
    client.destroy();
    await lb.close();
  }
});

test('connecting without TLS to a TLS port: the TLS alert answering our A-ASSOCIATE-RQ is recognised', async () => {
  // A stand-in for a TLS server: answers any bytes with a TLS fatal alert record, as OpenSSL does.
  const server = net.createServer((s) => {
    s.once('data', () => s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    const ul = new UpperLayer();
    const connect = async () => {
      const s = net.connect(port, '127.0.0.1');
      await once(s, 'connect');
      return plainTransport(s);
    };
    ul.requestAssociation(connect, rqPdu());
    const pAborted = new Promise<{ origin: string; reason: number; cause?: unknown }>((resolve) => ul.once('providerAborted', resolve));
    await assert.rejects(ul.associated(), (e: unknown) => {
      assert.ok(e instanceof TransportMismatchError);
      assert.equal(e.code, 'DICOM_ERR_UL_TLS_ON_PLAIN_PORT');
      assert.equal(e.role, 'requestor');
      assert.match(e.message, /TLS port/);
      return true;
    });
    const p = await pAborted;
    assert.deepEqual([p.origin, p.reason], ['local', 1]);
    assert.ok(p.cause instanceof TransportMismatchError);
    assert.ok((await ul.whenClosed()).error instanceof TransportMismatchError);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('ARTIM in Sta2: a peer that connects and never sends an A-ASSOCIATE-RQ is dropped', async () => {
  const { lb, ul, peer } = await acceptorWithRawPeer({ artimTimeout: 50 });
  try {
    const { error } = await ul.whenClosed();
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.timer, 'ARTIM');
    await peer.ended();
    assert.equal(await peer.nextPdu(), undefined, 'nothing was sent: AA-2 only closes');
  } finally {
    await finish(lb, peer);
  }
});

test('ARTIM in Sta13: after an A-ABORT, a peer that never closes is dropped', async () => {
  // Asserted on the order of transitions, not on the state at some moment after the A-ABORT: a
  // loaded machine may look later than ARTIM.
  const transitions: string[] = [];
  const onTransition = (m: unknown): void => {
    const t = m as { from: string; event: string; action: string; to: string };
    transitions.push(`${t.from} ${t.event} ${t.action} ${t.to}`);
  };
  diagnosticsChannel.subscribe(channelNames.stateTransition, onTransition);
  const { lb, ul, peer } = await acceptorWithRawPeer({ artimTimeout: 50 });
  try {
    peer.write(new Uint8Array([0x0a, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
    assert.deepEqual([...((await peer.nextPdu()) ?? [])], abortBytes(2, 1));
    // The peer keeps the connection open; ARTIM (AA-2) closes it.
    await peer.ended();
    const { error } = await ul.whenClosed();
    assert.ok(error instanceof PduDecodeError, 'the first error is kept as the reason');
    assert.equal(ul.state, 'Sta1');
    const aborted = transitions.findIndex((t) => t.endsWith(' Sta13'));
    assert.ok(aborted >= 0, transitions.join('\n'));
    assert.deepEqual(transitions.slice(aborted + 1), ['Sta13 Evt18 AA-2 Sta1'], 'left Sta13 by ARTIM');
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.stateTransition, onTransition);
    await finish(lb, peer);
  }
});

test('requestor abort while the peer never answers the A-ASSOCIATE-RQ (Sta5 → AA-1 → Sta13)', async () => {
  const lb = await loopback();
  const ul = new UpperLayer({ artimTimeout: 50 });
  try {
    ul.requestAssociation(() => lb.connect(), rqPdu());
    const peer = new ScriptedPeer(await lb.nextAccepted());
    assert.equal((await peer.nextPdu())?.[0], 0x01, 'A-ASSOCIATE-RQ');
    assert.equal(ul.state, 'Sta5');
    ul.abort();
    assert.deepEqual([...((await peer.nextPdu()) ?? [])], abortBytes(0, 0), 'A-ABORT, source service-user');
    await peer.ended();
    await ul.whenClosed();
    assert.equal(ul.state, 'Sta1');
  } finally {
    await lb.close();
  }
});

test('an A-ABORT with service-provider source from the peer is an A-P-ABORT (origin peer); AA-3 closes', async () => {
  const { lb, ul, peer } = await acceptorWithRawPeer();
  try {
    const pAborted = new Promise<{ origin: string; source: number; reason: number }>((resolve) => ul.once('providerAborted', resolve));
    peer.write(encodePdu(rqPdu()));
    await peer.nextPdu();
    peer.write(new Uint8Array(abortBytes(2, 5)));
    const e = await pAborted;
    assert.deepEqual([e.origin, e.source, e.reason], ['peer', 2, 5]);
    await peer.ended(); // AA-3 closed the transport without waiting for the peer
    assert.equal((await ul.whenClosed()).error?.code, 'DICOM_ERR_ASSOCIATION_ABORTED');
  } finally {
    await finish(lb, peer);
  }
});

test('AE-6 provider check: checkAssociateRq rejects (transient, congestion) without an indication to the user', async () => {
  let indications = 0;
  const { lb, ul, peer } = await acceptorWithRawPeer({
    checkAssociateRq: () => ({ type: 'A-ASSOCIATE-RJ', result: 2, source: 3, reason: 1 }),
  });
  ul.on('associateIndication', () => indications++);
  try {
    peer.write(encodePdu(rqPdu()));
    assert.deepEqual([...((await peer.nextPdu()) ?? [])], [0x03, 0, 0, 0, 0, 4, 0, 2, 3, 1]);
    assert.equal(ul.state, 'Sta13');
    // Sta13: an invalid PDU is answered by AA-7 (A-ABORT, no indication), the rest is ignored.
    peer.write(encodePdu(pdata(new Uint8Array([1]))));
    peer.write(new Uint8Array([0x0b, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
    assert.deepEqual([...((await peer.nextPdu()) ?? [])], abortBytes(2, 1));
    peer.socket.end();
    assert.ok((await ul.whenClosed()).error instanceof PduDecodeError, 'the garbage after the rejection is the reported error');
    assert.equal(indications, 0);
  } finally {
    await finish(lb, peer);
  }
});

async function writeByteByByte(peer: ScriptedPeer, bytes: Uint8Array): Promise<void> {
  peer.socket.setNoDelay(true);
  for (const b of bytes) {
    peer.write(new Uint8Array([b]));
    await new Promise((r) => setImmediate(r));
  }
}

test('any chunking: an A-ASSOCIATE-RQ and a P-DATA-TF sent one byte at a time', async () => {
  const { lb, ul, errors, peer } = await acceptorWithRawPeer();
  try {
    await writeByteByByte(peer, encodePdu(rqPdu()));
    assert.equal((await peer.nextPdu())?.[0], 0x02);
    const got = new Promise<number[]>((resolve) => ul.once('pData', (p) => resolve([...p.pdvs[0]!.data])));
    await writeByteByByte(peer, encodePdu(pdata(new Uint8Array([9, 8, 7]))));
    assert.deepEqual(await got, [9, 8, 7]);
    assert.deepEqual(errors, []);
    peer.write(encodePdu({ type: 'A-RELEASE-RQ' }));
    ul.once('releaseIndication', () => ul.respondRelease());
    assert.equal((await peer.nextPdu())?.[0], 0x06);
    peer.socket.end();
    assert.deepEqual(await ul.whenClosed(), { error: undefined });
  } finally {
    await finish(lb, peer);
  }
});

test('a TLS ClientHello trickling in one byte at a time is still recognised', async () => {
  const { lb, ul, errors, peer } = await acceptorWithRawPeer();
  try {
    await writeByteByByte(peer, new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x03]));
    assert.deepEqual([...((await peer.nextPdu()) ?? [])], abortBytes(2, 1));
    assert.ok(errors[0] instanceof TransportMismatchError);
    peer.socket.end();
    await ul.whenClosed();
  } finally {
    await finish(lb, peer);
  }
});
