/**
 * The options of DicomServer, StorageServer.create and the SCU calls (store, find, move, get)
 * are checked for their shape at the call, as DicomClient.associate's are: an unknown key, a
 * wrong type, a negative size or a callback that is not a function is an InvalidOptionError
 * (DICOM_ERR_INVALID_OPTION) whose `option` names the path, never a late TypeError or an option
 * silently ignored.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DicomServer } from '../../src/ae/server.js';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { HandlerRegistry } from '../../src/services/scp/registry.js';
import { InvalidOptionError } from '../../src/errors.js';
import { QueryRetrieveSopClass, StorageSopClass } from '../../src/dictionary/uids.js';
import { tempDir } from '../helpers/dicom-data.js';

function rejectsWith(option: string, message: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof InvalidOptionError, `not an InvalidOptionError: ${String(e)}`);
    assert.equal(e.code, 'DICOM_ERR_INVALID_OPTION');
    assert.equal(e.option, option);
    assert.match(e.message, message);
    assert.ok(e.message.startsWith(`${option}: `), e.message);
    return true;
  };
}

const SERVER_CASES: [string, unknown, string, RegExp][] = [
  ['not an object', null, 'options', /must be an object, got null/],
  ['an unknown key (a typo)', { maxAssocations: 3 }, 'maxAssocations', /is not a known option \(known: .*maxAssociations/],
  ['a string for a number', { maxAssociations: '10' }, 'maxAssociations', /must be an integer ≥ 1, got '10'/],
  ['a fraction for a count', { maxAssociations: 1.5 }, 'maxAssociations', /must be an integer ≥ 1/],
  ['a negative size', { maxBufferedBytesPerAssociation: -1 }, 'maxBufferedBytesPerAssociation', /must be an integer ≥ 0, got number -1/],
  ['a string for the Maximum Length', { maxPduLength: '16384' }, 'maxPduLength', /must be 0 \(no limit\) or an integer/],
  ['timeouts not an object', { timeouts: 30 }, 'timeouts', /must be an object/],
  ['an unknown timeout', { timeouts: { idel: 5 } }, 'timeouts.idel', /is not a known option \(known: artim, handshake, negotiation, idle, dimse, datasetStall\)/],
  ['a negative timeout', { timeouts: { dimse: -1 } }, 'timeouts.dimse', /non-negative number of milliseconds/],
  ['a non-function callback', { userIdentity: 'alice' }, 'userIdentity', /must be a function, got 'alice'/],
  ['a non-function authorize', { authorize: {} }, 'authorize', /must be a function, got an object/],
  ['a boolean as a string', { requireUserIdentity: 'yes' }, 'requireUserIdentity', /must be true or false/],
  ['handlers not a registry', { handlers: {} }, 'handlers', /must be a HandlerRegistry/],
  ['an AE title of the wrong type', { aeTitle: 7 }, 'aeTitle', /AE title, a list of them or a function/],
  ['a supported syntax without its UID', { presentationContexts: { supported: [{ transferSyntaxes: [] }] } }, 'presentationContexts.supported[0].abstractSyntax', /is required/],
];

for (const [what, options, option, message] of SERVER_CASES) {
  test(`DicomServer: ${what} is an InvalidOptionError naming ${option}`, () => {
    assert.throws(() => new DicomServer(options as never), rejectsWith(option, message));
  });
}

test('DicomServer: every documented option of the right shape is accepted', async () => {
  const server = new DicomServer({
    aeTitle: ['A', 'B'], callingAeTitles: (t) => t !== 'X', requireCertificateBinding: false, certificateBindings: [],
    presentationContexts: { supported: [{ abstractSyntax: StorageSopClass.CtImageStorage, transferSyntaxes: ['1.2.840.10008.1.2'], roles: { scu: true, scp: true } }], defaultTransferSyntaxes: ['1.2.840.10008.1.2'] },
    requireUserIdentity: false, rejectWhenNoContextAccepted: true, minPeerMaximumLength: 256,
    asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 1 }, implementationVersionName: 'TEST',
    verification: true, maxAssociations: 2, maxPduLength: 32768, timeouts: { artim: 1000, handshake: 1000, idle: 0, dimse: 1000, datasetStall: 0 },
    maxBufferedBytes: 0, maxBufferedBytesPerAssociation: 1024, handlers: new HandlerRegistry(), tls: undefined,
  });
  await server.close();
});

let dir: string;
let remove: () => Promise<void>;
before(async () => ({ dir, remove } = await tempDir('option-shapes')));
after(() => remove());

const STORAGE_CASES: [string, Record<string, unknown>, string, RegExp][] = [
  ['an unknown key', { limitz: {} }, 'limitz', /is not a known option \(known: .*limits/],
  ['an unknown limit', { limits: { maxAssocations: 1 } }, 'limits.maxAssocations', /is not a known option \(known: maxAssociations/],
  ['a string for a limit', { limits: { maxQueryMatches: '5' } }, 'limits.maxQueryMatches', /must be an integer ≥ 0, got '5'/],
  ['a negative size', { limits: { maxBufferedBytes: -1 } }, 'limits.maxBufferedBytes', /must be an integer ≥ 0/],
  ['a string timeout', { limits: { moveTimeout: '20s' } }, 'limits.moveTimeout', /must be an integer ≥ 1, got '20s'/],
  ['a negative identifier length', { limits: { maxIdentifierLength: -1 } }, 'limits.maxIdentifierLength', /must be an integer ≥ 0/],
  ['destinations not an object', { destinations: 'WS1' }, 'destinations', /object keyed by AE title/],
  ['a destination port as a string', { destinations: { WS1: { host: 'h', port: '104' } } }, 'destinations.WS1.port', /must be an integer 1–65535, got '104'/],
  ['a non-function worklist', { worklist: [] }, 'worklist', /must be a function, got an array/],
  ['a bad commitment report path', { commitmentReport: 'later' }, 'commitmentReport', /must be one of "auto", "new-association"/],
  ['an unknown DicomServer option under server', { server: { maxAssociations: 3 } }, 'server.maxAssociations', /is not a known option/],
  ['a bad server timeout', { server: { timeouts: { artim: 'long' } } }, 'server.timeouts.artim', /non-negative number of milliseconds/],
];

for (const [what, extra, option, message] of STORAGE_CASES) {
  test(`StorageServer.create: ${what} is an InvalidOptionError naming ${option}`, async () => {
    await assert.rejects(StorageServer.create({ aeTitle: 'S', storeRoot: join(dir, 'never'), ...extra } as never), rejectsWith(option, message));
  });
}

test('the SCU calls check their options at the call: store, find, move, get', async () => {
  const server = new DicomServer({
    aeTitle: 'S',
    presentationContexts: { supported: [StorageSopClass.CtImageStorage, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet].map((abstractSyntax) => ({ abstractSyntax })) },
  });
  const { port } = await server.listen(0);
  const client = await DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'C', calledAeTitle: 'S',
    presentationContexts: ['1.2.840.10008.1.1', StorageSopClass.CtImageStorage, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: ['1.2.840.10008.1.2'] })),
    timeouts: { connect: 10_000, association: 10_000, dimse: 10_000 },
  });
  try {
    const study = { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.3' };
    const cases: [string, () => unknown, string, RegExp][] = [
      ['store: sources not a list', () => client.store('a.dcm' as never), 'sources', /must be an array of file paths or stream sources/],
      ['store: a source of the wrong type', () => client.store([42 as never]), 'sources[0]', /file path or a stream source, got number 42/],
      ['store: a non-function onProgress', () => client.store([], { onProgress: 'log' as never }), 'onProgress', /must be a function, got 'log'/],
      ['store: an unknown option', () => client.store([], { maxOutstnding: 2 } as never), 'maxOutstnding', /is not a known option \(known: .*maxOutstanding/],
      ['store: a priority by name', () => client.store([], { priority: 'HIGH' as never }), 'priority', /must be one of 0, 1, 2, got 'HIGH'/],
      ['store: a negative transcode limit', () => client.store([], { maxTranscodeBytes: -1 }), 'maxTranscodeBytes', /must be an integer ≥ 0/],
      ['find: a string timeout', () => client.find('STUDY_ROOT', study, { timeout: '5s' as never }), 'timeout', /non-negative number of milliseconds, got '5s'/],
      ['find: a signal that is not an AbortSignal', () => client.find('STUDY_ROOT', study, { signal: {} as never }), 'signal', /must be an AbortSignal/],
      ['find: an identifier that is not a data set', () => client.find('STUDY_ROOT', 'STUDY' as never), 'identifier', /must be a data set object/],
      ['move: no destination', () => client.move('STUDY_ROOT', study, '' as never), 'destination', /AE title to move to/],
      ['move: a non-function onProgress', () => client.move('STUDY_ROOT', study, 'WS1', { onProgress: 5 as never }), 'onProgress', /must be a function, got number 5/],
      ['get: a non-function onInstance', () => client.get('STUDY_ROOT', study, { onInstance: 'x' as never }), 'onInstance', /must be a function, got 'x'/],
      ['get: an unknown option', () => client.get('STUDY_ROOT', study, { out: '/tmp' } as never), 'out', /is not a known option/],
      ['echo: a string timeout', () => client.echo({ timeout: '5' as never }), 'timeout', /non-negative number of milliseconds, got '5'/],
      ['echo: an unknown option', () => client.echo({ timout: 5 } as never), 'timout', /is not a known option \(known: timeout\)/],
      ['commit: a reference without its instance', () => client.commit([{ sopClassUid: StorageSopClass.CtImageStorage } as never]), 'references[0].sopInstanceUid', /is required/],
    ];
    for (const [what, call, option, message] of cases) {
      // A throw at the call (find) or a rejected promise (the others): both before anything is sent.
      await assert.rejects(async () => {
        const r = call();
        if (r !== null && typeof r === 'object' && Symbol.asyncIterator in r) for await (const _ of r as AsyncIterable<unknown>) break;
        await r;
      }, rejectsWith(option, message), what);
    }
    // Nothing was sent: the association answers as before.
    assert.equal((await client.echo()).status, 0);
  } finally {
    await client.release();
    await server.close();
  }
});
