/**
 * A private Orthanc process per test: free ports, a configuration written into a temp directory
 * (storage + SQLite index there, no plugins), readiness by polling the REST API, and a few REST
 * calls (node's fetch to 127.0.0.1) to drive and inspect it. Never touches the system service.
 *
 * Behaviour of Orthanc 1.10.1 (Debian, DCMTK 3.6.7, OpenSSL 3) found by testing, which shapes this
 * helper:
 * - "DicomTlsEnabled" turns the one DICOM port into TLS only: a plain association is refused
 *   (the server logs "wrong version number"). Plain and TLS need two processes.
 * - The DCMTK BCP 195 profile is used: TLS 1.3, or TLS 1.2 with (EC)DHE-RSA-AES-GCM suites only.
 *   With an ECDSA certificate, TLS 1.2 fails (handshake_failure) and only TLS 1.3 works.
 * - "DicomTlsTrustedCertificates" is loaded as an OpenSSL CA file: a peer is accepted when its
 *   chain ends at a certificate in that file. A CA-issued leaf listed alone is NOT enough (no
 *   partial chains); a self-signed peer certificate listed there works (that is the Book's setup).
 * - "DicomTlsRemoteCertificateRequired": true rejects a peer without a certificate; false accepts
 *   it, but a certificate that is presented is still verified (an unknown CA is still refused).
 * - The same certificate, key and trust file serve Orthanc's SCU side (per-modality "UseDicomTls"),
 *   where the SCP's certificate is verified the same way (an unknown CA makes the echo fail).
 * - As SCP it sends its chain completed from the trust file, and no CA names in CertificateRequest.
 * - A C-MOVE destination is looked up by AE title: two modalities with the same AE title make
 *   Orthanc pick one of them (not necessarily the one just added), so keep AE titles unique.
 * - Start (until /system answers) takes ~0.5 s; SIGTERM shutdown 1.5–3.5 s.
 * - There is no option to bind an address in 1.10.1: the DICOM and HTTP ports listen on all
 *   interfaces; "RemoteAccessAllowed": false limits the REST API to loopback clients.
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The Orthanc binary to run, or undefined: ORTHANC_BIN when set (and only it, so that a wrong
 * value shows as a skip), else `Orthanc` on the PATH, else the Debian location.
 */
export function findOrthanc(): string | undefined {
  const fromEnv = process.env['ORTHANC_BIN'];
  const candidates = fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : ['Orthanc', '/usr/sbin/Orthanc'];
  for (const c of candidates) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** A remote modality as Orthanc's "DicomModalities" entry names it. */
export interface OrthancModality {
  aet: string;
  host?: string;
  port: number;
  /** Orthanc opens its SCU associations to this modality with TLS (new in 1.9.0). */
  useDicomTls?: boolean;
}

export interface OrthancTls {
  /** PEM certificate Orthanc presents (SCP and SCU). */
  certificate: string;
  /** PEM private key of `certificate`, unencrypted. */
  privateKey: string;
  /** PEM file of trusted certificates (the CA roots of the peers, or self-signed peer certs). */
  trustedCertificates: string;
  /** Default true: a peer without a certificate is refused. */
  remoteCertificateRequired?: boolean;
}

export interface OrthancOptions {
  /** Orthanc's own AE title, default 'ORTHANC'. */
  aet?: string;
  /** DICOM TLS on the SCP port; plain DICOM when omitted. */
  tls?: OrthancTls;
  /** "DicomModalities" keyed by the id used in /modalities/{id}. */
  modalities?: Record<string, OrthancModality>;
  /** Merged last into the configuration (for one-off options). */
  extraConfig?: Record<string, unknown>;
  /** Hang guard for /system to answer, default 60 s (a loaded machine starts it slowly). */
  startTimeoutMs?: number;
}

export class OrthancRestError extends Error {
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly body: string) {
    super(`Orthanc ${method} ${path} answered ${status}: ${body.slice(0, 500)}`);
    this.name = 'OrthancRestError';
  }
}

export type QueryLevel = 'Patient' | 'Study' | 'Series' | 'Instance';

