/**
 * A query identifier (C-FIND, C-MOVE, C-GET) larger than `maxIdentifierLength` is answered C000
 * (Unable to process) with an Error Comment, its bytes dropped as they arrive (they stop counting
 * in the server's buffer budget), its handler never run: the association goes on. Before, a peer
 * could make the server collect and decode (dcmjs copies every value) an identifier of up to
 * 64 MiB, outside the budget once decoded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer, type StorageServerConfig } from '../../src/services/scp/storage-server.js';
import { DEFAULT_MAX_IDENTIFIER_LENGTH, findHandler } from '../../src/services/scp/query-retrieve.js';
import { IndexDb } from '../../src/store/index-db.js';
import { NormalizedSopClass, QueryRetrieveSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';
import { QueryRetrieveStatus, Status } from '../../src/dictionary/status.js';
import { decodeCommand } from '../../src/dimse/messages.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import type { Pdu } from '../../src/ul/pdu/types.js';
import { InvalidOptionError } from '../../src/errors.js';
import { nAction } from '../../src/services/scu/n-services.js';
import { commitmentHandler } from '../../src/services/scp/commitment.js';
import { DimseStatusError } from '../../src/ae/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { maxLengthItem, rawAssociateRq, rawCommandSet, rawPData } from '../helpers/raw-pdu.js';
import { watchPeak } from '../helpers/budget-peak.js';
import { encodeDataset, tempDir } from '../helpers/dicom-data.js';
import { hasDcmtk, run as runTool } from '../helpers/dcmtk.js';

const STUDY_FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const STUDY_MOVE = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove;
const STUDY_GET = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet;
const EXPLICIT = TransferSyntax.ExplicitVrLittleEndian;
const quick = { connect: 10_000, association: 10_000, dimse: 60_000 };
/** A hang guard only. */
const GUARD_MS = 60_000;

let dir: string;
let remove: () => Promise<void>;
let index: IndexDb;

before(async () => {
  ({ dir, remove } = await tempDir('identifier-limit'));
  index = new IndexDb(join(dir, 'index.sqlite'), { synchronous: 'normal' });
});
after(async () => {
  index.close();
  await remove();
});

async function serve(limits: StorageServerConfig['limits'] = {}): Promise<{ server: StorageServer; port: number }> {
  const server = await StorageServer.create({ aeTitle: 'QR', storeRoot: join(dir, 'files'), index, limits });
  const { port } = await server.listen(0);
  return { server, port };
}

function connect(port: number): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1',
    port,
    callingAeTitle: 'QSCU',
    calledAeTitle: 'QR',
    presentationContexts: [VerificationSopClass, STUDY_FIND, STUDY_MOVE, STUDY_GET, NormalizedSopClass.StorageCommitmentPushModel].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [EXPLICIT] })),
    timeouts: quick,
  });
}

/** A Study Root identifier of about `size` bytes: a StudyInstanceUID list (PS3.4 C.2.2.2.2), or past 64 KiB (UI's 2-byte length) a private OB value. */
function identifier(size: number): Buffer {
  if (size > 60_000) return encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x00091010, 'OB', Buffer.alloc(size, 7)]]);
  const uids = Array.from({ length: Math.ceil(size / 32) }, (_, i) => `1.2.826.0.1.3680043.2.${String(i).padStart(8, '0')}`).join('\\');
  return encodeDataset([
    [0x00080052, 'CS', 'STUDY'],
    [0x0020000d, 'UI', uids],
  ]);
}

type Final = { status: number; errorComment: string | undefined };

async function finalOf(client: DicomClient, type: 'C-FIND-RQ' | 'C-MOVE-RQ' | 'C-GET-RQ', dataset: Uint8Array): Promise<Final> {
  const command =
    type === 'C-FIND-RQ'
      ? { type, affectedSopClassUid: STUDY_FIND, priority: 0 }
      : type === 'C-MOVE-RQ'
        ? { type, affectedSopClassUid: STUDY_MOVE, priority: 0, moveDestination: 'NOWHERE' }
        : { type, affectedSopClassUid: STUDY_GET, priority: 0 };
  let last: Final | undefined;
  for await (const m of client.association.request(command as never, { dataset, responseDatasetSink: () => ({ write() {}, end() {} }) })) {
    last = { status: m.command.status, errorComment: (m.command as { errorComment?: string }).errorComment };
  }
  return last!;
}

function tooLargeEvents(): { events: { detail: Record<string, unknown> }[]; stop: () => void } {
  const events: { detail: Record<string, unknown> }[] = [];
  const listener = (m: unknown): void => {
    const e = m as { kind: string; detail: Record<string, unknown> };
    if (e.kind === 'request-too-large') events.push(e);
  };
  subscribe(channelNames.association, listener);
  return { events, stop: () => unsubscribe(channelNames.association, listener) };
}

