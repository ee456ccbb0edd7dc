/**
 * A start-up warm-up of the store path: loopback associations that store synthetic instances
 * into a scratch StorageServer, so that V8 has compiled and optimised the code every received
 * instance runs (upper layer, DIMSE assembly, FileStore, index, TLS records) before the first
 * peer arrives.
 *
 * V8 compiles a function when it is first called and optimises it only after some hundreds of
 * calls (Maglev after ~400); the functions of the per-instance path run one to three times per
 * instance, so a freshly started process stores its first several hundred instances in the lower
 * tiers, at about three times the CPU of a process that has run a while (bench/RESULTS.md, "A
 * fresh SCP's warm-up"). No cache carries that across processes: Node's code cache holds
 * bytecode only. A long-running server can pay it once, before it listens, instead of on the
 * first study a modality sends.
 *
 * The scratch servers are separate objects with their own scratch directory, index and (for the
 * TLS half) a throwaway CA and certificates made in memory: nothing of the caller's store, index,
 * trust or session cache is touched. The requesting side runs in a child process
 * (warm-up-peer.ts), as a real peer would: its memory stays out of this one. The associations
 * publish on the diagnostics channels like any (AE titles WARM-UP-<8 random hex digits>): call this before
 * subscribing, as `serve` does.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from '../../errors.js';
import type { FsyncPolicy } from '../../store/file-store.js';
import { SecureContext } from '../../transport/tls/context.js';
import { createCertificateAuthority, createNodeCertificate } from '../../transport/tls/pki.js';
import { StorageServer } from './storage-server.js';
import type { WarmUpJob } from './warm-up-peer.js';

export interface WarmUpOptions {
  /** Instances to store (default 800), spread over eight associations (of at most 100 each). */
  readonly instances?: number;
  /** Over TLS as well as plain TCP (default true): the record layer's code is warmed too. */
  readonly tls?: boolean;
  /** The scratch store's fsync policy (default 'file', the FileStore's default): warm the path the server will run. */
  readonly fsync?: FsyncPolicy;
  /** Where the scratch directory is made (default the OS temporary directory); removed afterwards. */
  readonly directory?: string;
  /**
   * Ends the warm-up early (a stop asked for while it runs): the peer is killed, the scratch
   * servers closed and the directory removed, and the warm-up rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

export interface WarmUpReport {
  readonly instances: number;
  readonly associations: number;
  /** Wall time of the whole warm-up, ms. */
  readonly ms: number;
}

const WARM_UP_AE = 'WARM-UP';
/** A small instance (64 KiB of pixels): its data set spans socket reads and TLS records as a CT or MR slice's does; larger ones only raised the server's peak memory. */
const PIXEL_BYTES = 256 * 256;
/** Associations per cycle of the four kinds (TLS or plain, one at a time or windowed), twice over. */
const ASSOCIATIONS = 8;
const MAX_PER_ASSOCIATION = 100;
/** The scratch directory's name: the process id lets a later warm-up remove what a killed one left. */
const SCRATCH_PREFIX = '.dicom-tls-warm-up-';

/** This process's warm-ups under way: their scratch directories, never stale. */
const active = new Set<string>();

/**
 * Remove scratch directories of warm-ups whose process is gone (killed before its clean-up). One
 * named with this process's own id and not under way is stale too: a process before this one had
 * the same id (a container's PID 1 restarted over a kept temporary directory). Only directories
 * this user made: the temporary directory is shared, and one another user planted under our
 * prefix is theirs (emptying a directory someone else can change under us could be steered into
 * another).
 */
