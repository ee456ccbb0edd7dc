/**
 * The live fuzzer: grammar-aware and byte-level mutations of whole conversations (A-ASSOCIATE-RQ,
 * P-DATA-TF with command sets, data sets and identifiers, user identity, A-RELEASE-RQ) sent to a
 * real server in a child process (test/fuzz/live-server-child.ts: `serve`'s StorageServer, plain
 * and TLS), plus mutated TLS record streams. Asserted: 0 crashes (the process stays up and, after
 * every batch, answers a C-ECHO on a fresh association, plain and TLS), 0 hangs (every case ends
 * in a response, a reject, an abort or a closed connection within a generous guard), and 0
 * associations aborted by the last-resort guard (an escaped exception is a defect too).
 *
 * Bounded by count, not time: FUZZ_RUNS scales the number of cases (default 1), FUZZ_SEED fixes
 * the seed (default: a fixed one, so CI is reproducible; a failure prints its seed and path).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { DicomClient } from '../../src/ae/client.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { Status } from '../../src/dictionary/status.js';
import { scenarioPki } from '../helpers/pki.js';
import { tempDir } from '../helpers/dicom-data.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { interposed } from '../helpers/interposed-socket.js';
import { applyAttack, attack, seedConversations, type Conversation } from './grammar.js';
import { corpus } from './corpus/reproducers.js';

const SCALE = Number(process.env['FUZZ_RUNS'] ?? '1');
const SEED = Number(process.env['FUZZ_SEED'] ?? '20261206');
/** A hang guard only: a case normally ends in milliseconds. */
const CASE_GUARD_MS = 15_000;
const BATCH = 100;

interface Server {
  readonly child: ChildProcess;
  readonly plain: number;
  readonly tls: number;
  readonly failed: string[];
  exited: string | undefined;
}

let server: Server;
let removeDirs: () => Promise<void>;
const pki = scenarioPki();
const clientTls = (): tls.ConnectionOptions => ({
  cert: readFileSync(pki.valid.cert),
  key: readFileSync(pki.valid.key),
  ca: readFileSync(pki.root.cert),
  rejectUnauthorized: false,
});