test('a C-FIND, C-MOVE or C-GET identifier over maxIdentifierLength: C000 with a comment, published, and the association goes on', async () => {
  const { server, port } = await serve({ maxIdentifierLength: 4096 });
  const seen = tooLargeEvents();
  try {
    const client = await connect(port);
    const big = identifier(50_000);
    for (const type of ['C-FIND-RQ', 'C-MOVE-RQ', 'C-GET-RQ'] as const) {
      const r = await finalOf(client, type, big);
      assert.equal(r.status, QueryRetrieveStatus.UnableToProcess, type);
      assert.equal(r.errorComment, 'identifier larger than 4096 bytes');
      // The same association answers the next request.
      assert.equal((await client.echo()).status, Status.Success);
    }
    // An identifier within the limit is queried as ever.
    assert.equal((await finalOf(client, 'C-FIND-RQ', identifier(1024))).status, Status.Success);
    await client.release();
    assert.deepEqual(seen.events.map((e) => [e.detail['command'], e.detail['status'], e.detail['limit']]), [
      ['C-FIND-RQ', 0xc000, 4096],
      ['C-MOVE-RQ', 0xc000, 4096],
      ['C-GET-RQ', 0xc000, 4096],
    ]);
    // The whole identifier was read (and dropped).
    assert.deepEqual(seen.events.map((e) => e.detail['length']), [big.length, big.length, big.length]);
    assert.equal(server.server.bufferedBytes, 0);
  } finally {
    seen.stop();
    await server.close();
  }
});

test('the default limit (64 KiB) refuses a larger identifier; 0 leaves only the 64 MiB data set bound', async () => {
  assert.equal(DEFAULT_MAX_IDENTIFIER_LENGTH, 64 * 1024);
  const big = identifier(DEFAULT_MAX_IDENTIFIER_LENGTH + 4096);
  for (const [limits, expected] of [[{}, QueryRetrieveStatus.UnableToProcess], [{ maxIdentifierLength: 0 }, Status.Success]] as const) {
    const { server, port } = await serve(limits);
    try {
      const client = await connect(port);
      assert.equal((await finalOf(client, 'C-FIND-RQ', big)).status, expected);
      await client.release();
    } finally {
      await server.close();
    }
  }
});

test('maxIdentifierLength and maxRequestLength must be whole numbers ≥ 0', () => {
  for (const bad of [-1, 1.5, Number.NaN, '10' as never]) {
    assert.throws(() => findHandler({ index, maxIdentifierLength: bad }), (e: unknown) => e instanceof InvalidOptionError && /maxIdentifierLength/.test(e.message));
    assert.throws(() => commitmentHandler({ index, store: {} as never, maxRequestLength: bad }), (e: unknown) => e instanceof InvalidOptionError && /maxRequestLength/.test(e.message));
  }
});

async function nextPdu(peer: ScriptedPeer): Promise<Pdu | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no PDU within the hang guard')), GUARD_MS)));
  try {
    const b = await Promise.race([peer.nextPdu(), guard]);
    return b === undefined ? undefined : decodePdu(b);
  } finally {
    clearTimeout(timer);
  }
}

async function nextCommand(peer: ScriptedPeer): Promise<ReturnType<typeof decodeCommand>> {
  const pdu = await nextPdu(peer);
  assert.equal(pdu?.type, 'P-DATA-TF');
  return decodeCommand((pdu as Extract<Pdu, { type: 'P-DATA-TF' }>).pdvs[0]!.data);
}

