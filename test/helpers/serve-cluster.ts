/**
 * Several `dicom-tls serve` nodes for the cluster tests: the real CLI from the build, one shared
 * PKI made at test time (every node presents the same server certificate, as nodes behind one
 * service name do, and trusts the same CA for client certificates), each node with its own
 * DICOM-over-TLS port, HTTP port (/readyz for the balancer's health check) and data directory,
 * logging JSON at debug level so the test can read every association and stored instance.
 * A node keeps its ports across a restart, so the balancer's configuration stays valid after
 * `kill -9` and start again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, onFreePort } from './free-port.js';
import { spawnServe, type ServeProcess } from './serve-process.js';
import { writeServePki, type ServePki } from './serve-pki.js';

/** One line of a node's JSON log. */
export interface NodeEvent {
  readonly event: string;
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface ServeNode {
  /** `n1`, `n2`, … (also the balancer's server name). */
  readonly name: string;
  readonly port: number;
  readonly httpPort: number;
  readonly data: string;
  /** The node's configuration file, when the cluster was given one. */
  readonly configFile: string | undefined;
  /** The running process (a new one after `start`). */
  readonly process: ServeProcess;
  /** The JSON log lines of every run of this node so far. */
  events(): NodeEvent[];
  /** The combined output of every run, for failure messages. */
  output(): string;
  /** Starts the node again on the same ports and data (after `kill9` or `stop`). */
  start(): Promise<void>;
  /** SIGKILL: no clean stop, whatever is in flight is cut. */
  kill9(): Promise<void>;
  /** SIGTERM, then waits for the exit (a clean stop). */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Directory for the PKI and each node's data (`<dir>/<name>`). */
  readonly dir: string;
  readonly nodes: number;
  /** The AE title every node answers to (one service behind the balancer). */
  readonly aet?: string;
  /** Extra `serve` options for node `i` (0-based), e.g. a shared `--index` and `--storage`. */
  readonly args?: (i: number) => readonly string[];
  /** A configuration file for node `i` (e.g. its move destinations); the options above win over it. */
  readonly config?: (i: number) => Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Data directory of node `i` (default `<dir>/<name>`): one for all is a shared mount. */
  readonly data?: (i: number) => string;
  /** The PKI to use (e.g. made earlier for a peer the nodes talk to); one is made in `<dir>/pki` otherwise. */
  readonly pki?: ServePki;
}

export interface Cluster {
  readonly pki: ServePki;
  readonly aet: string;
  readonly nodes: readonly ServeNode[];
  /** Kills every node still running. */
  stop(): Promise<void>;
}

function parseEvents(output: string): NodeEvent[] {
  return output.split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as NodeEvent];
    } catch {
      return []; // a line cut by kill -9
    }
  });
}

async function startNode(name: string, o: ClusterOptions, pki: ServePki, aet: string, i: number): Promise<ServeNode> {
  let [port, httpPort] = [0, 0];
  const data = o.data?.(i) ?? join(o.dir, name);
  const extra = [...(o.args?.(i) ?? [])];
  const config = o.config?.(i);
  const configFile = config === undefined ? undefined : join(o.dir, `${name}.json`);
  if (configFile !== undefined) {
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    extra.push('--config', configFile);
  }
  // Fixed ports, not 0: the balancer's configuration names them, and a restart binds them again.
  const args = (): string[] => ['--host', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort), '--http-host', '127.0.0.1',
    '--data', data, '--aet', aet, '--cert', pki.server, '--key', pki.serverKey, '--ca', pki.ca, '--crl', pki.crl,
    '--log-format', 'json', '--log-level', 'debug', ...extra];
  let previous: string[] = [];
  let p: ServeProcess | undefined;
  const run = async (): Promise<void> => {
    if (p !== undefined) previous.push(p.output());
    p = spawnServe(args(), { cwd: o.dir, ...(o.env === undefined ? {} : { env: o.env }) });
    // Both listeners: the DICOM port, then the HTTP port the balancer checks. The guard is for a
    // hang only: a node opening a shared index while the others store may take long on a loaded machine.
    await p.waitFor(/"event":"listening"/, 120_000);
    await p.waitFor(/"event":"http"/, 120_000);
  };
  // A first start that lost a port to another test's pick ("the port is already in use") is
  // made again on new ports.
  await onFreePort(async (free) => {
    [port, httpPort] = [free, await freePort()];
    try {
      await run();
    } catch (e) {
      await p?.kill();
      [p, previous] = [undefined, []];
      throw e;
    }
  });
  const all = (): string => [...previous, p!.output()].join('');
  return {
    name, port, httpPort, data, configFile,
    get process() { return p!; },
    events: () => parseEvents(all()),
    output: all,
    start: run,
    kill9: () => p!.kill(),
    stop: async () => {
      if (p!.child.exitCode === null && p!.child.signalCode === null) p!.child.kill('SIGTERM');
      await p!.exited;
    },
  };
}

/** Starts `o.nodes` serve processes with one shared PKI; resolves when each listens on DICOM and HTTP. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const pki = o.pki ?? writeServePki(join(o.dir, 'pki'), 'cluster');
  const aet = o.aet ?? 'CLUSTER';
  const nodes: ServeNode[] = [];
  const stop = async (): Promise<void> => { await Promise.all(nodes.map((n) => n.kill9())); };
  try {
    // One after another: on a small machine parallel start-ups only compete for the CPU.
    for (let i = 0; i < o.nodes; i++) nodes.push(await startNode(`n${i + 1}`, o, pki, aet, i));
  } catch (e) {
    await stop();
    throw e;
  }
  return { pki, aet, nodes, stop };
}
