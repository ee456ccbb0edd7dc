/**
 * dicom-tls SCP in its own process, so the runner reads its peak RSS like DCMTK storescp's.
 * Usage: node ours-scp-main.js <json>; json: { port, outDir|null, maxPdu|null, tls: {key, cert, ca}|null }.
 *
 * To disk: StorageServer (the default C-STORE handler into FileStore, indexed in SQLite); the
 * index lives in a temp directory beside, not inside, outDir (the runner counts the files there).
 * fsync policy 'none', as DCMTK storescp (it never fsyncs): like with like. BENCH_OURS_FSYNC
 * overrides it ('file', 'file-and-directory'). Like `serve`, it warms its store path before the
 * port opens (warmUpStoragePath, 800 instances; BENCH_OURS_WARM_UP sets the count, 0 none).
 * Discard (`--ignore`): a DicomServer whose C-STORE handler drops the data set fragments as they
 * arrive, with no warm-up: those rows keep a cold process's cost in view.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DicomServer } from '../../src/ae/server.js';
import { StorageSopClass, VerificationSopClass } from '../../src/dictionary/uids.js';
import { Status } from '../../src/dictionary/status.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { STORAGE_MAX_PDU_LENGTH, STORAGE_TRANSFER_SYNTAXES, StorageServer } from '../../src/services/scp/storage-server.js';
import { warmUpStoragePath } from '../../src/services/scp/warm-up.js';
import type { FsyncPolicy } from '../../src/store/file-store.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { poolStats } from '../../src/internal/buffer-pool.js';

interface Options {
  readonly port: number;
  readonly outDir: string | null;
  readonly maxPdu: number | null;
  readonly tls: { key: string; cert: string; ca: string } | null;
}

const options = JSON.parse(process.argv[2]!) as Options;
const tls = options.tls === null ? undefined : new SecureContext({ role: 'server', identity: { cert: options.tls.cert, key: options.tls.key }, ca: [options.tls.ca] });
const maxPdu = options.maxPdu ?? undefined;
const aeTitle = 'STORESCP';
let indexDir: string | undefined;

let close: () => Promise<void>;
if (options.outDir !== null) {
  // Beside the output directory (in the bench's scratch directory, lib/scratch.ts), not in the OS temp directory.
  indexDir = mkdtempSync(join(dirname(options.outDir), 'index-'));
  const storage = await StorageServer.create({
    aeTitle,
    storeRoot: options.outDir,
    index: join(indexDir, 'index.sqlite'),
    fsync: (process.env['BENCH_OURS_FSYNC'] ?? 'none') as FsyncPolicy,
    ...(tls === undefined ? {} : { tls }),
    limits: { idleTimeout: 0, ...(maxPdu === undefined ? {} : { maxPduLength: maxPdu }) },
  });
  // As `serve` does by default: the store path warmed before the port opens (BENCH_OURS_WARM_UP=0: not).
  const warmUp = Number(process.env['BENCH_OURS_WARM_UP'] ?? 800);
  if (warmUp > 0) await warmUpStoragePath({ instances: warmUp, fsync: (process.env['BENCH_OURS_FSYNC'] ?? 'none') as FsyncPolicy, tls: tls !== undefined });
  await storage.listen(options.port, '127.0.0.1');
  close = () => storage.close({ timeout: 1000 });
} else {
  const handlers = new HandlerRegistry();
  handlers.register('C-STORE-RQ', {
    datasetSink: () => ({ fragmentUse: 'write' as const, write: () => undefined, end: () => undefined }),
    handle: () => ({ status: Status.Success }),
  });
  const server = new DicomServer({
    aeTitle,
    ...(tls === undefined ? {} : { tls }),
    maxPduLength: maxPdu ?? STORAGE_MAX_PDU_LENGTH, // as StorageServer, so both modes announce the same
    presentationContexts: {
      supported: [
        { abstractSyntax: VerificationSopClass },
        ...Object.values(StorageSopClass).map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: STORAGE_TRANSFER_SYNTAXES })),
      ],
    },
    handlers,
  });
  await server.listen(options.port, '127.0.0.1');
  close = () => server.close({ timeout: 1000 });
}

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void close()
    .catch(() => undefined)
    .finally(() => {
      if (indexDir !== undefined) rmSync(indexDir, { recursive: true, force: true });
      // The receive-buffer pool's counters, for looking into memory use (not part of any row).
      const statsTo = process.env['BENCH_POOL_STATS'];
      if (statsTo !== undefined) appendFileSync(statsTo, `${JSON.stringify(poolStats())}\n`);
      process.exit(0);
    });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
