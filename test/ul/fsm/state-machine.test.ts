/** Scenario tests of the PS3.8 9.2 state machine over a recording double (side effects in order). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { StateMachine } from '../../../src/ul/fsm/state-machine.js';
import { channelNames } from '../../../src/diagnostics.js';
import { RecordingActions, machineIn, rq, sampleInput } from './fsm-double.js';

test('normal association as requestor: AE-1, AE-2, AE-3, data both ways, release AR-1 / AR-3', () => {
  const io = new RecordingActions();
  const sm = new StateMachine(io);
  sm.dispatch({ event: 'Evt1', pdu: rq });
  assert.deepEqual(io.take(), [{ kind: 'connect' }]);
  assert.equal(sm.role, 'requestor');
  sm.dispatch({ event: 'Evt2' });
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: rq }]);
  const ac = sampleInput('Evt3');
  sm.dispatch(ac);
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'A-ASSOCIATE confirmation (accept)', ac: (ac as { pdu: unknown }).pdu } }]);
  const out = sampleInput('Evt9');
  sm.dispatch(out);
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: (out as { pdu: unknown }).pdu }]);
  const inp = sampleInput('Evt10');
  sm.dispatch(inp);
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'P-DATA indication', pdu: (inp as { pdu: unknown }).pdu } }]);
  sm.dispatch({ event: 'Evt11' });
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: { type: 'A-RELEASE-RQ' } }]);
  // AR-6: data still arriving while awaiting the A-RELEASE-RP is delivered.
  sm.dispatch(inp);
  assert.equal(io.take()[0]?.kind, 'deliver');
  assert.equal(sm.state, 'Sta7');
  sm.dispatch({ event: 'Evt13', pdu: { type: 'A-RELEASE-RP' } });
  assert.deepEqual(io.take(), [
    { kind: 'deliver', primitive: { type: 'A-RELEASE confirmation', collision: false } },
    { kind: 'close' },
  ]);
  assert.equal(sm.state, 'Sta1');
});

test('normal association as acceptor: AE-5 starts ARTIM, AE-6 stops it, AE-7 sends AC; release AR-2, AR-7, AR-4, AR-5', () => {
  const io = new RecordingActions();
  const sm = new StateMachine(io);
  sm.dispatch({ event: 'Evt5' });
  assert.deepEqual(io.take(), [{ kind: 'artim-start' }]);
  sm.dispatch({ event: 'Evt6', pdu: rq });
  assert.deepEqual(io.take(), [{ kind: 'artim-stop' }, { kind: 'deliver', primitive: { type: 'A-ASSOCIATE indication', rq } }]);
  const ac = sampleInput('Evt7');
  sm.dispatch(ac);
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: (ac as { pdu: unknown }).pdu }]);
  sm.dispatch({ event: 'Evt12', pdu: { type: 'A-RELEASE-RQ' } });
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'A-RELEASE indication', collision: false } }]);
  // AR-7: the user may still send data before answering the release.
  sm.dispatch(sampleInput('Evt9'));
  assert.equal(io.take()[0]?.kind, 'send');
  sm.dispatch({ event: 'Evt14' });
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: { type: 'A-RELEASE-RP' } }, { kind: 'artim-start' }]);
  assert.equal(sm.state, 'Sta13');
  sm.dispatch({ event: 'Evt17' });
  assert.deepEqual(io.take(), [{ kind: 'artim-stop' }]);
  assert.equal(sm.state, 'Sta1');
});

test('rejection by the user (AE-8) and by the provider (AE-6 protocol version), and AE-4 at the requestor', () => {
  const { sm, io } = machineIn('Sta3');
  const rj = { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 } as const;
  sm.dispatch({ event: 'Evt8', pdu: rj });
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: rj }, { kind: 'artim-start' }]);
  assert.equal(sm.state, 'Sta13');

  const a = machineIn('Sta2');
  a.sm.dispatch({ event: 'Evt6', pdu: { ...rq, protocolVersion: 2 } });
  assert.deepEqual(a.io.take(), [
    { kind: 'artim-stop' },
    { kind: 'send', pdu: { type: 'A-ASSOCIATE-RJ', result: 1, source: 2, reason: 2 } },
    { kind: 'artim-start' },
  ]);
  assert.equal(a.sm.state, 'Sta13');

  const r = machineIn('Sta5');
  r.sm.dispatch({ event: 'Evt4', pdu: rj });
  assert.deepEqual(r.io.take(), [{ kind: 'deliver', primitive: { type: 'A-ASSOCIATE confirmation (reject)', rj } }, { kind: 'close' }]);
  assert.equal(r.sm.state, 'Sta1');
});

test('release collision as association-requestor: Sta7 → Sta9 → Sta11 → Sta1', () => {
  const { sm, io } = machineIn('Sta7');
  assert.equal(sm.role, 'requestor');
  sm.dispatch({ event: 'Evt12', pdu: { type: 'A-RELEASE-RQ' } });
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'A-RELEASE indication', collision: true } }]);
  assert.equal(sm.state, 'Sta9');
  sm.dispatch({ event: 'Evt14' });
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: { type: 'A-RELEASE-RP' } }]);
  assert.equal(sm.state, 'Sta11');
  sm.dispatch({ event: 'Evt13', pdu: { type: 'A-RELEASE-RP' } });
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'A-RELEASE confirmation', collision: false } }, { kind: 'close' }]);
  assert.equal(sm.state, 'Sta1');
});

test('release collision as association-acceptor: Sta7 → Sta10 → Sta12 → Sta13 → Sta1', () => {
  const io = new RecordingActions();
  const sm = new StateMachine(io);
  for (const e of ['Evt5', 'Evt6', 'Evt7', 'Evt11'] as const) sm.dispatch(sampleInput(e));
  io.take();
  assert.equal(sm.state, 'Sta7');
  sm.dispatch({ event: 'Evt12', pdu: { type: 'A-RELEASE-RQ' } });
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'A-RELEASE indication', collision: true } }]);
  assert.equal(sm.state, 'Sta10');
  sm.dispatch({ event: 'Evt13', pdu: { type: 'A-RELEASE-RP' } });
  assert.deepEqual(io.take(), [{ kind: 'deliver', primitive: { type: 'A-RELEASE confirmation', collision: true } }]);
  assert.equal(sm.state, 'Sta12');
  sm.dispatch({ event: 'Evt14' });
  assert.deepEqual(io.take(), [{ kind: 'send', pdu: { type: 'A-RELEASE-RP' } }, { kind: 'artim-start' }]);
  assert.equal(sm.state, 'Sta13');
  sm.dispatch({ event: 'Evt17' });
  assert.equal(sm.state, 'Sta1');
});

test('abort: AA-1 from the user (source 0), AA-3 user and provider sources, AA-4 on transport loss', () => {
  const u = machineIn('Sta6');
  u.sm.dispatch({ event: 'Evt15' });
  assert.deepEqual(u.io.take(), [{ kind: 'send', pdu: { type: 'A-ABORT', source: 0, reason: 0 } }, { kind: 'artim-start' }]);
  assert.equal(u.sm.state, 'Sta13');

  const p = machineIn('Sta6');
  p.sm.dispatch({ event: 'Evt16', pdu: { type: 'A-ABORT', source: 0, reason: 0 } });
  assert.deepEqual(p.io.take(), [{ kind: 'deliver', primitive: { type: 'A-ABORT indication', source: 0, reason: 0 } }, { kind: 'close' }]);
  const q = machineIn('Sta7');
  q.sm.dispatch({ event: 'Evt16', pdu: { type: 'A-ABORT', source: 2, reason: 6 } });
  assert.deepEqual(q.io.take(), [{ kind: 'deliver', primitive: { type: 'A-P-ABORT indication', origin: 'peer', reason: 6 } }, { kind: 'close' }]);

  const t = machineIn('Sta5');
  const cause = new Error('ECONNRESET');
  t.sm.dispatch({ event: 'Evt17', cause });
  assert.deepEqual(t.io.take(), [{ kind: 'deliver', primitive: { type: 'A-P-ABORT indication', origin: 'transport', reason: 0, cause } }]);
  assert.equal(t.sm.state, 'Sta1');

  const c = machineIn('Sta4');
  c.sm.dispatch({ event: 'Evt15' });
  assert.deepEqual(c.io.take(), [{ kind: 'artim-stop' }, { kind: 'close' }]);
  assert.equal(c.sm.state, 'Sta1');
});

test('ARTIM expiry in Sta2 and Sta13 closes the transport (AA-2)', () => {
  for (const s of ['Sta2', 'Sta13'] as const) {
    const { sm, io } = machineIn(s);
    sm.dispatch({ event: 'Evt18' });
    assert.deepEqual(io.take(), [{ kind: 'artim-stop' }, { kind: 'close' }]);
    assert.equal(sm.state, 'Sta1');
  }
});

test('invalid PDU → AA-8 with service-provider source and the decoder\'s reason; unexpected PDU → reason 2', () => {
  const cause = new Error('bad item');
  const a = machineIn('Sta6');
  a.sm.dispatch({ event: 'Evt19', reason: 4, cause });
  assert.deepEqual(a.io.take(), [
    { kind: 'send', pdu: { type: 'A-ABORT', source: 2, reason: 4 } },
    { kind: 'deliver', primitive: { type: 'A-P-ABORT indication', origin: 'local', reason: 4, cause } },
    { kind: 'artim-start' },
  ]);
  assert.equal(a.sm.state, 'Sta13');

  const b = machineIn('Sta6');
  b.sm.dispatch({ event: 'Evt6', pdu: rq });
  assert.deepEqual(b.io.take()[0], { kind: 'send', pdu: { type: 'A-ABORT', source: 2, reason: 2 } });

  // Sta2: no service user yet, the provider aborts (AA-1) and says so.
  const c = machineIn('Sta2');
  c.sm.dispatch({ event: 'Evt19', reason: 1 });
  assert.deepEqual(c.io.take(), [{ kind: 'send', pdu: { type: 'A-ABORT', source: 2, reason: 1 } }, { kind: 'artim-start' }]);

  // Sta13: AA-7 answers an A-ASSOCIATE-RQ or an invalid PDU, AA-6 ignores the rest.
  const d = machineIn('Sta13');
  d.sm.dispatch({ event: 'Evt19', reason: 6 });
  assert.deepEqual(d.io.take(), [{ kind: 'send', pdu: { type: 'A-ABORT', source: 2, reason: 6 } }]);
  d.sm.dispatch(sampleInput('Evt10'));
  assert.deepEqual(d.io.take(), []);
  assert.equal(d.sm.state, 'Sta13');
});

test('events raised from inside an action run after it; a moot one is dropped', () => {
  const io = new RecordingActions();
  const sm = new StateMachine(io);
  io.connectTransport = () => {
    io.effects.push({ kind: 'connect' });
    sm.dispatch({ event: 'Evt2' }); // a transport that connects synchronously
  };
  sm.dispatch({ event: 'Evt1', pdu: rq });
  assert.equal(sm.state, 'Sta5');
  assert.deepEqual(io.take(), [{ kind: 'connect' }, { kind: 'send', pdu: rq }]);

  const m = machineIn('Sta13');
  m.io.closeTransport = () => m.sm.dispatch({ event: 'Evt17' });
  m.sm.dispatch({ event: 'Evt18' }); // AA-2 closes; the close then finds Sta1 and is dropped
  assert.equal(m.sm.state, 'Sta1');
});

test('transitions are published on the stateTransition channel', () => {
  const seen: unknown[] = [];
  const listener = (m: unknown) => seen.push(m);
  diagnosticsChannel.subscribe(channelNames.stateTransition, listener);
  try {
    const sm = new StateMachine(new RecordingActions(), { association: 'A1' });
    sm.dispatch({ event: 'Evt5' });
    assert.deepEqual(seen, [{ association: 'A1', from: 'Sta1', event: 'Evt5', action: 'AE-5', to: 'Sta2' }]);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.stateTransition, listener);
  }
});

test('inDataTransfer: only in Sta6, with no action running and no stateTransition subscriber', () => {
  for (const state of ['Sta1', 'Sta2', 'Sta3', 'Sta5', 'Sta7', 'Sta8', 'Sta13'] as const) {
    assert.equal(machineIn(state).sm.inDataTransfer, false, state);
  }
  const { sm, io } = machineIn('Sta6');
  assert.equal(sm.inDataTransfer, true);
  // Inside an action (here: the send of DT-1), the machine is busy: the caller must dispatch.
  let during: boolean | undefined;
  const send = io.sendPdu.bind(io);
  io.sendPdu = (pdu) => {
    during = sm.inDataTransfer;
    send(pdu);
  };
  sm.dispatch(sampleInput('Evt9'));
  assert.equal(during, false);
  assert.equal(sm.inDataTransfer, true);
  // An observer of every transition must see the P-DATA ones: then the table is used.
  const seen: unknown[] = [];
  const onTransition = (m: unknown): void => void seen.push(m);
  diagnosticsChannel.subscribe(channelNames.stateTransition, onTransition);
  try {
    assert.equal(sm.inDataTransfer, false);
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.stateTransition, onTransition);
  }
  assert.equal(sm.inDataTransfer, true);
});
