// docs/conformance.md against the code: the implementation identification it states, the SCP's
// abstract and transfer syntaxes (checked by negotiating with a real StorageServer over a socket,
// not only by comparing constants), the maximum PDU length the server announces, the role
// selection for storage, and the PS3.15 profile table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DicomClient } from '../../src/ae/client.js';
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  buildAssociateRq,
  isRejected,
  negotiateAssociation,
  temporaryCongestionRejection,
  tooManyAssociationsRejection,
  type AcceptorPolicy,
} from '../../src/acse/negotiate.js';
import type { AAssociateRjPdu, AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import { accessRules } from '../../src/acse/access-control.js';
import { DEFAULT_TRANSFER_SYNTAXES, MAX_PRESENTATION_CONTEXTS, type RequestedContext } from '../../src/acse/presentation-context.js';
import { implementationClassUid, implementationVersionName } from '../../src/dataset/part10.js';
import { NonPatientStorageSopClass, NormalizedSopClass, OtherStorageSopClass, QueryRetrieveSopClass, RetiredStorageSopClass, StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { ACCEPTED_STORAGE_SOP_CLASSES, STORAGE_ASYNCHRONOUS_OPERATIONS, STORAGE_TRANSFER_SYNTAXES, StorageServer } from '../../src/services/scp/storage-server.js';
import { DEFAULT_STORE_WINDOW } from '../../src/services/scu/store.js';
import { DEFAULT_ASYNC_WINDOW } from '../../src/cli/store.js';
import { statusForStoreError } from '../../src/store/errors.js';
import { profiles } from '../../src/transport/tls/profiles.js';
import { tempDir } from '../helpers/dicom-data.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(join(root, 'docs', 'conformance.md'), 'utf8');
const quick = { connect: 5000, association: 5000, dimse: 5000 };

/** The text from the line containing `start` up to the next line containing `end`. */
function section(start: string, end: string): string {
  const from = doc.indexOf(start);
  assert.ok(from >= 0, `conformance.md has no "${start}"`);
  const to = doc.indexOf(end, from + start.length);
  assert.ok(to > from, `conformance.md has no "${end}" after "${start}"`);
  return doc.slice(from, to);
}

/** Table rows of `text` whose first cell is a back-quoted UID: [uid, the other cells]. */
function uidRows(text: string, column = 0): [string, string[]][] {
  const rows: [string, string[]][] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const m = /^`(\d+(?:\.\d+)+)`$/.exec(cells[column] ?? '');
    if (m !== null) rows.push([m[1]!, cells]);
  }
  return rows;
}

const names: Readonly<Record<string, string>> = {
  'Explicit VR LE': TransferSyntax.ExplicitVrLittleEndian,
  'Implicit VR LE': TransferSyntax.ImplicitVrLittleEndian,
};

test('the implementation identification is the one the code sends and writes', () => {
  const general = section('**Implementation identifying information**', '**Timers.**');
  assert.match(general, new RegExp(`\\| Implementation Class UID \\| \`${IMPLEMENTATION_CLASS_UID.replace(/\./g, '\\.')}\` \\|`));
  assert.match(general, new RegExp(`\\| Implementation Version Name \\| \`${IMPLEMENTATION_VERSION_NAME}\` \\|`));
  // The File Meta Information names the same implementation (part10.ts's pair is the same one).
  assert.equal(implementationClassUid, IMPLEMENTATION_CLASS_UID);
  assert.equal(implementationVersionName, IMPLEMENTATION_VERSION_NAME);
  assert.match(general, new RegExp(`\\(0002,0012\\) \`${implementationClassUid.replace(/\./g, '\\.')}\``));
  assert.match(general, new RegExp(`\\(0002,0013\\) \`${implementationVersionName}\``));
});

test('the storage transfer syntax table is STORAGE_TRANSFER_SYNTAXES, in order', () => {
  const rows = uidRows(section('**Transfer syntaxes accepted for storage**', 'Not accepted:'), 1);
  assert.deepEqual(rows.map(([uid]) => uid), [...STORAGE_TRANSFER_SYNTAXES]);
  rows.forEach(([, cells], i) => assert.equal(cells[0], String(i + 1)));
});

test('the counts the statement gives match the dictionary', () => {
  const count = Object.keys(StorageSopClass).length;
  assert.match(doc, new RegExp(`All ${count} Storage SOP classes of \`StorageSopClass\``));
  assert.match(doc, new RegExp(`every \`StorageSopClass\` UID \\(${count}\\)`));
});

test('the accepted and the non-patient storage classes the statement names are the lists of the code', () => {
  const nonPatient: readonly string[] = Object.values(NonPatientStorageSopClass);
  const refused = uidRows(section('**Non-patient objects are refused at negotiation.**', 'Their IODs'), 1).map(([uid]) => uid);
  assert.deepEqual(refused.sort(), [...nonPatient].sort());
  assert.match(doc, new RegExp(`The ${nonPatient.length} SOP classes of the Non-Patient Object\\s+Storage Service Class`));
  // Accepted: all of StorageSopClass and RetiredStorageSopClass, OtherStorageSopClass less the non-patient ones.
  const others = Object.values(OtherStorageSopClass).filter((uid) => !nonPatient.includes(uid));
  assert.deepEqual(
    [...ACCEPTED_STORAGE_SOP_CLASSES].sort(),
    [...Object.values(StorageSopClass), ...Object.values(RetiredStorageSopClass), ...others].sort(),
  );
  const retired = Object.keys(RetiredStorageSopClass).length;
  const scp = section('##### 4.2.1.1 SOP classes', '##### 4.2.1.2');
  assert.match(scp, new RegExp(`the ${Object.keys(StorageSopClass).length} of\\s+\`StorageSopClass\`, the retired ones of \`RetiredStorageSopClass\` \\(${retired} classes;`));
  assert.match(scp, new RegExp(`and the ${others.length} current storage SOP classes`));
  const otherAccepted = ACCEPTED_STORAGE_SOP_CLASSES.length - Object.keys(StorageSopClass).length;
  assert.match(doc, new RegExp(`the other UIDs of \`ACCEPTED_STORAGE_SOP_CLASSES\` \\(${otherAccepted}: `));
  assert.match(scp, new RegExp(`\\| The ${otherAccepted} other storage SOP classes of \`ACCEPTED_STORAGE_SOP_CLASSES\``));
  assert.match(scp, new RegExp(`\\| The ${nonPatient.length} Non-Patient Object Storage SOP classes .* \\| No \\| No: refused at negotiation \\|`));
  // Nothing the statement lists as refused is accepted.
  for (const uid of nonPatient) assert.ok(!ACCEPTED_STORAGE_SOP_CLASSES.includes(uid), uid);
});

test('every C-STORE status the store can answer is in the C-STORE-RSP table, and nothing else', () => {
  const table = section('C-STORE-RSP statuses:', 'No warning status');
  const documented = [...table.matchAll(/^\| ([0-9A-F]{4}) \|/gm)].map((m) => parseInt(m[1]!, 16)).sort((a, b) => a - b);
  // Success plus every status a StoreError maps to (the storage handler answers error.status).
  const answered = [...new Set([0x0000, ...Object.values(statusForStoreError)])].sort((a, b) => a - b);
  assert.deepEqual(documented, answered);
});

test('the PS3.15 profile table names every profile of profiles.ts with its section', () => {
  const rows = [...section('### 7.1 Security profiles', 'The Basic TLS profile').matchAll(/^\| `([a-z0-9-]+)`(?: \(default\))? \| ([^|]+) \|/gm)]
    .filter((r) => r[1] !== 'profile'); // the header row
  assert.deepEqual(rows.map((r) => r[1]).sort(), Object.keys(profiles).sort());
  for (const [, name, ps315] of rows) {
    const p = profiles[name as keyof typeof profiles];
    if (p.section.startsWith('B.')) assert.ok(ps315!.startsWith(`${p.section} `), `${name}: ${ps315} vs ${p.section}`);
    else assert.match(ps315!, /^none/);
  }
});

const verification = [{ abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: [...DEFAULT_TRANSFER_SYNTAXES] }];
const basePolicy: AcceptorPolicy = { aeTitle: 'SCP', callingAeTitles: ['SCU'], presentationContexts: { supported: [{ abstractSyntax: '1.2.840.10008.1.1' }] } };
const baseRq = buildAssociateRq({ callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: verification });

async function rejection(rq: AAssociateRqPdu, policy: AcceptorPolicy = basePolicy): Promise<AAssociateRjPdu> {
  const r = await negotiateAssociation(rq, policy);
  assert.ok(isRejected(r), 'expected a rejection');
  return r.reject;
}

test('the acceptance checks table gives the A-ASSOCIATE-RJ the code sends for each check', async () => {
  const rows = [...section('##### 4.2.1.4 Association acceptance policy', 'An RQ with invalid').matchAll(/^\| ([^|]+) \| (\d)\/(\d)\/(\d) \|$/gm)];
  const scenarios: [RegExp, () => Promise<AAssociateRjPdu> | AAssociateRjPdu][] = [
    [/^Server closing/, () => temporaryCongestionRejection()],
    [/^Too many associations/, () => tooManyAssociationsRejection()],
    [/^Protocol version/, () => rejection({ ...baseRq, protocolVersion: 2 })],
    [/^Application context name/, () => rejection({ ...baseRq, applicationContextName: '1.2.3.4' })],
    [/^Called AE title not a valid AE title/, () => rejection({ ...baseRq, calledAeTitle: 'A\\B' })],
    [/^Calling AE title not a valid AE title/, () => rejection({ ...baseRq, callingAeTitle: 'CTRL\x01' })],
    [/^Requestor's Maximum Length/, () => rejection({ ...baseRq, userInformation: { ...baseRq.userInformation, maximumLength: 100 } })],
    [/^Called AE title/, () => rejection({ ...baseRq, calledAeTitle: 'OTHER' })],
    [/^Calling AE title/, () => rejection({ ...baseRq, callingAeTitle: 'STRANGER' })],
    [/^Certificate binding/, () => rejection(baseRq, { ...basePolicy, requireCertificateBinding: true })],
    [/^User identity/, () => rejection(
      buildAssociateRq({ callingAeTitle: 'SCU', calledAeTitle: 'SCP', presentationContexts: verification, userIdentity: { type: 'username', username: 'eve' } }),
      { ...basePolicy, userIdentity: () => false },
    )],
    [/^Access check/, () => rejection(baseRq, { ...basePolicy, authorize: accessRules([{ aeTitle: '*', permissions: [] }]) })],
  ];
  assert.equal(rows.length, scenarios.length, `the table has ${rows.length} rows`);
  for (const [, check, result, source, reason] of rows) {
    const scenario = scenarios.find(([re]) => re.test(check!));
    assert.ok(scenario !== undefined, `no scenario for "${check}"`);
    const rj = await scenario[1]();
    assert.deepEqual([rj.result, rj.source, rj.reason], [Number(result), Number(source), Number(reason)], check);
  }
});

test('the Asynchronous Operations Window answers, as stated', async () => {
  assert.match(doc, /maximum operations invoked \*\*16\*\*/);
  assert.match(doc, /maximum operations performed \*\*1\*\*/);
  assert.match(doc, /A plain `DicomServer` without `asynchronousOperations` answers a proposal 1\/1/);
  assert.match(doc, /`dicom-tls store`\s+proposes invoked 8, performed 1/);
  const rq: AAssociateRqPdu = { ...baseRq, userInformation: { ...baseRq.userInformation, asynchronousOperationsWindow: { maxOperationsInvoked: 32, maxOperationsPerformed: 8 } } };
  const r = await negotiateAssociation(rq, basePolicy);
  assert.ok(!isRejected(r));
  assert.deepEqual(r.accept.userInformation.asynchronousOperationsWindow, { maxOperationsInvoked: 1, maxOperationsPerformed: 1 });
  const storage = await negotiateAssociation(rq, { ...basePolicy, asynchronousOperations: STORAGE_ASYNCHRONOUS_OPERATIONS });
  assert.ok(!isRejected(storage));
  assert.deepEqual(storage.accept.userInformation.asynchronousOperationsWindow, { maxOperationsInvoked: 16, maxOperationsPerformed: 1 });
  // No proposal, no sub-item; and the requestor proposes none unless asked.
  const none = await negotiateAssociation(baseRq, { ...basePolicy, asynchronousOperations: STORAGE_ASYNCHRONOUS_OPERATIONS });
  assert.ok(!isRejected(none));
  assert.equal(none.accept.userInformation.asynchronousOperationsWindow, undefined);
  assert.equal(baseRq.userInformation.asynchronousOperationsWindow, undefined);
  assert.equal(DEFAULT_ASYNC_WINDOW, 8);
  assert.equal(DEFAULT_STORE_WINDOW, 16);
});

// ---- against a running StorageServer -------------------------------------------------------

let scratch: { dir: string; remove: () => Promise<void> };
let server: StorageServer;
let port: number;

before(async () => {
  scratch = await tempDir('conformance');
  server = await StorageServer.create({ aeTitle: 'CONFORMANCE', storeRoot: join(scratch.dir, 'store') });
  port = (await server.listen(0, '127.0.0.1')).port;
});
after(async () => {
  await server?.close({ timeout: 1000 });
  await scratch?.remove();
});

function associate(contexts: readonly RequestedContext[], roles?: { sopClassUid: string; scuRole: boolean; scpRole: boolean }[]): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1', port, callingAeTitle: 'DOC-TEST', calledAeTitle: 'CONFORMANCE',
    presentationContexts: contexts, ...(roles === undefined ? {} : { roles }), timeouts: quick,
  });
}

