// receiveDirect hands decrypted plaintext straight to the one 'data' listener instead of pushing
// it, only where the stream would have emitted it at once anyway. Every byte must reach the
// listener in the order it was sent, whatever the stream is doing when the engine decrypts it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import type { SecureSocket } from '../../../src/transport/tls/socket.js';
import { rng } from '../../helpers/random.js';
import { makeEngineCerts, withSecurePair, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

function withPair(fn: (client: SecureSocket, accepted: SecureSocket) => Promise<void>): Promise<void> {
  return withSecurePair(c, async (p) => fn(p.client, await p.accepted));
}

test('receiveDirect with a receiver that pauses the stream after every chunk and resumes it soon after (as the upper layer does behind a slow sink): every byte in order', { timeout: 60_000 }, async () => {
  // Paused, the engine pushes what it decrypts and stops once the stream is full (a chunk of a
  // whole 64 KiB socket read is enough), decrypted records may wait at a slab's end; resumed, the
  // stream asks for more (_read) while flowing out what it holds. On Node 26 its flowing loop
  // asks before it emits the one chunk it holds, with readableLength already 0. Records of
  // varied sizes (one per write) make such a wait at a slab's end frequent.
  await withPair(async (client, accepted) => {
    const rnd = rng(7);
    const data = randomBytes(24 * 1024 * 1024);
    const h = createHash('sha256');
    let got = 0;
    let pauses = 0;
    const done = new Promise<void>((resolve) => {
      const listener = (chunk: Uint8Array): void => {
        h.update(chunk);
        got += chunk.length;
        if (got === data.length) resolve();
        else if (!accepted.isPaused()) {
          pauses++;
          accepted.pause();
          const r = rnd();
          if (r < 0.4) queueMicrotask(() => accepted.resume());
          else if (r < 0.8) setImmediate(() => accepted.resume());
          else setTimeout(() => accepted.resume(), Math.floor(rnd() * 3));
        }
      };
      accepted.on('data', listener);
      accepted.receiveDirect(listener);
    });
    for (let off = 0; off < data.length;) {
      // Each write alone (awaited) is one record: mostly full ones, some shorter.
      const n = Math.min(data.length - off, rnd() < 0.1 ? 1 + Math.floor(rnd() * 16384) : 16384);
      await new Promise<void>((resolve, reject) => client.write(data.subarray(off, off + n), (e) => (e ? reject(e) : resolve())));
      off += n;
    }
    await done;
    assert.ok(pauses > 10);
    assert.equal(got, data.length);
    assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'), 'the bytes arrived out of order');
  });
});

test('what _read() decrypts is pushed, never handed to the receiver past a chunk the stream still holds', { timeout: 30_000 }, async () => {
  // The stream may call _read() while it holds a chunk it has taken off its buffer and not yet
  // emitted, with readableLength 0 (Node 26's flowing loop does). Emulated on any Node version:
  // push() is wrapped to hold what it is given (and to say "full", so the engine stops
  // decrypting), then the stream flows and _read() is called as that loop calls it. The held
  // chunk is then given to the stream, and what _read() produced must follow it.
  await withPair(async (client, accepted) => {
    const received: Buffer[] = [];
    const listener = (chunk: Uint8Array): void => void received.push(Buffer.from(chunk));
    accepted.on('data', listener);
    accepted.receiveDirect(listener);
    const push = accepted.push.bind(accepted);
    let holding = true;
    const held: Buffer[] = [];
    accepted.push = ((chunk: Buffer | null) => {
      if (!holding || chunk === null) return push(chunk);
      held.push(chunk);
      return false;
    }) as typeof accepted.push;

    const data = randomBytes(1024 * 1024);
    let heldBeforeRead = 0;
    let heldInRead = 0;
    // Paused: the engine pushes its first chunk (held) and stops. Until a _read() finds more
    // decrypted data waiting, let the socket deliver more (a read may have ended at a record).
    accepted.pause();
    client.write(data);
    for (let round = 0; round < 200 && heldInRead === 0; round++) {
      const heldBytes = (): number => held.reduce((n, b) => n + b.length, 0);
      while (held.length === heldBeforeRead && heldBytes() < data.length) await new Promise((r) => setImmediate(r));
      heldBeforeRead = held.length;
      const direct = received.length;
      accepted.resume(); // flowing again, nothing in the stream's own buffer
      assert.equal(accepted.readableFlowing, true);
      assert.equal(accepted.readableLength, 0);
      accepted._read();
      assert.equal(received.length, direct, '_read() handed data to the receiver ahead of the chunk the stream holds');
      heldInRead = held.length - heldBeforeRead;
      heldBeforeRead = held.length;
      accepted.pause();
    }
    assert.ok(heldInRead > 0, '_read() found nothing to decrypt: the test proves nothing');
    holding = false;
    for (const chunk of held.splice(0)) push(chunk);
    accepted.resume();
    while (received.reduce((n, b) => n + b.length, 0) < data.length) await new Promise((r) => setImmediate(r));
    assert.ok(Buffer.concat(received).equals(data), 'the bytes arrived out of order');
  });
});
