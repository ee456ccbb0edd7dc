/**
 * Values from the wire that our encoder could not carry back (issue: one A-ASSOCIATE-RQ used to
 * make the A-ASSOCIATE-AC encoder throw inside the server's negotiation and end the process).
 * Each is answered as PS3.8 says, on a real socket, and the server still answers the next
 * association.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';
import { DicomClient } from '../../src/ae/client.js';
import { Status } from '../../src/dictionary/status.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import type { AAssociateAcPdu, Pdu } from '../../src/ul/pdu/types.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { lengthPrefixed, maxLengthItem, rawAssociateRq, u16 } from '../helpers/raw-pdu.js';
import { withServer } from '../helpers/with-server.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const quick = { connect: 5000, association: 5000, dimse: 5000 };

/** Send `bytes` on a fresh connection; the first PDU the server answers, decoded (undefined: it closed). */
async function answerTo(port: number, bytes: Uint8Array): Promise<Pdu | undefined> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const peer = new ScriptedPeer(socket);
  try {
    peer.write(bytes);
    const pdu = await peer.nextPdu();
    return pdu === undefined ? undefined : decodePdu(pdu);
  } finally {
    socket.destroy();
  }
}

async function echoStillWorks(port: number): Promise<void> {
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'CHECK', calledAeTitle: 'ANY-SCP', timeouts: quick });
  assert.equal((await client.echo()).status, Status.Success);
  await client.release();
}

const rj = (result: number, source: number, reason: number): Pdu => ({ type: 'A-ASSOCIATE-RJ', result, source, reason });

test('calling AE titles the AE VR cannot hold are rejected 1/1/3 (calling AE title not recognized)', async () => {
  await withServer({}, async (port) => {
    for (const calling of ['A\\B', 'CTRL\x01', 'CAF\xe9', '                ', 'NUL\0INSIDE']) {
      assert.deepEqual(await answerTo(port, rawAssociateRq({ calling })), rj(1, 1, 3), JSON.stringify(calling));
    }
    await echoStillWorks(port);
  });
});

test('called AE titles the AE VR cannot hold are rejected 1/1/7 (called AE title not recognized)', async () => {
  await withServer({}, async (port) => {
    for (const called of ['A\\B', 'TAB\tX', '\xff\xfe', '                ']) {
      assert.deepEqual(await answerTo(port, rawAssociateRq({ called })), rj(1, 1, 7), JSON.stringify(called));
    }
    await echoStillWorks(port);
  });
});

test('an application context name that is not a UID is rejected 1/1/2', async () => {
  await withServer({}, async (port) => {
    assert.deepEqual(await answerTo(port, rawAssociateRq({ applicationContext: '1.2.840.10008.3.1.1.1x' })), rj(1, 1, 2));
    await echoStillWorks(port);
  });
});

test('a bad UID in one presentation context rejects that context only (3 / 4); the others are accepted', async () => {
  await withServer({ presentationContexts: { supported: [{ abstractSyntax: VERIFICATION }], acceptAbstractSyntax: () => true } }, async (port) => {
    const pdu = await answerTo(
      port,
      rawAssociateRq({
        contexts: [
          { id: 1, abstractSyntax: '1.2.3a', transferSyntaxes: [IMPLICIT_LE] },
          { id: 3, abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2\\', 'not a uid'] },
          { id: 5, abstractSyntax: CT, transferSyntaxes: ['\x01\x02', IMPLICIT_LE] },
          { id: 7, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
        ],
      }),
    );
    assert.equal(pdu?.type, 'A-ASSOCIATE-AC');
    const ac = pdu as AAssociateAcPdu;
    assert.deepEqual(
      ac.presentationContexts.map((c) => [c.id, c.result]),
      [
        [1, 3],
        [3, 4],
        [5, 0],
        [7, 0],
      ],
    );
    // Whatever is echoed in a rejected context is a UID (a rejected context's syntax is not significant).
    for (const c of ac.presentationContexts) assert.match(c.transferSyntax, /^[0-9.]+$/);
    await echoStillWorks(port);
  });
});

test('user information sub-items with values that are not UIDs are answered A-ABORT (invalid PDU parameter value)', async () => {
  await withServer({ presentationContexts: { supported: [{ abstractSyntax: VERIFICATION, roles: { scu: true, scp: true } }] } }, async (port) => {
    const cases: { type: number; value: Uint8Array }[] = [
      { type: 0x52, value: Uint8Array.from(Buffer.from('1.2.3\\4', 'latin1')) },
      { type: 0x54, value: Uint8Array.from([...lengthPrefixed('1.2.840.10008.1.1x'), 1, 1]) },
      { type: 0x56, value: Uint8Array.from([...lengthPrefixed('\x07'), 1, 2]) },
      { type: 0x57, value: Uint8Array.from([...lengthPrefixed('1.2'), ...lengthPrefixed('1.2.a'), ...u16(0)]) },
      { type: 0x55, value: Uint8Array.from(Buffer.from('BAD\x00\x1bNAME', 'latin1')) },
    ];
    for (const c of cases) {
      const pdu = await answerTo(port, rawAssociateRq({ userItems: [maxLengthItem(16384), c] }));
      assert.deepEqual(pdu, { type: 'A-ABORT', source: 2, reason: 6 }, `sub-item 0x${c.type.toString(16)}`);
    }
    await echoStillWorks(port);
  });
});

test('the last-resort guard: an exception escaping negotiation aborts that association alone and is published; an AC that does not encode is refused instead', async () => {
  const failed: { stage: string; error: Error }[] = [];
  const onAssoc = (m: unknown): void => {
    const e = m as { kind?: string; detail?: { stage: string; error: Error } };
    if (e.kind === 'failed' && e.detail !== undefined) failed.push(e.detail);
  };
  diagnosticsChannel.subscribe(channelNames.association, onAssoc);
  try {
    // A policy callback that throws. Beside it, two accepted SOP classes whose extended
    // negotiation answers are each fine, together more than the User Information item's 2-byte
    // length holds: the AC cannot be encoded (this once ended the process, then aborted the
    // association); nothing has been sent yet, so it is refused with an A-ASSOCIATE-RJ (1, 1, 1).
    const big = new Uint8Array(40_000);
    await withServer(
      {
        presentationContexts: {
          supported: [{ abstractSyntax: VERIFICATION }, { abstractSyntax: CT }],
          acceptContext: (c) => {
            if (c.id === 9) throw new Error('policy store down');
            return true;
          },
        },
        sopClassExtended: () => big,
      },
      async (port) => {
        const ext = (uid: string): { type: number; value: Uint8Array } => ({ type: 0x56, value: Uint8Array.from([...lengthPrefixed(uid), 1]) });
        const tooBig = await answerTo(
          port,
          rawAssociateRq({
            contexts: [
              { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
              { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] },
            ],
            userItems: [maxLengthItem(16384), ext(VERIFICATION), ext(CT)],
          }),
        );
        assert.deepEqual(tooBig, { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 1 });
        const throwing = await answerTo(port, rawAssociateRq({ contexts: [{ id: 9, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] }));
        assert.deepEqual(throwing, { type: 'A-ABORT', source: 0, reason: 0 });
        await echoStillWorks(port);
      },
    );
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, onAssoc);
  }
  assert.deepEqual(failed.map((f) => f.stage), ['negotiation']);
  assert.match(failed[0]!.error.message, /policy store down/);
  assert.equal((failed[0]!.error as { code?: string }).code, 'DICOM_ERR_ASSOCIATION_FAILED');
});
