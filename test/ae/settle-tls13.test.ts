/**
 * The TLS 1.3 client waits for the server's first post-handshake record (its ticket or its
 * alert) before the A-ASSOCIATE-RQ only after a full handshake: a resumed session sent no
 * certificate, so nothing can be rejected after our Finished and the RQ goes at once.
 * Timers are mocked: no real waiting, no timing assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { settleTls13 } from '../../src/ae/transport.js';

function fakes(protocol: string, resumed: boolean) {
  const secure = Object.assign(new EventEmitter(), { protocol, resumed, destroy: () => undefined });
  const raw = new EventEmitter();
  return { secure: secure as never, raw: raw as never, rawEmitter: raw };
}

async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

test('a resumed TLS 1.3 session does not wait for the server; a full handshake waits for its first record', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const resumed = fakes('TLSv1.3', true);
  // Nothing to wait for: no promise at all (awaiting a settled one still costs a turn).
  assert.equal(settleTls13(resumed.secure, resumed.raw), undefined);

  const full = fakes('TLSv1.3', false);
  const waiting = settleTls13(full.secure, full.raw)!;
  assert.equal(await settled(waiting), false, 'still waiting: no record, no timer expiry');
  full.rawEmitter.emit('data', Buffer.from([23]));
  assert.equal(await settled(waiting), true, 'the first record ends the wait');

  const tls12 = fakes('TLSv1.2', false);
  assert.equal(settleTls13(tls12.secure, tls12.raw), undefined);

  const silent = fakes('TLSv1.3', false);
  const bounded = settleTls13(silent.secure, silent.raw)!;
  assert.equal(await settled(bounded), false);
  t.mock.timers.tick(250);
  assert.equal(await settled(bounded), true, 'a server that sends nothing costs at most the bound');
});
