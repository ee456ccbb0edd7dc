/**
 * Our DicomClient proposing an association to a scripted peer (scripted-peer.ts): the raw-peer
 * tests script what the peer answers, the request is the same in each.
 */
import { DicomClient } from '../../src/ae/client.js';
import { TransferSyntax } from '../../src/dictionary/uids.js';
import { decodePdu } from '../../src/ul/pdu/decode.js';
import type { AAssociateRqPdu } from '../../src/ul/pdu/types.js';
import type { ScriptedPeer } from './scripted-peer.js';

export interface Proposal {
  /** DicomClient.associate, settled by what the peer answers. */
  readonly associating: Promise<DicomClient>;
  readonly peer: ScriptedPeer;
  /** Our A-ASSOCIATE-RQ as the peer read it. */
  readonly rq: AAssociateRqPdu;
}

/**
 * SCU asks `calledAeTitle` on 127.0.0.1:`port` for one presentation context of `abstractSyntax`
 * in Implicit VR Little Endian; resolves once the peer has read the A-ASSOCIATE-RQ, its answer
 * left to the test.
 */
export async function proposeToScriptedPeer(
  listener: { port: number; connection: Promise<ScriptedPeer> },
  o: { calledAeTitle: string; abstractSyntax: string; timeouts: { connect: number; association: number; dimse: number } },
): Promise<Proposal> {
  const associating = DicomClient.associate({
    host: '127.0.0.1', port: listener.port, callingAeTitle: 'SCU', calledAeTitle: o.calledAeTitle,
    presentationContexts: [{ abstractSyntax: o.abstractSyntax, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
    timeouts: o.timeouts,
  });
  const peer = await listener.connection;
  const rq = decodePdu((await peer.nextPdu())!) as AAssociateRqPdu;
  return { associating, peer, rq };
}