before(async () => {
  const a = await tempDir('fuzz-plain-');
  const b = await tempDir('fuzz-tls-');
  removeDirs = async () => {
    await a.remove();
    await b.remove();
  };
  const script = new URL('./live-server-child.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [script, JSON.stringify({ plainRoot: join(a.dir, 's'), tlsRoot: join(b.dir, 's'), tls: { cert: pki.valid.cert, key: pki.valid.key, ca: pki.root.cert } })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const failed: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (process.env['FUZZ_DEBUG']) process.stderr.write(c);
  });
  const ports = await new Promise<{ plain: number; tls: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as Record<string, unknown>;
      if (typeof m['plain'] === 'number') resolve(m as { plain: number; tls: number });
      else if (m['failed'] !== undefined) failed.push(l);
    });
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}: ${stderr}`)));
  });
  server = { child, ...ports, failed, exited: undefined };
  child.once('exit', (code, signal) => (server.exited = `exit ${code} ${signal ?? ''}\n${stderr}`));
});

after(async () => {
  if (process.env['FUZZ_DEBUG']) for (const x of slow.slice(0, 5)) console.log(x.ms, Buffer.from(x.conv.rq).toString('hex').slice(0, 400), x.conv.then.map((b) => Buffer.from(b).toString('hex').slice(0, 200)));
  if (server?.exited === undefined) {
    server.child.kill('SIGTERM');
    const t = setTimeout(() => server.child.kill('SIGKILL'), 3000);
    await once(server.child, 'exit');
    clearTimeout(t);
  }
  await removeDirs?.();
});

type Outcome = 'response' | 'reject' | 'abort' | 'release' | 'closed';

/** Connect: plain TCP, or TLS with a trusted client certificate. */
async function connect(useTls: boolean, wrap?: (raw: net.Socket) => Duplex): Promise<net.Socket> {
  if (!useTls) {
    const s = net.connect(server.plain, '127.0.0.1');
    await once(s, 'connect');
    return s;
  }
  const raw = net.connect(server.tls, '127.0.0.1');
  await once(raw, 'connect');
  const s = tls.connect({ ...clientTls(), socket: (wrap?.(raw) ?? raw) as net.Socket });
  await Promise.race([once(s, 'secureConnect'), once(s, 'close')]);
  return s;
}

/** Write `bytes` in pieces (cut points from `cut`) so the server's framing sees every split. */
function writeChunked(s: net.Socket, bytes: Uint8Array, cut: number): void {
  if (cut <= 0 || bytes.length < 2) {
    s.write(bytes);
    return;
  }
  const at = 1 + (cut % (bytes.length - 1));
  s.write(bytes.subarray(0, at));
  s.write(bytes.subarray(at));
}

function endsOnPduBoundary(b: Uint8Array): boolean {
  let at = 0;
  while (at + 6 <= b.length) at += 6 + new DataView(b.buffer, b.byteOffset + at).getUint32(2);
  return b.length > 0 && at === b.length;
}

/** One case: the RQ, then (after an AC) the rest, then our FIN; ends when the server has closed. */
export const slow: { ms: number; conv: Conversation }[] = [];
async function runCase(conv: Conversation, useTls: boolean, cut: number): Promise<Outcome> {
  const t0 = Date.now();
  try {
    return await runCaseInner(conv, useTls, cut);
  } finally {
    if (process.env['FUZZ_DEBUG'] && Date.now() - t0 > 200) slow.push({ ms: Date.now() - t0, conv });
  }
}
async function runCaseInner(conv: Conversation, useTls: boolean, cut: number): Promise<Outcome> {
  const socket = await connect(useTls);
  const peer = new ScriptedPeer(socket);
  let outcome: Outcome = 'closed';
  const see = (type: number | undefined): void => {
    if (type === 0x03) outcome = 'reject';
    else if (type === 0x07) outcome = 'abort';
    else if (type === 0x06) outcome = 'release';
    else if (type === 0x04 && outcome === 'closed') outcome = 'response';
  };
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), CASE_GUARD_MS)));
  const run = (async (): Promise<Outcome> => {
    if (socket.destroyed) return 'closed';
    writeChunked(socket, conv.rq, cut);
    // An RQ that is empty or does not end on a PDU boundary leaves the server waiting for bytes
    // that never come (until ARTIM): say so at once with our FIN, so that every case is quick.
    if (!endsOnPduBoundary(conv.rq)) socket.end();
    const first = await peer.nextPdu();
    see(first?.[0]);
    if (first?.[0] === 0x02) for (const p of conv.then) writeChunked(socket, p, cut);
    // Our FIN: whatever is incomplete now never will be, and the server must let go.
    socket.end();
    for (let p = await peer.nextPdu(); p !== undefined; p = await peer.nextPdu()) see(p[0]);
    await peer.closed;
    return outcome;
  })();
  try {
    const r = await Promise.race([run, guard]);
    if (r === 'hang') throw new Error(`hang: no end within ${CASE_GUARD_MS} ms (${useTls ? 'TLS' : 'plain'})`);
    return r;
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

const quick = { connect: 10_000, association: 10_000, dimse: 10_000 };

/** The server is up and answers a C-ECHO on a fresh association, plain and TLS. */
async function assertAlive(after: string): Promise<void> {
  assert.equal(server.exited, undefined, `server process died after ${after}: ${server.exited}`);
  const plain = await DicomClient.associate({ host: '127.0.0.1', port: server.plain, callingAeTitle: 'LIVENESS', calledAeTitle: 'FUZZ-SCP', timeouts: quick });
  assert.equal((await plain.echo()).status, Status.Success, `plain C-ECHO after ${after}`);
  await plain.release();
  const secure = await DicomClient.associate({
    host: '127.0.0.1',
    port: server.tls,
    callingAeTitle: 'LIVENESS',
    calledAeTitle: 'FUZZ-SCP',
    tls: new SecureContext({ role: 'client', identity: { cert: pki.valid.cert, key: pki.valid.key }, ca: [pki.root.cert] }),
    timeouts: quick,
  });
  assert.equal((await secure.echo()).status, Status.Success, `TLS C-ECHO after ${after}`);
  await secure.release();
  assert.deepEqual(server.failed, [], 'associations aborted by the last-resort guard');
}

/** Run `n` property cases in batches, checking liveness after each batch. */
async function fuzz(name: string, n: number, arb: fc.Arbitrary<() => Promise<Outcome>>): Promise<Map<Outcome, number>> {
  const seen = new Map<Outcome, number>();
  let done = 0;
  for (let batch = 0; done < n; batch++) {
    const runs = Math.min(BATCH, n - done);
    try {
      await fc.assert(
        fc.asyncProperty(arb, async (run) => {
          const o = await run();
          seen.set(o, (seen.get(o) ?? 0) + 1);
        }),
        { numRuns: runs, seed: SEED + batch, endOnFailure: true },
      );
    } catch (e) {
      // A case that failed because the server died says so, with the server's last words.
      if (server.exited !== undefined) assert.fail(`server process died during ${name} (seed ${SEED + batch}): ${server.exited}\n${String(e)}`);
      throw e;
    }
    done += runs;
    await assertAlive(`${name}, ${done} cases`);
  }
  return seen;
}

test('live fuzz: the seed corpus and the kept reproducers, plain and TLS, each end in an answer', async () => {
  for (const [i, conv] of [...seedConversations(), ...corpus].entries()) {
    for (const useTls of [false, true]) {
      const o = await runCase(conv, useTls, 0);
      assert.ok(['release', 'reject', 'abort', 'closed', 'response'].includes(o), `case ${i}: ${o}`);
    }
  }
  // The seeds are the good path: each is released, not aborted.
  for (const conv of seedConversations()) assert.equal(await runCase(conv, false, 0), 'release');
  await assertAlive('the corpus');
});

test('live fuzz: grammar and byte mutations of conversations on the plain port', async () => {
  const seeds = seedConversations();
  const seen = await fuzz(
    'plain conversations',
    10000 * SCALE,
    fc.tuple(fc.nat(seeds.length - 1), attack, fc.nat(5000)).map(([s, a, cut]) => () => runCase(applyAttack(seeds[s]!, a), false, cut)),
  );
  if (process.env['FUZZ_DEBUG']) console.log(JSON.stringify([...seen]));
  // Mutations reach past negotiation: some cases are answered, some aborted.
  assert.ok((seen.get('release') ?? 0) > 0 && (seen.get('abort') ?? 0) > 0, JSON.stringify([...seen]));
});

test('live fuzz: the same over TLS (PDUs inside records)', async () => {
  const seeds = seedConversations();
  const seen = await fuzz(
    'TLS conversations',
    1500 * SCALE,
    fc.tuple(fc.nat(seeds.length - 1), attack, fc.nat(5000)).map(([s, a, cut]) => () => runCase(applyAttack(seeds[s]!, a), true, cut)),
  );
  // The handshakes succeed and the conversations run inside them.
  assert.ok((seen.get('release') ?? 0) > 0 && (seen.get('abort') ?? 0) > 0, JSON.stringify([...seen]));
});

/** A duplex between the TLS client and its socket that corrupts the client's outgoing bytes. */
function corrupting(raw: net.Socket, writes: readonly (readonly [offset: number, value: number])[], truncateAt: number | undefined): Duplex {
  let sent = 0;
  return interposed(raw, (chunk) => {
    const b = Buffer.from(chunk);
    let corrupted = false;
    for (const [off, v] of writes) {
      if (off >= sent && off < sent + b.length) {
        b[off - sent] = v;
        corrupted = true;
      }
    }
    let out = b;
    if (truncateAt !== undefined && sent + b.length > truncateAt) out = b.subarray(0, Math.max(0, truncateAt - sent));
    // A corrupted ClientHello may announce more than it holds: the server would wait for the
    // rest until its handshake timeout while the client waits for an answer. Our FIN ends that.
    const firstFlight = sent === 0;
    sent += b.length;
    if (out.length > 0 && !raw.destroyed) raw.write(out);
    if ((truncateAt !== undefined && sent >= truncateAt) || (corrupted && firstFlight)) raw.end();
  });
}

test('live fuzz: corrupted and truncated TLS record streams (handshake and application data)', async () => {
  const seeds = seedConversations();
  await fuzz(
    'TLS records',
    1500 * SCALE,
    fc
      .tuple(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(3000), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.option(fc.nat(3000), { nil: undefined }))
      .map(([s, writes, truncateAt]) => async (): Promise<Outcome> => {
        const raw = net.connect(server.tls, '127.0.0.1');
        await once(raw, 'connect');
        const socket = tls.connect({ ...clientTls(), socket: corrupting(raw, writes, truncateAt) as unknown as net.Socket });
        socket.on('error', () => undefined);
        // A client whose own side failed (its handshake corrupted too) leaves, as a real one does.
        socket.once('close', () => raw.end());
        let timer: NodeJS.Timeout | undefined;
        const done = new Promise<void>((resolve) => {
          raw.once('close', () => resolve());
          timer = setTimeout(() => resolve(), CASE_GUARD_MS);
        });
        socket.once('secureConnect', () => {
          const conv = seeds[s]!;
          socket.write(conv.rq);
          for (const p of conv.then) socket.write(p);
          socket.end();
        });
        const t0 = Date.now();
        await done;
        clearTimeout(timer);
        if (process.env['FUZZ_DEBUG'] && Date.now() - t0 > 1000) console.log('slow TLS case', Date.now() - t0, JSON.stringify({ s, writes, truncateAt }));
        const hung = !raw.destroyed && raw.readyState !== 'closed';
        socket.destroy();
        raw.destroy();
        if (hung) throw new Error(`hang: the TLS server kept a corrupted connection open for ${CASE_GUARD_MS} ms`);
        return 'closed';
      }),
  );
});
