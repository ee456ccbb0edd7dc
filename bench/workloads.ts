/**
 * The workloads of issue 6 as data: each row is one scenario run by one pair of peers. Any SCU
 * peer can be paired with any SCP peer, so the mixed pairs are rows like the others.
 */
import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { removeAtEnd, scratchDir } from './lib/scratch.js';
import { fileURLToPath } from 'node:url';
import type { DataSet } from './lib/data.js';
import { DCMTK_ENV, cpuMs, freePort, run } from './lib/proc.js';
import { NotAvailableError, type Measurement, type ScpPeer, type ScuPeer, type ScuTiming, type TlsFiles } from './lib/types.js';
import { durableFloor, nodeTlsThroughput, opensslSpeed, opensslSTime } from './peers/ceilings.js';
import { floorSmall } from './peers/floor-small.js';
import { dcmjsDimseScp, dcmjsDimseScu } from './peers/dcmjs-dimse.js';
import { dcmtkScu, storescp } from './peers/dcmtk.js';
import { oursCliScu, oursCliStartup, oursScp, oursScu, oursServe, oursServeS3 } from './peers/ours.js';
import { indexWorkloads } from './index-bench.js';
import { clusterWorkloads } from './cluster-bench.js';

/** Which side of the ratios a row is on. */
export type PeerKind = 'dcmtk' | 'dcmjs-dimse' | 'ours' | 'mixed' | 'ceiling';

export interface Context {
  readonly data: DataSet;
  readonly tls: TlsFiles;
  readonly quick: boolean;
}

export interface Workload {
  /** Unique, for --only (substring match). */
  readonly id: string;
  /** Rows with the same scenario are compared with each other. */
  readonly scenario: string;
  readonly kind: PeerKind;
  readonly peers: string;
  readonly timing: string;
  readonly measure: (ctx: Context) => Promise<Measurement>;
}

interface Pair {
  readonly key: string;
  readonly kind: PeerKind;
  readonly scu: ScuPeer;
  readonly scp: ScpPeer;
}

const PAIRS = {
  dcmtk: { key: 'dcmtk', kind: 'dcmtk', scu: dcmtkScu, scp: storescp },
  dcmjs: { key: 'dcmjs-dimse', kind: 'dcmjs-dimse', scu: dcmjsDimseScu, scp: dcmjsDimseScp },
  ours: { key: 'ours', kind: 'ours', scu: oursScu, scp: oursScp },
  oursToDcmtk: { key: 'ours-to-dcmtk', kind: 'mixed', scu: oursScu, scp: storescp },
  dcmtkToOurs: { key: 'dcmtk-to-ours', kind: 'mixed', scu: dcmtkScu, scp: oursScp },
  oursCli: { key: 'ours-cli', kind: 'ours', scu: oursCliScu, scp: oursScp },
  oursCliToDcmtk: { key: 'ours-cli-to-dcmtk', kind: 'mixed', scu: oursCliScu, scp: storescp },
  // `serve` as shipped (durable: fsync 'file', SQLite FULL); the rows above use fsync 'none'.
  dcmtkToServe: { key: 'dcmtk-to-serve', kind: 'mixed', scu: dcmtkScu, scp: oursServe },
  oursToServe: { key: 'ours-to-serve', kind: 'ours', scu: oursScu, scp: oursServe },
  oursCliToServe: { key: 'ours-cli-to-serve', kind: 'ours', scu: oursCliScu, scp: oursServe },
  // The same, its instances in S3 (s3rver, a Node S3-compatible server, on this machine).
  dcmtkToServeS3: { key: 'dcmtk-to-serve-s3', kind: 'mixed', scu: dcmtkScu, scp: oursServeS3 },
  oursToServeS3: { key: 'ours-to-serve-s3', kind: 'ours', scu: oursScu, scp: oursServeS3 },
} as const satisfies Record<string, Pair>;

