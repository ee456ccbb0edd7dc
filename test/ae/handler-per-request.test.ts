/**
 * A request is handled by one handler from its command to its final response: the handler the
 * registry held when the command arrived chooses where the data set goes and answers it, even
 * if the registry changes meanwhile; the next request sees the change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { HandlerRegistry, type DimseHandler } from '../../src/services/scp/registry.js';
import { Status } from '../../src/dictionary/status.js';
import { withServer } from '../helpers/with-server.js';

const quick = { connect: 5000, association: 5000, dimse: 10000 };

test('the handler that saw a request\'s command answers it, though the registry changed before its end', async () => {
  const handlers = new HandlerRegistry();
  const seen: string[] = [];
  const second: DimseHandler<'C-ECHO-RQ'> = {
    handle() {
      seen.push('second');
      return { status: Status.ProcessingFailure };
    },
  };
  const first: DimseHandler<'C-ECHO-RQ'> = {
    datasetSink() {
      // Replaced while its own request is under way (a reload of the server's services).
      handlers.unregister('C-ECHO-RQ').register('C-ECHO-RQ', second);
      return undefined;
    },
    handle() {
      seen.push('first');
      return { status: Status.Success };
    },
  };
  handlers.register('C-ECHO-RQ', first);
  await withServer({ handlers }, async (port) => {
    const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'SCU', calledAeTitle: 'ANY-SCP', timeouts: quick });
    try {
      assert.equal((await client.echo()).status, Status.Success);
      await assert.rejects(client.echo(), (e: { status?: number }) => e.status === Status.ProcessingFailure);
    } finally {
      await client.release();
    }
  });
  assert.deepEqual(seen, ['first', 'second']);
});
