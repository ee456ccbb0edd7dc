/**
 * A start-up warm-up of the store path: loopback associations that store synthetic instances
 * into a scratch StorageServer, so that V8 has compiled and optimised the code every received
 * instance runs (upper layer, DIMSE assembly, FileStore, index, TLS records) before the first
 * peer arrives.
 *
 * V8 compiles a function when it is first called and optimises it only after some hundreds of
 * calls (Maglev after ~400); the functions of the per-instance path run one to three times per
 * instance, so a freshly started process stores its first several hundred instances in the lower
 * tiers, at about three times the CPU of a process that has run a while (bench/RESULTS.md, "A
 * fresh SCP's warm-up"). No cache carries that across processes: Node's code cache holds
 * bytecode only. A long-running server can pay it once, before it listens, instead of on the
 * first study a modality sends.
 *
 * The warm-up's server and client are separate objects with their own scratch directory, index,
 * and (with `tls`) a throwaway CA and certificates made in memory: nothing of the caller's store,
 * index, trust or session cache is touched. They publish on the diagnostics channels like any
 * association (calling AE title WARM-UP): call this before subscribing, as `serve` does.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DicomClient } from '../../ae/client.js';
import { InvalidOptionError } from '../../errors.js';
import { StorageSopClass, TransferSyntax, VerificationSopClass } from '../../dictionary/uids.js';
import type { FsyncPolicy } from '../../store/file-store.js';
import { SecureContext } from '../../transport/tls/context.js';
import { createCertificateAuthority, createNodeCertificate } from '../../transport/tls/pki.js';
import type { DatasetStreamSource } from '../scu/store.js';
import { StorageServer } from './storage-server.js';

export interface WarmUpOptions {
  /** Instances to store (default 800), spread over eight associations (of at most 100 each). */
  readonly instances?: number;
  /** Over TLS as well as plain TCP (default true): the record layer's code is warmed too. */
  readonly tls?: boolean;
  /** The scratch store's fsync policy (default 'file', the FileStore's default): warm the path the server will run. */
  readonly fsync?: FsyncPolicy;
  /** Where the scratch directory is made (default the OS temporary directory); removed afterwards. */
  readonly directory?: string;
}

export interface WarmUpReport {
  readonly instances: number;
  readonly associations: number;
  /** Wall time of the whole warm-up, ms. */
  readonly ms: number;
}

const WARM_UP_AE = 'WARM-UP';
/** A UID root for the warm-up's objects (2.25: UUID-derived, PS3.5 B.2); they never leave the process. */
const ROOT = '2.25.31415926535897932384626433832795';
/** The size of a typical small instance (a CT or MR slice): the data set spans several socket reads. */
const PIXEL_BYTES = 256 * 256 * 2;
/** Associations per cycle of the four kinds (TLS or plain, one at a time or windowed), twice over. */
const ASSOCIATIONS = 8;
const MAX_PER_ASSOCIATION = 100;
/** The scratch directory's name: the process id lets a later warm-up remove what a killed one left. */
const SCRATCH_PREFIX = '.dicom-tls-warm-up-';

