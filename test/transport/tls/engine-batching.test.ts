// What the engine does per socket read and write: the ciphertext of a read is given back as soon
// as OpenSSL has copied it, and the records a read produces (the client's Finished) leave in one
// socket write with what the application writes in answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import type { SecureSocket } from '../../../src/transport/tls/socket.js';
import { countWrites, makeEngineCerts, openSecurePair, withSecurePair, type EngineCerts } from './engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

function withPair(fn: (client: SecureSocket, accepted: Promise<SecureSocket>, rawWrites: () => number) => Promise<void>): Promise<void> {
  return withSecurePair(c, (p) => fn(p.client, p.accepted, p.clientWrites));
}

test('the TLS 1.3 client Finished leaves in one socket write with the first data written after the handshake', async () => {
  await withPair(async (client, acceptedP, rawWrites) => {
    assert.equal(client.protocol, 'TLSv1.3');
    // The handshake promise settled in the turn that read the server's flight: the Finished
    // waits for what the application writes in that same turn.
    client.write(Buffer.from('A-ASSOCIATE-RQ'));
    const accepted = await acceptedP;
    const [chunk] = (await once(accepted, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'A-ASSOCIATE-RQ');
    assert.equal(rawWrites(), 2, 'ClientHello, then Finished with the data');
  });
});

test('a handshake flight after which OpenSSL waits for the peer leaves in the turn that made it', async () => {
  // The ClientHello, and the server's ServerHello … Finished: nothing of ours can join them, so
  // they are not held back for the end of the event loop's turn as the client's Finished is.
  // Server: what it had written when its engine (the first 'data' listener) had read the ClientHello.
  const serverWritesAtFirstRead: number[] = [];
  const { client, clientWrites, close } = await openSecurePair(c, {
    onConnection: (secure) => {
      const writes = countWrites(secure.socket);
      secure.socket.once('data', () => serverWritesAtFirstRead.push(writes()));
    },
  });
  try {
    const done = client.handshake();
    assert.equal(clientWrites(), 1, 'the ClientHello is written by handshake() itself');
    await done;
    assert.deepEqual(serverWritesAtFirstRead, [1], 'the server flight is written in the turn that read the ClientHello');
  } finally {
    await close();
  }
});

test('ciphertext the engine has taken from a socket read is released at once; the plaintext arrives whole', async () => {
  await withPair(async (client, acceptedP) => {
    const accepted = await acceptedP;
    // A listener on the raw socket after the engine's sees what is left of each read.
    const rawServer = accepted.socket;
    const seen: number[] = [];
    rawServer.on('data', (chunk: Buffer) => seen.push(chunk.length));
    const data = randomBytes(3 * 1024 * 1024);
    const h = createHash('sha256');
    let got = 0;
    const done = new Promise<void>((resolve) => {
      accepted.on('data', (d: Buffer) => {
        h.update(d);
        got += d.length;
        if (got === data.length) resolve();
      });
    });
    client.write(data);
    await done;
    assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
    assert.ok(seen.length > 0);
    assert.deepEqual([...new Set(seen)], [0], 'every read was released (detached) after the engine copied it');
  });
});

test('a record that fails to decrypt after the handshake: the server still sends its alert before it closes', { timeout: 20_000 }, async () => {
  await withPair(async (client, acceptedP) => {
    const accepted = await acceptedP;
    accepted.on('error', () => undefined);
    const failed = new Promise<Error | undefined>((resolve) => {
      client.once('error', resolve);
      client.once('close', () => resolve(undefined));
    });
    // An application-data record of random bytes, written past the engine: its tag cannot verify.
    client.socket.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), randomBytes(0x40)]));
    const error = await failed;
    assert.ok(error !== undefined, 'the client saw the connection end without an error');
    assert.match(error.message, /bad record mac/i);
  });
});

/** Everything `socket` delivers until `n` bytes have come (a listener of its own: no chunk missed between awaits). */
function readBytes(socket: SecureSocket, n: number): Promise<Buffer> {
  const got: Buffer[] = [];
  let length = 0;
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      got.push(Buffer.from(chunk));
      length += chunk.length;
      if (length < n) return;
      socket.off('data', onData);
      resolve(Buffer.concat(got));
    };
    socket.on('data', onData);
  });
}

/** Reads from `socket` until `n` bytes have come, as one string. */
async function readString(socket: SecureSocket, n: number): Promise<string> {
  let got = '';
  while (got.length < n) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    got += chunk.toString('latin1');
  }
  return got;
}

