/**
 * `serve` listens on its ports once, when it serves: the ports are taken (bound) before anything
 * is created, but a connection during start-up is refused, never accepted by a socket that is
 * not the server (a load balancer's TCP check or a tcpSocket probe would count the node up, and
 * a client sent there would wait on a connection nobody serves). Connection attempts racing the
 * start-up are each refused or served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLI, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { DicomClient } from '../../src/ae/client.js';
import { Status } from '../../src/dictionary/status.js';
import { freePort } from '../helpers/free-port.js';

const hook = pathToFileURL(fileURLToPath(new URL('../helpers/listen-log.js', import.meta.url))).href;

/** One plain association attempt: 'refused', 'served' (echo answered Success), or what else happened. */
async function attempt(port: number): Promise<string> {
  try {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'RACER', calledAeTitle: 'DICOM-TLS', timeouts: { connect: 10_000, association: 10_000 } });
    const r = await client.echo();
    await client.release();
    return r.status === Status.Success ? 'served' : `echo status ${r.status}`;
  } catch (e) {
    const code = (e as { cause?: { code?: string }; code?: string }).cause?.code ?? (e as { code?: string }).code;
    return code === 'ECONNREFUSED' ? 'refused' : `failed: ${(e as Error).message} (${String(code)})`;
  }
}

test('serve: each port listened on once, by the server; connections racing the start-up are refused or served', async () => {
  const tmp = tempDir('cli-start-listen-');
  const [port, plainPort] = [await freePort(), await freePort()];
  const log = join(tmp.dir, 'listens');
  const outcomes: string[] = [];
  let stop = false;
  // Attempts from before the process starts until one is served.
  const racer = (async () => {
    while (!stop) {
      const r = await attempt(plainPort);
      outcomes.push(r);
      if (r === 'served') return;
    }
  })();
  const p = spawnServe(['--host', '127.0.0.1', '--port', String(port), '--plain-port', String(plainPort), '--data', join(tmp.dir, 'data')],
    { cwd: tmp.dir, env: { LISTEN_LOG: log }, command: [process.execPath, '--import', hook, CLI, 'serve'] });
  try {
    await listening(p);
    await racer;
    assert.ok(existsSync(log), p.output());
    const listens = readFileSync(log, 'utf8').trim().split('\n').map(Number);
    assert.deepEqual(listens.filter((n) => n === port), [port], `the TLS port listened on more than once: ${listens.join(', ')}`);
    assert.deepEqual(listens.filter((n) => n === plainPort), [plainPort], `the plain port listened on more than once: ${listens.join(', ')}`);
    assert.deepEqual(outcomes.filter((o) => o !== 'refused' && o !== 'served'), [], p.output());
    assert.equal(outcomes.at(-1), 'served');
  } finally {
    stop = true;
    await racer.catch(() => undefined);
    await p.kill();
    tmp.cleanup();
  }
});
