/**
 * The ways the cluster tests run their three nodes: each on its own embedded store (SQLite and
 * files in its data directory, today's default), or all on one shared index and one shared blob
 * store. The tests assert the same traffic in both; what differs is what a node must show: in
 * the embedded mode what it received itself, in the shared mode everything any node received.
 */
export interface ClusterBackend {
  /** The data directory of node `i`, when the mode decides it (one for all: a shared mount). */
  readonly data?: (i: number) => string;
  /** Extra `serve` options for node `i`. */
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
  /** `dicom-tls store check` exists for this mode's store (it checks index against blobs). */
  readonly storeCheck: boolean;
  /** Starts what the nodes share (nothing for the embedded mode). */
  start(dir: string): Promise<ClusterBackend>;
}

export const embeddedMode: ClusterMode = {
  name: 'embedded store per node',
  shared: false,
  skip: false,
  storeCheck: false,
  start: async () => ({ args: () => [], config: () => ({}), env: {}, stop: async () => undefined }),
};

/** Every mode this build can run. */
export const clusterModes: readonly ClusterMode[] = [embeddedMode];
