/** The upper layer over real loopback TCP, both ends being our UpperLayer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Duplex } from 'node:stream';
import { UpperLayer } from '../../src/ul/upper-layer.js';
import { AssociationRejectedError, PduExceedsPeerMaximumError } from '../../src/ul/upper-layer-errors.js';
import { InvalidStateEventError } from '../../src/ul/fsm/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import type { PDataTfPdu } from '../../src/ul/pdu/types.js';
import { loopback, plainTransport } from '../helpers/loopback.js';
import { acFor, pdata, rejectCalledAe, rqPdu } from './fixtures.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { freePort } from '../helpers/free-port.js';

/** Acceptor UL on the next accepted socket, requestor UL connecting; both tracked for transitions. */
async function pair(opts: { accept?: boolean; acceptorMax?: number; acceptorPduLimit?: number; observe?: boolean } = {}) {
  const lb = await loopback();
  const acceptor = new UpperLayer(opts.acceptorPduLimit === undefined ? {} : { maxPduLength: opts.acceptorPduLimit });
  const requestor = new UpperLayer();
  const trail = new Map<UpperLayer, string[]>([[acceptor, []], [requestor, []]]);
  const onTransition = (m: unknown): void => {
    const t = m as { association: UpperLayer; to: string };
    trail.get(t.association)?.push(t.to);
  };
  // Observed, every transition goes through the state machine's table; unobserved, P-DATA in Sta6
  // takes the upper layer's direct path (StateMachine.inDataTransfer).
  const observe = opts.observe ?? true;
  if (observe) diagnosticsChannel.subscribe(channelNames.stateTransition, onTransition);
  void lb.nextAccepted().then((s) => acceptor.acceptConnection(plainTransport(s)));
  acceptor.on('associateIndication', (rq) => {
    if (opts.accept === false) acceptor.rejectAssociation(rejectCalledAe);
    else acceptor.acceptAssociation(acFor(rq, opts.acceptorMax ?? 16384));
  });
  requestor.requestAssociation(() => lb.connect(), rqPdu());
  const done = async (): Promise<void> => {
    if (observe) diagnosticsChannel.unsubscribe(channelNames.stateTransition, onTransition);
    await lb.close();
  };
  return { lb, acceptor, requestor, trail, done };
}

/** The requestor releases, the acceptor answers: both close, the acceptor without an error. */
async function releaseCleanly(acceptor: UpperLayer, requestor: UpperLayer): Promise<void> {
  acceptor.on('releaseIndication', () => acceptor.respondRelease());
  const acceptorClosed = acceptor.whenClosed();
  await requestor.release();
  assert.deepEqual(await acceptorClosed, { error: undefined });
}

test('normal association, P-DATA both ways, release: both ends end in Sta1 with no error', async () => {
  const { acceptor, requestor, trail, done } = await pair();
  try {
    const ac = await requestor.associated();
    assert.equal(ac.calledAeTitle, 'ACCEPTOR');
    assert.equal(requestor.state, 'Sta6');
    assert.equal(requestor.peerMaxPduLength, 16384);

    const gotByAcceptor = new Promise<PDataTfPdu>((resolve) => acceptor.once('pData', resolve));
    assert.equal(requestor.sendPData(pdata(new Uint8Array([1, 2, 3]))), true);
    assert.deepEqual([...(await gotByAcceptor).pdvs[0]!.data], [1, 2, 3]);
    const gotByRequestor = new Promise<PDataTfPdu>((resolve) => requestor.once('pData', resolve));
    acceptor.sendPData(pdata(new Uint8Array([4, 5]), false));
    const back = await gotByRequestor;
    assert.equal(back.pdvs[0]!.isCommand, false);
    assert.deepEqual([...back.pdvs[0]!.data], [4, 5]);

    await releaseCleanly(acceptor, requestor);
    assert.equal(requestor.state, 'Sta1');
    assert.equal(acceptor.state, 'Sta1');
    assert.deepEqual(trail.get(requestor), ['Sta4', 'Sta5', 'Sta6', 'Sta6', 'Sta6', 'Sta7', 'Sta1']);
    assert.deepEqual(trail.get(acceptor), ['Sta2', 'Sta3', 'Sta6', 'Sta6', 'Sta6', 'Sta8', 'Sta13', 'Sta1']);
  } finally {
    await done();
  }
});

