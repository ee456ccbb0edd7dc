import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVerifyTrace, parseAlerts, parseAcceptableCaNames, parseVerifyReturnCode, callKey, startSServer, runSClient } from './openssl-peer.js';
import { scenarioPki } from './pki.js';

// Captured from `openssl s_client` 3.0.19 against an s_server that sends a leaf without its
// intermediate: OpenSSL calls the callback three times at depth 0 (two errors, then the success).
const MISSING_INTERMEDIATE = `depth=0 CN = localhost, O = Chain
verify error:num=20:unable to get local issuer certificate
verify return:1
depth=0 CN = localhost, O = Chain
verify error:num=21:unable to verify the first certificate
verify return:1
depth=0 CN = localhost, O = Chain
verify return:1
40E7:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed
`;

// Captured from `openssl s_server -Verify 2` (stderr) with a client certificate whose EKU is
// emailProtection only, then from one with -verify_return_error and an untrusted client.
const SERVER_WRONG_PURPOSE = `verify depth is 2, must return a certificate
depth=0 CN = Test Client, O = Wrong Purpose
verify error:num=26:unsuitable certificate purpose
verify return:1
depth=1 CN = Test Root CA, O = dicom-tls tests
verify return:1
depth=0 CN = Test Client, O = Wrong Purpose
verify return:1
`;
const SERVER_RETURN_ERROR = `verify depth is 2, must return a certificate
depth=0 CN = Client A, O = Hospital A
verify error:num=20:unable to get local issuer certificate
ERROR
verify error:unable to get local issuer certificate
4027B1CA157F0000:error:0A000086:SSL routines:tls_process_client_certificate:certificate verify failed:../ssl/statem/statem_srvr.c:3530:
`;
const CLIENT_EXPIRED = `depth=1 CN = Test Root CA, O = dicom-tls tests
verify return:1
depth=0 CN = localhost, O = Expired
verify error:num=10:certificate has expired
notAfter=Oct 23 02:31:25 2026 GMT
verify return:1
depth=0 CN = localhost, O = Expired
verify return:1
`;

test('parses repeated depth-0 calls of a missing intermediate', () => {
  assert.deepEqual(parseVerifyTrace(MISSING_INTERMEDIATE), [
    { depth: 0, ok: 0, error: 20, errorString: 'unable to get local issuer certificate', subject: 'CN = localhost, O = Chain', returned: 1 },
    { depth: 0, ok: 0, error: 21, errorString: 'unable to verify the first certificate', subject: 'CN = localhost, O = Chain', returned: 1 },
    { depth: 0, ok: 1, subject: 'CN = localhost, O = Chain', returned: 1 },
  ]);
});

test('parses s_server traces; detail lines and the non-numbered error line are not calls', () => {
  assert.deepEqual(parseVerifyTrace(SERVER_WRONG_PURPOSE).map(callKey),
    [{ depth: 0, ok: 0, error: 26 }, { depth: 1, ok: 1 }, { depth: 0, ok: 1 }]);
  const failed = parseVerifyTrace(SERVER_RETURN_ERROR);
  assert.deepEqual(failed, [{ depth: 0, ok: 0, error: 20, errorString: 'unable to get local issuer certificate', subject: 'CN = Client A, O = Hospital A' }]);
  assert.equal(failed[0]!.returned, undefined, 'a callback returning 0 prints no "verify return"');
  assert.deepEqual(parseVerifyTrace(CLIENT_EXPIRED).map(callKey),
    [{ depth: 1, ok: 1 }, { depth: 0, ok: 0, error: 10 }, { depth: 0, ok: 1 }]);
});

test('parses alerts, CA names and the verify return code', () => {
  assert.deepEqual(parseAlerts('x:ssl3_read_bytes:sslv3 alert unsupported certificate:../ssl/record/rec_layer_s3.c:1601:SSL alert number 43\n'), [43]);
  assert.deepEqual(parseAcceptableCaNames('---\nAcceptable client certificate CA names\nCN = CA-B, O = Hospital B\nRequested Signature Algorithms: x\n'), ['CN = CA-B, O = Hospital B']);
  assert.equal(parseVerifyReturnCode('SSL-Session:\n    Verify return code: 21 (unable to verify the first certificate)\n'), 21);
  assert.equal(parseVerifyReturnCode('no peer certificate available\n'), undefined);
  assert.equal(parseVerifyReturnCode('Verify return code: 21 (unable to verify the first certificate)\n'), 21);
  assert.deepEqual(parseVerifyTrace(''), []);
});

test('live: s_client against s_server prints the chain-with-intermediate trace', async () => {
  const pki = scenarioPki();
  const server = await startSServer({ cert: pki.chain.cert, key: pki.chain.key, chain: pki.intermediate.cert });
  try {
    const client = await runSClient({ port: server.port, CAfile: pki.trustRoot });
    assert.deepEqual(client.verifyCalls.map((c) => [c.depth, c.ok, c.subject]), [
      [2, 1, 'CN = Test Root CA, O = dicom-tls tests'],
      [1, 1, 'CN = Test Intermediate CA, O = dicom-tls tests'],
      [0, 1, 'CN = localhost, O = Chain'],
    ]);
    assert.equal(client.verifyReturnCode, 0);
  } finally {
    await server.close();
  }
});

test('live: s_server -Verify sees the wrong-purpose client certificate, s_client with return_error sends the alert', async () => {
  const pki = scenarioPki();
  const server = await startSServer({ cert: pki.wrongPurpose.cert, key: pki.wrongPurpose.key });
  try {
    const client = await runSClient({ port: server.port, CAfile: pki.trustRoot, verifyReturnError: true });
    assert.deepEqual(client.verifyCalls.map(callKey), [{ depth: 0, ok: 0, error: 26 }]);
    await server.exited;
    assert.deepEqual(server.alerts(), [43]);
  } finally {
    await server.close();
  }
  const verifying = await startSServer({ cert: pki.valid.cert, key: pki.valid.key, CAfile: pki.trustRoot, Verify: 2 });
  try {
    const client = await runSClient({ port: verifying.port, CAfile: pki.trustRoot, cert: pki.wrongPurpose.cert, key: pki.wrongPurpose.key });
    assert.deepEqual(client.acceptableCaNames, ['CN = Test Root CA, O = dicom-tls tests']);
    await verifying.exited;
    assert.deepEqual(verifying.verifyCalls().map(callKey), [{ depth: 0, ok: 0, error: 26 }, { depth: 1, ok: 1 }, { depth: 0, ok: 1 }]);
  } finally {
    await verifying.close();
  }
});
