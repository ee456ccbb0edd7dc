/**
 * Adapter for "ours" (dicom-tls). The runner pairs these with the other peers, so filling these
 * in is all it takes to get the rows ours → ours, ours → DCMTK storescp and DCMTK storescu → ours
 * (and the ratios) into the table:
 *
 * - `oursScp.start` must start a DicomServer in ITS OWN PROCESS (the runner reads its peak RSS from
 *   /proc/<pid>/status), e.g. spawn `node dist/bench/peers/ours-scp.js <json ScpOptions>` built
 *   like dcmjs-dimse-scp.ts: Storage + Verification SCP, Part 10 files into outDir (discard when
 *   undefined), mutual TLS with tls.serverKey/serverCert/caCert, announce maxPdu when given.
 * - `oursScu` must run DicomClient in a child process that times itself in-process and prints
 *   {"seconds": n}, like dcmjs-dimse-scu.ts (store: all files on one association; echo: `count`
 *   associations one after the other; storeConcurrent: one association per list, all at once).
 * - `oursCliScu` is the same client driven through the CLI (`dicom-tls store …`, `dicom-tls echo …`),
 *   timed as a whole command (spawn to exit), like DCMTK's storescu/echoscu rows.
 * - `oursCliStartup` is the CLI's own start-up: the command the 'startup' rows run, or
 *   NotAvailableError while dist/cli/dicom-tls.js is not there.
 *
 * The CLI slots throw NotAvailableError while dist/cli/dicom-tls.js is missing; the runner prints n/a.
 */
import { existsSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tlsFor } from '../lib/pki.js';
import { scratchDir } from '../lib/scratch.js';
import { run, runNodeScu, startNodeScp } from '../lib/proc.js';
import { NotAvailableError, type ScpHandle, type ScpOptions, type ScpPeer, type ScuPeer, type TlsFiles } from '../lib/types.js';

const scpScript = fileURLToPath(new URL('./ours-scp-main.js', import.meta.url));
const scuScript = fileURLToPath(new URL('./ours-scu-main.js', import.meta.url));

/**
 * BENCH_CPU_PROF=<dir>: run our SCP and SCU children under `node --cpu-prof` into <dir> (profiling
 * the hot path; NODE_OPTIONS refuses --cpu-prof). The figures of such a run are not comparable.
 */