test('rejection: the requestor gets AssociationRejectedError with result/source/reason; both close cleanly', async () => {
  const { acceptor, requestor, done } = await pair({ accept: false });
  try {
    await assert.rejects(requestor.associated(), (e: unknown) => {
      assert.ok(e instanceof AssociationRejectedError);
      assert.equal(e.code, 'DICOM_ERR_ASSOCIATION_REJECTED');
      assert.deepEqual([e.result, e.source, e.reason], [1, 1, 7]);
      return true;
    });
    assert.deepEqual(await requestor.whenClosed(), { error: undefined });
    assert.deepEqual(await acceptor.whenClosed(), { error: undefined });
  } finally {
    await done();
  }
});

test('release collision: requestor goes Sta7→Sta9→Sta11→Sta1, acceptor Sta7→Sta10→Sta12→Sta13→Sta1', async () => {
  const { acceptor, requestor, trail, done } = await pair();
  try {
    await requestor.associated();
    await new Promise<void>((resolve) => (acceptor.state === 'Sta6' ? resolve() : acceptor.once('pData', () => resolve())));
    const seen: string[] = [];
    requestor.on('releaseIndication', (i) => seen.push(`rq-indication:${i.collision}`));
    requestor.on('released', (i) => seen.push(`rq-released:${i.collision}`));
    acceptor.on('releaseIndication', (i) => seen.push(`ac-indication:${i.collision}`));
    acceptor.on('released', (i) => seen.push(`ac-released:${i.collision}`));
    // Both ask in the same tick: each A-RELEASE-RQ crosses the other on the wire.
    await Promise.all([requestor.release(), acceptor.release()]);
    assert.deepEqual(trail.get(requestor)!.slice(-4), ['Sta7', 'Sta9', 'Sta11', 'Sta1']);
    assert.deepEqual(trail.get(acceptor)!.slice(-5), ['Sta7', 'Sta10', 'Sta12', 'Sta13', 'Sta1']);
    assert.deepEqual(seen.sort(), ['ac-indication:true', 'ac-released:true', 'rq-indication:true', 'rq-released:false']);
  } finally {
    await done();
  }
});

test('A-ABORT by the requestor: the acceptor gets an A-ABORT indication (service-user source)', async () => {
  const { acceptor, requestor, done } = await pair();
  try {
    await requestor.associated();
    const aborted = new Promise<unknown>((resolve) => acceptor.once('aborted', resolve));
    requestor.abort();
    assert.equal(requestor.state, 'Sta13');
    const e = (await aborted) as { origin: string; source: number; code: string };
    assert.deepEqual([e.code, e.origin, e.source], ['DICOM_ERR_ASSOCIATION_ABORTED', 'peer-user', 0]);
    const closedA = await acceptor.whenClosed();
    assert.equal(closedA.error?.code, 'DICOM_ERR_ASSOCIATION_ABORTED');
    assert.deepEqual(await requestor.whenClosed(), { error: undefined });
  } finally {
    await done();
  }
});

test('primitives in the wrong state throw InvalidStateEventError and change nothing; a bad PDU throws before sending', async () => {
  const { acceptor, requestor, done } = await pair();
  try {
    assert.throws(() => requestor.sendPData(pdata(new Uint8Array(1))), InvalidStateEventError);
    await requestor.associated();
    assert.throws(() => requestor.respondRelease(), (e: unknown) => e instanceof InvalidStateEventError && e.state === 'Sta6');
    assert.throws(() => requestor.sendPData({ type: 'P-DATA-TF', pdvs: [{ presentationContextId: 2, isCommand: true, isLast: true, data: new Uint8Array(1) }] }), /Presentation-context-ID/);
    assert.equal(requestor.state, 'Sta6');
    // The acceptor advertised 16384: a larger P-DATA-TF is refused locally (PS3.8 D.1).
    assert.throws(() => requestor.sendPData(pdata(new Uint8Array(20000))), PduExceedsPeerMaximumError);
    acceptor.on('releaseIndication', () => acceptor.respondRelease());
    await requestor.release();
  } finally {
    await done();
  }
});