/** The measured fields that have a value (exactOptionalPropertyTypes: no explicit undefined). */
const optional = (fields: { peakRssKb?: number | undefined; scpCpuMs?: number | undefined; scuCpuMs?: number | undefined }): { peakRssKb?: number; scpCpuMs?: number; scuCpuMs?: number } =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
const label = (pair: Pair): string => `${pair.scu.name} → ${pair.scp.name}`;
const sumBytes = async (files: readonly string[]): Promise<number> => {
  let total = 0;
  for (const f of files) total += (await stat(f)).size;
  return total;
};

/**
 * Starts the SCP (fresh per run, so its peak RSS belongs to this run), runs the SCU, stops the SCP,
 * and checks that nothing was lost when the SCP stored to disk.
 */
async function withScp(
  pair: Pair,
  tls: TlsFiles | undefined,
  options: { store: boolean; maxPdu?: number; expectFiles?: number; warmup?: (port: number) => Promise<unknown> },
  body: (port: number) => Promise<ScuTiming>,
): Promise<{ seconds: number; peakRssKb: number | undefined; scpCpuMs: number | undefined; scuCpuMs: number | undefined }> {
  const port = await freePort();
  const outDir = options.store ? await scratchDir('out-') : undefined;
  try {
    const scp = await pair.scp.start({ port, tls, outDir, ...(options.maxPdu === undefined ? {} : { maxPdu: options.maxPdu }) });
    let seconds: number;
    let peakRssKb: number | undefined;
    let scpCpuMs: number | undefined;
    let scuCpuMs: number | undefined;
    let stored: number | undefined;
    try {
      // A server runs for days: the warm rows let each SCP serve one untimed association first.
      await options.warmup?.(port);
      const cpuBefore = await cpuMs(scp.pid);
      const start = process.hrtime.bigint();
      const reported = await body(port).catch((error: unknown) => {
        // What the SCP printed says whether it was still there (a refused connection, a crash).
        const said = scp.output?.().trim().split('\n').slice(-12).join('\n');
        throw said ? new Error(`${(error as Error).message}\n-- SCP output (tail):\n${said}`, { cause: error }) : error;
      });
      const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      seconds = typeof reported === 'object' ? reported.seconds : (reported ?? elapsed);
      if (typeof reported === 'object') scuCpuMs = reported.cpuMs;
      const cpuAfter = await cpuMs(scp.pid);
      if (cpuBefore !== undefined && cpuAfter !== undefined) scpCpuMs = cpuAfter - cpuBefore;
      stored = await scp.stored?.();
    } finally {
      ({ peakRssKb } = await scp.stop());
    }
    if (outDir !== undefined && options.expectFiles !== undefined) {
      const count = stored ?? (await readdir(outDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
      if (count !== options.expectFiles) throw new Error(`SCP stored ${count} of ${options.expectFiles} instances`);
    }
    return { seconds, peakRssKb, scpCpuMs, scuCpuMs };
  } finally {
    if (outDir !== undefined) {
      // Many files: removed when the bench ends (lib/scratch.ts); a large row's 10 at once.
      if ((options.expectFiles ?? 0) > 50) removeAtEnd(outDir);
      else await rm(outDir, { recursive: true, force: true });
    }
  }
}

/**
 * For our SCU with `rounds` > 0: a discarding storescp that the SCU's process sends the timed
 * instances to `rounds` times before its timed part (so the row's SCP stays as fresh as in the
 * other rows, and only the client has run a while). Other SCUs, or 0 rounds: the body as it is.
 */
async function withScuSink<T>(pair: Pair, tls: TlsFiles | undefined, rounds: number, body: (warmup: { port: number; rounds: number } | undefined) => Promise<T>): Promise<T> {
  if (rounds === 0 || pair.scu !== oursScu) return body(undefined);
  const port = await freePort();
  const sink = await storescp.start({ port, tls, outDir: undefined });
  try {
    return await body({ port, rounds });
  } finally {
    await sink.stop();
  }
}

type DataPick = (ctx: Context) => readonly string[];
const small: DataPick = (ctx) => (ctx.quick ? ctx.data.small.slice(0, 20) : ctx.data.small);
const large: DataPick = (ctx) => (ctx.quick ? ctx.data.large.slice(0, 1) : ctx.data.large);

function storeWorkload(
  scenarioId: string,
  scenario: string,
  pair: Pair,
  pick: DataPick,
  secure: boolean,
  store: boolean,
  maxPdu?: number,
  /** true: one untimed association of other instances first; a number: the timed instances sent that many times first. */
  warm: boolean | number = false,
  /** Our SCU only: its process first stores the timed instances this many times into a discarding storescp, untimed. */
  warmScu = 0,
): Workload {
  return {
    id: `${scenarioId}/${pair.key}`,
    scenario,
    kind: pair.kind,
    peers: label(pair),
    timing: pair.scu.timing,
    async measure(ctx) {
      const files = pick(ctx);
      const tls = secure ? ctx.tls : undefined;
      const warmFiles = warm === true ? (ctx.quick ? ctx.data.warm.slice(0, 5) : ctx.data.warm) : [];
      const rounds = typeof warm === 'number' ? warm : 0;
      const { seconds, peakRssKb, scpCpuMs, scuCpuMs } = await withScp(
        pair,
        tls,
        {
          store,
          expectFiles: files.length + warmFiles.length,
          ...(maxPdu === undefined ? {} : { maxPdu }),
          ...(warm === true ? { warmup: (port: number) => pair.scu.store({ port, tls, files: warmFiles }) } : {}),
          ...(rounds > 0
            ? {
                warmup: async (port: number) => {
                  for (let i = 0; i < rounds; i++) await pair.scu.store({ port, tls, files });
                },
              }
            : {}),
        },
        (port) => withScuSink(pair, tls, warmScu, (warmup) => pair.scu.store({ port, tls, files, ...(maxPdu === undefined ? {} : { maxPdu }), ...(warmup === undefined ? {} : { warmup }) })),
      );
      return { seconds, bytes: await sumBytes(files), instances: files.length, ...optional({ peakRssKb, scpCpuMs, scuCpuMs }) };
    },
  };
}

function echoWorkload(secure: boolean, pair: Pair): Workload {
  const scenarioId = `echo-${secure ? 'tls' : 'plain'}`;
  return {
    id: `${scenarioId}/${pair.key}`,
    scenario: `associations: connect${secure ? ' + TLS handshake' : ''} + A-ASSOCIATE + C-ECHO + release, ×200`,
    kind: pair.kind,
    peers: label(pair),
    timing: pair.scu.timing,
    async measure(ctx) {
      const count = ctx.quick ? 20 : 200;
      const tls = secure ? ctx.tls : undefined;
      const { seconds, scpCpuMs, scuCpuMs } = await withScp(pair, tls, { store: false }, (port) => pair.scu.echo({ port, tls, count }));
      return { seconds, bytes: 0, instances: count, ...optional({ scpCpuMs, scuCpuMs }) };
    },
  };
}

function concurrentWorkload(secure: boolean, pair: Pair, associations = 50): Workload {
  const T = secure ? 'TLS' : 'plain';
  const scenarioId = associations === 50 ? `concurrent-${secure ? 'tls' : 'plain'}` : `store-small-${secure ? 'tls' : 'plain'}-${associations}assoc`;
  return {
    id: `${scenarioId}/${pair.key}`,
    scenario: associations === 50
      ? `50 clients × 4 small instances at once into one SCP, to disk, ${T}`
      // storescp without --fork takes one association at a time: its rows here are sequential.
      : `C-STORE 200 × 100 KB over ${associations} associations at once (${200 / associations} each), to disk, ${T}`,
    kind: pair.kind,
    peers: label(pair),
    timing: pair.scu.timing,
    async measure(ctx) {
      const clients = ctx.quick ? Math.min(10, associations) : associations;
      const files = small(ctx);
      const per = Math.floor(files.length / clients);
      const filesPerClient = Array.from({ length: clients }, (_, i) => files.slice(i * per, (i + 1) * per));
      const all = filesPerClient.flat();
      const tls = secure ? ctx.tls : undefined;
      const { seconds, peakRssKb, scpCpuMs, scuCpuMs } = await withScp(pair, tls, { store: true, expectFiles: all.length }, (port) =>
        pair.scu.storeConcurrent({ port, tls, filesPerClient }),
      );
      return { seconds, bytes: await sumBytes(all), instances: all.length, ...optional({ peakRssKb, scpCpuMs, scuCpuMs }) };
    },
  };
}

/**
 * SecureSocket raw throughput comes from bench/tls-bench.ts (written with the TLS engine). The
 * contract the runner expects from it: `export function secureSocketThroughput(tls: TlsFiles,
 * totalBytes: number): Promise<Measurement>`, measured like nodeTlsThroughput (mutual auth,
 * TLS 1.3, timed after the handshake). Absent module or export: n/a.
 */
async function secureSocketCeiling(tls: TlsFiles, totalBytes: number): Promise<Measurement> {
  const url = new URL('./tls-bench.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) throw new NotAvailableError('bench/tls-bench.ts is not there yet');
  const module = (await import(url.href)) as { secureSocketThroughput?: (t: TlsFiles, n: number) => Promise<Measurement> };
  if (typeof module.secureSocketThroughput !== 'function') {
    throw new NotAvailableError('bench/tls-bench.ts does not export secureSocketThroughput(tls, totalBytes)');
  }
  return module.secureSocketThroughput(tls, totalBytes);
}

/** A command's start-up cost: it is run 20 times (quick: 5), one after the other; instances = runs. */
function startupWorkload(
  id: string,
  kind: PeerKind,
  peers: string,
  command: () => { command: string; args: string[]; allowFailure?: boolean },
): Workload {
  return {
    id,
    scenario: 'CLI start-up: the command run to completion, ×20 (counts in every whole-command figure)',
    kind,
    peers,
    timing: 'whole command',
    async measure(ctx) {
      const { command: cmd, args, allowFailure } = command();
      const count = ctx.quick ? 5 : 20;
      const start = process.hrtime.bigint();
      for (let i = 0; i < count; i++) await run(cmd, args, { env: DCMTK_ENV, allowFailure: allowFailure === true });
      return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes: 0, instances: count };
    },
  };
}

/**
 * A storing SCP's start-up, over TLS, to disk: from spawn until it takes associations (storescp:
 * its port accepts; ours: after the start-up warm-up of its store path, which our SCPs do before
 * they listen), ×5 (quick: 2); instances = starts; the peak RSS is that of the last start.
 */
function scpStartWorkload(id: string, kind: PeerKind, scp: ScpPeer): Workload {
  return {
    id,
    scenario: 'Storing SCP start-up over TLS: spawn until it takes associations, ×5',
    kind,
    peers: scp.name,
    timing: 'whole command',
    async measure(ctx) {
      const count = ctx.quick ? 2 : 5;
      let seconds = 0;
      let peakRssKb: number | undefined;
      for (let i = 0; i < count; i++) {
        const port = await freePort();
        const outDir = await scratchDir('start-');
        try {
          const start = process.hrtime.bigint();
          const handle = await scp.start({ port, tls: ctx.tls, outDir });
          seconds += Number(process.hrtime.bigint() - start) / 1e9;
          ({ peakRssKb } = await handle.stop());
        } finally {
          await rm(outDir, { recursive: true, force: true });
        }
      }
      return { seconds, bytes: 0, instances: count, ...optional({ peakRssKb }) };
    },
  };
}

const ceilingBytes = (ctx: Context): number => (ctx.quick ? 32 : 512) * 1024 * 1024;

export function allWorkloads(): Workload[] {
  const list: Workload[] = [];
  const mainPairs = [PAIRS.dcmtk, PAIRS.dcmjs, PAIRS.ours];
  const allPairs = [...mainPairs, PAIRS.oursToDcmtk, PAIRS.dcmtkToOurs, PAIRS.oursCli, PAIRS.oursCliToDcmtk];
  const servePairs = [PAIRS.dcmtkToServe, PAIRS.oursToServe, PAIRS.oursCliToServe];
  for (const secure of [true, false]) {
    const t = secure ? 'tls' : 'plain';
    const T = secure ? 'TLS' : 'plain';
    for (const pair of [...allPairs, ...servePairs]) list.push(storeWorkload(`store-small-${t}`, `C-STORE 200 × 100 KB, one association, to disk, ${T}`, pair, small, secure, true));
    for (const pair of mainPairs) list.push(storeWorkload(`store-small-${t}-ignore`, `C-STORE 200 × 100 KB, one association, discarded, ${T}`, pair, small, secure, false));
    for (const pair of allPairs) list.push(storeWorkload(`store-large-${t}`, `C-STORE 10 × 52 MB, one association, to disk, ${T}`, pair, large, secure, true));
    // dcmjs-dimse's large rows dominate the run time (~25 s each); its TLS discard row is enough
    // to separate its Dataset.toFile cost from its network path.
    const largeDiscard = secure ? mainPairs : [PAIRS.dcmtk, PAIRS.ours];
    for (const pair of largeDiscard) list.push(storeWorkload(`store-large-${t}-ignore`, `C-STORE 10 × 52 MB, one association, discarded, ${T}`, pair, large, secure, false));
  }
  // serve with S3 storage: the small and large stores, TLS.
  for (const pair of [PAIRS.dcmtkToServeS3, PAIRS.oursToServeS3]) {
    list.push(storeWorkload('store-small-tls-s3', 'C-STORE 200 × 100 KB, one association, into S3 (s3rver), TLS', pair, small, true, true));
    list.push(storeWorkload('store-large-tls-s3', 'C-STORE 10 × 52 MB, one association, into S3 (s3rver), TLS', pair, large, true, true));
  }
  // The same 200 small instances into an SCP that has already served one association (20
  // instances of another study, by the same SCU, untimed): a long-running server's state. Our
  // SCP is a fresh Node process otherwise, running its path unoptimised for much of the run.
  for (const pair of [PAIRS.dcmtk, PAIRS.ours, PAIRS.oursToDcmtk, PAIRS.dcmtkToOurs, PAIRS.oursCli, ...servePairs]) {
    list.push(storeWorkload('store-small-tls-warm', 'C-STORE 200 × 100 KB, to disk, TLS, into an SCP that has served one association', pair, small, true, true, undefined, true));
  }
  // SCP CPU per small instance in a server that has run a while: the same 200 instances,
  // discarded, after the SCU sent them five times untimed (1000 instances). storescp is native code
  // from its first instance; a fresh Node process runs ours unoptimised for much of its first 200,
  // which the rows above (a fresh SCP per run) include.
  for (const secure of [true, false]) {
    const t = secure ? 'tls' : 'plain';
    for (const pair of [PAIRS.dcmtk, PAIRS.ours]) {
      list.push(storeWorkload(`store-small-${t}-ignore-warm`, `C-STORE 200 × 100 KB, discarded, ${secure ? 'TLS' : 'plain'}, into an SCP that has received 1000 instances`, pair, small, secure, false, undefined, 5));
    }
  }
  // The same 200 small instances to disk into a fresh SCP, from a client process that has sent
  // them five times before (untimed, into a discarding storescp): an application that has been
  // sending for a while, where the rows above start a new client process for each run. A C
  // program has no such state, so the DCMTK row is the same as above.
  for (const secure of [true, false]) {
    const t = secure ? 'tls' : 'plain';
    for (const pair of [PAIRS.dcmtk, PAIRS.ours, PAIRS.oursToDcmtk]) {
      list.push(storeWorkload(`store-small-${t}-warm-scu`, `C-STORE 200 × 100 KB, to disk, ${secure ? 'TLS' : 'plain'}, from an SCU process that has sent 1000 instances`, pair, small, secure, true, undefined, false, 5));
    }
  }
  for (const pair of [PAIRS.dcmtk, PAIRS.ours]) {
    list.push(storeWorkload('store-large-tls-pdu128k', 'C-STORE 10 × 52 MB, to disk, TLS, 128 KiB PDUs', pair, large, true, true, 131072));
  }
  // The CLI's echo rows run `dicom-tls echo` 200 times against storescp, beside echoscu's (the dcmtk
  // rows): whole commands both, so the CLI's start-up is in every association.
  for (const secure of [true, false]) for (const pair of [...mainPairs, PAIRS.oursCliToDcmtk]) list.push(echoWorkload(secure, pair));
  list.push({
    id: 'echo-tls-resume/ours',
    scenario: 'associations: connect + TLS handshake + A-ASSOCIATE + C-ECHO + release, ×200 (TLS session resumption)',
    kind: 'ours',
    peers: label(PAIRS.ours),
    timing: 'in-process',
    async measure(ctx) {
      const count = ctx.quick ? 20 : 200;
      const { seconds, scpCpuMs, scuCpuMs } = await withScp(PAIRS.ours, ctx.tls, { store: false }, (port) => oursScu.echo({ port, tls: ctx.tls, count, resume: true }));
      return { seconds, bytes: 0, instances: count, ...optional({ scpCpuMs, scuCpuMs }) };
    },
  });
  // The same after 1000 untimed associations by the same client into the same server: what a
  // long-running pair does (a fresh pair spends much of the first 200 warming up). The SCP's CPU
  // is not shown: it would include the warm-up.
  list.push({
    id: 'echo-tls-resume-warm/ours',
    scenario: 'associations: connect + TLS handshake + A-ASSOCIATE + C-ECHO + release, ×200 (TLS session resumption), after 1000 untimed ones',
    kind: 'ours',
    peers: label(PAIRS.ours),
    timing: 'in-process',
    async measure(ctx) {
      const count = ctx.quick ? 20 : 200;
      const { seconds, scuCpuMs } = await withScp(PAIRS.ours, ctx.tls, { store: false }, (port) => oursScu.echo({ port, tls: ctx.tls, count, resume: true, warmup: ctx.quick ? 50 : 1000 }));
      return { seconds, bytes: 0, instances: count, ...optional({ scuCpuMs }) };
    },
  });
  // Handshakes with and without the hybrid post-quantum group: the echo-tls/ours row runs the
  // default (X25519MLKEM768 between ours and ours); this one offers only X25519.
  list.push({
    id: 'echo-tls-classic/ours',
    scenario: 'associations: connect + TLS handshake + A-ASSOCIATE + C-ECHO + release, ×200 (classical X25519 key exchange, not the hybrid X25519MLKEM768)',
    kind: 'ours',
    peers: label(PAIRS.ours),
    timing: 'in-process',
    async measure(ctx) {
      const count = ctx.quick ? 20 : 200;
      const { seconds, scpCpuMs, scuCpuMs } = await withScp(PAIRS.ours, ctx.tls, { store: false }, (port) => oursScu.echo({ port, tls: ctx.tls, count, groups: 'X25519' }));
      return { seconds, bytes: 0, instances: count, ...optional({ scpCpuMs, scuCpuMs }) };
    },
  });
  for (const secure of [true, false]) for (const pair of mainPairs) list.push(concurrentWorkload(secure, pair));
  // Group commit shows when several associations store at once (serve's durable default).
  for (const secure of [true, false]) for (const pair of [PAIRS.dcmtk, PAIRS.dcmtkToServe, PAIRS.oursCliToServe]) list.push(concurrentWorkload(secure, pair, 4));
  list.push(
    // `echoscu --version` exits before DCMTK loads its data dictionary; a refused connection does
    // not, so it is the start-up that every DCMTK whole-command figure pays.
    startupWorkload('startup/dcmtk', 'dcmtk', 'DCMTK echoscu to a closed port (exits non-zero)', () => ({
      command: 'echoscu',
      args: ['127.0.0.1', '1'],
      allowFailure: true,
    })),
    startupWorkload('startup/node', 'ceiling', 'node -e 0 (the floor for any Node CLI)', () => ({ command: process.execPath, args: ['-e', '0'] })),
    startupWorkload('startup/ours-cli', 'ours', 'dicom-tls --version', oursCliStartup),
    scpStartWorkload('scp-start/dcmtk', 'dcmtk', storescp),
    scpStartWorkload('scp-start/ours', 'ours', oursScp),
    scpStartWorkload('scp-start/serve', 'ours', oursServe),
  );
  // What the disk allows a durable store whose peer sends one instance at a time: beside the
  // store-small rows into `serve` (durable) and into storescp (which never flushes).
  for (const [flushes, what] of [[0, 'no flush (what storescp pays)'], [1, 'the file flushed'], [2, 'the file and an index record flushed']] as const) {
    list.push({
      id: `floor/durable-${flushes}`,
      scenario: 'floor: 200 × (create, write 100 KB, rename, append an index record), one at a time, no DICOM',
      kind: 'ceiling',
      peers: what,
      timing: 'in-process',
      measure: async (ctx) => durableFloor(small(ctx), flushes),
    });
  }
  // What a bare Node server pays for a small-instance row's bytes, reads, writes and TLS (no
  // DICOM, fresh process as our SCP): the SCP CPU column beside storescp's and ours.
  for (const [transport, what] of [
    ['net', "Node's net → net (a bare server in a child process)"],
    ['tls', "Node's tls → tls (a bare server in a child process)"],
    ['secure-socket', "Node's tls → dicom-tls SecureServer (the same bare server on our TLS engine)"],
  ] as const) {
    list.push({
      id: `floor/small-${transport}`,
      scenario: 'floor: 200 × 100 KB framed messages into a fresh Node server, a 100-byte answer each, up to 16 unanswered, no DICOM',
      kind: 'ceiling',
      peers: what,
      timing: 'in-process',
      measure: (ctx) => floorSmall(transport, ctx.tls, small(ctx)),
    });
  }
  // The store's index alone: add-instance and C-FIND cost (bench/index-bench.ts).
  list.push(...indexWorkloads());
  // serve nodes behind HAProxy on one PostgreSQL index and one store (bench/cluster-bench.ts).
  list.push(...clusterWorkloads({ small, large }));
  list.push(
    {
      id: 'ceiling/node-tls',
      scenario: 'ceiling: raw TLS 1.3 bulk transfer over loopback, mutual auth, no DICOM',
      kind: 'ceiling',
      peers: "Node's own tls → tls (sink in a child process)",
      timing: 'in-process, after handshake',
      measure: (ctx) => nodeTlsThroughput(ctx.tls, ceilingBytes(ctx)),
    },
    {
      id: 'ceiling/secure-socket',
      scenario: 'ceiling: raw TLS 1.3 bulk transfer over loopback, mutual auth, no DICOM',
      kind: 'ceiling',
      peers: 'dicom-tls SecureSocket pair (bench/tls-bench.ts)',
      timing: 'in-process, after handshake',
      measure: (ctx) => secureSocketCeiling(ctx.tls, ceilingBytes(ctx)),
    },
    // AES-128-GCM is the ceiling; AES-256-GCM is what DCMTK and Node negotiate by default
    // (TLS_AES_256_GCM_SHA384), so both are shown.
    ...(['aes-128-gcm', 'aes-256-gcm'] as const).map((cipher) => ({
      id: `ceiling/openssl-speed-${cipher}`,
      scenario: 'ceiling: AEAD bulk cipher in libcrypto, one core, 16 KiB blocks',
      kind: 'ceiling' as const,
      peers: `openssl speed -evp ${cipher}`,
      timing: 'openssl',
      measure: (ctx: Context) => opensslSpeed(cipher, ctx.quick ? 1 : 2),
    })),
    {
      id: 'ceiling/openssl-s_time',
      scenario: 'ceiling: full TLS 1.3 mutual-auth handshakes, new connection each',
      kind: 'ceiling',
      peers: 'openssl s_time → s_server',
      timing: 'whole command',
      measure: (ctx) => opensslSTime(ctx.tls, ctx.quick ? 1 : 3),
    },
  );
  return list;
}
