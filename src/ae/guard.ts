/**
 * The last-resort guard of one association: an exception that escaped the code handling it (a
 * defect, a policy callback, a response that could not be encoded) aborts that association alone
 * and is published, never rethrown where it would reach the process (architecture point 16).
 */
import { channelNames, publish } from '../diagnostics.js';
import { DicomError } from '../errors.js';
import type { UpperLayer } from '../ul/upper-layer.js';

/** Where the exception came from, for the diagnostics message. */
export type FailureStage = 'negotiation' | 'response';

/** The error of an association aborted by its guard (`cause`: what was thrown). */
export class AssociationFailedError extends DicomError {
  readonly stage: FailureStage;
  constructor(stage: FailureStage, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('DICOM_ERR_ASSOCIATION_FAILED', `association aborted after an internal failure (${stage}): ${why}`, { cause });
    this.stage = stage;
  }
}

/**
 * Abort `ul` (A-ABORT when the state allows one, else drop the transport) and publish
 * `{ association, kind: 'failed', detail: { stage, error } }` on the association channel.
 * Never throws.
 */
export function failAssociation(ul: UpperLayer, stage: FailureStage, cause: unknown): AssociationFailedError {
  const error = new AssociationFailedError(stage, cause);
  try {
    publish(channelNames.association, { association: ul, kind: 'failed', detail: { stage, error } });
  } catch {
    // A subscriber's failure is its own.
  }
  try {
    ul.abort();
  } catch {
    ul.destroy(error);
  }
  return error;
}