test('crafted PDUs: a 16 MiB identifier is dropped as it arrives (the server budget never holds more than the limit), answered C000, then C-ECHO', async () => {
  const limit = 64 * 1024;
  const maxBufferedBytes = 128 * 1024 * 1024;
  const peak = watchPeak(maxBufferedBytes);
  const { server, port } = await serve({ maxIdentifierLength: limit, maxBufferedBytes });
  try {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const peer = new ScriptedPeer(socket);
    peer.write(rawAssociateRq({
      called: 'QR',
      contexts: [
        { id: 1, abstractSyntax: VerificationSopClass, transferSyntaxes: ['1.2.840.10008.1.2'] },
        { id: 3, abstractSyntax: STUDY_FIND, transferSyntaxes: ['1.2.840.10008.1.2'] },
      ],
      userItems: [maxLengthItem(16384)],
    }));
    assert.equal((await nextPdu(peer))?.type, 'A-ASSOCIATE-AC');
    peer.write(rawPData(3, true, true, rawCommandSet([[0x0002, STUDY_FIND], [0x0100, 0x0020], [0x0110, 1], [0x0700, 0], [0x0800, 0x0000]])));
    // An implicit VR identifier: QueryRetrieveLevel, then one 16 MiB private OB value.
    const size = 16 * 1024 * 1024;
    const head = Buffer.concat([Buffer.from([0x08, 0, 0x52, 0, 6, 0, 0, 0]), Buffer.from('STUDY '), Buffer.from([0x09, 0, 0x10, 0x10]), Buffer.from(Uint32Array.of(size).buffer)]);
    peer.write(rawPData(3, false, false, head));
    const fragment = rawPData(3, false, false, new Uint8Array(16000));
    const lastFragment = rawPData(3, false, true, new Uint8Array(size % 16000));
    for (let sent = 0; sent + 16000 <= size; sent += 16000) {
      if (!socket.write(fragment)) await once(socket, 'drain');
    }
    peer.write(lastFragment);
    const rsp = await nextCommand(peer);
    assert.equal(rsp.type, 'C-FIND-RSP');
    assert.equal((rsp as { status: number }).status, 0xc000);
    assert.equal((rsp as { errorComment?: string }).errorComment, `identifier larger than ${limit} bytes`);
    peer.write(rawPData(1, true, true, rawCommandSet([[0x0002, VerificationSopClass], [0x0100, 0x0030], [0x0110, 2], [0x0800, 0x0101]])));
    const echo = await nextCommand(peer);
    assert.equal(echo.type, 'C-ECHO-RSP');
    assert.equal((echo as { status: number }).status, Status.Success);
    socket.destroy();
    assert.ok(peak.peak() <= limit, `the server budget held ${peak.peak()} bytes of a refused identifier`);
  } finally {
    peak.stop();
    await server.close();
  }
});

test('findscu with a key value over the limit gets C000 and releases', { skip: !hasDcmtk('findscu') }, async () => {
  const { server, port } = await serve({ maxIdentifierLength: 4096 });
  try {
    const r = await runTool('findscu', ['-v', '-S', '-aec', 'QR', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${'1.2.3\\'.repeat(2000)}1.2.3`, '127.0.0.1', String(port)]);
    const out = r.output.replace(/\[1\.2\.3\\[^\]]*\]/, '[...]');
    assert.match(out, /Received Final Find Response \(Failed: UnableToProcess\)/, out);
    assert.match(out, /Releasing Association/, out);
    assert.doesNotMatch(out, /abort/i, out);
    assert.equal(r.code, 0, out);
    // Many keys, each small, in a sequence of many items, add up the same way.
    const keys = Array.from({ length: 300 }, (_, i) => ['-k', `ReferencedSOPSequence[${i}].ReferencedSOPInstanceUID=1.2.840.99.${i}`]).flat();
    const many = await runTool('findscu', ['-v', '-S', '-aec', 'QR', '-k', 'QueryRetrieveLevel=STUDY', ...keys, '127.0.0.1', String(port)]);
    assert.match(many.output, /Received Final Find Response \(Failed: UnableToProcess\)/, many.output.slice(-2000));
    assert.match(many.output, /Releasing Association/, many.output.slice(-2000));
  } finally {
    await server.close();
  }
});

test('a Storage Commitment request over maxCommitmentRequestLength: 0213 (Resource limitation) with a comment, and the association goes on', async () => {
  const { server, port } = await serve({ maxCommitmentRequestLength: 4096 });
  const seen = tooLargeEvents();
  try {
    const client = await connect(port);
    // nAction rejects a failure status with DimseStatusError, the comment in its message.
    await assert.rejects(nAction(client.association, {
      sopClassUid: NormalizedSopClass.StorageCommitmentPushModel, sopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, actionTypeId: 1,
      actionInformation: {
        TransactionUID: '1.2.826.0.1.3680043.2.99',
        ReferencedSOPSequence: Array.from({ length: 200 }, (_, i) => ({ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.2', ReferencedSOPInstanceUID: `1.2.826.0.1.3680043.2.${i}` })),
      },
    }), (e: unknown) => e instanceof DimseStatusError && e.status === Status.ResourceLimitation && /action information larger than 4096 bytes/.test(e.message));
    assert.equal((await client.echo()).status, Status.Success);
    await client.release();
    assert.deepEqual(seen.events.map((e) => [e.detail['command'], e.detail['status'], e.detail['limit']]), [['N-ACTION-RQ', 0x0213, 4096]]);
    assert.ok((seen.events[0]!.detail['length'] as number) > 200 * 60);
  } finally {
    seen.stop();
    await server.close();
  }
});
