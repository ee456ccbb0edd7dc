/**
 * A C-GET SCP scripted byte by byte, for what a broken or hostile retrieve source sends our
 * C-GET SCU (`dicom-tls get`, DicomClient.get): C-STORE sub-operations with any UIDs, data sets
 * cut short, requests beyond the operations window, aborts anywhere. No validation, on purpose.
 */
import assert from 'node:assert/strict';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import type { AAssociateRqPdu, Pdu } from '../../src/ul/pdu/types.js';
import { listenForScriptedPeer, type ScriptedPeer } from './scripted-peer.js';
import { A_RELEASE_RP, rawCommandSet, rawPData } from './raw-pdu.js';
import { userInformation } from './user-information.js';

export const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT = '1.2.840.10008.1.2';
const STUDY_GET = '1.2.840.10008.5.1.4.1.2.2.3';

/** An implicit VR little endian data set of string elements (tag → value), sorted. */
export function implicitDataset(elements: readonly (readonly [tag: number, value: string])[]): Buffer {
  return Buffer.concat([...elements].sort((a, b) => a[0] - b[0]).map(([tag, v]) => {
    const value = Buffer.from(v.length % 2 === 1 ? `${v}${tag === 0x7fe0_0010 || (tag >>> 16) === 0x0020 || tag === 0x0008_0018 || tag === 0x0008_0016 ? '\0' : ' '}` : v, 'latin1');
    const h = Buffer.alloc(8);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.writeUInt32LE(value.length, 4);
    return Buffer.concat([h, value]);
  }));
}

/** A CT instance's data set: `uid` in (0008,0018), `pixels` bytes of pixel data. */
export function ctInstance(uid: string, pixels = 100): Buffer {
  return implicitDataset([[0x0008_0016, CT], [0x0008_0018, uid], [0x0010_0020, 'PID'], [0x0020_000d, '1.2.3'], [0x0020_000e, '1.2.3.4'], [0x7fe0_0010, 'X'.repeat(pixels)]]);
}

export class GetSession {
  constructor(readonly peer: ScriptedPeer, readonly storePc: number, readonly getPc: number, readonly getId: number) {}

  storeRq(messageId: number, uid: string): void {
    this.peer.write(rawPData(this.storePc, true, true, rawCommandSet([[0x0002, CT], [0x0100, 0x0001], [0x0110, messageId], [0x0700, 0], [0x0800, 0x0000], [0x1000, uid]])));
  }

  /** Data set bytes on the storage context, `last` on the final fragment. */
  data(bytes: Uint8Array, last: boolean): void {
    this.peer.write(rawPData(this.storePc, false, last, bytes));
  }

  /** The status of the next C-STORE-RSP (undefined if the association ended first). */
  async storeStatus(): Promise<number | undefined> {
    for (;;) {
      const b = await this.peer.nextPdu();
      if (b === undefined || b[0] !== 0x04) return undefined;
      const pdu = decodePdu(b) as Extract<Pdu, { type: 'P-DATA-TF' }>;
      const command = pdu.pdvs.find((p) => p.isCommand && p.isLast);
      if (command === undefined) continue;
      const data = Buffer.from(command.data);
      const at = data.indexOf(Buffer.from([0, 0, 0x00, 0x09, 2, 0, 0, 0]));
      return data.readUInt16LE(at + 8);
    }
  }

  getRsp(status: number, counts: { completed: number; failed: number; warning: number; remaining?: number }): void {
    this.peer.write(rawPData(this.getPc, true, true, rawCommandSet([
      [0x0002, STUDY_GET], [0x0100, 0x8010], [0x0120, this.getId], [0x0800, 0x0101], [0x0900, status],
      [0x1021, counts.completed], [0x1022, counts.failed], [0x1023, counts.warning], ...(counts.remaining === undefined ? [] : [[0x1020, counts.remaining] as const]),
    ])));
  }

  /** Answers an A-RELEASE-RQ; returns how the requestor ended: 'release', 'abort' or 'closed'. */
  async end(): Promise<string> {
    for (;;) {
      const b = await this.peer.nextPdu();
      if (b === undefined) return 'closed';
      if (b[0] === 0x07) return 'abort';
      if (b[0] === 0x05) {
        this.peer.write(A_RELEASE_RP);
        return 'release';
      }
    }
  }
}

/**
 * Listen; the first connection is accepted (every context in implicit VR little endian, the SCP
 * role for CT Image Storage) and its C-GET-RQ read; `script` then plays the retrieve source.
 */
export async function hostileGetScp(script: (s: GetSession) => Promise<void>): Promise<{ port: number; done: Promise<void>; close(): Promise<void> }> {
  const { port, connection, close } = await listenForScriptedPeer();
  const done = (async () => {
    const peer = await connection;
    const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
    const store = rq.presentationContexts.find((pc) => pc.abstractSyntax === CT && pc.transferSyntaxes.includes(IMPLICIT));
    assert.ok(store !== undefined, 'the C-GET SCU proposes CT Image Storage in implicit VR little endian');
    peer.write(encodePdu({
      type: 'A-ASSOCIATE-AC', protocolVersion: 1, calledAeTitle: rq.calledAeTitle, callingAeTitle: rq.callingAeTitle, applicationContextName: rq.applicationContextName,
      presentationContexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: pc.transferSyntaxes.includes(IMPLICIT) ? 0 : 4, transferSyntax: IMPLICIT })) as never,
      userInformation: userInformation({ maximumLength: 16384, implementationClassUid: '1.2.3.4', roleSelections: [{ sopClassUid: CT, scuRole: false, scpRole: true }] }),
    }));
    let getPc = 0;
    let getId = 0;
    for (let last = false; !last;) {
      const pdu = decodePdu((await peer.nextPdu())!) as Extract<Pdu, { type: 'P-DATA-TF' }>;
      for (const pdv of pdu.pdvs) {
        if (pdv.isCommand && pdv.isLast) {
          const data = Buffer.from(pdv.data);
          getPc = pdv.presentationContextId;
          getId = data.readUInt16LE(data.indexOf(Buffer.from([0, 0, 0x10, 0x01, 2, 0, 0, 0])) + 8);
        } else if (!pdv.isCommand && pdv.isLast) last = true;
      }
    }
    await script(new GetSession(peer, store.id, getPc, getId));
  })();
  return { port, done, close };
}
