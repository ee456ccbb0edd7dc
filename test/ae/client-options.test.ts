/**
 * DicomClient.associate from untyped JavaScript: every associate option of the wrong shape (a
 * missing list, a string for an array, null for an object, a number for a string) is an
 * InvalidOptionError (DICOM_ERR_INVALID_OPTION) naming the option's path, never a bare TypeError,
 * and nothing is connected. The port is never reached: each call fails before connecting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomClient } from '../../src/ae/client.js';
import { checkClientOptions } from '../../src/ae/client-options.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { InvalidOptionError } from '../../src/errors.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';

const base = { host: '127.0.0.1', port: 104, callingAeTitle: 'A', calledAeTitle: 'B' };
const TS = [TransferSyntax.ImplicitVrLittleEndian];
const ctx = { abstractSyntax: VerificationSopClass, transferSyntaxes: TS };

const bad: readonly (readonly [option: string, over: Record<string, unknown>])[] = [
  // The reported case: a context without its transfer syntaxes.
  ['presentationContexts[0].transferSyntaxes', { presentationContexts: [{ abstractSyntax: VerificationSopClass }] }],
  ['presentationContexts[0].transferSyntaxes', { presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: TS[0] }] }],
  ['presentationContexts[1].transferSyntaxes[0]', { presentationContexts: [ctx, { abstractSyntax: VerificationSopClass, transferSyntaxes: [42] }] }],
  ['presentationContexts[0].abstractSyntax', { presentationContexts: [{ transferSyntaxes: TS }] }],
  ['presentationContexts[0]', { presentationContexts: [null] }],
  ['presentationContexts[0].separateContextPerTransferSyntax', { presentationContexts: [{ ...ctx, separateContextPerTransferSyntax: 'yes' }] }],
  ['presentationContexts', { presentationContexts: ctx }],
  ['presentationContexts', { presentationContexts: null }],
  ['options', {}],
  ['host', { host: 7 }],
  ['port', { port: '104' }],
  ['tls', { tls: null }],
  ['tls', { tls: 'yes' }],
  ['servername', { servername: 5 }],
  ['callingAeTitle', { callingAeTitle: undefined }],
  ['calledAeTitle', { calledAeTitle: 104 }],
  ['roles', { roles: { sopClassUid: VerificationSopClass, scuRole: true, scpRole: false } }],
  ['roles[0]', { roles: [undefined] }],
  ['roles[0].sopClassUid', { roles: [{ scuRole: true, scpRole: true }] }],
  ['roles[0].scpRole', { roles: [{ sopClassUid: VerificationSopClass, scuRole: true, scpRole: 'no' }] }],
  ['userIdentity', { userIdentity: 'alice' }],
  ['userIdentity.type', { userIdentity: { username: 'alice' } }],
  ['userIdentity.username', { userIdentity: { type: 'username' } }],
  ['userIdentity.passcode', { userIdentity: { type: 'username-passcode', username: 'alice', passcode: 1234 } }],
  ['userIdentity.ticket', { userIdentity: { type: 'kerberos', ticket: 'abc' } }],
  ['userIdentity.token', { userIdentity: { type: 'jwt' } }],
  ['userIdentity.positiveResponseRequested', { userIdentity: { type: 'username', username: 'alice', positiveResponseRequested: 1 } }],
  ['maxPduLength', { maxPduLength: '16384' }],
  ['asynchronousOperations', { asynchronousOperations: null }],
  ['asynchronousOperations.maxOperationsPerformed', { asynchronousOperations: { maxOperationsInvoked: 1 } }],
  ['timeouts', { timeouts: 5000 }],
  ['timeouts', { timeouts: null }],
  ['timeouts.connect', { timeouts: { connect: '5000' } }],
  ['handlers', { handlers: {} }],
  ['associateRq', { associateRq: 'x' }],
  ['associateRq.sopClassExtended', { associateRq: { sopClassExtended: {} } }],
  ['associateRq.sopClassExtended[0].serviceClassApplicationInformation', { associateRq: { sopClassExtended: [{ sopClassUid: VerificationSopClass }] } }],
  ['associateRq.sopClassCommonExtended[0].relatedGeneralSopClassUids', { associateRq: { sopClassCommonExtended: [{ sopClassUid: VerificationSopClass, serviceClassUid: '1.2.840.10008.4.2' }] } }],
  ['associateRq.implementationVersionName', { associateRq: { implementationVersionName: 123 } }],
];

for (const [option, over] of bad) {
  test(`associate(${JSON.stringify(over)}) → InvalidOptionError naming ${option}`, async () => {
    const options = option === 'options' ? null : { ...base, ...over };
    await assert.rejects(DicomClient.associate(options as never), (e: unknown) => {
      assert.ok(e instanceof InvalidOptionError, `not an InvalidOptionError: ${String(e)}`);
      assert.equal(e.code, 'DICOM_ERR_INVALID_OPTION');
      assert.equal(e.option, option);
      assert.ok(e.message.startsWith(`${option}: `), e.message);
      return true;
    });
  });
}

test('options of the right shape pass the shape check (values are checked further in)', () => {
  assert.doesNotThrow(() => checkClientOptions({
    ...base, servername: 'pacs.example', presentationContexts: [{ ...ctx, separateContextPerTransferSyntax: true }],
    roles: [{ sopClassUid: VerificationSopClass, scuRole: true, scpRole: false }],
    userIdentity: { type: 'saml', assertion: new Uint8Array([1]), positiveResponseRequested: true },
    maxPduLength: 0, asynchronousOperations: { maxOperationsInvoked: 2, maxOperationsPerformed: 1 },
    timeouts: { connect: 1000, dimse: 0 }, handlers: new HandlerRegistry(),
    associateRq: {
      sopClassExtended: [{ sopClassUid: VerificationSopClass, serviceClassApplicationInformation: new Uint8Array([1]) }],
      sopClassCommonExtended: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [] }],
      implementationClassUid: '1.2.3', implementationVersionName: 'X',
    },
  }));
  assert.doesNotThrow(() => checkClientOptions(base));
});
