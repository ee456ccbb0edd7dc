/**
 * dicom-tls SCU (DicomClient) in its own process, timing itself in-process (the library figure,
 * without Node's start-up), like dcmjs-dimse-scu.ts. Options as JSON on stdin; prints
 * {"seconds": n}; exits non-zero if any instance was not stored with Success or an association failed.
 *
 * TLS: one client SecureContext for the whole run, as an application would keep it. With
 * `resume` the context keeps the server's session ticket per host:port and every association
 * after the first resumes (TLS 1.3 PSK, no certificate exchange); without it sessionResumption
 * is off and every association is a full mutual-auth handshake.
 */
import { readFileSync } from 'node:fs';
import { DicomClient } from '../../src/ae/client.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { SecureContext } from '../../src/transport/tls/context.js';

interface Options {
  readonly mode: 'store' | 'echo' | 'concurrent';
  readonly port: number;
  readonly tls: { key: string; cert: string; ca: string } | null;
  readonly files?: readonly string[];
  readonly filesPerClient?: readonly (readonly string[])[];
  readonly count?: number;
  readonly resume?: boolean;
  readonly maxPdu?: number | null;
  /** Key-exchange groups to offer (echo rows); null: the default, X25519MLKEM768 first. */
  readonly groups?: string | null;
  /**
   * Echo rows: associations made before the timed ones, untimed (a long-running client and server).
   * Store rows: the files stored `rounds` times into the SCP on `port` first, untimed (a long-running client).
   */
  readonly warmup?: number | { readonly port: number; readonly rounds: number } | null;
}

const options = JSON.parse(readFileSync(0, 'utf8')) as Options;
const tls =
  options.tls === null
    ? undefined
    : new SecureContext({
        role: 'client',
        identity: { cert: options.tls.cert, key: options.tls.key },
        ca: [options.tls.ca],
        sessionResumption: options.resume === true,
        ...(options.groups == null ? {} : { groups: options.groups }),
      });
const base = {
  host: '127.0.0.1',
  port: options.port,
  callingAeTitle: 'BENCHSCU',
  calledAeTitle: 'STORESCP',
  ...(tls === undefined ? {} : { tls }),
  ...(options.maxPdu == null ? {} : { maxPduLength: options.maxPdu }),
};

async function store(files: readonly string[], port = options.port): Promise<void> {
  // Proposes an Asynchronous Operations Window (PS3.7 D.3.3.3), as `dicom-tls store` does: a peer
  // that answers without one (DCMTK) keeps it synchronous; our StorageServer allows 16.
  const client = await DicomClient.associate({
    ...base,
    port,
    presentationContexts: await storageContextsFor(files),
    asynchronousOperations: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 },
  });
  const results = await client.store(files);
  await client.release();
  const bad = results.filter((r) => r.outcome !== 'Success');
  if (bad.length > 0) throw new Error(`${bad.length} of ${files.length} not stored: ${bad[0]!.errorComment ?? String(bad[0]!.error)}`);
}

async function echoes(count: number): Promise<{ resumed: number; groups: Set<string> }> {
  let resumed = 0;
  const groups = new Set<string>();
  for (let i = 0; i < count; i++) {
    const client = await DicomClient.associate(base);
    if (client.tls?.resumed === true) resumed++;
    if (client.tls !== undefined) groups.add(client.tls.group ?? 'none');
    await client.echo();
    await client.release();
  }
  return { resumed, groups };
}

if (options.mode === 'echo' && typeof options.warmup === 'number' && options.warmup > 0) await echoes(options.warmup);
if (options.mode === 'store' && typeof options.warmup === 'object' && options.warmup !== null) {
  for (let i = 0; i < options.warmup.rounds; i++) await store(options.files ?? [], options.warmup.port);
}
const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
if (options.mode === 'store') {
  await store(options.files ?? []);
} else if (options.mode === 'concurrent') {
  await Promise.all((options.filesPerClient ?? []).map((files) => store(files)));
} else {
  const { resumed, groups } = await echoes(options.count ?? 0);
  // A resumption row that silently did full handshakes would be a lie: say so, and fail.
  const warmedUp = typeof options.warmup === 'number' && options.warmup > 0;
  if (options.resume === true && tls !== undefined && resumed < (options.count ?? 0) - (warmedUp ? 0 : 1)) {
    throw new Error(`only ${resumed} of ${options.count} associations resumed their TLS session`);
  }
  // Likewise for the key exchange: a hybrid row must have run the hybrid, a classical row not.
  const wanted = options.groups == null ? 'X25519MLKEM768' : options.groups.split(':')[0]!.replace(/^[*?]+/, '').toLowerCase();
  if (tls !== undefined && options.resume !== true && [...groups].some((g) => g.toLowerCase() !== wanted.toLowerCase())) {
    throw new Error(`key exchange ${[...groups].join(', ')}, expected ${wanted}`);
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
// timedCpuMs: this process's CPU over the timed part alone (the table's SCU CPU column).
const timed = process.cpuUsage(cpuStart);
tls?.dispose();
// cpuMs: this process's own CPU over the whole run (start-up included), for A/B work on a busy host.
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ seconds, timedCpuMs: (timed.user + timed.system) / 1000, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
