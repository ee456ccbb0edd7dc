/**
 * What the upper layer hands its transport: the parts of the PDUs sent in one tick (PDU header,
 * PDV header, fragment views) go down together, so a TLS transport makes one flush and a TCP one
 * one writev (with TCP_NODELAY, one write per part was one segment per part).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { UpperLayer } from '../../src/ul/upper-layer.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { acFor, pdata, rqPdu } from './fixtures.js';

/** A transport that records each call the stream machinery makes: one entry per _write/_writev. */
function recordingTransport(): { stream: Duplex; toUl: PassThrough; calls: Buffer[][] } {
  const toUl = new PassThrough();
  const calls: Buffer[][] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => c.chunk as Buffer));
      cb();
    },
  });
  toUl.on('data', (d: Buffer) => stream.push(d));
  toUl.on('end', () => stream.push(null));
  return { stream, toUl, calls };
}

/** An upper layer that accepted a peer's A-ASSOCIATE-RQ over a recordingTransport (Sta6), the calls of the accept forgotten. */
async function established(): Promise<{ ul: UpperLayer; toUl: PassThrough; calls: Buffer[][] }> {
  const { stream, toUl, calls } = recordingTransport();
  const ul = new UpperLayer();
  ul.on('associateIndication', (rq) => ul.acceptAssociation(acFor(rq, 65536)));
  ul.acceptConnection({ stream, remoteAddress: undefined, remotePort: undefined, localAddress: undefined, localPort: undefined, tls: undefined });
  toUl.write(encodePdu(rqPdu()));
  await new Promise((r) => setImmediate(r));
  assert.equal(ul.state, 'Sta6');
  calls.length = 0;
  return { ul, toUl, calls };
}

test('the parts of PDUs sent in one tick reach the transport in one writev, bytes in order', async () => {
  const { ul, toUl, calls } = await established();
  // Fragments above the copy threshold travel as views: header part + fragment part per PDU.
  const a = new Uint8Array(5000).fill(1);
  const b = new Uint8Array(7000).fill(2);
  ul.sendPData(pdata(a, false));
  ul.sendPData(pdata(b, false));
  assert.equal(calls.length, 0, 'nothing is written before the tick ends');
  await new Promise((r) => process.nextTick(r));
  assert.equal(calls.length, 1, 'one writev for both PDUs');
  assert.ok(calls[0]!.length >= 4);
  const bytes = Buffer.concat(calls[0]!);
  const first = decodePdu(bytes.subarray(0, 6 + bytes.readUInt32BE(2)));
  assert.equal(first.type, 'P-DATA-TF');
  assert.deepEqual(first.type === 'P-DATA-TF' && Buffer.from(first.pdvs[0]!.data), Buffer.from(a));
  const rest = bytes.subarray(6 + bytes.readUInt32BE(2));
  const second = decodePdu(rest);
  assert.deepEqual(second.type === 'P-DATA-TF' && Buffer.from(second.pdvs[0]!.data), Buffer.from(b));
  // A later tick is a later writev.
  ul.sendPData(pdata(a, false));
  await new Promise((r) => process.nextTick(r));
  assert.equal(calls.length, 2);
  ul.abort();
  toUl.end();
  await ul.whenClosed();
});

/** As recordingTransport, with writeDirect: `accept` says whether it takes the next batch. */
function directTransport(): ReturnType<typeof recordingTransport> & { direct: Buffer[][]; accept: boolean[]; ticked: boolean[] } {
  const t = recordingTransport();
  const direct: Buffer[][] = [];
  const accept: boolean[] = [];
  const ticked: boolean[] = [];
  return Object.assign(t, { direct, accept, ticked });
}

