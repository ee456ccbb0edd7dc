import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/index.js';

test('the AE layer is on the public surface', () => {
  for (const name of [
    'DicomClient', 'DicomServer', 'Association', 'PendingRequest', 'HandlerRegistry', 'echo', 'responseFor',
    'ConnectionRefusedError', 'ConnectionError', 'UnexpectedResponseError', 'HandlerAlreadyRegisteredError', 'DimseStatusError',
    'TransportMismatchError', 'AssociationAbortedError', 'AssociationClosedError', 'AssociationRejectedError', 'TimeoutError',
  ]) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(typeof api.verificationHandler.handle, 'function');
  assert.equal(new api.HandlerRegistry().has('C-ECHO-RQ'), true);
  assert.equal(new api.HandlerRegistry({ defaults: false }).has('C-ECHO-RQ'), false);
});