/** Remove scratch directories of warm-ups whose process is gone (killed before its clean-up). */
async function removeStale(directory: string): Promise<void> {
  const names = await readdir(directory).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(SCRATCH_PREFIX.length))?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    await rm(join(directory, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, and belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Explicit VR Little Endian element (PS3.5 7.1.2): a 2-byte length, or reserved + 4-byte for OB/OW. */
function element(group: number, elem: number, vr: string, value: Uint8Array): Buffer {
  const long = vr === 'OB' || vr === 'OW';
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elem, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.byteLength, 8);
  else header.writeUInt16LE(value.byteLength, 6);
  return Buffer.concat([header, value]);
}

function text(group: number, elem: number, vr: string, value: string): Buffer {
  const padded = value.length % 2 === 0 ? value : value + (vr === 'UI' ? '\0' : ' ');
  return element(group, elem, vr, Buffer.from(padded, 'latin1'));
}

function us(group: number, elem: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return element(group, elem, 'US', b);
}

/** A Secondary Capture image with the attributes the index keeps, in Explicit VR Little Endian. */
function instance(run: string, association: number, n: number, pixels: Uint8Array): DatasetStreamSource {
  const study = `${ROOT}.${run}.${association + 1}`;
  const series = `${study}.1`;
  const sopInstanceUid = `${series}.${n + 1}`;
  const dataset = Buffer.concat([
    text(0x0008, 0x0005, 'CS', 'ISO_IR 100'),
    text(0x0008, 0x0016, 'UI', StorageSopClass.SecondaryCaptureImageStorage),
    text(0x0008, 0x0018, 'UI', sopInstanceUid),
    text(0x0008, 0x0020, 'DA', '20260101'),
    text(0x0008, 0x0030, 'TM', '120000'),
    text(0x0008, 0x0050, 'SH', `A${n}`),
    text(0x0008, 0x0060, 'CS', 'OT'),
    text(0x0010, 0x0010, 'PN', 'WARM^UP'),
    text(0x0010, 0x0020, 'LO', 'WARM-UP'),
    text(0x0010, 0x0030, 'DA', '19700101'),
    text(0x0010, 0x0040, 'CS', 'O'),
    text(0x0020, 0x000d, 'UI', study),
    text(0x0020, 0x000e, 'UI', series),
    text(0x0020, 0x0010, 'SH', '1'),
    text(0x0020, 0x0011, 'IS', '1'),
    text(0x0020, 0x0013, 'IS', String(n + 1)),
    us(0x0028, 0x0002, 1),
    text(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    us(0x0028, 0x0010, 256),
    us(0x0028, 0x0011, 256),
    us(0x0028, 0x0100, 16),
    us(0x0028, 0x0101, 12),
    us(0x0028, 0x0102, 11),
    us(0x0028, 0x0103, 0),
    element(0x7fe0, 0x0010, 'OW', pixels),
  ]);
  return { sopClassUid: StorageSopClass.SecondaryCaptureImageStorage, sopInstanceUid, transferSyntaxUid: TransferSyntax.ExplicitVrLittleEndian, dataset, size: dataset.byteLength };
}

/** A throwaway CA, server and client identity, in memory, for the TLS half. */
function throwawayContexts(): { server: SecureContext; client: SecureContext } {
  const ca = createCertificateAuthority({ subject: [['CN', 'dicom-tls warm-up CA']], days: 1 });
  const server = createNodeCertificate(ca, { commonName: 'localhost', ipAddresses: ['127.0.0.1'], days: 1 });
  const client = createNodeCertificate(ca, { commonName: WARM_UP_AE, days: 1 });
  const trust = [Buffer.from(ca.certPem)];
  return {
    server: new SecureContext({ role: 'server', identity: { cert: Buffer.from(server.certPem), key: Buffer.from(server.keyPem) }, ca: trust }),
    client: new SecureContext({ role: 'client', identity: { cert: Buffer.from(client.certPem), key: Buffer.from(client.keyPem) }, ca: trust, sessionResumption: false }),
  };
}

function checkCount(value: number | undefined): number {
  if (value === undefined) return 800;
  if (!Number.isInteger(value) || value < 0) throw new InvalidOptionError('instances', `must be a whole number ≥ 0, got ${String(value)}`);
  return value;
}

/**
 * Store `instances` synthetic instances through loopback associations into a scratch
 * StorageServer, half of them one at a time (as DCMTK's storescu sends) and half with an
 * Asynchronous Operations Window of 16, over TLS and plain TCP in turn; then remove everything.
 * Rejects if an instance is not stored with Success (the store path itself is broken).
 */
export async function warmUpStoragePath(options: WarmUpOptions = {}): Promise<WarmUpReport> {
  const total = checkCount(options.instances);
  const start = performance.now();
  const directory = options.directory ?? tmpdir();
  await removeStale(directory);
  const scratch = await mkdtemp(join(directory, `${SCRATCH_PREFIX}${process.pid}-`));
  const contexts = options.tls === false ? undefined : throwawayContexts();
  const pixels = new Uint8Array(PIXEL_BYTES);
  const run = String(process.pid);
  const per = Math.max(1, Math.min(MAX_PER_ASSOCIATION, Math.ceil(total / ASSOCIATIONS)));
  let associations = 0;
  try {
    for (let done = 0; done < total; associations++) {
      const count = Math.min(per, total - done);
      const tls = contexts !== undefined && associations % 2 === 0;
      const windowed = associations % 4 >= 2;
      const root = join(scratch, String(associations));
      const server = await StorageServer.create({
        aeTitle: WARM_UP_AE, storeRoot: root, fsync: options.fsync ?? 'file',
        ...(tls ? { tls: contexts.server } : {}), limits: { idleTimeout: 0 },
      });
      try {
        const address = await server.listen(0, '127.0.0.1');
        const client = await DicomClient.associate({
          host: '127.0.0.1', port: address.port, callingAeTitle: WARM_UP_AE, calledAeTitle: WARM_UP_AE,
          ...(tls ? { tls: contexts.client } : {}),
          presentationContexts: [
            { abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] },
            { abstractSyntax: StorageSopClass.SecondaryCaptureImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
          ],
          ...(windowed ? { asynchronousOperations: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 } } : {}),
        });
        try {
          await client.echo();
          const sources = Array.from({ length: count }, (_, k) => instance(run, associations, done + k, pixels));
          const results = await client.store(sources);
          const failed = results.find((r) => r.outcome !== 'Success');
          if (failed !== undefined) throw new Error(`the warm-up's instance ${failed.sopInstanceUid} was not stored: ${failed.errorComment ?? String(failed.error ?? failed.status)}`, { cause: failed.error });
          await client.release();
        } catch (error) {
          await client.abort();
          throw error;
        }
      } finally {
        await server.close({ timeout: 1000 });
        await rm(root, { recursive: true, force: true });
      }
      done += count;
    }
  } finally {
    contexts?.server.dispose();
    contexts?.client.dispose();
    await rm(scratch, { recursive: true, force: true });
  }
  return { instances: total, associations, ms: performance.now() - start };
}