test('the PDUs sent while a received chunk is processed go to writeDirect in one batch at its end, before the tick ends; a refused batch takes the stream, in order', async () => {
  const t = directTransport();
  const ul = new UpperLayer();
  ul.on('associateIndication', (rq) => ul.acceptAssociation(acFor(rq, 65536)));
  let tickRan = false;
  const connection = {
    stream: t.stream, remoteAddress: undefined, remotePort: undefined, localAddress: undefined, localPort: undefined, tls: undefined,
    writeDirect(chunks: readonly Uint8Array[]): boolean {
      const ok = t.accept.shift() ?? true;
      if (ok) {
        t.direct.push(chunks.map((c) => Buffer.from(c)));
        t.ticked.push(tickRan);
      }
      return ok;
    },
  };
  ul.acceptConnection(connection);
  t.toUl.write(encodePdu(rqPdu()));
  await new Promise((r) => setImmediate(r));
  assert.equal(ul.state, 'Sta6');
  assert.equal(t.direct.length, 1, 'the A-ASSOCIATE-AC, sent while the RQ was received');
  t.direct.length = 0;
  t.ticked.length = 0;
  t.calls.length = 0;

  // Two answers to one received P-DATA-TF: one batch, handed over before the tick ends.
  const a = new Uint8Array(100).fill(1);
  const b = new Uint8Array(3000).fill(2);
  ul.on('pData', () => {
    tickRan = false;
    process.nextTick(() => (tickRan = true));
    ul.sendPData(pdata(a, true));
    ul.sendPData(pdata(b, false));
  });
  t.toUl.write(encodePdu(pdata(new Uint8Array(10), true)));
  await new Promise((r) => setImmediate(r));
  assert.equal(t.direct.length, 1, 'one batch for both answers');
  assert.deepEqual(t.ticked, [false], 'written at the end of the chunk, not a tick later');
  assert.equal(t.calls.length, 0, 'nothing through the stream');
  const bytes = Buffer.concat(t.direct[0]!);
  const first = decodePdu(bytes.subarray(0, 6 + bytes.readUInt32BE(2)));
  const second = decodePdu(bytes.subarray(6 + bytes.readUInt32BE(2)));
  assert.deepEqual(first.type === 'P-DATA-TF' && Buffer.from(first.pdvs[0]!.data), Buffer.from(a));
  assert.deepEqual(second.type === 'P-DATA-TF' && Buffer.from(second.pdvs[0]!.data), Buffer.from(b));

  // Refused: the same batch goes through the stream (one writev), and the next direct one after it.
  t.accept.push(false, true);
  t.toUl.write(encodePdu(pdata(new Uint8Array(10), true)));
  await new Promise((r) => setImmediate(r));
  assert.equal(t.calls.length, 1, 'the refused batch in one writev');
  assert.deepEqual(Buffer.concat(t.calls[0]!), bytes);
  t.toUl.write(encodePdu(pdata(new Uint8Array(10), true)));
  await new Promise((r) => setImmediate(r));
  assert.equal(t.direct.length, 2);
  assert.deepEqual(Buffer.concat(t.direct[1]!), bytes);
  ul.destroy(); // no peer to answer an A-ABORT: closed now, not after ARTIM
  t.toUl.end();
  await ul.whenClosed();
});

test('queuedBytes counts the PDUs gathered for the end of the tick, then what the stream still holds; 0 once all is taken', async () => {
  const { ul, toUl, calls } = await established();
  assert.equal(ul.queuedBytes, 0);
  ul.sendPData(pdata(new Uint8Array(5000), false));
  // A sender reusing the buffer its PDUs point into must see them as not yet copied out.
  assert.equal(ul.queuedBytes, 12 + 5000);
  assert.equal(calls.length, 0);
  await new Promise((r) => process.nextTick(r));
  assert.equal(calls.length, 1);
  assert.equal(ul.queuedBytes, 0);
  ul.destroy(); // no peer to answer an A-ABORT: closed now, not after ARTIM
  toUl.end();
  await ul.whenClosed();
});

test('a transport that took a batch directly and still holds it (needsDrain): sendPData asks to wait, and drain() waits for its stream\'s drain', async () => {
  const t = recordingTransport();
  const ul = new UpperLayer();
  ul.on('associateIndication', (rq) => ul.acceptAssociation(acFor(rq, 65536)));
  const direct: Buffer[][] = [];
  const connection = {
    stream: t.stream, remoteAddress: undefined, remotePort: undefined, localAddress: undefined, localPort: undefined, tls: undefined,
    needsDrain: false,
    /** The next batch taken fills the socket under it. */
    fills: false,
    writeDirect(chunks: readonly Uint8Array[]): boolean {
      if (connection.needsDrain) return false;
      direct.push(chunks.map((c) => Buffer.from(c)));
      if (connection.fills) connection.needsDrain = true;
      return true;
    },
  };
  ul.acceptConnection(connection);
  t.toUl.write(encodePdu(rqPdu()));
  await new Promise((r) => setImmediate(r));
  assert.equal(ul.state, 'Sta6');
  direct.length = 0;

  // A message larger than the stream's high-water mark: drain() hands it over at once.
  const fragment = new Uint8Array(16000).fill(7);
  let pdus = 1;
  while (ul.sendPData(pdata(fragment, false))) pdus++;
  assert.ok(pdus * 16012 >= t.stream.writableHighWaterMark, 'past the high-water mark: wait');
  connection.fills = true; // the socket under the transport will not take it all
  let drained = false;
  const waiting = ul.drain().then(() => (drained = true));
  assert.equal(direct.length, 1, 'handed to writeDirect whole');
  assert.equal(Buffer.concat(direct[0]!).length, pdus * (12 + 16000));
  assert.equal(ul.needsDrain, true, 'the transport still holds it');
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false, 'drain() waits while the transport holds the batch');
  assert.equal(ul.sendPData(pdata(new Uint8Array(10), false)), false, 'a send meanwhile is told to wait too');
  connection.needsDrain = false;
  t.stream.emit('drain');
  await waiting;
  assert.equal(ul.needsDrain, false);
  ul.destroy();
  t.toUl.end();
  await ul.whenClosed();
});
