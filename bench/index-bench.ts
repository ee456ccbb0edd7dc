/**
 * The store's index alone (IndexDb over SQLite): what adding one instance and answering one
 * C-FIND cost, without network, TLS or file writes. Each run is a child process of its own:
 *
 *   node dist/bench/index-bench.js --op add-full|add-normal|query-study|query-name|query-image \
 *     [--instances N] [--queries Q] [--dist DIR]
 *
 * prints `{"seconds": s, "operations": n}` (n instances added or queries answered). `--dist` takes
 * another build's dist/ directory, so the same micro-benchmark measures an older index (the
 * better-sqlite3 one, before node:sqlite) with only the module path changed; it uses nothing but
 * `new IndexDb(path, { synchronous })`, `addInstance(record)` and `findMatches(...)`, which both
 * have. As a module it gives the bench's rows (`indexWorkloads`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run } from './lib/proc.js';
import { NotAvailableError, type Measurement } from './lib/types.js';
import type { Workload } from './workloads.js';

export const indexOps = ['add-full', 'add-normal', 'query-study', 'query-name', 'query-image', 'pg-add', 'pg-query-study', 'pg-query-name', 'pg-query-image'] as const;
export type IndexOp = (typeof indexOps)[number];

/** The bench's shape: patients of one study each, 2 series of 10 instances per study. */
const PER_SERIES = 10;
const SERIES_PER_STUDY = 2;
const PER_STUDY = PER_SERIES * SERIES_PER_STUDY;
const SURNAMES = ['DOE', 'SMITH', 'MUELLER', 'ROSSI', 'GARCIA', 'NGUYEN', 'KOWALSKI', 'DUBOIS', 'SATO', 'SILVA'];

/** Instance `n` of the set, as the store records it (values as a modality would send them). */
export function record(n: number): Record<string, unknown> {
  const study = Math.floor(n / PER_STUDY);
  const series = Math.floor(n / PER_SERIES);
  const root = '1.2.826.0.1.3680043.10.1234';
  return {
    SpecificCharacterSet: 'ISO_IR 100',
    PatientID: `PAT${String(study).padStart(6, '0')}`,
    PatientName: `${SURNAMES[study % SURNAMES.length]}^PATIENT${study}`,
    PatientBirthDate: `19${String(40 + (study % 60)).padStart(2, '0')}0101`,
    PatientSex: study % 2 === 0 ? 'F' : 'M',
    StudyInstanceUID: `${root}.1.${study}`,
    StudyDate: `2026${String(1 + (study % 12)).padStart(2, '0')}15`,
    StudyTime: '101500',
    AccessionNumber: `ACC${study}`,
    StudyID: String(study),
    StudyDescription: 'CT CHEST',
    ReferringPhysicianName: 'HOUSE^GREGORY',
    SeriesInstanceUID: `${root}.2.${series}`,
    Modality: series % 2 === 0 ? 'CT' : 'SR',
    SeriesNumber: String((series % SERIES_PER_STUDY) + 1),
    SeriesDescription: 'AXIAL',
    SOPInstanceUID: `${root}.3.${n}`,
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    InstanceNumber: String((n % PER_SERIES) + 1),
    path: `/data/${study}/${series}/${n}.dcm`,
    key: `${study}/${series}/${n}.dcm`,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    size: 100_000,
  };
}

