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