test('the non-storage SCP contexts of the table are accepted with the stated preference; the rest are not', async () => {
  const rows = uidRows(section('##### 4.2.1.5 Presentation context table (SCP)', '**Transfer syntaxes accepted for storage**'));
  assert.ok(rows.length >= 8, `expected the SCP table rows, found ${rows.length}`);
  const listed = rows.map(([uid, cells]) => {
    const ts = cells[2]!.split(',').map((n) => names[n.trim()]);
    assert.ok(ts.every((t) => t !== undefined), `unknown transfer syntax name in "${cells[2]}"`);
    assert.deepEqual(ts, [...DEFAULT_TRANSFER_SYNTAXES], `${uid}: the table's transfer syntaxes are the defaults`);
    return uid;
  });
  // Proposed in the opposite order: the server must pick by its own preference (first in the table).
  const reversed = [...DEFAULT_TRANSFER_SYNTAXES].reverse();
  const notSupported = [NormalizedSopClass.ModalityPerformedProcedureStep, QueryRetrieveSopClass.ModalityWorklistInformationModelFind];
  const client = await associate([...listed, ...notSupported].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: reversed })));
  try {
    for (const uid of listed) assert.equal(client.association.contexts.find(uid)?.transferSyntax, DEFAULT_TRANSFER_SYNTAXES[0], uid);
    for (const uid of notSupported) assert.equal(client.association.contexts.find(uid), undefined, `${uid} is stated as not supported`);
    // 4.2.1.2: the AC's implementation identification and our Maximum Length as stated.
    assert.equal(client.association.info.peerImplementationClassUid, IMPLEMENTATION_CLASS_UID);
    assert.equal(client.association.info.peerImplementationVersionName, IMPLEMENTATION_VERSION_NAME);
    assert.match(doc, new RegExp(`\\| Maximum PDU length received \\| ${client.association.peerMaxPduLength.toLocaleString('en').replace(/,/g, ' ')} bytes for \`StorageServer\``));
  } finally {
    await client.release();
  }
});