/** The identifier of query `q` for an index holding `instances` instances. */
function identifier(op: IndexOp, q: number, instances: number): Record<string, unknown> {
  const studies = Math.max(1, Math.floor(instances / PER_STUDY));
  // A fixed stride through the studies: every query asks for another one, no cache favours any.
  const study = (q * 7919) % studies;
  const root = '1.2.826.0.1.3680043.10.1234';
  switch (op) {
    case 'query-study': // a patient's studies by Patient ID: what a viewer asks first
      return {
        QueryRetrieveLevel: 'STUDY', PatientID: `PAT${String(study).padStart(6, '0')}`, StudyInstanceUID: '', StudyDate: '',
        StudyDescription: '', AccessionNumber: '', ModalitiesInStudy: '', NumberOfStudyRelatedInstances: '',
      };
    case 'query-name': // a worklist-style search: surname wildcard and a date range, one tenth of the patients
      return {
        QueryRetrieveLevel: 'STUDY', PatientName: [{ Alphabetic: `${SURNAMES[q % SURNAMES.length]}^*` }],
        StudyDate: '20260101-20261231', PatientID: '', StudyInstanceUID: '', StudyDescription: '',
      };
    case 'query-image': // the instances of one series: what C-MOVE / C-GET resolve
      return {
        QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: `${root}.1.${study}`,
        SeriesInstanceUID: `${root}.2.${study * SERIES_PER_STUDY + (q % SERIES_PER_STUDY)}`,
        SOPInstanceUID: '', SOPClassUID: '', InstanceNumber: '',
      };
    default:
      throw new Error(`not a query: ${op}`);
  }
}

interface BenchIndex {
  addInstance(record: unknown): Promise<string | undefined>;
  close(): Promise<void>;
}
interface IndexModule {
  IndexDb: new (path: string, options?: { synchronous?: 'full' | 'normal' }) => BenchIndex;
}
interface PostgresModule {
  PostgresIndex: { open(options: { url: string }): Promise<BenchIndex> };
}

