/** Small PDUs for upper-layer tests. */
import type { AAssociateAcPdu, AAssociateRjPdu, AAssociateRqPdu, PDataTfPdu, UserInformationItem } from '../../src/ul/pdu/types.js';
import { userInformation } from '../helpers/user-information.js';

export function userInfo(maximumLength: number | undefined): UserInformationItem {
  return userInformation({ maximumLength, implementationClassUid: '1.2.826.0.1.3680043.10.1', implementationVersionName: 'DICOM_TLS_TEST' });
}

export const VERIFICATION = '1.2.840.10008.1.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';

export function rqPdu(maximumLength = 16384): AAssociateRqPdu {
  return {
    type: 'A-ASSOCIATE-RQ',
    protocolVersion: 1,
    calledAeTitle: 'ACCEPTOR',
    callingAeTitle: 'REQUESTOR',
    applicationContextName: '1.2.840.10008.3.1.1.1',
    presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    userInformation: userInfo(maximumLength),
  };
}

export function acFor(rq: AAssociateRqPdu, maximumLength = 16384): AAssociateAcPdu {
  return {
    type: 'A-ASSOCIATE-AC',
    protocolVersion: 1,
    calledAeTitle: rq.calledAeTitle,
    callingAeTitle: rq.callingAeTitle,
    applicationContextName: rq.applicationContextName,
    presentationContexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: 0, transferSyntax: IMPLICIT_LE })),
    userInformation: userInfo(maximumLength),
  };
}

export const rejectCalledAe: AAssociateRjPdu = { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 };

export function pdata(bytes: Uint8Array, isCommand = true): PDataTfPdu {
  return { type: 'P-DATA-TF', pdvs: [{ presentationContextId: 1, isCommand, isLast: true, data: bytes }] };
}
