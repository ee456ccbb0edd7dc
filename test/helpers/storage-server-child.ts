/**
 * A StorageServer in its own process, for tests that measure its memory (VmHWM in
 * /proc/<pid>/status), kill a peer mid-instance, or are killed themselves mid-store. argv[2]: JSON
 * { storeRoot, aeTitle, maxPduLength, tls, limits, destinations, s3 }.
 * Prints one line `{"port":N}` once listening; each stored or failed instance as a JSON line.
 * Exits on SIGTERM after closing the server.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { StorageServer, type StorageServerConfig } from '../../src/services/scp/storage-server.js';
import { channelNames } from '../../src/diagnostics.js';
import { SecureContext } from '../../src/transport/tls/context.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  storeRoot: string;
  aeTitle?: string;
  maxPduLength?: number;
  /** FileStore fsync policy; default 'none' (memory tests; the crash test uses 'file', the server's default). */
  fsync?: 'file' | 'file-and-directory' | 'none';
  /** PEM paths: listen for DICOM over TLS, requiring a client certificate under `ca`. */
  tls?: { cert: string; key: string; ca: string };
  /** More `limits` of the StorageServer config (maxPduLength above still applies). */
  limits?: StorageServerConfig['limits'];
  /** C-MOVE destinations over plain TCP. */
  destinations?: Record<string, { host: string; port: number }>;
  /** Store the instances in S3 (test/helpers/s3.ts's server): S3BlobStore options without credentials. */
  s3?: { endpoint: string; bucket: string; prefix?: string; partSize?: number };
};
// A store given up without an answer (the peer vanished) is only seen on the diagnostics channel.
diagnosticsChannel.subscribe(channelNames.server, (m) => {
  const e = m as { kind?: string; sopInstanceUid?: string; error?: Error };
  if (e.kind === 'store-failed') process.stdout.write(`${JSON.stringify({ failed: e.sopInstanceUid, why: String(e.error?.message) })}\n`);
  // What a previous run, killed mid-store, left and the start-up settled (FileStore.reconcile).
  if (e.kind === 'store-reconciled') process.stdout.write(`${JSON.stringify({ reconciled: e.sopInstanceUid, action: (m as { action?: string }).action })}\n`);
});
const storage = config.s3 === undefined ? undefined : await (await import('../../src/store/blob/s3.js')).S3BlobStore.open({
  ...config.s3, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
const server = await StorageServer.create({
  ...(storage === undefined ? {} : { storage }),
  aeTitle: config.aeTitle ?? 'CHILD-SCP',
  storeRoot: config.storeRoot,
  fsync: config.fsync ?? 'none',
  limits: { ...config.limits, maxPduLength: config.maxPduLength ?? 65536 },
  ...(config.destinations === undefined ? {} : { destinations: config.destinations }),
  ...(config.tls === undefined ? {} : { tls: new SecureContext({ role: 'server', identity: { cert: config.tls.cert, key: config.tls.key }, ca: [config.tls.ca] }) }),
});
// Why an association ended other than by release, for a test to read.
server.server.on('association', (a) => {
  void a.whenClosed().then(({ error }) => {
    if (error !== undefined) process.stdout.write(`${JSON.stringify({ associationError: error.code, message: error.message, callingAeTitle: a.callingAeTitle })}\n`);
  });
});
server.on('stored', (i) => process.stdout.write(`${JSON.stringify({ stored: i.sopInstanceUid, path: i.path })}\n`));
// Under --expose-gc, collect and sample live memory at fixed points of the work, not on a timer
// (a timer's samples would depend on how fast the machine moves the bytes): once listening, after
// each stored instance, and every 64th P-DATA-TF received (4 MiB at a 64 KiB maximum length).
// Collecting keeps garbage from blurring the peak RSS the parent measures, which is meant to show
// what the server holds on to.
const gc = (globalThis as { gc?: () => void }).gc;
const sample = (): void => {
  if (gc === undefined) return;
  // Run with --no-concurrent-array-buffer-sweeping: the buffers freed by this collection are
  // then accounted for when it returns, so `external` is what is still referenced.
  gc();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ live: m.heapUsed + m.external })}\n`);
};
if (gc !== undefined) {
  let received = 0;
  diagnosticsChannel.subscribe(channelNames.pduReceived, (m) => {
    if ((m as { pdu: { type: string } }).pdu.type === 'P-DATA-TF' && ++received % 64 === 0) sample();
  });
  server.on('stored', sample);
}
const { port } = await server.listen(0);
process.stdout.write(`${JSON.stringify({ port })}\n`);
sample();
process.on('SIGTERM', () => {
  void server.close({ timeout: 500 }).then(() => process.exit(0));
});
