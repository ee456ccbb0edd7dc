/**
 * Whether a response names what its request named (PS3.7 9.3, 10.3): a response's Affected SOP
 * Class UID and Affected SOP Instance UID are "U(=)", optional and, when present, equal to the
 * request's Affected (C-services, N-EVENT-REPORT, N-CREATE) or Requested (N-GET, N-SET, N-ACTION,
 * N-DELETE) UID. An N-CREATE-RQ without an instance UID leaves it to the SCP, whose response
 * then names the instance it created: nothing to compare. An element present with no value names
 * nothing either (some peers send it empty): it is taken as absent.
 */
import type { DimseRequest, DimseResponse } from '../dimse/messages.js';
import { ResponseMismatchError } from './errors.js';
import { requestSopClass } from './context-match.js';

export function responseMismatch(request: DimseRequest, response: DimseResponse): ResponseMismatchError | undefined {
  const rq = request as { affectedSopInstanceUid?: string; requestedSopInstanceUid?: string };
  const sopClass = requestSopClass(request);
  if (response.affectedSopClassUid !== undefined && response.affectedSopClassUid !== '' && sopClass !== undefined && response.affectedSopClassUid !== sopClass) {
    return new ResponseMismatchError(response, 'affectedSopClassUid', sopClass, response.affectedSopClassUid);
  }
  const instance = rq.affectedSopInstanceUid ?? rq.requestedSopInstanceUid;
  const named = (response as { affectedSopInstanceUid?: string }).affectedSopInstanceUid;
  if (named !== undefined && named !== '' && instance !== undefined && named !== instance) {
    return new ResponseMismatchError(response, 'affectedSopInstanceUid', instance, named);
  }
  return undefined;
}
