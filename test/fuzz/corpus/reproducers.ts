/**
 * Crash and hang reproducers, kept as regular cases of the live fuzzer (and of its seed corpus):
 * each once ended the server process or left a peer waiting. Golden bytes, built by the raw
 * helpers (no validation), so they stay what they were whatever our encoders learn to refuse.
 */
import { A_RELEASE_RQ, maxLengthItem, rawAssociateRq, rawCommandSet, rawPData } from '../../helpers/raw-pdu.js';
import type { Conversation } from '../grammar.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT_LE = '1.2.840.10008.1.2';

export const corpus: readonly Conversation[] = [
  // Calling AE titles the A-ASSOCIATE-AC encoder refused: the process exited (now 1/1/3).
  { rq: rawAssociateRq({ calling: 'A\\B' }), then: [A_RELEASE_RQ] },
  { rq: rawAssociateRq({ calling: 'CTRL\x01' }), then: [A_RELEASE_RQ] },
  { rq: rawAssociateRq({ calling: 'CAF\xe9' }), then: [A_RELEASE_RQ] },
  { rq: rawAssociateRq({ calling: '                ' }), then: [A_RELEASE_RQ] },
  // A proposed transfer syntax that is not a UID, echoed in a rejected context: the process exited.
  { rq: rawAssociateRq({ contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2\\'] }] }), then: [A_RELEASE_RQ] },
  // A peer Maximum Length of 6: no response could be fragmented, the peer waited 60 s (now 1/1/1).
  { rq: rawAssociateRq({ userItems: [maxLengthItem(6)] }), then: [A_RELEASE_RQ] },
  // A C-STORE-RQ with Affected SOP Instance UID 1.2.3a: its response could not be encoded, the peer waited 60 s.
  {
    rq: rawAssociateRq({ called: 'FUZZ-SCP', contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] }] }),
    then: [
      rawPData(1, true, true, rawCommandSet([[0x0002, CT], [0x0100, 0x0001], [0x0110, 7], [0x0700, 0], [0x0800, 0x0000], [0x1000, '1.2.3a']])),
      rawPData(1, false, true, Uint8Array.of(0x08, 0, 0x18, 0, 0, 0, 0, 0)),
      A_RELEASE_RQ,
    ],
  },
];
