/**
 * C-FIND limits of the storing server: at most `maxQueryMatches` matches, then A700 (PS3.4
 * C.4.1.1.4) with an Error Comment; at most `maxConcurrentQueries` queries run at once, the
 * others wait their turn in order (a C-CANCEL-RQ ends the wait with FE00).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import type { PendingRequest } from '../../src/ae/association.js';
import { StorageServer, type StorageServerConfig } from '../../src/services/scp/storage-server.js';
import { IndexDb } from '../../src/store/index-db.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { Status, QueryRetrieveStatus } from '../../src/dictionary/status.js';
import { encodeDataset as encodeNatural, type NaturalDataset } from '../../src/dataset/codec.js';
import { findHandler } from '../../src/services/scp/query-retrieve.js';
import { InvalidOptionError } from '../../src/errors.js';
import { tempDir } from '../helpers/dicom-data.js';
import { addStudies } from '../helpers/many-studies.js';

const STUDY_FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const MWL_FIND = QueryRetrieveSopClass.ModalityWorklistInformationModelFind;
const EXPLICIT = TransferSyntax.ExplicitVrLittleEndian;
const quick = { connect: 5000, association: 5000, dimse: 30_000 };

let dir: string;
let remove: () => Promise<void>;
let index: IndexDb;

before(async () => {
  ({ dir, remove } = await tempDir('query-limits'));
  index = new IndexDb(join(dir, 'index.sqlite'), { synchronous: 'normal' });
  await addStudies(index, 300);
});
after(async () => {
  index.close();
  await remove();
});

async function serve(limits: StorageServerConfig['limits'], worklist?: StorageServerConfig['worklist']): Promise<{ server: StorageServer; port: number }> {
  const server = await StorageServer.create({ aeTitle: 'QR', storeRoot: join(dir, 'files'), index, limits, ...(worklist === undefined ? {} : { worklist }) });
  const { port } = await server.listen(0);
  return { server, port };
}

function connect(port: number): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1',
    port,
    callingAeTitle: 'QSCU',
    calledAeTitle: 'QR',
    presentationContexts: [STUDY_FIND, MWL_FIND].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [EXPLICIT] })),
    timeouts: quick,
  });
}

/** A C-FIND whose match data sets are only counted (no decoding on our side). */
function find(client: DicomClient, sopClass: string, identifier: NaturalDataset): PendingRequest {
  return client.association.request(
    { type: 'C-FIND-RQ', affectedSopClassUid: sopClass, priority: 0 },
    { dataset: encodeNatural(identifier, EXPLICIT), responseDatasetSink: () => ({ write() {}, end() {} }) },
  );
}

async function statuses(r: PendingRequest): Promise<number[]> {
  const out: number[] = [];
  for await (const m of r) out.push(m.command.status);
  return out;
}

const studies = { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' };

test('more matches than maxQueryMatches: that many Pending responses, then A700 with a comment; exactly that many: Success', async () => {
  const { server, port } = await serve({ maxQueryMatches: 111 });
  try {
    const client = await connect(port);
    const over = find(client, STUDY_FIND, studies);
    const seen = await statuses(over);
    assert.equal(seen.length, 112);
    assert.ok(seen.slice(0, 111).every((s) => s === Status.Pending));
    assert.equal(seen[111], QueryRetrieveStatus.OutOfResources);
    const final = await over.response;
    assert.match(String(final.command.errorComment), /more than 111 matches/);
    // A1, A10–A19, A100–A199: exactly 111 of the 300 studies, all of them sent, and Success.
    const exact = await statuses(find(client, STUDY_FIND, { ...studies, AccessionNumber: 'A1*' }));
    assert.equal(exact.filter((s) => s === Status.Pending).length, 111);
    assert.equal(exact.at(-1), Status.Success);
    await client.release();
  } finally {
    await server.close({ timeout: 1000 });
  }
});

test('maxConcurrentQueries 1: a second query waits for the first, in order; cancelled while waiting it ends with FE00', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let worklistStarted!: () => void;
  const started = new Promise<void>((resolve) => (worklistStarted = resolve));
  // A worklist source that holds its query (and so the one slot) until the gate opens.
  const worklist = async function* (): AsyncGenerator<NaturalDataset> {
    worklistStarted();
    await gate;
    yield { PatientID: 'WL1' };
  };
  const { server, port } = await serve({ maxConcurrentQueries: 1 }, worklist);
  try {
    const [a, b, c] = [await connect(port), await connect(port), await connect(port)];
    const order: string[] = [];
    const held = find(a, MWL_FIND, { PatientID: '' });
    await started;
    const waiting = find(b, STUDY_FIND, { ...studies, AccessionNumber: 'A2*' });
    const cancelled = find(c, STUDY_FIND, studies);
    const heldDone = statuses(held).then((s) => (order.push('held'), s));
    const waitingDone = statuses(waiting).then((s) => (order.push('waiting'), s));
    await Promise.all([waiting.sent, cancelled.sent]);
    // A C-CANCEL-RQ for a query still waiting for its turn: answered Cancel, no match sent.
    await cancelled.cancel();
    assert.deepEqual(await statuses(cancelled), [Status.Cancel]);
    assert.deepEqual(order, [], 'nothing answered while the first query holds the slot');
    open();
    const [h, w] = await Promise.all([heldDone, waitingDone]);
    assert.deepEqual(order, ['held', 'waiting']);
    assert.deepEqual(h, [Status.Pending, Status.Success]);
    assert.equal(w.filter((s) => s === Status.Pending).length, 111);
    assert.equal(w.at(-1), Status.Success);
    for (const cl of [a, b, c]) await cl.release();
  } finally {
    open();
    await server.close({ timeout: 1000 });
  }
});

test('query limits are validated by name', () => {
  assert.throws(() => findHandler({ index, maxMatches: -1 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxMatches');
  assert.throws(() => findHandler({ index, maxConcurrent: 0 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxConcurrent');
});
