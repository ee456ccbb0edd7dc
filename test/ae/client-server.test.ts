/** Our DicomClient against our DicomServer over plain TCP on 127.0.0.1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DicomClient } from '../../src/ae/client.js';
import { DicomServer } from '../../src/ae/server.js';
import { ConnectionRefusedError, DimseStatusError } from '../../src/ae/errors.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { NoAcceptedContextError } from '../../src/acse/errors.js';
import { channelNames } from '../../src/diagnostics.js';
import { Status } from '../../src/dictionary/status.js';
import { VerificationSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { withServer } from '../helpers/with-server.js';
import { freePort } from '../helpers/free-port.js';

const quick = { connect: 5000, association: 5000, dimse: 5000 };

test('echo over TCP: association accepted, C-ECHO Success, release; events and diagnostics published', async () => {
  const seen: string[] = [];
  const onDimse = (m: unknown): void => {
    const d = m as { direction: string; command: { type: string } };
    seen.push(`${d.direction}:${d.command.type}`);
  };
  diagnosticsChannel.subscribe(channelNames.dimse, onDimse);
  try {
    await withServer({ aeTitle: 'STORE-SCP' }, async (port, server) => {
      const accepted = new Promise<unknown>((resolve) => server.once('association', resolve));
      const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'ECHO-SCU', calledAeTitle: 'STORE-SCP', timeouts: quick });
      const assoc = (await accepted) as { callingAeTitle: string; whenClosed(): Promise<{ error: unknown }> };
      assert.equal(assoc.callingAeTitle, 'ECHO-SCU');
      assert.equal(client.tls, undefined);
      assert.equal(client.association.contexts.select(VerificationSopClass).transferSyntax, TransferSyntax.ExplicitVrLittleEndian);
      const rsp = await client.echo();
      assert.equal(rsp.status, Status.Success);
      assert.equal(rsp.messageIdBeingRespondedTo, 1);
      const rsp2 = await client.echo();
      assert.equal(rsp2.messageIdBeingRespondedTo, 2);
      await client.release();
      assert.deepEqual(await assoc.whenClosed(), { error: undefined });
      assert.equal(client.association.isClosed, true);
    });
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.dimse, onDimse);
  }
  // Both ends publish: the client's RQ sent / RSP received, the server's RQ received / RSP sent.
  assert.deepEqual(seen.filter((s) => s.startsWith('sent')).sort(), ['sent:C-ECHO-RQ', 'sent:C-ECHO-RQ', 'sent:C-ECHO-RSP', 'sent:C-ECHO-RSP']);
});

test('rejections: called AE, calling AE, and no acceptable context (when the policy says reject)', async () => {
  await withServer({ aeTitle: 'ONLY-ME', callingAeTitles: ['FRIEND'], rejectWhenNoContextAccepted: true }, async (port, server) => {
    const reasons: string[] = [];
    server.on('rejected', (r) => reasons.push(r.why));
    const base = { host: '127.0.0.1', port, timeouts: quick } as const;
    await assert.rejects(DicomClient.associate({ ...base, callingAeTitle: 'FRIEND', calledAeTitle: 'SOMEONE' }), (e: unknown) => {
      assert.ok(e instanceof AssociationRejectedError);
      assert.deepEqual([e.result, e.source, e.reason], [1, 1, 7]);
      assert.equal(e.description.reason, 'called-AE-title-not-recognized');
      assert.match(e.message, /rejected-permanent/);
      return true;
    });
    await assert.rejects(DicomClient.associate({ ...base, callingAeTitle: 'STRANGER', calledAeTitle: 'ONLY-ME' }), (e: unknown) => {
      assert.ok(e instanceof AssociationRejectedError);
      assert.equal(e.description.reason, 'calling-AE-title-not-recognized');
      return true;
    });
    await assert.rejects(
      DicomClient.associate({ ...base, callingAeTitle: 'FRIEND', calledAeTitle: 'ONLY-ME', presentationContexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }] }),
      (e: unknown) => e instanceof AssociationRejectedError && e.reason === 1 && e.source === 1,
    );
    assert.equal(reasons.length, 3);
    assert.match(reasons[0]!, /SOMEONE/);
  });
});

test('a context the server rejects: association accepted, echo fails with NoAcceptedContextError', async () => {
  await withServer({ presentationContexts: { supported: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.1.7' }] }, verification: false }, async (port) => {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: quick });
    await assert.rejects(client.echo(), NoAcceptedContextError);
    await client.release();
  });
});

test('a handler answering a failure status; a throwing handler answers 0x0110; handlers are exactly one per command', async () => {
  let fail = true;
  await withServer({}, async (port, server) => {
    server.handlers.register('C-ECHO-RQ', {
      handle: () => {
        if (fail) return { status: Status.ProcessingFailure, errorComment: 'not today' };
        throw new Error('handler bug');
      },
    });
    assert.throws(() => server.handlers.register('C-ECHO-RQ', { handle: () => ({ status: 0 }) }), /already registered/);
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: quick });
    await assert.rejects(client.echo(), (e: unknown) => e instanceof DimseStatusError && e.status === 0x0110);
    fail = false;
    await assert.rejects(client.echo(), (e: unknown) => e instanceof DimseStatusError && e.status === 0x0110);
    await client.release();
  });
});

test('connection refused is a typed error', async () => {
  // Below the ephemeral range: nothing else may be handed the port before the connect.
  const port = await freePort();
  await assert.rejects(
    DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'A', calledAeTitle: 'B', timeouts: quick }),
    (e: unknown) => e instanceof ConnectionRefusedError && e.code === 'DICOM_ERR_CONNECTION_REFUSED' && e.port === port,
  );
});

test('association life cycle on the diagnostics channel: accepted, released, rejected, aborted', async () => {
  const kinds: string[] = [];
  const onAssoc = (m: unknown): void => void kinds.push((m as { kind: string }).kind);
  const rejected: unknown[] = [];
  const onServer = (m: unknown): void => {
    if ((m as { kind: string }).kind === 'association-rejected') rejected.push(m);
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssoc);
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  try {
    await withServer({ callingAeTitles: ['GOOD'] }, async (port) => {
      const c = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'GOOD', calledAeTitle: 'B', timeouts: quick });
      await c.release();
      await assert.rejects(DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'BAD', calledAeTitle: 'B', timeouts: quick }), AssociationRejectedError);
      const d = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'GOOD', calledAeTitle: 'B', timeouts: quick });
      await d.abort();
    });
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssoc);
    diagnosticsChannel.unsubscribe(channelNames.server, onServer);
  }
  for (const k of ['requested', 'accepted', 'released', 'rejected', 'aborted']) assert.ok(kinds.includes(k), `${k} in ${kinds.join(',')}`);
  assert.equal(rejected.length, 1);
  assert.match((rejected[0] as { why: string }).why, /BAD/);
});

test('options are checked at the public boundary, naming the option', async () => {
  const { InvalidOptionError } = await import('../../src/errors.js');
  const base = { host: '127.0.0.1', port: 104, callingAeTitle: 'A', calledAeTitle: 'B' };
  await assert.rejects(DicomClient.associate({ ...base, port: 0 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'port');
  await assert.rejects(DicomClient.associate({ ...base, calledAeTitle: 'THIS-TITLE-IS-TOO-LONG' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'calledAeTitle');
  await assert.rejects(DicomClient.associate({ ...base, timeouts: { dimse: -1 } }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'timeouts.dimse');
  assert.throws(() => new DicomServer({ maxAssociations: 0 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'maxAssociations');
});

test('maximum length 0 (no limit, PS3.8 D.1) on both sides still carries messages', async () => {
  await withServer({ maxPduLength: 0 }, async (port) => {
    const c = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'A', calledAeTitle: 'B', maxPduLength: 0, timeouts: quick });
    assert.deepEqual([c.association.maxPduLength, c.association.peerMaxPduLength], [0, 0]);
    assert.equal((await c.echo()).status, Status.Success);
    await c.release();
  });
});

test('an invalid AE title for the server is refused when it is built, naming the option', () => {
  for (const aeTitle of ['', 'THIS-TITLE-IS-TOO-LONG', ['OK', 'BAD\\TITLE']]) {
    assert.throws(() => new DicomServer({ aeTitle }), { code: 'DICOM_ERR_INVALID_OPTION', option: 'aeTitle' });
  }
  assert.doesNotThrow(() => new DicomServer({ aeTitle: ['MY-SCP', 'OTHER'] }));
});

test('presentation contexts given to DicomServer keep Verification unless verification: false', async () => {
  const ct = '1.2.840.10008.5.1.4.1.1.2';
  const proposal = [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }, { abstractSyntax: ct, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }];
  await withServer({ aeTitle: 'SCP', presentationContexts: { supported: [{ abstractSyntax: ct }] } }, async (port) => {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: proposal, timeouts: quick });
    assert.equal((await client.echo()).status, Status.Success);
    assert.ok(client.association.contexts.select(ct));
    await client.release();
  });
  await withServer({ aeTitle: 'SCP', presentationContexts: { supported: [{ abstractSyntax: ct }] }, verification: false }, async (port) => {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: proposal, timeouts: quick });
    await assert.rejects(client.echo(), NoAcceptedContextError);
    await client.release();
  });
});
