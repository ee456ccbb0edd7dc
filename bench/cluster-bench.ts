/**
 * The `cluster-*` rows (issue 19): 1 and 3 `dicom-tls serve` nodes behind HAProxy (the documented
 * configuration: TCP mode, TLS through to the nodes, leastconn), all on one PostgreSQL index and
 * one store, either an S3 bucket (s3rver) or one shared data directory. Three client associations
 * at once (our DicomClient in one child process, as the `concurrent-*` rows) share the instances,
 * so three nodes can share the work; with one node it takes all three associations.
 *
 * Everything is started fresh per run by the tests' own helpers (test/helpers/postgres.ts, s3.ts,
 * serve-cluster.ts, haproxy.ts) and only the clients' transfer is timed. PostgreSQL runs durable
 * (fsync and synchronous commit on), as the `index-*-pg` rows. Without haproxy or the PostgreSQL
 * server binaries the rows are n/a.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cpuMs, peakRssKb } from './lib/proc.js';
import { scratchDir } from './lib/scratch.js';
import { NotAvailableError, type Measurement, type TlsFiles } from './lib/types.js';
import { oursScu } from './peers/ours.js';
import type { Context, Workload } from './workloads.js';

type Store = 's3' | 'dir';
const CLIENTS = 3;
const AET = 'STORESCP'; // what our bench SCU calls

/** Why the rows cannot run here, or undefined. */
async function missing(): Promise<string | undefined> {
  const [{ findHaproxy }, { postgresBinDir }] = await Promise.all([import('../test/helpers/haproxy.js'), import('../test/helpers/postgres.js')]);
  if (findHaproxy() === undefined) return 'haproxy is not installed (Debian: apt-get install haproxy)';
  if (postgresBinDir() === undefined) return 'PostgreSQL server binaries not found (Debian: apt-get install postgresql; or set PG_BINDIR)';
  return undefined;
}

/** Files on disk under `dir` (the shared directory store's instances). */
async function countFiles(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
}

/** One run: start PostgreSQL, the store, `nodes` serve nodes and HAProxy; time the clients; check nothing was lost. */
async function measureCluster(store: Store, nodes: number, files: readonly string[]): Promise<Measurement> {
  const why = await missing();
  if (why !== undefined) throw new NotAvailableError(why);
  const [{ startPostgres }, { startS3Server }, { startCluster }, { startHaproxy }, { writeServePki }, { S3BlobStore }] = await Promise.all([
    import('../test/helpers/postgres.js'),
    import('../test/helpers/s3.js'),
    import('../test/helpers/serve-cluster.js'),
    import('../test/helpers/haproxy.js'),
    import('../test/helpers/serve-pki.js'),
    import('../src/store/blob/s3.js'),
  ]);
  const dir = await scratchDir('cluster-');
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const pg = await startPostgres({ durable: true });
    stops.push(() => pg.stop());
    const url = await pg.createDatabase();
    let storeArgs: string[] = [];
    let config: Record<string, unknown> = {};
    let env: NodeJS.ProcessEnv = {};
    let stored: () => Promise<number>;
    const shared = join(dir, 'shared');
    if (store === 's3') {
      const s3 = await startS3Server(['dicom']);
      stops.push(() => s3.close());
      storeArgs = ['--storage', 's3://dicom/bench'];
      config = { storage: { url: 's3://dicom/bench', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } };
      env = s3.env;
      stored = async () => {
        const blobs = await S3BlobStore.open(s3.options('dicom', 'bench'));
        let n = 0;
        for await (const _ of blobs.list()) n++;
        await blobs.close();
        return n;
      };
    } else {
      stored = () => countFiles(join(shared, 'files'));
    }
    const pki = writeServePki(join(dir, 'pki'), 'bench');
    const cluster = await startCluster({
      dir, nodes, pki, aet: AET, env,
      // serve's default log level: the helper asks for debug, which the tests read.
      args: () => ['--index', url, ...storeArgs, '--log-level', 'info'],
      config: () => config,
      ...(store === 'dir' ? { data: () => shared } : {}),
    });
    stops.push(() => cluster.stop());
    const balancer = await startHaproxy({ backends: cluster.nodes.map((n) => ({ name: n.name, port: n.port, httpPort: n.httpPort })) });
    stops.push(() => balancer.stop());
    const tls: TlsFiles = { caCert: pki.ca, serverCert: pki.server, serverKey: pki.serverKey, clientCert: pki.client, clientKey: pki.clientKey };
    const per = Math.ceil(files.length / CLIENTS);
    // --quick has one large instance: no empty association for the clients without one.
    const filesPerClient = Array.from({ length: CLIENTS }, (_, i) => files.slice(i * per, (i + 1) * per)).filter((f) => f.length > 0);
    const pids = cluster.nodes.map((n) => n.process.child.pid!);
    const cpu = async (): Promise<number | undefined> => {
      const each = await Promise.all(pids.map((p) => cpuMs(p)));
      return each.some((c) => c === undefined) ? undefined : each.reduce<number>((a, c) => a + c!, 0);
    };
    const before = await cpu();
    const reported = await oursScu.storeConcurrent({ port: balancer.port, tls, filesPerClient });
    const after = await cpu();
    if (typeof reported !== 'object') throw new Error('our SCU reported no time');
    const count = await stored();
    if (count !== files.length) throw new Error(`the cluster stored ${count} of ${files.length} instances`);
    // The associations really went through the balancer (and, with 3 nodes, to more than one).
    const used = new Set((await balancer.waitForConnections(filesPerClient.length)).map((c) => c.server));
    if (nodes > 1 && filesPerClient.length > 1 && used.size < 2) throw new Error(`every association went to ${[...used].join()}`);
    // Peak RSS: the largest node's (each node is a process of its own).
    const rss = (await Promise.all(pids.map((p) => peakRssKb(p)))).filter((r): r is number => r !== undefined);
    let bytes = 0;
    for (const f of files) bytes += (await stat(f)).size;
    return {
      seconds: reported.seconds, bytes, instances: files.length,
      ...(rss.length > 0 ? { peakRssKb: Math.max(...rss) } : {}),
      ...(before !== undefined && after !== undefined ? { scpCpuMs: after - before } : {}),
      ...(reported.cpuMs === undefined ? {} : { scuCpuMs: reported.cpuMs }),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The rows: {small, large} × {S3, shared directory} × {1, 3} nodes. */
export function clusterWorkloads(pick: { small: (ctx: Context) => readonly string[]; large: (ctx: Context) => readonly string[] }): Workload[] {
  const list: Workload[] = [];
  for (const size of ['small', 'large'] as const) {
    for (const store of ['s3', 'dir'] as const) {
      const what = size === 'small' ? '200 × 100 KB' : '10 × 52 MB';
      const where = store === 's3' ? 'one S3 bucket (s3rver)' : 'one shared data directory';
      for (const nodes of [1, 3]) {
        list.push({
          id: `cluster-${size}-${store}/${nodes}-node${nodes > 1 ? 's' : ''}`,
          scenario: `C-STORE ${what}, ${CLIENTS} associations at once through HAProxy (TCP, TLS through) into serve nodes on one PostgreSQL index and ${where}, TLS`,
          kind: 'ours',
          peers: `dicom-tls DicomClient ×${CLIENTS} → HAProxy → ${nodes} × dicom-tls serve`,
          timing: 'in-process',
          measure: (ctx) => measureCluster(store, nodes, pick[size](ctx)),
        });
      }
    }
  }
  return list;
}