for (const observe of [true, false]) test(`backpressure${observe ? '' : ' (P-DATA on the direct path)'}: pause() stops P-DATA indications and reading; drain() waits for the reader to catch up`, async () => {
  const { acceptor, requestor, done } = await pair({ acceptorMax: 0, acceptorPduLimit: 8 * 1024 * 1024, observe });
  try {
    await requestor.associated();
    const received: number[] = [];
    let slow = true;
    acceptor.on('pData', (p) => {
      received.push(p.pdvs.reduce((n, v) => n + v.data.length, 0)); // one item, maybe in pieces
      if (slow) acceptor.pause();
    });
    const big = new Uint8Array(4 * 1024 * 1024);
    let writable = true;
    let sent = 0;
    for (; sent < 4 && writable; sent++) writable = requestor.sendPData(pdata(big, false));
    assert.equal(writable, false, 'a 4 MiB PDU fills the socket buffer');
    assert.equal(requestor.needsDrain, true);
    const drained = requestor.drain();
    // Let the acceptor get its first PDU and pause; nothing else may arrive while paused.
    while (received.length === 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(received.length, 1);
    assert.equal(acceptor.isPaused, true);
    assert.equal(acceptor.transport!.stream.isPaused(), true);
    slow = false;
    acceptor.resume();
    await drained;
    while (received.length < sent) await new Promise((r) => setImmediate(r));
    assert.deepEqual(received, new Array(sent).fill(big.length), 'every PDU arrives once reading resumes');
  } finally {
    await done();
  }
});

for (const observe of [true, false]) test(`a pause from inside a P-DATA indication holds the rest of its chunk and what arrives meanwhile; order kept, no indication while paused or inside another${observe ? '' : ' (direct path)'}`, async () => {
  const { acceptor, requestor, done } = await pair({ observe });
  try {
    await requestor.associated();
    const indications: number[] = [];
    const faults: string[] = [];
    let depth = 0;
    let resumeSoon: (() => void) | undefined;
    acceptor.on('pData', (p) => {
      const i = p.pdvs[0]!.data[0]!;
      if (acceptor.isPaused) faults.push(`${i} indicated while paused`);
      if (depth > 0) faults.push(`${i} indicated inside another indication`);
      depth++;
      try {
        indications.push(i);
        if (i === 2) {
          // Mid-chunk (0–9 leave in one write): 3–9 wait, and so do 10–14, sent now.
          acceptor.pause();
          for (let j = 10; j < 15; j++) requestor.sendPData(pdata(Uint8Array.of(j)));
          resumeSoon = () => acceptor.resume();
        } else if (i === 5) {
          // Paused and resumed within the indication (as DIMSE does for a sink that takes a PDU at once).
          acceptor.pause();
          acceptor.resume();
        } else if (i === 11) {
          acceptor.pause();
          queueMicrotask(() => acceptor.resume());
        }
      } finally {
        depth--;
      }
    });
    for (let i = 0; i < 10; i++) requestor.sendPData(pdata(Uint8Array.of(i)));
    while (resumeSoon === undefined) await new Promise((r) => setImmediate(r));
    // Give the second write time to arrive while the acceptor is paused (the outcome does not depend on it).
    for (let k = 0; k < 20; k++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(indications, [0, 1, 2], 'nothing indicated while paused');
    resumeSoon();
    while (indications.length < 15) await new Promise((r) => setImmediate(r));
    assert.deepEqual(indications, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.deepEqual(faults, []);
    assert.equal(acceptor.isPaused, false);
    await releaseCleanly(acceptor, requestor);
  } finally {
    await done();
  }
});

test('bytes that arrive from inside a P-DATA indication (a transport delivering synchronously) are indicated after it, in order, never inside it', async () => {
  // A transport whose reads the test makes: push() outside _read emits 'data' at once, so a push
  // from inside an indication re-enters the upper layer while it is still handing PDUs on.
  const stream = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const acceptor = new UpperLayer();
  acceptor.on('associateIndication', (rq) => acceptor.acceptAssociation(acFor(rq)));
  acceptor.acceptConnection({ stream, remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, tls: undefined });
  await new Promise((r) => setImmediate(r)); // the stream flowing
  stream.push(encodePdu(rqPdu()));
  assert.equal(acceptor.state, 'Sta6');
  const chunk = (from: number, to: number): Buffer => Buffer.concat(Array.from({ length: to - from }, (_, k) => encodePdu(pdata(Uint8Array.of(from + k)))));
  const indications: number[] = [];
  const faults: string[] = [];
  let depth = 0;
  acceptor.on('pData', (p) => {
    const i = p.pdvs[0]!.data[0]!;
    if (depth > 0) faults.push(`${i} indicated inside another indication`);
    depth++;
    try {
      indications.push(i);
      if (i === 0) stream.push(chunk(3, 6));
    } finally {
      depth--;
    }
  });
  stream.push(chunk(0, 3));
  assert.deepEqual(indications, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(faults, []);
  acceptor.destroy();
  await acceptor.whenClosed();
});

test('a throwing listener does not break the association; connect failure is an A-P-ABORT (transport)', async () => {
  const { acceptor, requestor, done } = await pair();
  try {
    requestor.on('accepted', () => {
      throw new Error('listener bug');
    });
    await requestor.associated();
    acceptor.on('releaseIndication', () => acceptor.respondRelease());
    await requestor.release();
  } finally {
    await done();
  }
  // Below the ephemeral range: nothing else may be handed the port before the connect.
  const port = await freePort();
  const ul = new UpperLayer();
  const pAbort = new Promise<{ origin: string; cause?: unknown }>((resolve) => ul.once('providerAborted', resolve));
  const { connect } = await import('node:net');
  ul.requestAssociation(
    () =>
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        s.once('error', reject);
        s.once('connect', () => resolve(plainTransport(s)));
      }),
    rqPdu(),
  );
  const e = await pAbort;
  assert.equal(e.origin, 'transport');
  assert.equal((e.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.equal((await ul.whenClosed()).error?.code, 'DICOM_ERR_ASSOCIATION_ABORTED');
});

test('PDUs sent/received and the association life cycle are published on the diagnostics channels', async () => {
  const sent: string[] = [];
  const received: string[] = [];
  const lifecycle: string[] = [];
  const onLifecycle = (m: unknown): void => void lifecycle.push((m as { kind: string }).kind);
  diagnosticsChannel.subscribe(channelNames.association, onLifecycle);
  const onSent = (m: unknown): void => void sent.push((m as { pdu: { type: string } }).pdu.type);
  const onReceived = (m: unknown): void => void received.push((m as { pdu: { type: string } }).pdu.type);
  diagnosticsChannel.subscribe(channelNames.pduSent, onSent);
  diagnosticsChannel.subscribe(channelNames.pduReceived, onReceived);
  const { acceptor, requestor, done } = await pair();
  try {
    await requestor.associated();
    acceptor.on('releaseIndication', () => acceptor.respondRelease());
    await requestor.release();
    await acceptor.whenClosed();
    assert.deepEqual(sent.sort(), ['A-ASSOCIATE-AC', 'A-ASSOCIATE-RQ', 'A-RELEASE-RP', 'A-RELEASE-RQ']);
    assert.deepEqual(received.sort(), ['A-ASSOCIATE-AC', 'A-ASSOCIATE-RQ', 'A-RELEASE-RP', 'A-RELEASE-RQ']);
    assert.deepEqual(lifecycle.sort(), ['accepted', 'accepted', 'released', 'released', 'requested', 'requested']);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onLifecycle);
    diagnosticsChannel.unsubscribe(channelNames.pduSent, onSent);
    diagnosticsChannel.unsubscribe(channelNames.pduReceived, onReceived);
    await done();
  }
});

test('requestAssociation with an already open TransportConnection: AE-1 and AE-2 run at once', async () => {
  const lb = await loopback();
  try {
    const acceptor = new UpperLayer();
    acceptor.on('associateIndication', (rq) => acceptor.acceptAssociation(acFor(rq)));
    acceptor.on('releaseIndication', () => acceptor.respondRelease());
    const requestor = new UpperLayer();
    const transport = await lb.connect();
    acceptor.acceptConnection(plainTransport(await lb.nextAccepted()));
    requestor.requestAssociation(transport, rqPdu());
    assert.equal(requestor.state, 'Sta5', 'Evt2 followed AE-1 without a turn of the event loop');
    assert.equal(requestor.role, 'requestor');
    await requestor.associated();
    assert.equal(acceptor.role, 'acceptor');
    await requestor.release();
    assert.deepEqual(await acceptor.whenClosed(), { error: undefined });
    assert.equal(requestor.isClosed, true);
  } finally {
    await lb.close();
  }
});

test('P-DATA without a transition observer: in order both ways, answered from inside the indication; an observer subscribed later sees the next ones', async () => {
  const { acceptor, requestor, trail, done } = await pair({ observe: false });
  try {
    await requestor.associated();
    // The acceptor answers each P-DATA from inside its indication (as an SCP answers a C-ECHO).
    acceptor.on('pData', (p) => void acceptor.sendPData(pdata(Uint8Array.of(p.pdvs[0]!.data[0]! + 100), false)));
    const back: number[] = [];
    const all = new Promise<void>((resolve) =>
      requestor.on('pData', (p) => {
        back.push(p.pdvs[0]!.data[0]!);
        if (back.length === 8) resolve();
      }),
    );
    for (let i = 0; i < 8; i++) assert.equal(requestor.sendPData(pdata(Uint8Array.of(i))), true);
    await all;
    assert.deepEqual(back, [100, 101, 102, 103, 104, 105, 106, 107]);
    assert.equal(acceptor.state, 'Sta6');

    const seen: string[] = [];
    const onTransition = (m: unknown): void => {
      const t = m as { association: UpperLayer; action: string; to: string };
      seen.push(`${t.association === acceptor ? 'acceptor' : 'requestor'} ${t.action} ${t.to}`);
    };
    diagnosticsChannel.subscribe(channelNames.stateTransition, onTransition);
    try {
      const one = new Promise<void>((resolve) => requestor.once('pData', () => resolve()));
      requestor.sendPData(pdata(Uint8Array.of(9)));
      await one;
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.stateTransition, onTransition);
    }
    assert.deepEqual(seen, ['requestor DT-1 Sta6', 'acceptor DT-2 Sta6', 'acceptor DT-1 Sta6', 'requestor DT-2 Sta6']);
    assert.deepEqual(trail.get(requestor), [], 'the pair\'s own observer was never subscribed');

    await releaseCleanly(acceptor, requestor);
  } finally {
    await done();
  }
});

test('a transition observer subscribed and unsubscribed from inside P-DATA indications, P-DATA queued behind: it sees every transition in between, each from the state the last one left', async () => {
  const { acceptor, requestor, done } = await pair({ observe: false });
  const seen: { action: string; from: string; to: string }[] = [];
  const onTransition = (m: unknown): void => {
    const t = m as { association: UpperLayer; action: string; from: string; to: string };
    if (t.association === acceptor) seen.push({ action: t.action, from: t.from, to: t.to });
  };
  try {
    await requestor.associated();
    const indications: number[] = [];
    // The acceptor answers each P-DATA from inside its indication; the observer comes with the
    // fourth and goes with the eighth, while the rest of the requestor's PDUs wait to be read.
    acceptor.on('pData', (p) => {
      const i = p.pdvs[0]!.data[0]!;
      indications.push(i);
      if (i === 3) diagnosticsChannel.subscribe(channelNames.stateTransition, onTransition);
      acceptor.sendPData(pdata(Uint8Array.of(i + 100), false));
      if (i === 7) diagnosticsChannel.unsubscribe(channelNames.stateTransition, onTransition);
    });
    const back: number[] = [];
    const all = new Promise<void>((resolve) =>
      requestor.on('pData', (p) => {
        back.push(p.pdvs[0]!.data[0]!);
        if (back.length === 10) resolve();
      }),
    );
    for (let i = 0; i < 10; i++) requestor.sendPData(pdata(Uint8Array.of(i)));
    await all;
    assert.deepEqual(indications, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(back, [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    const expected = [{ action: 'DT-1', from: 'Sta6', to: 'Sta6' }];
    for (let i = 4; i <= 7; i++) expected.push({ action: 'DT-2', from: 'Sta6', to: 'Sta6' }, { action: 'DT-1', from: 'Sta6', to: 'Sta6' });
    assert.deepEqual(seen, expected);

    await releaseCleanly(acceptor, requestor);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.stateTransition, onTransition);
    await done();
  }
});

for (const observe of [true, false]) test(`release collision with P-DATA in flight both ways${observe ? '' : ' (P-DATA on the direct path)'}: every P-DATA indicated, in order, before the release indication; both close cleanly`, async () => {
  const { acceptor, requestor, done } = await pair({ observe });
  try {
    await requestor.associated();
    await new Promise<void>((resolve) => (acceptor.state === 'Sta6' ? resolve() : acceptor.once('associateIndication', () => setImmediate(resolve))));
    const seen = new Map<UpperLayer, string[]>([[requestor, []], [acceptor, []]]);
    for (const ul of [requestor, acceptor]) {
      const log = seen.get(ul)!;
      ul.on('pData', (p) => log.push(`${p.pdvs[0]!.data[0]!} in ${ul.state}`));
      ul.on('releaseIndication', (i) => log.push(`indication:${i.collision}`));
    }
    // Each side sends its P-DATA, then its A-RELEASE-RQ, in the same tick: the P-DATA meets the
    // other side in Sta6 or, once it has asked too, in Sta7 (AR-6), never after the RQ.
    for (let i = 0; i < 20; i++) {
      requestor.sendPData(pdata(Uint8Array.of(i)));
      acceptor.sendPData(pdata(Uint8Array.of(100 + i), false));
    }
    await Promise.all([requestor.release(), acceptor.release()]);
    for (const [ul, base] of [[requestor, 100], [acceptor, 0]] as const) {
      const log = seen.get(ul)!;
      assert.equal(log.length, 21, log.join(', '));
      assert.deepEqual(log.slice(0, 20).map((l) => Number(l.split(' ')[0])), Array.from({ length: 20 }, (_, i) => base + i));
      for (const l of log.slice(0, 20)) assert.match(l, / in Sta[67]$/);
      assert.equal(log[20], 'indication:true');
    }
    assert.equal(requestor.state, 'Sta1');
    assert.equal(acceptor.state, 'Sta1');
  } finally {
    await done();
  }
});
