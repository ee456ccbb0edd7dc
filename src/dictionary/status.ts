/**
 * DIMSE status codes: the general ones of PS3.7 Annex C and the service-specific ones of PS3.4
 * (Storage B.2.3, Query/Retrieve C.4.1.1.4 / C.4.2.1.5 / C.4.3.1.4, N-services PS3.7 10.1.x).
 */

/** Status classes, PS3.7 Annex C.1. */
export const StatusClass = {
  Success: 'Success',
  Warning: 'Warning',
  Failure: 'Failure',
  Cancel: 'Cancel',
  Pending: 'Pending',
} as const;
export type StatusClassName = (typeof StatusClass)[keyof typeof StatusClass];

/** General status codes usable by every service (PS3.7 Annex C.2 – C.5). */
export const Status = {
  Success: 0x0000,
  Cancel: 0xfe00,
  Pending: 0xff00,
  /** PS3.4 C.4.1.1.4: matches are continuing, optional keys not supported. */
  PendingWarningOptionalKeysNotSupported: 0xff01,

  // Warnings, PS3.7 C.4
  AttributeListError: 0x0107,
  AttributeValueOutOfRange: 0x0116,

  // Failures of the N-services and general ones, PS3.7 C.5 / 10.1
  NoSuchAttribute: 0x0105,
  InvalidAttributeValue: 0x0106,
  ProcessingFailure: 0x0110,
  DuplicateSopInstance: 0x0111,
  NoSuchSopInstance: 0x0112,
  NoSuchEventType: 0x0113,
  NoSuchArgument: 0x0114,
  InvalidArgumentValue: 0x0115,
  InvalidObjectInstance: 0x0117,
  NoSuchSopClass: 0x0118,
  ClassInstanceConflict: 0x0119,
  MissingAttribute: 0x0120,
  MissingAttributeValue: 0x0121,
  SopClassNotSupported: 0x0122,
  NoSuchActionType: 0x0123,
  NotAuthorized: 0x0124,
  DuplicateInvocation: 0x0210,
  UnrecognizedOperation: 0x0211,
  MistypedArgument: 0x0212,
  ResourceLimitation: 0x0213,
} as const;

/** Storage service status codes, PS3.4 Table B.2-1. */
export const StorageStatus = {
  /** A7xx: Refused, out of resources. */
  OutOfResources: 0xa700,
  /** A9xx: Error, data set does not match SOP class. */
  DataSetDoesNotMatchSopClass: 0xa900,
  /** Cxxx: Error, cannot understand. */
  CannotUnderstand: 0xc000,
  /** Warning: coercion of data elements. */
  CoercionOfDataElements: 0xb000,
  /** Warning: data set does not match SOP class. */
  DataSetDoesNotMatchSopClassWarning: 0xb007,
  /** Warning: elements discarded. */
  ElementsDiscarded: 0xb006,
} as const;

/** Query/Retrieve status codes, PS3.4 Tables C.4-1, C.4-2, C.4-3. */
export const QueryRetrieveStatus = {
  OutOfResources: 0xa700,
  /** C-MOVE/C-GET: refused, out of resources, unable to calculate number of matches (C-FIND has only A700). */
  OutOfResourcesUnableToCalculateMatches: 0xa701,
  /** C-MOVE/C-GET: refused, out of resources, unable to perform sub-operations. */
  OutOfResourcesUnableToPerformSuboperations: 0xa702,
  /** C-MOVE: refused, move destination unknown. */
  MoveDestinationUnknown: 0xa801,
  /** Identifier does not match SOP class. */
  IdentifierDoesNotMatchSopClass: 0xa900,
  /** Cxxx: unable to process. */
  UnableToProcess: 0xc000,
  Cancel: 0xfe00,
  Pending: 0xff00,
  PendingWarningOptionalKeysNotSupported: 0xff01,
  /** C-MOVE/C-GET warning: sub-operations complete, one or more failures or warnings. */
  SuboperationsCompleteWithFailures: 0xb000,
} as const;

/**
 * The class of any status code (PS3.7 Annex C): 0000 success; FF00/FF01 pending; FE00 cancel;
 * 0001, 0107, 0116 and Bxxx warning; everything else (Axxx, Cxxx, 01xx, 02xx, unknown) failure.
 */
export function statusClass(code: number): StatusClassName {
  if (code === 0x0000) return StatusClass.Success;
  if (code === 0xff00 || code === 0xff01) return StatusClass.Pending;
  if (code === 0xfe00) return StatusClass.Cancel;
  if (code === 0x0001 || code === 0x0107 || code === 0x0116 || (code & 0xf000) === 0xb000) {
    return StatusClass.Warning;
  }
  return StatusClass.Failure;
}

export const isSuccess = (code: number): boolean => code === 0x0000;
export const isPending = (code: number): boolean => code === 0xff00 || code === 0xff01;
export const isWarning = (code: number): boolean => statusClass(code) === StatusClass.Warning;
export const isFailure = (code: number): boolean => statusClass(code) === StatusClass.Failure;

/** Status as four upper-case hex digits, the way the standard and DCMTK print it. */
export function formatStatus(code: number): string {
  return `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
}