test('writeDirect: one socket write for a batch; refused while the stream has something queued; in order with stream writes, also from inside a read', async () => {
  await withPair(async (client, acceptedP, rawWrites) => {
    const accepted = await acceptedP;
    // Outside a read: taken at once, all chunks in one socket write (counted on the client: its reads).
    const rawServer = accepted.socket;
    let serverWrites = 0;
    const write = rawServer.write.bind(rawServer) as (...args: unknown[]) => boolean;
    rawServer.write = ((...args: unknown[]) => (serverWrites++, write(...args))) as typeof rawServer.write;
    assert.equal(accepted.writeDirect([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')]), true);
    assert.equal(serverWrites, 1, 'the batch is encrypted and flushed in one socket write');
    assert.equal(await readString(client, 6), 'abcdef');

    // A stream write waiting (corked): writeDirect refuses, so nothing overtakes it.
    accepted.cork();
    accepted.write(Buffer.from('1'));
    assert.equal(accepted.writeDirect([Buffer.from('2')]), false);
    accepted.write(Buffer.from('2'));
    accepted.uncork();
    assert.equal(await readString(client, 2), '12');

    // From inside a read (the receiver answering what it was pushed): a direct batch waits for the
    // end of the read, and a stream write deferred after it goes after it; one deferred before it
    // makes writeDirect refuse, and the caller's stream write keeps the order.
    const order: string[] = [];
    accepted.once('data', () => {
      order.push(String(accepted.writeDirect([Buffer.from('x')])));
      accepted.write(Buffer.from('y'));
      order.push(String(accepted.writeDirect([Buffer.from('z')])));
      accepted.write(Buffer.from('z'));
    });
    client.write(Buffer.from('go'));
    assert.equal(await readString(client, 3), 'xyz');
    assert.deepEqual(order, ['true', 'false']);

    assert.ok(rawWrites() > 0);
  });
});

test('writeDirect takes a batch of any size in one socket write; a full socket leaves needsDrain set, refuses direct writes and emits drain once written, bytes in order', async () => {
  await withPair(async (client, acceptedP) => {
    const accepted = await acceptedP;
    const rawServer = accepted.socket;
    let serverWrites = 0;
    const write = rawServer.write.bind(rawServer) as (...args: unknown[]) => boolean;
    rawServer.write = ((...args: unknown[]) => (serverWrites++, write(...args))) as typeof rawServer.write;
    // Larger than the stream's high-water mark (a 100 KB instance in 16 KiB PDUs): one socket write,
    // nothing held by the stream.
    const parts = [randomBytes(12), randomBytes(16372), randomBytes(12), randomBytes(70_000)];
    const expected = Buffer.concat(parts);
    assert.equal(accepted.writeDirect(parts), true);
    assert.equal(serverWrites, 1, 'the whole batch in one socket write');
    assert.equal(accepted.writableLength, 0);
    const got = await readBytes(client, expected.length);
    assert.ok(got.equals(expected));

    // The client stops reading: direct batches go out until the socket is full, then needsDrain
    // holds, direct writes are refused (the caller's stream writes queue behind), and 'drain'
    // comes once the client reads again; every byte arrives in order.
    client.pause();
    const sent: Buffer[] = [];
    let i = 0;
    while (!accepted.needsDrain && i < 1024) {
      const b = Buffer.alloc(256 * 1024, i++ & 0xff);
      assert.equal(accepted.writeDirect([b]), true);
      sent.push(b);
    }
    assert.equal(accepted.needsDrain, true, 'a socket that stops taking bytes shows in needsDrain');
    assert.ok(accepted.socket.writableNeedDrain);
    const tail = Buffer.from('after the backlog');
    assert.equal(accepted.writeDirect([tail]), false, 'refused while the backlog waits');
    accepted.write(tail);
    sent.push(tail);
    const drained = once(accepted, 'drain');
    const all = Buffer.concat(sent);
    const reading = readBytes(client, all.length);
    client.resume();
    await drained;
    assert.equal(accepted.needsDrain, false);
    assert.ok((await reading).equals(all));
  });
});

test('receiveDirect: plaintext goes to the one listener without push while the stream flows empty; paused or with a second listener it is pushed, in order', async () => {
  await withPair(async (client, acceptedP) => {
    const accepted = await acceptedP;
    const got: string[] = [];
    const listener = (chunk: Uint8Array): void => void got.push(Buffer.from(chunk).toString('latin1'));
    accepted.on('data', listener);
    accepted.receiveDirect(listener);
    let pushes = 0;
    const push = accepted.push.bind(accepted);
    accepted.push = ((chunk: unknown) => (chunk !== null && pushes++, push(chunk as Buffer))) as typeof accepted.push;
    const until = async (text: string): Promise<void> => {
      while (got.join('') !== text) await new Promise((r) => setImmediate(r));
    };

    client.write(Buffer.from('one'));
    await until('one');
    client.write(Buffer.from('two'));
    await until('onetwo');
    assert.equal(pushes, 0, 'delivered directly');

    // Paused: pushed into the stream's buffer, delivered on resume, then directly again, in order.
    accepted.pause();
    client.write(Buffer.from('three'));
    while (accepted.readableLength === 0) await new Promise((r) => setImmediate(r));
    assert.equal(got.join(''), 'onetwo');
    assert.ok(pushes > 0);
    accepted.resume();
    client.write(Buffer.from('four'));
    await until('onetwothreefour');

    // A second listener sees everything too: the stream emits, no direct call.
    const second: string[] = [];
    accepted.on('data', (chunk: Buffer) => void second.push(chunk.toString('latin1')));
    const before = pushes;
    client.write(Buffer.from('five'));
    await until('onetwothreefourfive');
    assert.equal(second.join(''), 'five');
    assert.ok(pushes > before);
  });
});