async function removeStale(directory: string): Promise<void> {
  const names = await readdir(directory).catch(() => [] as string[]);
  const uid = process.getuid?.();
  for (const name of names) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(SCRATCH_PREFIX.length))?.[1]);
    const path = join(directory, name);
    if (!Number.isInteger(pid) || pid <= 0 || active.has(path) || (pid !== process.pid && alive(pid))) continue;
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || !st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, and belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A throwaway CA, server identity and client identity (PEM for the peer), for the TLS half. */
function throwawayIdentities(): { server: SecureContext; client: NonNullable<WarmUpJob['tls']> } {
  const ca = createCertificateAuthority({ subject: [['CN', 'dicom-tls warm-up CA']], days: 1 });
  const server = createNodeCertificate(ca, { commonName: 'localhost', ipAddresses: ['127.0.0.1'], days: 1 });
  const client = createNodeCertificate(ca, { commonName: WARM_UP_AE, days: 1 });
  return {
    server: new SecureContext({ role: 'server', identity: { cert: Buffer.from(server.certPem), key: Buffer.from(server.keyPem) }, ca: [Buffer.from(ca.certPem)] }),
    client: { certPem: client.certPem, keyPem: client.keyPem, caPem: ca.certPem },
  };
}

/**
 * The peer's script: beside this file in the library's own files; from the bundled CLI, found
 * through the package's entry (dist/src/index.js).
 */
function peerScript(): string {
  const here = fileURLToPath(new URL('./warm-up-peer.js', import.meta.url));
  if (existsSync(here)) return here;
  return join(dirname(createRequire(import.meta.url).resolve('dicom-tls')), 'services', 'scp', 'warm-up-peer.js');
}

/**
 * A scratch server opened, closed and removed before the traffic. A server's first close and a
 * recursive remove make Node load and set up what it does lazily (its file-system removal and
 * stat code), which changes prototype chains and global property cells that optimised code
 * depends on: at the end of the warm-up, that threw away much of what the traffic had compiled
 * (`--trace-deopt`: ~60 per-instance functions marked for optimisation again during the first
 * real association; ~10 ms more SCP CPU over its 200 instances).
 */