/** The PostgreSQL rows' index: a durable cluster of its own (test/helpers/postgres.ts), one fresh database. */
async function openPostgres(dist: string): Promise<{ index: BenchIndex; stop: () => Promise<void> }> {
  const { PostgresIndex } = (await import(pathToFileURL(join(dist, 'src/store/postgres-index.js')).href)) as PostgresModule;
  const { startPostgres } = await import('../test/helpers/postgres.js');
  const server = await startPostgres({ durable: true });
  try {
    const index = await PostgresIndex.open({ url: await server.createDatabase() });
    return { index, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
interface QueryModule {
  findMatches(index: unknown, model: string, identifier: unknown): AsyncIterable<unknown>;
}

/** One measured run, in this process. */
export async function measureIndexOp(op: IndexOp, instances: number, queries: number, dist: string): Promise<{ seconds: number; cpuMs: number; operations: number; matches: number }> {
  const { findMatches } = (await import(pathToFileURL(join(dist, 'src/store/query.js')).href)) as QueryModule;
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-index-bench-'));
  const postgres = op.startsWith('pg-') ? await openPostgres(dist) : undefined;
  const query = op.replace(/^pg-/, '') as IndexOp;
  try {
    const index = postgres?.index ?? new ((await import(pathToFileURL(join(dist, 'src/store/index-db.js')).href)) as IndexModule).IndexDb(join(dir, 'index.sqlite'), { synchronous: op === 'add-full' ? 'full' : 'normal' });
    try {
      const records = Array.from({ length: instances }, (_, n) => record(n));
      // Wall time, and this process's CPU time (user + system) over the same span: on a shared
      // host the second moves far less, and it leaves out waiting for fsync.
      const timer = (): (() => { seconds: number; cpuMs: number }) => {
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        return () => {
          const used = process.cpuUsage(cpu);
          return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuMs: (used.user + used.system) / 1000 };
        };
      };
      if (op === 'add-full' || op === 'add-normal' || op === 'pg-add') {
        const stop = timer();
        for (const r of records) await index.addInstance(r);
        return { ...stop(), operations: instances, matches: 0 };
      }
      for (const r of records) await index.addInstance(r);
      // One untimed query: the statement cache and the SQLite page cache start warm, as on a server.
      for await (const _ of findMatches(index, 'STUDY_ROOT', identifier(query, 0, instances)));
      let matches = 0;
      const stop = timer();
      for (let q = 1; q <= queries; q++) {
        for await (const _ of findMatches(index, 'STUDY_ROOT', identifier(query, q, instances))) matches++;
      }
      return { ...stop(), operations: queries, matches };
    } finally {
      await index.close();
    }
  } finally {
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const here = fileURLToPath(import.meta.url);
const ownDist = fileURLToPath(new URL('../', import.meta.url));

/** Sizes of a full run: 10 000 instances (500 studies), 2 000 queries. */
const INSTANCES = 10_000;
const QUERIES = 2_000;

const titles: Readonly<Record<IndexOp, string>> = {
  'add-full': 'index (node:sqlite): add 10 000 instances, one transaction each, synchronous=FULL as `dicom-tls serve` (rate = instances/s)',
  'add-normal': 'index (node:sqlite): add 10 000 instances, synchronous=NORMAL as a StorageServer with fsync "none" (rate = instances/s)',
  'query-study': 'index (node:sqlite): 2 000 × C-FIND STUDY by Patient ID, 7 keys incl. ModalitiesInStudy, NumberOfStudyRelatedInstances, over 10 000 instances (rate = queries/s)',
  'query-name': 'index (node:sqlite): 2 000 × C-FIND STUDY by PatientName "SURNAME^*" and a date range, 50 matches each, over 10 000 instances (rate = queries/s)',
  'query-image': 'index (node:sqlite): 2 000 × C-FIND IMAGE, the 10 instances of one series, over 10 000 instances (rate = queries/s)',
  'pg-add': 'index (PostgreSQL, local, fsync on): add 10 000 instances, one transaction each (rate = instances/s)',
  'pg-query-study': 'index (PostgreSQL, local): 2 000 × C-FIND STUDY by Patient ID, as query-study (rate = queries/s)',
  'pg-query-name': 'index (PostgreSQL, local): 2 000 × C-FIND STUDY by PatientName "SURNAME^*" and a date range, as query-name (rate = queries/s)',
  'pg-query-image': 'index (PostgreSQL, local): 2 000 × C-FIND IMAGE of one series, as query-image (rate = queries/s)',
};

/** The bench rows: each op in a child process (a tenth of the sizes with --quick). */
export function indexWorkloads(): Workload[] {
  return indexOps.map((op) => ({
    id: `index-${op}/ours`,
    scenario: titles[op],
    kind: 'ours' as const,
    peers: op.startsWith('pg-') ? 'dicom-tls PostgresIndex (node-postgres, PostgreSQL)' : 'dicom-tls IndexDb (node:sqlite)',
    timing: 'in-process',
    async measure(ctx): Promise<Measurement> {
      if (op.startsWith('pg-')) {
        const { postgresBinDir } = await import('../test/helpers/postgres.js');
        if (postgresBinDir() === undefined) throw new NotAvailableError('PostgreSQL server binaries not installed (apt-get install postgresql)');
      }
      const instances = ctx.quick ? INSTANCES / 10 : INSTANCES;
      const queries = ctx.quick ? QUERIES / 10 : QUERIES;
      const r = await run(process.execPath, [here, '--op', op, '--instances', String(instances), '--queries', String(queries)]);
      if (r.code !== 0) throw new Error(`index bench ${op} failed: ${r.stderr.trim()}`);
      const out = JSON.parse(r.stdout.trim()) as { seconds: number; cpuMs: number; operations: number };
      // The CPU column holds the index process's own CPU time: here the index is the server.
      return { seconds: out.seconds, bytes: 0, instances: out.operations, scpCpuMs: out.cpuMs };
    },
  }));
}

if (process.argv[1] === here) {
  const args = new Map<string, string>();
  for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1] ?? '');
  const op = args.get('--op') as IndexOp;
  if (!indexOps.includes(op)) throw new Error(`--op must be one of ${indexOps.join(', ')}`);
  const result = await measureIndexOp(op, Number(args.get('--instances') ?? INSTANCES), Number(args.get('--queries') ?? QUERIES), args.get('--dist') ?? ownDist);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
