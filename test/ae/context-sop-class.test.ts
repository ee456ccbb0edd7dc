/**
 * A request naming a SOP class other than its presentation context's abstract syntax (a Secondary
 * Capture C-STORE-RQ on a CT Image Storage context) is refused — 0122H for the C-services, 0118H
 * for the N-services — its data set dropped, no handler run; the association goes on and the
 * refusal is published. A Meta SOP Class context carries its member classes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { channelNames } from '../../src/diagnostics.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { Status } from '../../src/dictionary/status.js';
import { ctImageStorage, encodeDataset, secondaryCaptureStorage, specElements, tempDir } from '../helpers/dicom-data.js';
import { spec } from '../helpers/services.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };
const IMPLICIT = [TransferSyntax.ImplicitVrLittleEndian];

let dir: string;
let remove: () => Promise<void>;
before(async () => ({ dir, remove } = await tempDir('context-sop-class')));
after(async () => remove());

function refusals(): { events: { kind: string; detail: Record<string, unknown> }[]; stop: () => void } {
  const events: { kind: string; detail: Record<string, unknown> }[] = [];
  const listener = (m: unknown): void => {
    const e = m as { kind: string; detail: Record<string, unknown> };
    if (e.kind === 'request-refused') events.push(e);
  };
  diagnosticsChannel.subscribe(channelNames.association, listener);
  return { events, stop: () => diagnosticsChannel.unsubscribe(channelNames.association, listener) };
}

test('serve\'s StorageServer: a Secondary Capture C-STORE-RQ on the CT context → 0122H, nothing stored, the association goes on', async () => {
  const server = await StorageServer.create({ aeTitle: 'OUR-SCP', storeRoot: join(dir, 'store'), fsync: 'none' });
  const { port } = await server.listen(0);
  const seen = refusals();
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'ATTACKER', calledAeTitle: 'OUR-SCP', timeouts: quick,
      presentationContexts: [{ abstractSyntax: ctImageStorage, transferSyntaxes: IMPLICIT }],
    });
    try {
      const ct = client.association.info.contexts.all.find((c) => c.abstractSyntax === ctImageStorage)!;
      const sc = spec(1, { SOPClassUID: secondaryCaptureStorage });
      const dataset = encodeDataset(specElements(sc), { explicit: false });
      const rsp = await client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: secondaryCaptureStorage, affectedSopInstanceUid: sc.SOPInstanceUID, priority: 0 } as never,
        { presentationContextId: ct.id, dataset }).response;
      assert.equal(rsp.command.status, Status.SopClassNotSupported);
      assert.match(String((rsp.command as { errorComment?: string }).errorComment), /not the context's/);
      assert.equal(await server.storedInstance(sc.SOPInstanceUID), undefined, 'nothing stored');

      // The association goes on: a CT instance on the CT context is stored.
      const good = spec(2);
      const ok = await client.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: ctImageStorage, affectedSopInstanceUid: good.SOPInstanceUID, priority: 0 } as never,
        { presentationContextId: ct.id, dataset: encodeDataset(specElements(good), { explicit: false }) }).response;
      assert.equal(ok.command.status, Status.Success);
      assert.notEqual(await server.storedInstance(good.SOPInstanceUID), undefined);
    } finally {
      await client.release();
    }
    assert.equal(seen.events.length, 1);
    assert.deepEqual({ ...seen.events[0]!.detail }, {
      command: 'C-STORE-RQ', messageId: 1, presentationContextId: 1, status: Status.SopClassNotSupported,
      errorComment: `SOP class ${secondaryCaptureStorage} is not the context's`, sopClassUid: secondaryCaptureStorage, abstractSyntax: ctImageStorage,
    });
  } finally {
    seen.stop();
    await server.close({ timeout: 1000 });
  }
});

test('DicomServer: C-FIND with another information model → 0122H, N-ACTION with another class → 0118H, handlers never run', async () => {
  const calls: string[] = [];
  const handlers = new HandlerRegistry()
    .register('C-FIND-RQ', { handle: () => (calls.push('find'), { status: 0 }) })
    .register('N-ACTION-RQ', { handle: () => (calls.push('action'), { status: 0 }) });
  const commitment = '1.2.840.10008.1.20.1';
  const find = QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind;
  const scp = new DicomServer({ handlers, presentationContexts: { supported: [{ abstractSyntax: find }, { abstractSyntax: commitment }] } });
  const { port } = await scp.listen(0);
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', timeouts: quick,
      presentationContexts: [{ abstractSyntax: find, transferSyntaxes: IMPLICIT }, { abstractSyntax: commitment, transferSyntaxes: IMPLICIT }],
    });
    try {
      const ctx = client.association.info.contexts.all;
      const findCtx = ctx.find((c) => c.abstractSyntax === find)!;
      const commitCtx = ctx.find((c) => c.abstractSyntax === commitment)!;
      const identifier = encodeDataset([[0x00080052, 'CS', 'STUDY']], { explicit: false });
      const f = await client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, priority: 0 } as never,
        { presentationContextId: findCtx.id, dataset: identifier }).response;
      assert.equal(f.command.status, Status.SopClassNotSupported);
      const a = await client.association.request({ type: 'N-ACTION-RQ', requestedSopClassUid: find, requestedSopInstanceUid: '1.2.840.10008.1.20.1.1', actionTypeId: 1 } as never,
        { presentationContextId: commitCtx.id }).response;
      assert.equal(a.command.status, Status.NoSuchSopClass);
      assert.deepEqual(calls, []);
      // The same requests on the right contexts reach their handlers.
      const ok = await client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: find, priority: 0 } as never, { presentationContextId: findCtx.id, dataset: identifier }).response;
      assert.equal(ok.command.status, Status.Success);
      assert.deepEqual(calls, ['find']);
    } finally {
      await client.release();
    }
  } finally {
    await scp.close({ timeout: 1000 });
  }
});

test('a Meta SOP Class context carries its member classes (Basic Film Session N-CREATE on Basic Grayscale Print Management Meta)', async () => {
  const meta = '1.2.840.10008.5.1.1.9';
  const filmSession = '1.2.840.10008.5.1.1.1';
  const created: string[] = [];
  const handlers = new HandlerRegistry().register('N-CREATE-RQ', { handle: (rq) => (created.push(rq.affectedSopClassUid), { status: 0 }) });
  const scp = new DicomServer({ handlers, presentationContexts: { supported: [{ abstractSyntax: meta }] } });
  const { port } = await scp.listen(0);
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'PRINT', timeouts: quick,
      presentationContexts: [{ abstractSyntax: meta, transferSyntaxes: IMPLICIT }],
    });
    try {
      const pc = client.association.info.contexts.all.find((c) => c.abstractSyntax === meta)!;
      const rsp = await client.association.request({ type: 'N-CREATE-RQ', affectedSopClassUid: filmSession } as never, { presentationContextId: pc.id }).response;
      assert.equal(rsp.command.status, Status.Success);
      // Not a member (Basic Color Image Box belongs to the color meta class).
      const bad = await client.association.request({ type: 'N-CREATE-RQ', affectedSopClassUid: '1.2.840.10008.5.1.1.4.1' } as never, { presentationContextId: pc.id }).response;
      assert.equal(bad.command.status, Status.NoSuchSopClass);
      assert.deepEqual(created, [filmSession]);
    } finally {
      await client.release();
    }
  } finally {
    await scp.close({ timeout: 1000 });
  }
});

test('the requestor too: a C-GET sub-operation C-STORE-RQ naming another SOP class than its context\'s → 0122H, the client\'s handler never runs', async () => {
  const get = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet;
  const subStatuses: number[] = [];
  const handlers = new HandlerRegistry().register('C-GET-RQ', {
    async handle(_rq, ctx) {
      const ct = ctx.association.info.contexts.all.find((c) => c.abstractSyntax === ctImageStorage)!;
      const sc = spec(3);
      for (const sopClass of [secondaryCaptureStorage, ctImageStorage]) {
        const sub = ctx.association.request({ type: 'C-STORE-RQ', affectedSopClassUid: sopClass, affectedSopInstanceUid: sc.SOPInstanceUID, priority: 0 },
          { presentationContextId: ct.id, dataset: encodeDataset(specElements(spec(3)), { explicit: false }) });
        subStatuses.push((await sub.response).command.status);
      }
      return { status: Status.Success, numberOfCompletedSuboperations: 1, numberOfFailedSuboperations: 1, numberOfWarningSuboperations: 0, numberOfRemainingSuboperations: 0 };
    },
  });
  const scp = new DicomServer({ handlers, presentationContexts: { supported: [{ abstractSyntax: get }, { abstractSyntax: ctImageStorage, roles: { scu: false, scp: true } }] } });
  const { port } = await scp.listen(0);
  try {
    const received: string[] = [];
    const clientHandlers = new HandlerRegistry().register('C-STORE-RQ', { handle: (rq) => (received.push(rq.affectedSopClassUid), { status: Status.Success }) });
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', timeouts: quick, handlers: clientHandlers,
      presentationContexts: [{ abstractSyntax: get, transferSyntaxes: IMPLICIT }, { abstractSyntax: ctImageStorage, transferSyntaxes: IMPLICIT }],
      roles: [{ sopClassUid: ctImageStorage, scuRole: false, scpRole: true }],
    });
    try {
      const identifier = encodeDataset([[0x00080052, 'CS', 'STUDY']], { explicit: false });
      const rsp = await client.association.request({ type: 'C-GET-RQ', affectedSopClassUid: get, priority: 0 }, { dataset: identifier }).response;
      assert.equal(rsp.command.status, Status.Success);
      assert.deepEqual(subStatuses, [Status.SopClassNotSupported, Status.Success]);
      assert.deepEqual(received, [ctImageStorage]);
    } finally {
      await client.release();
    }
  } finally {
    await scp.close({ timeout: 1000 });
  }
});
