/**
 * Smaller behaviours of the services: Modality Worklist FIND from an application source and its
 * cancellation (FE00 seen by the server), stream sources (raw data set and Part 10 stream),
 * the transcoding limit, no fallback for encapsulated syntaxes, the association and idle limits
 * of the storing server, a C-GET cancelled half-way, failure statuses for bad requests, a source
 * failing mid-data-set, deflated files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import type { Association } from '../../src/ae/association.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { contextFor, part10StreamSource, storageContextsFor } from '../../src/services/scu/store.js';
import { getContexts } from '../../src/services/scu/retrieve.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { tempDir } from '../helpers/dicom-data.js';
import { hasDcmtk } from '../helpers/dcmtk.js';
import { datasetHash, IMPLICIT_LE, spec, writeInstance } from '../helpers/services.js';

const study1 = { PatientID: 'PID1', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1', SeriesInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1' };
const quick = { connect: 5000, association: 5000, dimse: 10000 };
let dir: string;
let remove: () => Promise<void>;
let server: StorageServer;
let port: number;
const sent: { command: string; status?: number }[] = [];
let worklistStopped: string | undefined;

before(async () => {
  ({ dir, remove } = await tempDir('services-units'));
  server = await StorageServer.create({
    aeTitle: 'UNITS',
    storeRoot: join(dir, 'store'),
    fsync: 'none',
    limits: { maxAssociations: 2 },
    async *worklist(identifier, signal) {
      // An endless worklist: only a C-CANCEL ends it.
      for (let n = 0; ; n++) {
        if (signal.aborted) {
          worklistStopped = 'cancelled';
          return;
        }
        yield { AccessionNumber: `A${n}`, PatientName: identifier['PatientName'] ?? '', ScheduledProcedureStepSequence: [{ Modality: 'CT', ScheduledStationAETitle: 'CT1' }] };
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  });
  server.server.on('association', (a: Association) =>
    a.on('message', (m) => m.direction === 'sent' && sent.push({ command: m.command.type, status: (m.command as { status?: number }).status })),
  );
  ({ port } = await server.listen(0));
});
after(async () => {
  await server.close({ timeout: 1000 });
  await remove();
});

test('Modality Worklist C-FIND from an application source; breaking out cancels and the SCP answers FE00', async () => {
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'CT1', calledAeTitle: 'UNITS', presentationContexts: [{ abstractSyntax: QueryRetrieveSopClass.ModalityWorklistInformationModelFind, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }], timeouts: quick });
  const got: unknown[] = [];
  for await (const m of client.find('MODALITY_WORKLIST', { PatientName: 'DOE^*', AccessionNumber: '', ScheduledProcedureStepSequence: [{ Modality: 'CT' }] })) {
    got.push(m['AccessionNumber']);
    const sps = m['ScheduledProcedureStepSequence'] as Record<string, unknown>[];
    assert.equal(sps[0]?.['ScheduledStationAETitle'], 'CT1');
    if (got.length === 3) break;
  }
  assert.deepEqual(got, ['A0', 'A1', 'A2']);
  const finals = sent.filter((s) => s.command === 'C-FIND-RSP' && s.status !== 0xff00);
  assert.deepEqual(finals.map((f) => f.status), [0xfe00]);
  assert.equal(worklistStopped, 'cancelled');
  await client.release();
});

test('stream sources: a raw data set and a Part 10 stream; a file too large to transcode and an encapsulated one without its context fail alone', async () => {
  await mkdir(join(dir, 'in'));
  const a = await writeInstance(join(dir, 'in'), spec(40, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.40' }));
  const b = await writeInstance(join(dir, 'in'), spec(41, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.41' }));
  const c = await writeInstance(join(dir, 'in'), spec(42, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.42' }), { ts: IMPLICIT_LE });
  const header = await readPart10Header(a.path);
  const raw = { sopClassUid: header.meta.MediaStorageSOPClassUID, sopInstanceUid: header.meta.MediaStorageSOPInstanceUID, transferSyntaxUid: header.meta.TransferSyntaxUID, dataset: (await readFile(a.path)).subarray(header.datasetOffset) };
  const streamed = await part10StreamSource(createReadStream(b.path, { highWaterMark: 100 }));
  assert.equal(streamed.sopInstanceUid, '1.2.826.0.1.3680043.9.7777.1.1.41');
  // Only explicit VR LE accepted: the implicit file needs transcoding, refused by a 1-byte limit.
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'S', calledAeTitle: 'UNITS', presentationContexts: [{ abstractSyntax: raw.sopClassUid, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }], timeouts: quick });
  const results = await client.store([raw, streamed, c.path], { maxTranscodeBytes: 1 });
  assert.deepEqual(results.map((r) => r.outcome), ['Success', 'Success', 'Failure']);
  assert.match(results[2]?.errorComment ?? '', /transcod/);
  assert.equal(await datasetHash((await server.storedInstance(raw.sopInstanceUid))!.path), a.hash);
  assert.equal(await datasetHash((await server.storedInstance(streamed.sopInstanceUid))!.path), b.hash);
  // An encapsulated syntax has no fallback: no context means no send.
  assert.equal(contextFor(client.association, raw.sopClassUid, TransferSyntax.JpegBaseline8Bit), undefined);
  assert.equal(contextFor(client.association, raw.sopClassUid, IMPLICIT_LE)?.transferSyntax, TransferSyntax.ExplicitVrLittleEndian);
  await client.release();
  // storageContextsFor proposes each syntax alone plus Implicit VR LE as fallback.
  const proposed = await storageContextsFor([join(dir, 'in')]);
  assert.deepEqual(proposed.map((p) => [...p.transferSyntaxes].sort()), [[TransferSyntax.ExplicitVrLittleEndian, IMPLICIT_LE].sort()]);
});

test('limits: one association more than maxAssociations is rejected 2/3/2; a cancelled C-GET stops early with FE00', async () => {
  const { presentationContexts, roles } = getContexts();
  const first = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'G', calledAeTitle: 'UNITS', presentationContexts, roles, timeouts: quick });
  const second = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'G2', calledAeTitle: 'UNITS', presentationContexts, roles, timeouts: quick });
  await assert.rejects(
    DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'G3', calledAeTitle: 'UNITS', presentationContexts, roles, timeouts: quick }),
    (e: unknown) => e instanceof AssociationRejectedError && e.result === 2 && e.source === 3 && e.reason === 2,
  );
  await second.release();
  const ac = new AbortController();
  let received = 0;
  const r = await first.get('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.1.3680043.9.7777.1' }, {
    signal: ac.signal,
    onInstance: async (i) => {
      for await (const _ of i.dataset) void _;
      if (++received === 1) ac.abort();
    },
  });
  assert.equal(r.outcome, "Cancel", JSON.stringify(r));
  assert.equal(r.completed, 1);
  assert.equal(r.remaining, 1);
  await first.release();
});

test('bad requests get the standard failure status and the association goes on', async () => {
  const ct = '1.2.840.10008.5.1.4.1.1.2';
  const client = await DicomClient.associate({
    host: '127.0.0.1',
    port,
    callingAeTitle: 'BAD',
    calledAeTitle: 'UNITS',
    presentationContexts: [
      { abstractSyntax: ct, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
      { abstractSyntax: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
      { abstractSyntax: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] },
    ],
    timeouts: quick,
  });
  const a = client.association;
  const garbage = Uint8Array.from([0x08, 0x00, 0x18, 0x00, 0x55, 0x49, 0xff, 0x7f, 1, 2, 3]);
  // An identifier that cannot be decoded: C000 unable to process.
  const find = await a.request({ type: 'C-FIND-RQ', affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, priority: 0 }, { dataset: garbage }).response;
  assert.equal(find.command.status, 0xc000);
  // A data set whose SOP Instance UID is not the command's: A900, nothing stored.
  const f = await writeInstance(dir, spec(50, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.50' }));
  const header = await readPart10Header(f.path);
  const bytes = (await readFile(f.path)).subarray(header.datasetOffset);
  const mismatch = await a.request({ type: 'C-STORE-RQ', affectedSopClassUid: ct, affectedSopInstanceUid: '1.2.826.0.1.3680043.9.7777.1.1.51', priority: 0 }, { dataset: bytes }).response;
  assert.equal(mismatch.command.status, 0xa900);
  assert.equal((await server.storedInstance('1.2.826.0.1.3680043.9.7777.1.1.51')), undefined);
  // A data set that is not one: C000 cannot understand.
  const broken = await a.request({ type: 'C-STORE-RQ', affectedSopClassUid: ct, affectedSopInstanceUid: '1.2.826.0.1.3680043.9.7777.1.1.52', priority: 0 }, { dataset: garbage }).response;
  assert.equal(broken.command.status & 0xf000, 0xc000);
  // A move without the key of its level: A900.
  await assert.rejects(client.move('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.3' }, 'X'), (e: unknown) => (e as { status?: number }).status === 0xa900);
  // Still usable.
  const [ok] = await client.store([f.path]);
  assert.equal(ok?.status, 0);
  await client.release();
});

test('a source that fails mid-data-set: that instance fails, the association is aborted (half a message was sent), the server keeps nothing of it', async () => {
  const ct = '1.2.840.10008.5.1.4.1.1.2';
  const f = await writeInstance(dir, spec(60, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.60' }), { pixels: 200_000 });
  const header = await readPart10Header(f.path);
  const bytes = (await readFile(f.path)).subarray(header.datasetOffset);
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield bytes.subarray(0, 100_000);
    throw new Error('disk read failed');
  }
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'HALF', calledAeTitle: 'UNITS', presentationContexts: [{ abstractSyntax: ct, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }], timeouts: quick });
  const results = await client.store([
    { sopClassUid: ct, sopInstanceUid: '1.2.826.0.1.3680043.9.7777.1.1.60', transferSyntaxUid: TransferSyntax.ExplicitVrLittleEndian, dataset: failing() },
    f.path,
  ]);
  assert.deepEqual(results.map((r) => r.outcome), ['Failure', 'Failure']);
  assert.match(results[0]?.errorComment ?? '', /disk read failed/);
  assert.equal(client.association.isClosed, true);
  // The server sees the abort and removes its temporary file (polled, no timing assumed).
  const { readdir } = await import('node:fs/promises');
  const partials = async (): Promise<string[]> => (await readdir(join(dir, 'store'))).filter((n) => n.includes('.partial-'));
  for (const end = Date.now() + 60_000; (await partials()).length > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await partials(), []);
  assert.equal((await server.storedInstance('1.2.826.0.1.3680043.9.7777.1.1.60')), undefined);
});

test('limits: an association idle longer than limits.idleTimeout is aborted by the server', async () => {
  const idle = await StorageServer.create({ aeTitle: 'IDLE', storeRoot: join(dir, 'idle'), fsync: 'none', limits: { idleTimeout: 150, maxPduLength: 32768 } });
  const { port: p } = await idle.listen(0);
  try {
    const client = await DicomClient.associate({ host: '127.0.0.1', port: p, callingAeTitle: 'SLEEPY', calledAeTitle: 'IDLE', timeouts: quick });
    assert.equal(client.association.peerMaxPduLength, 32768);
    // Nothing is sent after the A-ASSOCIATE-AC: whatever the machine's speed, the server's idle
    // timer is what ends the association (a request here could itself meet the 150 ms limit).
    const { error } = await client.association.whenClosed();
    assert.ok(error !== undefined, 'closed by the server, not released');
  } finally {
    await idle.close({ timeout: 1000 });
  }
});

test('a deflated file travels deflated when accepted, and is inflated and transcoded to Implicit VR LE when not', { skip: hasDcmtk('dcmconv') ? false : 'dcmconv missing' }, async () => {
  const { execFileSync } = await import('node:child_process');
  const { createHash } = await import('node:crypto');
  const src = await writeInstance(dir, spec(70, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.70' }), { pixels: 50_000 });
  const deflated = join(dir, 'deflated.dcm');
  execFileSync('dcmconv', ['+td', src.path, deflated]);
  const header = await readPart10Header(deflated);
  assert.equal(header.meta.TransferSyntaxUID, TransferSyntax.DeflatedExplicitVrLittleEndian);
  const ct = '1.2.840.10008.5.1.4.1.1.2';
  const asIs = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'DEFL', calledAeTitle: 'UNITS', presentationContexts: await storageContextsFor([deflated]), timeouts: quick });
  const [r] = await asIs.store([deflated]);
  assert.equal(r?.status, 0, r?.errorComment);
  assert.equal(r?.sentTransferSyntaxUid, TransferSyntax.DeflatedExplicitVrLittleEndian);
  const stored = (await server.storedInstance('1.2.826.0.1.3680043.9.7777.1.1.70'))!;
  assert.equal(stored.transferSyntaxUid, TransferSyntax.DeflatedExplicitVrLittleEndian);
  assert.equal(await datasetHash(stored.path), createHash('sha256').update((await readFile(deflated)).subarray(header.datasetOffset)).digest('hex'));
  await asIs.release();
  // Only Implicit VR LE accepted: inflated and transcoded; overwrite is refused (duplicate), so use another server.
  const other = await StorageServer.create({ aeTitle: 'IMPL', storeRoot: join(dir, 'impl'), fsync: 'none' });
  const { port: p } = await other.listen(0);
  try {
    const c = await DicomClient.associate({ host: '127.0.0.1', port: p, callingAeTitle: 'DEFL', calledAeTitle: 'IMPL', presentationContexts: [{ abstractSyntax: ct, transferSyntaxes: [IMPLICIT_LE] }], timeouts: quick });
    const [t] = await c.store([deflated]);
    assert.equal(t?.status, 0, t?.errorComment);
    assert.equal(t?.sentTransferSyntaxUid, IMPLICIT_LE);
    assert.equal((await other.storedInstance('1.2.826.0.1.3680043.9.7777.1.1.70'))?.transferSyntaxUid, IMPLICIT_LE);
    await c.release();
  } finally {
    await other.close({ timeout: 1000 });
  }
});

test('part10StreamSource: every chunking of a Part 10 stream gives the same header and the exact data set bytes', async () => {
  const f = await writeInstance(dir, spec(80, { ...study1, SOPInstanceUID: '1.2.826.0.1.3680043.9.7777.1.1.80' }), { pixels: 600 });
  const whole = await readFile(f.path);
  const { datasetOffset } = await readPart10Header(f.path);
  for (const size of [1, 2, 7, 128, 131, 132, 133, datasetOffset - 1, datasetOffset, datasetOffset + 1, 4096, whole.length]) {
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let o = 0; o < whole.length; o += size) yield whole.subarray(o, o + size);
    }
    const src = await part10StreamSource(chunks());
    assert.equal(src.sopInstanceUid, '1.2.826.0.1.3680043.9.7777.1.1.80', `chunk ${size}`);
    assert.equal(src.transferSyntaxUid, TransferSyntax.ExplicitVrLittleEndian);
    const parts: Uint8Array[] = [];
    for await (const c of src.dataset as AsyncIterable<Uint8Array>) parts.push(c);
    assert.ok(Buffer.concat(parts).equals(whole.subarray(datasetOffset)), `chunk ${size}`);
  }
  // Not Part 10, or ending inside the meta group: a typed error, not a hang.
  const part10Error = (e: unknown): boolean => typeof (e as { code?: string }).code === 'string' && (e as { code: string }).code.startsWith('DICOM_ERR_PART10');
  await assert.rejects(part10StreamSource((async function* () { yield Buffer.alloc(300); })()), part10Error);
  await assert.rejects(part10StreamSource((async function* () { yield whole.subarray(0, 150); })()), part10Error);
});
