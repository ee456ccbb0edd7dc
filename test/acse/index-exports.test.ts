import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/index.js';

test('the public surface exposes the negotiation entry points', () => {
  for (const name of ['negotiateAssociation', 'buildAssociateRq', 'interpretAssociateAc', 'AcceptedContexts', 'AssociationRejectedError', 'tooManyAssociationsRejection', 'evaluateUserIdentity', 'checkCertificateBinding', 'accessRules', 'passwordFileVerifier', 'hashPassword'] as const) {
    assert.equal(typeof api[name], 'function', name);
  }
  assert.equal(api.IMPLEMENTATION_VERSION_NAME, 'DICOMTLS_010');
  // The synchronous early answers of the negotiation steps are the acceptor's own, not API.
  for (const name of ['settledUserIdentity', 'settledSopClassExtended', 'settledCommonExtended']) {
    assert.equal(name in api, false, name);
  }
});
