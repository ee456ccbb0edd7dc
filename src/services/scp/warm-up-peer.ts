/**
 * The requesting side of the start-up warm-up (warm-up.ts), run as a child process: the
 * associations that store synthetic instances into the warming process's scratch servers. In a
 * process of its own, as a real peer is: its buffers and compiled client code stay out of the
 * server's memory (in the server's process they added 10–15 MB to its peak).
 *
 * Reads the job (WarmUpJob, JSON) on stdin; exits 0 once every instance was stored with Success,
 * otherwise 1 with the reason on stderr.
 */
import { readFileSync } from 'node:fs';
import { DicomClient } from '../../ae/client.js';
import { StorageSopClass, TransferSyntax, VerificationSopClass } from '../../dictionary/uids.js';
import { SecureContext } from '../../transport/tls/context.js';
import { SecureSocket } from '../../transport/tls/socket.js';
import { connectTcp } from '../../transport/tcp.js';
import { pduRelay } from './warm-up-relay.js';
import type { DatasetStreamSource } from '../scu/store.js';
import { explicitElement, explicitText, explicitUs } from '../../dataset/explicit-element.js';

/** What the warming process asks of its peer. */
export interface WarmUpJob {
  readonly aeTitle: string;
  readonly ports: { readonly tls: number | undefined; readonly plain: number };
  /** The client identity and the CA, PEM (throwaway, made in memory for this warm-up). */
  readonly tls: { readonly certPem: string; readonly keyPem: string; readonly caPem: string } | undefined;
  /** One per association, in order. */
  readonly associations: readonly { readonly tls: boolean; readonly windowed: boolean; readonly count: number }[];
  readonly pixelBytes: number;
  /** Makes the UIDs of this run's instances unique. */
  readonly run: string;
}

/** A UID root for the warm-up's objects (2.25: UUID-derived, PS3.5 B.2); they never leave the machine. */
const ROOT = '2.25.31415926535897932384626433832795';

/** A Secondary Capture image with the attributes the index keeps, in Explicit VR Little Endian. */
function instance(run: string, association: number, n: number, pixels: Uint8Array): DatasetStreamSource {
  const study = `${ROOT}.${run}.${association + 1}`;
  const series = `${study}.1`;
  const sopInstanceUid = `${series}.${n + 1}`;
  const head = Buffer.concat([
    // Half with a Specific Character Set, half in the default repertoire, as the field sends.
    ...(n % 2 === 1 ? [explicitText(0x0008, 0x0005, 'CS', 'ISO_IR 100')] : []),
    explicitText(0x0008, 0x0016, 'UI', StorageSopClass.SecondaryCaptureImageStorage),
    explicitText(0x0008, 0x0018, 'UI', sopInstanceUid),
    explicitText(0x0008, 0x0020, 'DA', '20260101'),
    explicitText(0x0008, 0x0030, 'TM', '120000'),
    explicitText(0x0008, 0x0050, 'SH', `A${n}`),
    explicitText(0x0008, 0x0060, 'CS', 'OT'),
    explicitText(0x0010, 0x0010, 'PN', 'WARM^UP'),
    explicitText(0x0010, 0x0020, 'LO', 'WARM-UP'),
    explicitText(0x0010, 0x0030, 'DA', '19700101'),
    explicitText(0x0010, 0x0040, 'CS', 'O'),
    explicitText(0x0020, 0x000d, 'UI', study),
    explicitText(0x0020, 0x000e, 'UI', series),
    explicitText(0x0020, 0x0010, 'SH', '1'),
    explicitText(0x0020, 0x0011, 'IS', '1'),
    explicitText(0x0020, 0x0013, 'IS', String(n + 1)),
    explicitUs(0x0028, 0x0002, 1),
    explicitText(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    // Rows × Columns × 2 bytes: as many as the shared pixel buffer holds.
    explicitUs(0x0028, 0x0010, 256),
    explicitUs(0x0028, 0x0011, pixels.byteLength / (256 * 2)),
    explicitUs(0x0028, 0x0100, 16),
    explicitUs(0x0028, 0x0101, 12),
    explicitUs(0x0028, 0x0102, 11),
    explicitUs(0x0028, 0x0103, 0),
  ]);
  // The pixels are one buffer shared by every instance, sent as they are: no copy per instance.
  const pixelHeader = explicitElement(0x7fe0, 0x0010, 'OW', new Uint8Array(0));
  pixelHeader.writeUInt32LE(pixels.byteLength, 8);
  const size = head.byteLength + pixelHeader.byteLength + pixels.byteLength;
  return { sopClassUid: StorageSopClass.SecondaryCaptureImageStorage, sopInstanceUid, transferSyntaxUid: TransferSyntax.ExplicitVrLittleEndian, dataset: [head, pixelHeader, pixels], size };
}


// A signal to the whole process group (Ctrl-C in a terminal, systemd stopping the unit) reaches
// this process as well as the warming one, which may see this one die first and take it for a
// broken store path. The warming process decides: it kills this one when it stops, and if it
// dies, the associations end and so does this process.
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(0, 'utf8')) as WarmUpJob;
  const tls = job.tls === undefined ? undefined : new SecureContext({
    role: 'client', identity: { cert: Buffer.from(job.tls.certPem), key: Buffer.from(job.tls.keyPem) }, ca: [Buffer.from(job.tls.caPem)], sessionResumption: false,
  });
  const pixels = new Uint8Array(job.pixelBytes);
  // One at a time, the client goes through a relay that writes PDU by PDU, as DCMTK's storescu.
  const relays = {
    plain: await pduRelay(() => connectTcp({ host: '127.0.0.1', port: job.ports.plain })),
    tls: job.ports.tls === undefined || tls === undefined ? undefined : await pduRelay(() => SecureSocket.connect({ host: '127.0.0.1', port: job.ports.tls!, context: tls })),
  };
  // Every storage SOP class, as DCMTK's storescu proposes them: decoding and answering a
  // request of a hundred contexts is code that a request of two leaves cold.
  const presentationContexts = [
    { abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] },
    { abstractSyntax: StorageSopClass.SecondaryCaptureImageStorage, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] },
    ...Object.values(StorageSopClass).filter((uid) => uid !== StorageSopClass.SecondaryCaptureImageStorage).slice(0, 100)
      .map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] })),
  ];
  let n = 0;
  for (const [i, a] of job.associations.entries()) {
    const direct = a.tls ? job.ports.tls : job.ports.plain;
    const relay = a.tls ? relays.tls : relays.plain;
    if (direct === undefined || relay === undefined) throw new Error(`association ${i}: no ${a.tls ? 'TLS' : 'plain'} port`);
    const client = await DicomClient.associate({
      host: '127.0.0.1', port: a.windowed ? direct : relay.address.port, callingAeTitle: job.aeTitle, calledAeTitle: job.aeTitle,
      ...(a.tls && a.windowed ? { tls } : {}),
      presentationContexts,
      // One at a time, as DCMTK's storescu sends, or with an Asynchronous Operations Window.
      ...(a.windowed ? { asynchronousOperations: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 } } : {}),
    });
    try {
      await client.echo();
      const results = await client.store(Array.from({ length: a.count }, (_, k) => instance(job.run, i, n + k, pixels)));
      const failed = results.find((r) => r.outcome !== 'Success');
      if (failed !== undefined) throw new Error(`instance ${failed.sopInstanceUid} was not stored: ${failed.errorComment ?? String(failed.error ?? failed.status)}`);
      await client.release();
    } catch (error) {
      await client.abort();
      throw error;
    }
    n += a.count;
  }
  await relays.plain.close();
  await relays.tls?.close();
  tls?.dispose();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
