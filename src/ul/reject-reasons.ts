import { DicomError } from '../errors.js';
import type { AAssociateRjPdu } from './pdu/types.js';

/**
 * The one table of PS3.8 Table 9-21 words: A-ASSOCIATE-RJ result, source and reason/diag.
 * The reason's meaning depends on the source, so reasons are keyed by source.
 */
export const rejectResultNames: Readonly<Record<number, string>> = {
  1: 'rejected-permanent',
  2: 'rejected-transient',
};
export const rejectSourceNames: Readonly<Record<number, string>> = {
  1: 'DICOM UL service-user',
  2: 'DICOM UL service-provider (ACSE related function)',
  3: 'DICOM UL service-provider (Presentation related function)',
};
export const rejectReasonNames: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  1: {
    1: 'no-reason-given',
    2: 'application-context-name-not-supported',
    3: 'calling-AE-title-not-recognized',
    7: 'called-AE-title-not-recognized',
  },
  2: { 1: 'no-reason-given', 2: 'protocol-version-not-supported' },
  3: { 1: 'temporary-congestion', 2: 'local-limit-exceeded' },
};

/** Words of the standard for an RJ triple; unknown values are named as reserved with their number. */
export function describeRejection(result: number, source: number, reason: number): {
  readonly result: string;
  readonly source: string;
  readonly reason: string;
} {
  return {
    result: rejectResultNames[result] ?? `reserved result ${result}`,
    source: rejectSourceNames[source] ?? `reserved source ${source}`,
    reason: rejectReasonNames[source]?.[reason] ?? `reserved reason ${reason}`,
  };
}

/** The peer answered our A-ASSOCIATE-RQ with A-ASSOCIATE-RJ (PS3.8 9.3.4). */
export class AssociationRejectedError extends DicomError {
  readonly result: number;
  readonly source: number;
  readonly reason: number;
  /** The standard's words for result, source and reason. */
  readonly description: { readonly result: string; readonly source: string; readonly reason: string };

  constructor(rj: Pick<AAssociateRjPdu, 'result' | 'source' | 'reason'>, options?: { cause?: unknown }) {
    const d = describeRejection(rj.result, rj.source, rj.reason);
    super(
      'DICOM_ERR_ASSOCIATION_REJECTED',
      `association rejected: ${d.result}, source ${d.source}, reason ${d.reason}`,
      options,
    );
    this.result = rj.result;
    this.source = rj.source;
    this.reason = rj.reason;
    this.description = d;
  }
}