test('every accepted storage SOP class is accepted, with the first storage transfer syntax and both roles', async () => {
  const all = ACCEPTED_STORAGE_SOP_CLASSES;
  const reversed = [...STORAGE_TRANSFER_SYNTAXES].reverse();
  for (let i = 0; i < all.length; i += MAX_PRESENTATION_CONTEXTS) {
    const batch = all.slice(i, i + MAX_PRESENTATION_CONTEXTS);
    const client = await associate(
      batch.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: reversed })),
      batch.map((sopClassUid) => ({ sopClassUid, scuRole: true, scpRole: true })),
    );
    try {
      for (const uid of batch) {
        const ctx = client.association.contexts.find(uid);
        assert.equal(ctx?.transferSyntax, STORAGE_TRANSFER_SYNTAXES[0], uid);
        assert.deepEqual(ctx?.roles, { requestorIsScu: true, requestorIsScp: true }, `${uid}: role selection answered for storage`);
      }
    } finally {
      await client.release();
    }
  }
});

test('the transfer syntaxes stated as not accepted for storage are refused', async () => {
  const refused = section('Not accepted:', '\n\n').match(/`\.4\.\d+`/g)!.map((s) => `1.2.840.10008.1.2${s.slice(1, -1)}`);
  assert.deepEqual(refused, ['1.2.840.10008.1.2.4.94', '1.2.840.10008.1.2.4.95', '1.2.840.10008.1.2.4.204', '1.2.840.10008.1.2.4.205']);
  const contexts: RequestedContext[] = refused.map((ts) => ({ abstractSyntax: StorageSopClass.CtImageStorage, transferSyntaxes: [ts] }));
  // One the server takes, so the association is accepted and the rejections can be read.
  contexts.push({ abstractSyntax: StorageSopClass.MrImageStorage, transferSyntaxes: [TransferSyntax.JpegBaseline8Bit] });
  const client = await associate(contexts);
  try {
    assert.equal(client.association.contexts.find(StorageSopClass.CtImageStorage), undefined);
    assert.equal(client.association.contexts.rejected.length, refused.length);
    assert.equal(client.association.contexts.find(StorageSopClass.MrImageStorage)?.transferSyntax, TransferSyntax.JpegBaseline8Bit);
  } finally {
    await client.release();
  }
});

test('every non-patient storage SOP class is refused at negotiation (abstract syntax not supported), also with acceptUnknownSopClasses', async () => {
  const open = await StorageServer.create({ aeTitle: 'CONFORMANCE', storeRoot: join(scratch.dir, 'accept-unknown'), acceptUnknownSopClasses: true });
  const openPort = (await open.listen(0, '127.0.0.1')).port;
  try {
    for (const p of [port, openPort]) {
      const nonPatient = Object.values(NonPatientStorageSopClass);
      const client = await DicomClient.associate({
        host: '127.0.0.1', port: p, callingAeTitle: 'DOC-TEST', calledAeTitle: 'CONFORMANCE', timeouts: quick,
        // Verification too, so the association is accepted and the other answers can be read.
        presentationContexts: [...verification, ...nonPatient.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [...STORAGE_TRANSFER_SYNTAXES.slice(0, 2)] }))],
      });
      try {
        for (const uid of nonPatient) assert.equal(client.association.contexts.find(uid), undefined, uid);
        assert.deepEqual(client.association.contexts.rejected.map((r) => r.result), nonPatient.map(() => 3));
      } finally {
        await client.release();
      }
    }
  } finally {
    await open.close({ timeout: 1000 });
  }
});
