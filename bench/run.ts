/**
 * `npm run bench`: issue 6's benchmarks, side by side with DCMTK and dcmjs-dimse, in one run on
 * one machine so that the ratios hold while the machine's speed drifts.
 *
 *   node dist/bench/run.js [--runs N] [--quick] [--only SUBSTRING[,SUBSTRING…]] [--out FILE]
 *   (an --only name ending in '$' is matched exactly)
 *
 * Runs go round-robin (every workload once per round) so drift spreads over all rows alike. A full
 * run writes bench/RESULTS.md (keeping the hand-written notes below its marker); --quick and --only
 * write nothing unless --out is given.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ensureData } from './lib/data.js';
import { makePki } from './lib/pki.js';
import { NotAvailableError, type Measurement } from './lib/types.js';
import { formatNumber, formatSpeedRatio, formatSpread, markdownTable, median, megabytesPerSecond, spread } from './lib/stats.js';
import { allWorkloads, type Workload } from './workloads.js';
import { removeDeferred } from './lib/scratch.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NOTES_MARKER = '<!-- notes: everything below this line is kept across runs -->';

interface Args {
  runs: number;
  quick: boolean;
  only: string[];
  out: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { runs: 3, quick: false, only: [], out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') args.runs = Number(value());
    else if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only.push(...value().split(',').filter(Boolean));
    else if (a === '--out') args.out = value();
    else throw new Error(`unknown argument ${a} (use --runs N, --quick, --only NAME, --out FILE)`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
  if (args.quick && !argv.includes('--runs')) args.runs = 1;
  return args;
}

type Outcome = { kind: 'ok'; runs: Measurement[] } | { kind: 'n/a'; reason: string } | { kind: 'error'; reason: string; runs: Measurement[] };

function versions(): Record<string, string> {
  const first = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? 'unknown';
  };
  const dimse = JSON.parse(readFileSync(join(REPO, 'node_modules/dcmjs-dimse/package.json'), 'utf8')) as { version: string };
  return {
    Node: process.version,
    'OpenSSL (CLI)': first('openssl', ['version']),
    'OpenSSL (Node)': process.versions.openssl ?? 'unknown',
    DCMTK: first('storescp', ['--version']).replace(/^\$dcmtk: /, '').replace(/ \$$/, ''),
    'dcmjs-dimse': dimse.version,
  };
}

function machine(): Record<string, string> {
  return {
    nproc: String(availableParallelism()),
    CPU: cpus()[0]?.model ?? 'unknown',
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  };
}

function row(w: Workload, o: Outcome, byScenario: Map<string, { w: Workload; o: Outcome }[]>): string[] {
  const base = [w.id, w.peers, w.timing];
  if (o.kind === 'n/a') return [...base, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
  if (o.runs.length === 0) return [...base, 'error', '', '', '', '', '', '', ''];
  const seconds = spread(o.runs.map((m) => m.seconds));
  const last = o.runs[0]!;
  const mbps = last.bytes > 0 ? formatNumber(megabytesPerSecond(last.bytes, seconds.median)) : '';
  const rate = last.instances > 0 ? formatNumber(last.instances / seconds.median) : '';
  // The median of a field over the runs that measured it; empty when none did.
  const medianField = (field: (m: Measurement) => number | undefined): string => {
    const values = o.runs.flatMap((m) => field(m) ?? []);
    return values.length > 0 ? formatNumber(median(values)) : '';
  };
  const rss = medianField((m) => (m.peakRssKb === undefined ? undefined : m.peakRssKb / 1024));
  const cpu = medianField((m) => m.scpCpuMs);
  const scuCpu = medianField((m) => m.scuCpuMs);
  let vsDcmtk = '';
  let vsDimse = '';
  if (w.kind === 'ours' || w.kind === 'mixed') {
    const peers = byScenario.get(w.scenario) ?? [];
    const medianOf = (kind: string): number | undefined => {
      const p = peers.find((x) => x.w.kind === kind);
      return p !== undefined && p.o.kind === 'ok' ? median(p.o.runs.map((m) => m.seconds)) : undefined;
    };
    vsDcmtk = formatSpeedRatio(seconds.median, medianOf('dcmtk'));
    vsDimse = w.kind === 'ours' ? formatSpeedRatio(seconds.median, medianOf('dcmjs-dimse')) : '';
  }
  return [...base, `${formatSpread(seconds)}${o.kind === 'error' ? ' (errors)' : ''}`, mbps, rate, rss, cpu, scuCpu, vsDcmtk, vsDimse];
}

function table(results: { w: Workload; o: Outcome }[]): string {
  const byScenario = new Map<string, { w: Workload; o: Outcome }[]>();
  for (const r of results) byScenario.set(r.w.scenario, [...(byScenario.get(r.w.scenario) ?? []), r]);
  const header = ['workload', 'peers (SCU → SCP)', 'timing', 's: median (min–max)', 'MB/s', 'inst/s · assoc/s', 'SCP peak RSS MB', 'SCP CPU ms', 'SCU CPU ms', 'ours/DCMTK', 'ours/dcmjs-dimse'];
  const sections: string[] = [];
  for (const [scenario, rows] of byScenario) {
    sections.push(`### ${scenario}\n\n${markdownTable(header, rows.map((r) => row(r.w, r.o, byScenario)))}`);
  }
  return sections.join('\n\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // A name ending in '$' matches one workload exactly ('store-small-tls/ours$'), not its siblings.
  const matches = (id: string, s: string): boolean => (s.endsWith('$') ? id === s.slice(0, -1) : id.includes(s));
  const workloads = allWorkloads().filter((w) => args.only.length === 0 || args.only.some((s) => matches(w.id, s)));
  if (workloads.length === 0) throw new Error(`--only ${args.only.join(',')} matches no workload`);
  const dataDir = join(REPO, 'bench', 'data');
  process.stderr.write(`data: ${dataDir} (generated when missing)\n`);
  const data = await ensureData(dataDir);
  const pki = await makePki();
  const ctx = { data, tls: pki.files, quick: args.quick };
  const started = new Date();
  const outcomes = new Map<Workload, Outcome>(workloads.map((w) => [w, { kind: 'ok', runs: [] }]));
  try {
    // Untimed warm-up: the first run of a peer otherwise pays for loading its binaries and
    // libraries from disk (seen as a 3× slower first row in --quick runs).
    const warm = { ...ctx, data: { ...data, small: data.small.slice(0, 2) } };
    for (const w of workloads.filter((x) => x.id.startsWith('store-small-') && x.id.includes('-tls'))) {
      await w.measure(warm).catch(() => undefined);
    }
    for (let round = 1; round <= args.runs; round++) {
      for (const w of workloads) {
        const o = outcomes.get(w)!;
        if (o.kind === 'n/a') continue;
        try {
          const m = await w.measure(ctx);
          o.runs.push(m);
          process.stderr.write(`[${round}/${args.runs}] ${w.id}: ${m.seconds.toFixed(3)} s\n`);
        } catch (error) {
          if (error instanceof NotAvailableError) {
            outcomes.set(w, { kind: 'n/a', reason: error.message });
            process.stderr.write(`[${round}/${args.runs}] ${w.id}: n/a (${error.message})\n`);
          } else {
            outcomes.set(w, { kind: 'error', reason: (error as Error).message, runs: o.runs });
            process.stderr.write(`[${round}/${args.runs}] ${w.id}: ERROR ${(error as Error).message}\n`);
          }
        }
      }
    }
  } finally {
    await rm(pki.dir, { recursive: true, force: true });
    removeDeferred();
  }
  const elapsed = (Date.now() - started.getTime()) / 1000;
  const results = workloads.map((w) => ({ w, o: outcomes.get(w)! }));
  const rendered = table(results);
  const quickNote = args.quick
    ? '; --quick: 20 small and 1 large instance, 20 associations, 10 clients, 32 MiB ceiling transfer (titles state the full sizes)'
    : '';
  process.stdout.write(`\n${rendered}\n\n(${args.runs} run(s) per row, ${elapsed.toFixed(0)} s in all${quickNote})\n`);
  const errors = results.filter((r) => r.o.kind === 'error');
  for (const r of errors) process.stdout.write(`ERROR ${r.w.id}: ${r.o.kind === 'error' ? r.o.reason : ''}\n`);

  await mkdir(dataDir, { recursive: true });
  await writeFile(
    join(dataDir, 'last-run.json'),
    JSON.stringify({ date: started.toISOString(), args, results: results.map((r) => ({ id: r.w.id, ...r.o })) }, null, 2),
  );
  const out = args.out ?? (args.quick || args.only.length > 0 ? undefined : join(REPO, 'bench', 'RESULTS.md'));
  if (out === undefined) return;
  const kept = existsSync(out) ? readFileSync(out, 'utf8').split(NOTES_MARKER)[1] : undefined;
  const list = (o: Record<string, string>): string => Object.entries(o).map(([k, v]) => `- ${k}: ${v}`).join('\n');
  const md = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${started.toISOString()} (${args.runs} run(s) per row, round-robin; ${elapsed.toFixed(0)} s in all).`,
    'Times are medians with the min–max spread of the runs. Ratios are speed ratios from the median times',
    '(other/ours: above 1 means ours is faster). "whole command" rows include process start-up; "in-process"',
    'rows are timed by the client itself. DCMTK runs with TCP_NODELAY=1 on both ends. TLS rows are TLS 1.3 with',
    'mutual authentication (EC P-256 dev PKI made with the openssl CLI at bench time). MB = 10^6 bytes.',
    '"SCP CPU ms" is the median CPU time the SCP process (all its threads) spent during the timed part: it',
    'moves far less than wall time on a busy host, and set beside the time it shows which side is the bottleneck.',
    '"SCU CPU ms" is the same for our in-process SCU (its own process CPU over its timed part).',
    '',
    '## Machine',
    '',
    list(machine()),
    '',
    '## Versions',
    '',
    list(versions()),
    '',
    '## Results',
    '',
    rendered,
    ...(errors.length === 0 ? [] : ['', '## Errors', '', ...errors.map((r) => `- ${r.w.id}: ${r.o.kind === 'error' ? r.o.reason.split('\n')[0] : ''}`)]),
    '',
    NOTES_MARKER,
    kept ?? '\n## Notes\n',
  ].join('\n');
  await writeFile(out, md);
  process.stdout.write(`written: ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