/** A running Orthanc; `stop()` kills it and removes its directory. */
export interface OrthancInstance {
  readonly aet: string;
  readonly dicomPort: number;
  readonly httpPort: number;
  readonly dir: string;
  readonly baseUrl: string;
  /** The configuration written for it. */
  readonly config: Readonly<Record<string, unknown>>;
  /** What Orthanc printed so far (the last 256 KiB). */
  log(): string;
  /** A REST call; JSON bodies for objects, raw bytes for Uint8Array; throws OrthancRestError on non-2xx. */
  rest<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** Orthanc ids of every stored instance. */
  instances(): Promise<string[]>;
  /** Stores a Part 10 file through REST; returns its Orthanc id. */
  upload(part10: Uint8Array): Promise<string>;
  /** The stored Part 10 file of an instance. */
  file(instanceId: string): Promise<Buffer>;
  /** Local lookup (/tools/find): Orthanc ids at `level` matching DICOM keys. */
  find(level: QueryLevel, query: Record<string, string>): Promise<string[]>;
  /** Adds or replaces a modality at run time (PUT /modalities/{id}). */
  putModality(id: string, modality: OrthancModality): Promise<void>;
  /** C-ECHO SCU to a modality; true on success (Orthanc answers 500 on failure). */
  echo(id: string): Promise<boolean>;
  /** C-STORE SCU of Orthanc resources (any level) to a modality, synchronously. */
  store(id: string, resources: readonly string[]): Promise<Record<string, unknown>>;
  /** C-FIND SCU to a modality; the answers as Orthanc renders them (tag → value). */
  query(id: string, level: QueryLevel, query: Record<string, string>): Promise<Record<string, unknown>[]>;
  /** C-MOVE SCU: ask modality `id` to send `keys` (at `level`) to `targetAet`, synchronously. */
  move(id: string, level: QueryLevel, keys: Record<string, string>, targetAet: string): Promise<void>;
  stop(): Promise<void>;
}

/** A port nobody listens on now, on every interface (Orthanc binds 0.0.0.0). */
export { freePort };

function modalityEntry(m: OrthancModality): Record<string, unknown> {
  return { AET: m.aet, Host: m.host ?? '127.0.0.1', Port: m.port, UseDicomTls: m.useDicomTls ?? false };
}

function buildConfig(dir: string, dicomPort: number, httpPort: number, options: OrthancOptions): Record<string, unknown> {
  const modalities: Record<string, unknown> = {};
  for (const [id, m] of Object.entries(options.modalities ?? {})) modalities[id] = modalityEntry(m);
  const config: Record<string, unknown> = {
    Name: 'dicom-tls-test',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'index'),
    // An explicit empty list: the Debian package's own configuration loads
    // /usr/share/orthanc/plugins/, and we want none of that.
    Plugins: [],
    DicomAet: options.aet ?? 'ORTHANC',
    DicomPort: dicomPort,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpsVerifyPeers: false,
    DicomModalities: modalities,
    DicomModalitiesInDatabase: false,
    DicomCheckModalityHost: false,
    DicomAlwaysAllowEcho: true,
    DicomAlwaysAllowStore: true,
    // Orthanc keeps its SCU association open 5 s by default waiting for more work; tests want
    // the peer to see the release at once.
    DicomAssociationCloseDelay: 0,
    DicomScuTimeout: 10,
    SaveJobs: false,
    StableAge: 1,
    DicomTlsEnabled: options.tls !== undefined,
  };
  if (options.tls !== undefined) {
    config['DicomTlsCertificate'] = options.tls.certificate;
    config['DicomTlsPrivateKey'] = options.tls.privateKey;
    config['DicomTlsTrustedCertificates'] = options.tls.trustedCertificates;
    config['DicomTlsRemoteCertificateRequired'] = options.tls.remoteCertificateRequired ?? true;
  }
  return { ...config, ...options.extraConfig };
}

const LOG_LIMIT = 256 * 1024;