async function primeLifecycle(root: string, fsync: FsyncPolicy): Promise<void> {
  const server = await StorageServer.create({ aeTitle: WARM_UP_AE, storeRoot: root, fsync, limits: { idleTimeout: 0 } });
  try {
    await server.listen(0, '127.0.0.1');
  } finally {
    await server.close({ timeout: 1000 });
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * The peer's young generation at 1 MB a semi-space instead of V8's 16: the peer allocates a
 * PDU's worth at a time and keeps little, so its scavenges stay cheap, and its peak RSS (counted
 * with the server's against a container's memory limit) is ~21 MB lower (104 -> 83 MB).
 */
const PEER_NODE_OPTIONS = ['--max-semi-space-size=1'];

/**
 * Bounds the whole peer run, so that a warm-up that hangs does not hold the start for ever: a
 * minute, and 20 ms per instance (~8 times what one takes on a busy two-core machine).
 */
const peerTimeoutMs = (instances: number): number => 60_000 + 20 * instances;

/**
 * Run the peer with its job: resolves when it stored everything, rejects with its reason
 * otherwise, or with the abort's reason once `abort` fires (the peer is killed first).
 */
function runPeer(job: WarmUpJob, abort: AbortSignal | undefined): Promise<void> {
  // A single executable application's execPath is the application, not Node: it would start itself.
  if (process.getBuiltinModule('node:sea')?.isSea() === true) return Promise.reject(new Error('the warm-up needs a Node executable to run its peer; a single executable application has none'));
  return new Promise((resolve, reject) => {
    // A process group of its own: a Ctrl-C in the terminal reaches this process, which ends the
    // peer (on Windows, detached would give it a console window of its own).
    const child = spawn(process.execPath, [...PEER_NODE_OPTIONS, peerScript()], { stdio: ['pipe', 'ignore', 'pipe'], detached: process.platform !== 'win32', windowsHide: true });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => void (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), peerTimeoutMs(job.associations.reduce((n, a) => n + a.count, 0)));
    const onAbort = (): void => void child.kill('SIGKILL');
    abort?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
      reject(new Error(`the warm-up's peer could not start: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
      if (abort?.aborted === true) reject(abort.reason as Error);
      else if (code === 0) resolve();
      else reject(new Error(`the warm-up's peer failed (${signal ?? `exit ${String(code)}`}): ${stderr.trim() || 'no reason given'}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(job));
  });
}

function checkCount(value: number | undefined): number {
  if (value === undefined) return 800;
  if (!Number.isInteger(value) || value < 0) throw new InvalidOptionError('instances', `must be a whole number ≥ 0, got ${String(value)}`);
  return value;
}

/**
 * Store `instances` synthetic instances through loopback associations into a scratch
 * StorageServer, half of them one at a time (as DCMTK's storescu sends) and half with an
 * Asynchronous Operations Window of 16, over TLS and plain TCP in turn; then remove everything.
 * Rejects if an instance is not stored with Success (the store path itself is broken).
 */
export async function warmUpStoragePath(options: WarmUpOptions = {}): Promise<WarmUpReport> {
  const total = checkCount(options.instances);
  const start = performance.now();
  if (total === 0) return { instances: 0, associations: 0, ms: 0 };
  const directory = options.directory ?? tmpdir();
  options.signal?.throwIfAborted();
  await removeStale(directory);
  const scratch = await mkdtemp(join(directory, `${SCRATCH_PREFIX}${process.pid}-`));
  active.add(scratch);
  let identities: ReturnType<typeof throwawayIdentities> | undefined;
  const per = Math.max(1, Math.min(MAX_PER_ASSOCIATION, Math.ceil(total / ASSOCIATIONS)));
  const associations: { tls: boolean; windowed: boolean; count: number }[] = [];
  for (let left = total, i = 0; left > 0; left -= per, i++) {
    associations.push({ tls: options.tls !== false && i % 2 === 0, windowed: i % 4 >= 2, count: Math.min(per, left) });
  }
  // The scratch servers listen on the loopback, where any local user's process can connect: they
  // associate only with a peer that knows this run's AE title (calling and called), which the
  // peer is given on its stdin, out of sight of other users (unlike its command line).
  const aeTitle = `${WARM_UP_AE}-${randomBytes(4).toString('hex').toUpperCase()}`;
  const servers: StorageServer[] = [];
  try {
    // Inside the try: a failure here still removes the scratch directory.
    if (options.tls !== false) identities = throwawayIdentities();
    await primeLifecycle(join(scratch, 'prime'), options.fsync ?? 'file');
    const server = async (tls: SecureContext | undefined, name: string): Promise<number> => {
      const s = await StorageServer.create({
        aeTitle, callingAeTitles: [aeTitle], storeRoot: join(scratch, name), fsync: options.fsync ?? 'file',
        ...(tls === undefined ? {} : { tls }), limits: { idleTimeout: 0 },
      });
      servers.push(s);
      // Each instance goes once stored: the scratch store holds a few, not 800 (~55 MB), which a
      // temporary directory in memory (tmpfs, a container's) would hold in RAM, counted against
      // the container's memory limit.
      s.on('stored', (i) => void unlink(i.path).catch(() => undefined));
      return (await s.listen(0, '127.0.0.1')).port;
    };
    const plain = await server(undefined, 'plain');
    const tls = identities === undefined ? undefined : await server(identities.server, 'tls');
    options.signal?.throwIfAborted();
    await runPeer({ aeTitle, ports: { tls, plain }, tls: identities?.client, associations, pixelBytes: PIXEL_BYTES, run: String(process.pid) }, options.signal);
  } finally {
    for (const s of servers) await s.close({ timeout: 1000 }).catch(() => undefined);
    identities?.server.dispose();
    await rm(scratch, { recursive: true, force: true });
    active.delete(scratch);
  }
  return { instances: total, associations: associations.length, ms: performance.now() - start };
}
