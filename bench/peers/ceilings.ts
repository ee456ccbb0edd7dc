/**
 * Ceilings with no DICOM in them: what the TLS layer alone can do on this machine.
 * - Node's own `tls` over loopback, sink in a child process, mutual auth, TLS 1.3;
 * - `openssl speed -evp aes-128-gcm` / `aes-256-gcm` (16 KiB blocks, the TLS record size);
 * - `openssl s_time`: full mutual-auth TLS 1.3 handshakes per second against `openssl s_server`;
 * - the file system's floor for a durable store with a one-at-a-time peer (`durableFloor`).
 */
import { spawn } from 'node:child_process';
import { removeAtEnd, scratchDirSync } from '../lib/scratch.js';
import { closeSync, fdatasyncSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { captureTail, freePort, run, stopChild, waitForPort } from '../lib/proc.js';
import type { Measurement, TlsFiles } from '../lib/types.js';

const sinkScript = fileURLToPath(new URL('./tls-sink.js', import.meta.url));

export async function nodeTlsThroughput(tls: TlsFiles, totalBytes: number): Promise<Measurement> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [sinkScript, JSON.stringify({ port, key: tls.serverKey, cert: tls.serverCert, ca: tls.caCert })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tail = captureTail(child);
  try {
    await waitForPort(port, child).catch((e: Error) => {
      throw new Error(`${e.message}\n${tail()}`);
    });
    const socket = connect({
      host: '127.0.0.1',
      port,
      key: readFileSync(tls.clientKey),
      cert: readFileSync(tls.clientCert),
      ca: readFileSync(tls.caCert),
      servername: 'localhost',
      minVersion: 'TLSv1.3',
    });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    // Timed from after the handshake: this is the bulk-transfer ceiling.
    const chunk = Buffer.alloc(256 * 1024, 0x5a);
    const start = process.hrtime.bigint();
    const reply: Buffer[] = [];
    socket.on('data', (d: Buffer) => reply.push(d));
    const closed = new Promise<void>((resolve, reject) => {
      socket.once('end', resolve);
      socket.once('error', reject);
    });
    let sent = 0;
    while (sent < totalBytes) {
      const n = Math.min(chunk.length, totalBytes - sent);
      sent += n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        await new Promise((resolve) => socket.once('drain', resolve));
      }
    }
    socket.end();
    await closed;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const received = Number(Buffer.concat(reply).readBigUInt64BE(0));
    if (received !== totalBytes) throw new Error(`sink received ${received} of ${totalBytes} bytes`);
    return { seconds, bytes: totalBytes, instances: 0 };
  } finally {
    await stopChild(child);
  }
}

/** AEAD bulk speed of libcrypto on one core; parsed from `openssl speed -mr`. */
export async function opensslSpeed(cipher: 'aes-128-gcm' | 'aes-256-gcm', seconds: number): Promise<Measurement> {
  const { stdout, stderr } = await run('openssl', ['speed', '-mr', '-evp', cipher, '-seconds', String(seconds), '-bytes', '16384']);
  // "+R:<count>:<algorithm>:<seconds>": count blocks of 16384 bytes in that many seconds.
  const match = /^\+R:(\d+):[^:]+:([\d.]+)$/m.exec(stderr + stdout);
  if (match === null) throw new Error(`cannot parse openssl speed output:\n${stdout}`);
  return { seconds: Number(match[2]), bytes: Number(match[1]) * 16384, instances: 0 };
}

/** Full (no resumption) mutual-auth TLS 1.3 handshakes against `openssl s_server`; instances = handshakes. */
export async function opensslSTime(tls: TlsFiles, seconds: number): Promise<Measurement> {
  const port = await freePort();
  const server = spawn(
    'openssl',
    ['s_server', '-quiet', '-accept', String(port), '-cert', tls.serverCert, '-key', tls.serverKey,
      '-CAfile', tls.caCert, '-Verify', '1', '-tls1_3', '-naccept', '1000000'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const tail = captureTail(server);
  try {
    await waitForPort(port, server).catch((e: Error) => {
      throw new Error(`${e.message}\n${tail()}`);
    });
    const { stdout, seconds: wall } = await run('openssl', [
      's_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds),
      '-cert', tls.clientCert, '-key', tls.clientKey, '-CAfile', tls.caCert,
    ]);
    // "<n> connections in <t> real seconds, ...": s_time counts in whole seconds, so the count is
    // divided by our own wall clock around the command instead.
    const match = /(\d+) connections in ([\d.]+) real seconds/.exec(stdout);
    if (match === null) throw new Error(`cannot parse openssl s_time output:\n${stdout.slice(-1000)}`);
    return { seconds: wall, bytes: 0, instances: Number(match[1]) };
  } finally {
    server.stdin?.end();
    await stopChild(server);
  }
}

/**
 * The least a store that keeps its promise on power loss must do per instance when the peer sends
 * one C-STORE at a time (DCMTK storescu, and any SCU without an Asynchronous Operations Window):
 * create a temporary file, write the instance, flush it, rename it into place, then append a
 * small index record and flush that too, before the next instance can arrive. No DICOM, no
 * JavaScript work beyond the system calls, in the same file system as the SCPs' stores. `flushes`
 * 0 is the same without any flush: what `storescp` pays (it never flushes).
 */
export function durableFloor(files: readonly string[], flushes: 0 | 1 | 2): Measurement {
  const dir = scratchDirSync('floor-');
  try {
    const log = openSync(join(dir, 'index.log'), 'a');
    const record = Buffer.alloc(4096, 0x20);
    const data = files.map((f) => readFileSync(f));
    const start = process.hrtime.bigint();
    let bytes = 0;
    data.forEach((bufferOf, i) => {
      const temp = join(dir, `${i}.part`);
      const fd = openSync(temp, 'wx');
      writeSync(fd, bufferOf);
      if (flushes > 0) fsyncSync(fd);
      closeSync(fd);
      renameSync(temp, join(dir, `${i}.dcm`));
      writeSync(log, record);
      if (flushes > 1) fdatasyncSync(log);
      bytes += bufferOf.length;
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    closeSync(log);
    return { seconds, bytes, instances: data.length };
  } finally {
    removeAtEnd(dir);
  }
}
