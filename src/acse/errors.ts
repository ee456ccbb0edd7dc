import { DicomError } from '../errors.js';

export {
  AssociationRejectedError,
  describeRejection,
  rejectResultNames,
  rejectSourceNames,
  rejectReasonNames,
} from '../ul/reject-reasons.js';

/** No accepted presentation context fits what the caller wants to send. */
export class NoAcceptedContextError extends DicomError {
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
  constructor(abstractSyntax: string, transferSyntaxes: readonly string[], message: string) {
    super('DICOM_ERR_NO_ACCEPTED_CONTEXT', message);
    this.abstractSyntax = abstractSyntax;
    this.transferSyntaxes = transferSyntaxes;
  }
}

/**
 * The peer's A-ASSOCIATE-AC breaks the negotiation rules (an answer for a context we did not
 * propose, a transfer syntax we did not offer, a role we did not propose). The requestor should
 * A-ABORT (source 2, reason 6 invalid-PDU-parameter-value).
 */
export class NegotiationError extends DicomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_NEGOTIATION', message, options);
  }
}

/**
 * The A-ASSOCIATE-RQ is malformed at the negotiation level (duplicate or even presentation
 * context IDs, …). There is no A-ASSOCIATE-RJ reason for this; the acceptor A-ABORTs with
 * `abortReason` (PS3.8 Table 9-26: 6 invalid-PDU-parameter-value).
 */
export class InvalidAssociateRequestError extends DicomError {
  readonly abortReason: number;
  constructor(message: string, abortReason = 6) {
    super('DICOM_ERR_INVALID_ASSOCIATE_RQ', message);
    this.abortReason = abortReason;
  }
}

/**
 * A user identity check refused before it ran: as many as `throttleUserIdentity` lets run or wait
 * are under way (`limit: 'queue'`), or as many of the same calling address (`'address'`; one
 * after a failed check of that address). The acceptor answers A-ASSOCIATE-RJ 2/3/2
 * (rejected-transient, service-provider presentation, local-limit-exceeded): a later try may pass.
 */
export class IdentityChecksBusyError extends DicomError {
  readonly limit: 'queue' | 'address';
  readonly max: number;
  constructor(limit: 'queue' | 'address', max: number) {
    super('DICOM_ERR_IDENTITY_CHECKS_BUSY', limit === 'queue'
      ? `user identity checks busy: ${max} already wait for their turn`
      : `user identity checks busy: ${max} of this address already running or waiting`);
    this.limit = limit;
    this.max = max;
  }
}