async function waitReady(baseUrl: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Orthanc exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/system`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        await res.arrayBuffer();
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Orthanc did not answer /system within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function startOnce(binary: string, options: OrthancOptions): Promise<OrthancInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-orthanc-'));
  mkdirSync(join(dir, 'storage'));
  mkdirSync(join(dir, 'index'));
  const dicomPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === dicomPort) httpPort = await freePort();
  const config = buildConfig(dir, dicomPort, httpPort, options);
  const configPath = join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > LOG_LIMIT) output = output.slice(output.length - LOG_LIMIT);
  };
  const child = spawn(binary, [configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);
  // If the test process dies without stop(), the Orthanc child must not outlive it.
  const onExit = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await terminate(child, 5000);
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    await Promise.race([waitReady(baseUrl, child, options.startTimeoutMs ?? 60_000, () => output), spawnError]);
  } catch (err) {
    await stop();
    throw err;
  }

  const rest = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const init: RequestInit = { method };
    if (body instanceof Uint8Array) {
      init.body = body;
      init.headers = { 'content-type': 'application/dicom' };
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const res = await fetch(`${baseUrl}${path}`, init);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (!res.ok) throw new OrthancRestError(method, path, res.status, bytes.toString('utf8'));
    const type = res.headers.get('content-type') ?? '';
    if (type.includes('application/json')) return JSON.parse(bytes.toString('utf8')) as T;
    return bytes as T;
  };

  return {
    aet: String(config['DicomAet']),
    dicomPort,
    httpPort,
    dir,
    baseUrl,
    config,
    log: () => output,
    rest,
    instances: () => rest<string[]>('GET', '/instances'),
    upload: async (part10) => (await rest<{ ID: string }>('POST', '/instances', part10)).ID,
    file: (id) => rest<Buffer>('GET', `/instances/${id}/file`),
    find: (level, query) => rest<string[]>('POST', '/tools/find', { Level: level, Query: query }),
    putModality: async (id, m) => {
      await rest('PUT', `/modalities/${encodeURIComponent(id)}`, modalityEntry(m));
    },
    echo: async (id) => {
      try {
        await rest('POST', `/modalities/${encodeURIComponent(id)}/echo`, {});
        return true;
      } catch (err) {
        if (err instanceof OrthancRestError) return false;
        throw err;
      }
    },
    store: (id, resources) =>
      rest<Record<string, unknown>>('POST', `/modalities/${encodeURIComponent(id)}/store`,
        { Resources: resources, Synchronous: true }),
    query: async (id, level, query) => {
      const q = await rest<{ ID: string }>('POST', `/modalities/${encodeURIComponent(id)}/query`,
        { Level: level, Query: query });
      const answers = await rest<string[]>('GET', `/queries/${q.ID}/answers`);
      const out: Record<string, unknown>[] = [];
      for (const a of answers) out.push(await rest<Record<string, unknown>>('GET', `/queries/${q.ID}/answers/${a}/content?simplify`));
      return out;
    },
    move: async (id, level, keys, targetAet) => {
      await rest('POST', `/modalities/${encodeURIComponent(id)}/move`,
        { Level: level, Resources: [keys], TargetAet: targetAet, Synchronous: true });
    },
    stop,
  };
}

/**
 * Starts Orthanc and waits until its REST API answers. Ports are picked free just before the
 * start; if another process takes one in between, Orthanc exits and we retry with new ports.
 */
export async function startOrthanc(options: OrthancOptions = {}): Promise<OrthancInstance> {
  const binary = findOrthanc();
  if (binary === undefined) throw new Error('Orthanc is not installed');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (err) {
      lastError = err;
      if (!(err instanceof Error) || !/exited/.test(err.message)) throw err;
    }
  }
  throw lastError;
}

/** Files of a small PKI for Orthanc tests (made by `makeOrthancPki`). */
export interface OrthancPki {
  dir: string;
  /** The CA both Orthanc and the peers trust. */
  ca: string;
  orthanc: { cert: string; key: string };
  /** A peer (SCU or SCP) under `ca`. */
  peer: { cert: string; key: string };
  /** A CA nobody trusts, and a peer under it. */
  rogueCa: string;
  roguePeer: { cert: string; key: string };
  /** A self-signed peer certificate (CA:FALSE, serverAuth+clientAuth), issued by nobody. */
  selfSignedPeer: { cert: string; key: string };
}

const EXTENSIONS = `
[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ self_signed_leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
`;

/**
 * Generates, with the `openssl` CLI, a CA, Orthanc's certificate, a peer certificate, a rogue
 * CA + peer and a self-signed peer, into `dir`. Every key is EC P-256 except Orthanc's own, which
 * is RSA 2048 by default: with an ECDSA certificate Orthanc 1.10.1 can only do TLS 1.3 (see the
 * top of this file). Only that one key is RSA because RSA key generation is slow (~1 s each).
 */
export function makeOrthancPki(dir: string, orthancKey: 'rsa' | 'ec' = 'rsa'): OrthancPki {
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ext = join(dir, 'extensions.cnf');
  writeFileSync(ext, EXTENSIONS);
  const newKey = (name: string): string => {
    const key = join(dir, `${name}.key`);
    if (name === 'orthanc' && orthancKey === 'rsa') openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
    else openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    return key;
  };
  const ca = (name: string, subject: string): { cert: string; key: string } => {
    const key = newKey(name);
    const cert = join(dir, `${name}.pem`);
    openssl(['req', '-new', '-x509', '-key', key, '-subj', subject, '-days', '30', '-config', ext,
      '-extensions', 'ca', '-out', cert]);
    return { cert, key };
  };
  const leaf = (name: string, subject: string, issuer: { cert: string; key: string }): { cert: string; key: string } => {
    const key = newKey(name);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
    openssl(['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial',
      `0x1${randomBytes(7).toString('hex')}`,
      '-days', '30', '-extfile', ext, '-extensions', 'leaf', '-out', cert]);
    return { cert, key };
  };
  const selfSigned = (name: string, subject: string): { cert: string; key: string } => {
    const key = newKey(name);
    const cert = join(dir, `${name}.pem`);
    openssl(['req', '-new', '-x509', '-key', key, '-subj', subject, '-days', '30', '-config', ext,
      '-extensions', 'self_signed_leaf', '-out', cert]);
    return { cert, key };
  };
  const root = ca('ca', '/CN=Orthanc Test CA/O=dicom-tls tests');
  const rogue = ca('rogue-ca', '/CN=Rogue CA/O=Nobody');
  return {
    dir,
    ca: root.cert,
    orthanc: leaf('orthanc', '/CN=localhost/O=Orthanc', root),
    peer: leaf('peer', '/CN=localhost/O=Peer', root),
    rogueCa: rogue.cert,
    roguePeer: leaf('rogue-peer', '/CN=localhost/O=Rogue Peer', rogue),
    selfSignedPeer: selfSigned('self-signed-peer', '/CN=localhost/O=Self Signed Peer'),
  };
}
