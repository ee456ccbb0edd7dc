/**
 * Engine-test fixtures: a small certificate set made with the `openssl` CLI at test time, and
 * `openssl s_server` / `s_client` processes. (The full scenario PKI lives in test/helpers/pki.ts;
 * this is just what the engine tests need.)
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { SecureContext, VerifyMode } from '../../../src/transport/tls/context.js';
import { createSecureServer } from '../../../src/transport/tls/server.js';
import { SecureSocket } from '../../../src/transport/tls/socket.js';

export interface EngineCerts {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string; serverKey: string;
  clientCert: string; clientKey: string;
  /** Leaf whose only EKU is emailProtection (the seeds' INVALID_PURPOSE example). */
  emailCert: string; emailKey: string;
  /** The client key encrypted (PKCS#8, AES-256) with password "secret". */
  encryptedKey: string;
  /** Second CA (CA-B) and a client certificate it issued. */
  caBCert: string; clientBCert: string; clientBKey: string;
  cleanup(): void;
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string, cn: string): void {
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${cn}/O=dicom-tls tests`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): void {
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '30', '-extfile', `${name}.ext`], dir);
}

export function makeEngineCerts(): EngineCerts {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-engine-'));
  makeCa(dir, 'ca', 'Engine Test CA');
  makeCa(dir, 'cab', 'CA-B');
  const both = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n';
  makeLeaf(dir, 'ca', 'server', 'localhost', `${both}extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n`);
  makeLeaf(dir, 'ca', 'client', 'Test Client', `${both}extendedKeyUsage=clientAuth\n`);
  makeLeaf(dir, 'ca', 'email', 'Email Only', `${both}extendedKeyUsage=emailProtection\nsubjectAltName=DNS:localhost\n`);
  makeLeaf(dir, 'cab', 'clientb', 'Client of B', `${both}extendedKeyUsage=clientAuth\n`);
  ossl(['pkcs8', '-topk8', '-in', 'client.key', '-out', 'client-enc.key', '-v2', 'aes-256-cbc', '-passout', 'pass:secret'], dir);
  const p = (f: string): string => join(dir, f);
  return {
    dir, caCert: p('ca.pem'), caKey: p('ca.key'),
    serverCert: p('server.pem'), serverKey: p('server.key'),
    clientCert: p('client.pem'), clientKey: p('client.key'),
    emailCert: p('email.pem'), emailKey: p('email.key'),
    encryptedKey: p('client-enc.key'),
    caBCert: p('cab.pem'), clientBCert: p('clientb.pem'), clientBKey: p('clientb.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Counts every write made on `socket` from now on: the record flights an engine sends. */
export function countWrites(socket: net.Socket): () => number {
  let writes = 0;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => (writes++, write(...args))) as typeof socket.write;
  return () => writes;
}

export interface SecurePair {
  /** Our client engine on a connected TCP socket, its handshake not started. */
  readonly client: SecureSocket;
  /** The server's end, once its handshake is done. */
  readonly accepted: Promise<SecureSocket>;
  /** Writes on the client's TCP socket, from the ClientHello on. */
  readonly clientWrites: () => number;
  /** Destroys the client, closes the server and disposes of both contexts. */
  close(): Promise<void>;
}

/**
 * A client SecureSocket connected over 127.0.0.1 to createSecureServer with the engine
 * certificates: the server asks for no client certificate, the client resumes no session, both
 * ends allow half-open. `onConnection` sees each server-side socket as it connects.
 */
export async function openSecurePair(c: EngineCerts, o: { onConnection?: (secure: SecureSocket) => void } = {}): Promise<SecurePair> {
  const sctx = new SecureContext({ role: 'server', identity: { cert: c.serverCert, key: c.serverKey }, verifyMode: VerifyMode.None });
  const cctx = new SecureContext({ role: 'client', ca: [c.caCert], sessionResumption: false });
  const server = createSecureServer(sctx, undefined, { allowHalfOpen: true });
  if (o.onConnection !== undefined) server.on('connection', o.onConnection);
  const { port } = await server.listen(0, '127.0.0.1');
  const accepted = once(server, 'secureConnection').then(([s]) => s as SecureSocket);
  void accepted.catch(() => undefined); // awaited by the tests that want it, not by all
  const raw = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(raw, 'connect');
  const clientWrites = countWrites(raw);
  const client = new SecureSocket(raw, cctx, { servername: 'localhost' });
  return {
    client, accepted, clientWrites,
    close: async () => {
      client.destroy();
      await server.close();
      cctx.dispose();
      sctx.dispose();
    },
  };
}

/** openSecurePair with the handshake done before `fn`, closed after it. */
export async function withSecurePair(c: EngineCerts, fn: (pair: SecurePair) => Promise<void>): Promise<void> {
  const pair = await openSecurePair(c);
  try {
    await pair.client.handshake();
    await fn(pair);
  } finally {
    await pair.close();
  }
}

export interface OpensslProcess {
  proc: ChildProcessWithoutNullStreams;
  output(): string;
  waitFor(re: RegExp): Promise<string>;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/** Spawn `openssl <args>` with stdin kept open as a pipe. */
export function spawnOpenssl(args: string[]): OpensslProcess {
  const proc = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { re: RegExp; resolve: (s: string) => void }[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString('latin1');
    for (const w of [...waiters]) {
      if (w.re.test(out)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(out); }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  // 'close', not 'exit': the output pipes may still hold data when the process has exited, and
  // whoever awaits `exited` (waitFor's failure, a test reading output()) must see all of it.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    waitFor: (re) => new Promise<string>((resolve, reject) => {
      if (re.test(out)) { resolve(out); return; }
      waiters.push({ re, resolve });
      void exited.then(() => { if (!re.test(out)) reject(new Error(`openssl exited before ${re}; output:\n${out}`)); });
    }),
    exited,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Start `openssl s_server` and wait until it accepts. */
export async function startSServer(args: string[]): Promise<{ port: number; server: OpensslProcess }> {
  // Port 0: s_server binds a port of the kernel's choosing and prints it, so no port is picked
  // first and bound later (another process could take it in between).
  const server = spawnOpenssl(['s_server', '-accept', '127.0.0.1:0', '-naccept', '1', ...args]);
  const out = await server.waitFor(/ACCEPT 127\.0\.0\.1:\d+/);
  return { port: Number(/ACCEPT 127\.0\.0\.1:(\d+)/.exec(out)![1]), server };
}
