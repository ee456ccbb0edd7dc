/**
 * A request whose new data set waits for room in the server's budget, on an association that is
 * aborted meanwhile, must not leave a collection behind on the server's budget once its wait
 * ends: registered for an association already gone, it would be the oldest collection, the one
 * allowed beyond the budget, that never progresses, and every data set larger than what is left
 * would wait behind it (for ever with `datasetStall` 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DicomServer } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { Status } from '../../src/dictionary/status.js';
import { channelNames } from '../../src/diagnostics.js';
import { associateScu, findIdentifier, findRequest, STUDY_ROOT_FIND } from '../helpers/find-scu.js';
import { hangGuard, until } from '../helpers/hang-guard.js';

const quick = { connect: 10_000, association: 10_000, dimse: 0 };

test('an association aborted while its data set waits for room leaves nothing on the server budget: a later large data set goes on', { timeout: 120_000 }, async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let calls = 0;
  const handlers = new HandlerRegistry();
  handlers.register('C-FIND-RQ', {
    async handle() {
      if (calls++ === 0) await gate;
      return { status: Status.Success };
    },
  });
  const server = new DicomServer({
    aeTitle: 'SCP',
    presentationContexts: { supported: [{ abstractSyntax: STUDY_ROOT_FIND }] },
    handlers,
    maxBufferedBytes: 100_000,
    maxBufferedBytesPerAssociation: 0,
    timeouts: { datasetStall: 0 },
  });
  const accepted: Association[] = [];
  server.on('association', (a) => accepted.push(a));
  const paused = new Set<unknown>();
  const onAssociation = (m: unknown): void => {
    const e = m as { kind: string; association: unknown; detail?: { budget?: string } };
    if (e.kind === 'reading-paused' && e.detail?.budget === 'server') paused.add(e.association);
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssociation);
  const { port } = await server.listen(0);
  const connect = () => associateScu(port, { abstractSyntaxes: [STUDY_ROOT_FIND], timeouts: quick });
  try {
    // A's identifier is held by its handler, which waits: the budget is over its limit.
    const a = await connect();
    const first = findRequest(a, findIdentifier(200_000));
    await until(() => calls === 1, 'the first handler to run');
    // B's new data set waits for room; B is aborted meanwhile.
    const b = await connect();
    const bOnServer = accepted[1]!;
    void findRequest(b, findIdentifier(50_000)).response.catch(() => undefined);
    await until(() => paused.has(bOnServer), 'B to wait for room in the server budget');
    await bOnServer.abort();
    await b.association.whenClosed();
    open();
    assert.equal((await hangGuard(first.response, 'first answer')).command.status, Status.Success);
    // C's data set is larger than the budget: it goes on as the oldest collection.
    const c = await connect();
    const answer = await hangGuard(findRequest(c, findIdentifier(200_000)).response, 'a large data set after the aborted wait', 20_000);
    assert.equal(answer.command.status, Status.Success);
    assert.equal(server.bufferedBytes, 0);
    await a.release();
    await c.release();
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssociation);
    await server.close({ timeout: 1000 });
  }
});
