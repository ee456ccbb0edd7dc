import { test } from 'node:test';
import assert from 'node:assert/strict';
import { responseFor } from '../../src/ae/response.js';
import { decodeCommand, encodeCommand, isRequest, type DimseRequest } from '../../src/dimse/messages.js';
import { dimseExamples } from '../helpers/dimse-examples.js';

test('responseFor: every request type gives its -RSP with the identifying fields filled in, and it encodes', () => {
  const requests = dimseExamples.filter((c): c is Exclude<DimseRequest, { type: 'C-CANCEL-RQ' }> => isRequest(c) && c.type !== 'C-CANCEL-RQ');
  assert.ok(requests.length >= 11);
  for (const rq of requests) {
    const rsp = responseFor(rq, { status: 0 }, false);
    assert.equal(rsp.type, rq.type.replace('-RQ', '-RSP'));
    assert.equal(rsp.messageIdBeingRespondedTo, rq.messageId);
    const r = rq as unknown as Record<string, unknown>;
    const back = decodeCommand(encodeCommand(rsp)) as unknown as Record<string, unknown>;
    assert.equal(back['status'], 0);
    if ('affectedSopClassUid' in rsp) assert.equal(rsp.affectedSopClassUid, r['affectedSopClassUid'] ?? r['requestedSopClassUid'], rq.type);
    if (rq.type === 'C-STORE-RQ') assert.equal(back['affectedSopInstanceUid'], rq.affectedSopInstanceUid);
    if (rq.type.startsWith('N-')) assert.equal(back['affectedSopInstanceUid'], r['affectedSopInstanceUid'] ?? r['requestedSopInstanceUid'], rq.type);
  }
});
