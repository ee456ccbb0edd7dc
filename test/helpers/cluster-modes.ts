/**
 * The ways the cluster tests run their three nodes: each on its own embedded store (SQLite and
 * files in its data directory, the default), or all on one shared index and one shared store:
 * PostgreSQL with one data directory for all (a shared mount, as NFS would give), and PostgreSQL
 * with one S3 bucket (s3rver, through the AWS SDK as with AWS, MinIO or Ceph RGW). The tests
 * assert the same traffic in every mode; what differs is what a node must show: in the embedded
 * mode what it received itself, in a shared mode everything any node received.
 */
import { mkdirSync } from 'node:fs';
import { postgresSkip, startPostgres } from './postgres.js';
import { startS3Server } from './s3.js';

export interface ClusterBackend {
  /** The data directory of node `i`, when the mode decides it (one for all: a shared mount). */
  readonly data?: (i: number) => string;
  /** Extra `serve` (and `store check`) options for node `i`. */
  args(i: number): readonly string[];
  /** Configuration file contents for node `i` beyond the test's own keys. */
  config(i: number): Record<string, unknown>;
  /** Environment of every node (e.g. object store credentials). */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export interface ClusterMode {
  readonly name: string;
  /** True when every node shares one index and one store. */
  readonly shared: boolean;
  /** Why the mode cannot run here, or false. */
  readonly skip: string | false;
  /** `dicom-tls store check` runs on this mode's store after a crash. */
  readonly storeCheck: boolean;
  /** Starts what the nodes share (nothing for the embedded mode) in `dir`. */
  start(dir: string): Promise<ClusterBackend>;
}

export const embeddedMode: ClusterMode = {
  name: 'embedded store per node',
  shared: false,
  skip: false,
  storeCheck: true,
  start: async () => ({ args: () => [], config: () => ({}), env: {}, stop: async () => undefined }),
};

/** A fresh database on a throw-away PostgreSQL cluster, and what else the mode shares. */
async function withPostgres(more: (url: string) => Promise<ClusterBackend>): Promise<ClusterBackend> {
  const pg = await startPostgres();
  try {
    const backend = await more(await pg.createDatabase());
    return { ...backend, stop: async () => { await backend.stop(); await pg.stop(); } };
  } catch (e) {
    await pg.stop();
    throw e;
  }
}

export const postgresSharedDirectoryMode: ClusterMode = {
  name: 'one PostgreSQL index, one shared data directory',
  shared: true,
  skip: postgresSkip(),
  storeCheck: true,
  start: (dir) => withPostgres(async (url) => {
    mkdirSync(dir, { recursive: true });
    return { data: () => dir, args: () => ['--index', url], config: () => ({}), env: {}, stop: async () => undefined };
  }),
};

export const postgresS3Mode: ClusterMode = {
  name: 'one PostgreSQL index, one S3 bucket',
  shared: true,
  skip: postgresSkip(),
  storeCheck: true,
  start: () => withPostgres(async (url) => {
    const s3 = await startS3Server(['dicom']);
    const storage = 's3://dicom/cluster';
    return {
      args: () => ['--index', url, '--storage', storage],
      // Credentials from the environment (the AWS SDK's chain), never in the file.
      config: () => ({ storage: { url: storage, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } }),
      env: s3.env,
      stop: () => s3.close(),
    };
  }),
};

/** Every mode, one test matrix. */
export const clusterModes: readonly ClusterMode[] = [embeddedMode, postgresSharedDirectoryMode, postgresS3Mode];