function profileArgs(name: string): string[] {
  const dir = process.env['BENCH_CPU_PROF'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
}

/** Our DicomServer in its own process (ours-scp-main.ts): its VmHWM is the SCP's peak RSS. */
export const oursScp: ScpPeer = {
  name: 'dicom-tls DicomServer',
  async start(options: ScpOptions): Promise<ScpHandle> {
    const json = JSON.stringify({ port: options.port, outDir: options.outDir ?? null, maxPdu: options.maxPdu ?? null, tls: tlsFor(options.tls, 'scp') });
    return startNodeScp('dicom-tls SCP', options.port, [...profileArgs('scp'), scpScript, json]);
  },
};

/** serve's log line once both listeners are up (a connect to the port alone can meet its port check). */
const serveListening = /\blistening for DICOM over TLS on /;

/**
 * `dicom-tls serve` as users run it (the bundled CLI, its durable defaults: FileStore fsync 'file',
 * SQLite synchronous FULL), beside `oursScp`, which is the same StorageServer with fsync 'none'.
 * Its data directory is a temp dir whose `files` is a link to outDir, so the runner counts only
 * the stored instances (the index and its WAL stay beside). TLS on options.port, or plain DICOM
 * there (`--plain-port`) with the TLS listener on any free port. Discarding is not a mode of serve.
 */
export const oursServe: ScpPeer = {
  name: 'dicom-tls serve (durable)',
  async start(options: ScpOptions): Promise<ScpHandle> {
    if (!existsSync(cliMain)) throw new NotAvailableError('dist/cli/dicom-tls.js is not there yet');
    if (options.outDir === undefined) throw new NotAvailableError('serve always stores');
    const data = await scratchDir('serve-');
    await symlink(options.outDir, join(data, 'files'), 'dir');
    const tls = options.tls;
    const ports = tls === undefined ? ['--port', '0', '--plain-port', String(options.port)] : ['--port', String(options.port)];
    // serve always has a TLS listener: without bench TLS files it makes its own development PKI.
    const identity = tls === undefined ? [] : ['--cert', tls.serverCert, '--key', tls.serverKey, '--ca', tls.caCert];
    try {
      const handle = await startNodeScp('dicom-tls serve', options.port, [
        ...profileArgs('serve'), cliMain, 'serve', '--host', '127.0.0.1', '--aet', 'STORESCP', '--data', data, ...ports, ...identity,
      ], undefined, serveListening);
      return {
        pid: handle.pid,
        output: handle.output,
        async stop() {
          try {
            return await handle.stop();
          } finally {
            await rm(data, { recursive: true, force: true });
          }
        },
      };
    } catch (error) {
      await rm(data, { recursive: true, force: true });
      throw error;
    }
  },
};

/**
 * `dicom-tls serve` as above with `--storage s3://dicom/bench`: an s3rver (the tests' S3-compatible
 * server, a Node process of its own) started per run, credentials and endpoint in the environment.
 * Peak RSS and CPU are serve's alone; s3rver's CPU competes on the same cores, as a local MinIO
 * would. The instances are counted as objects in the bucket.
 */
export const oursServeS3: ScpPeer = {
  name: 'dicom-tls serve (S3)',
  async start(options: ScpOptions): Promise<ScpHandle> {
    if (!existsSync(cliMain)) throw new NotAvailableError('dist/cli/dicom-tls.js is not there yet');
    if (options.outDir === undefined) throw new NotAvailableError('serve always stores');
    const [{ startS3Server }, { S3BlobStore }] = await Promise.all([import('../../test/helpers/s3.js'), import('../../src/store/blob/s3.js')]);
    // s3rver takes any free port; the runner's port for serve was free when it was picked, so
    // s3rver may draw the very same one: then serve's port check would stop it, and the bench's
    // readiness probe would meet s3rver. Start it again until the ports differ.
    let s3 = await startS3Server(['dicom']);
    while (s3.port === options.port) {
      await s3.close();
      s3 = await startS3Server(['dicom']);
    }
    const data = await scratchDir('serve-s3-');
    const tls = options.tls;
    const ports = tls === undefined ? ['--port', '0', '--plain-port', String(options.port)] : ['--port', String(options.port)];
    const identity = tls === undefined ? [] : ['--cert', tls.serverCert, '--key', tls.serverKey, '--ca', tls.caCert];
    const env = { ...s3.env, DICOM_TLS_STORAGE__ENDPOINT: s3.endpoint, DICOM_TLS_STORAGE__FORCE_PATH_STYLE: 'true' };
    const cleanup = async (): Promise<void> => {
      await s3.close();
      await rm(data, { recursive: true, force: true });
    };
    try {
      const handle = await startNodeScp('dicom-tls serve (S3)', options.port, [
        ...profileArgs('serve'), cliMain, 'serve', '--host', '127.0.0.1', '--aet', 'STORESCP', '--data', data, '--storage', 's3://dicom/bench', ...ports, ...identity,
      ], env, serveListening);
      return {
        pid: handle.pid,
        output: handle.output,
        async stored() {
          const store = await S3BlobStore.open(s3.options('dicom', 'bench'));
          let n = 0;
          for await (const _ of store.list()) n++;
          await store.close();
          return n;
        },
        async stop() {
          try {
            return await handle.stop();
          } finally {
            await cleanup();
          }
        },
      };
    } catch (error) {
      await cleanup();
      throw error;
    }
  },
};

function scu(input: object): Promise<{ seconds: number; cpuMs?: number }> {
  return runNodeScu('dicom-tls SCU', [...profileArgs('scu'), scuScript], input, 8);
}

/** Our DicomClient in its own process (ours-scu-main.ts), timing itself. */
export const oursScu: ScuPeer = {
  name: 'dicom-tls DicomClient',
  timing: 'in-process',
  store: (o) => scu({ mode: 'store', port: o.port, tls: tlsFor(o.tls, 'scu'), files: o.files, maxPdu: o.maxPdu ?? null, warmup: o.warmup ?? null }),
  echo: (o) => scu({ mode: 'echo', port: o.port, tls: tlsFor(o.tls, 'scu'), count: o.count, resume: o.resume === true, groups: o.groups ?? null, warmup: o.warmup ?? 0 }),
  storeConcurrent: (o) => scu({ mode: 'concurrent', port: o.port, tls: tlsFor(o.tls, 'scu'), filesPerClient: o.filesPerClient }),
};

const cliArgs = (port: number, tls: TlsFiles | undefined): string[] => [
  `127.0.0.1:${port}`,
  '--aet',
  'BENCHSCU',
  '--call',
  'STORESCP',
  ...(tls === undefined ? ['--no-tls'] : ['--cert', tls.clientCert, '--key', tls.clientKey, '--ca', tls.caCert]),
];

function cli(args: string[]): Promise<unknown> {
  if (!existsSync(cliMain)) throw new NotAvailableError('dist/cli/dicom-tls.js is not there yet');
  // A non-zero exit (a failed instance is exit 16) rejects: nothing lost goes unnoticed.
  return run(process.execPath, [cliMain, ...args]);
}

/** The CLI (`dicom-tls store`, `dicom-tls echo`), timed as a whole command like storescu/echoscu. */
export const oursCliScu: ScuPeer = {
  name: 'dicom-tls CLI',
  timing: 'whole command',
  async store(o) {
    await cli(['store', ...cliArgs(o.port, o.tls), ...o.files]);
    return undefined;
  },
  async echo(o) {
    for (let i = 0; i < o.count; i++) await cli(['echo', ...cliArgs(o.port, o.tls)]);
    return undefined;
  },
  async storeConcurrent(o) {
    await Promise.all(o.filesPerClient.map((files) => cli(['store', ...cliArgs(o.port, o.tls), ...files])));
    return undefined;
  },
};

/** The executable as installed (`npm run build` bundles it): dist/bench/peers → dist/cli. */
const cliMain = fileURLToPath(new URL('../../cli/dicom-tls.js', import.meta.url));

/** The command whose run time is the CLI's start-up cost (it counts in every whole-command figure). */
export function oursCliStartup(): { command: string; args: string[] } {
  if (!existsSync(cliMain)) throw new NotAvailableError('dist/cli/dicom-tls.js is not there yet');
  return { command: process.execPath, args: [cliMain, '--version'] };
}
