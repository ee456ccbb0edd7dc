import { DicomError } from '../errors.js';
import { cutAtWord } from '../internal/cut-at-word.js';

/**
 * DIMSE status codes the store answers with (PS3.4 B.2.3 for C-STORE, C.4.1.1.4 for C-FIND,
 * PS3.7 C.4 for the general ones). Local named numbers: the shared dictionary (status.ts on
 * branch dimse) is written in parallel; these should be replaced by imports from it once merged.
 */
export const storeStatus = {
  /** 0000: Success. */
  success: 0x0000,
  /** A700: Refused, out of resources (PS3.4 B.2.3). */
  outOfResources: 0xa700,
  /** A900: Error, data set does not match SOP Class (PS3.4 B.2.3). */
  datasetDoesNotMatchSopClass: 0xa900,
  /** C000: Error, cannot understand (PS3.4 B.2.3; Cxxx). */
  cannotUnderstand: 0xc000,
  /** 0110: Processing failure (PS3.7 C.4). */
  processingFailure: 0x0110,
  /** 0111: Duplicate SOP Instance (PS3.7 C.4): the 'reject' duplicate policy. */
  duplicateSopInstance: 0x0111,
  /** A700: C-FIND Refused, out of resources (PS3.4 C.4.1.1.4). */
  findOutOfResources: 0xa700,
  /** A900: C-FIND Identifier does not match SOP Class (PS3.4 C.4.1.1.4). */
  identifierDoesNotMatchSopClass: 0xa900,
  /** C000: C-FIND Unable to process (PS3.4 C.4.1.1.4; Cxxx). */
  unableToProcess: 0xc000,
} as const;

export const storeErrorCodes = {
  /** The disk is full or a quota or file-handle limit is reached. */
  outOfResources: 'DICOM_ERR_STORE_OUT_OF_RESOURCES',
  /** The data set could not be parsed, or an identifying UID (or the command's) is not a valid UID. */
  cannotUnderstand: 'DICOM_ERR_STORE_CANNOT_UNDERSTAND',
  /**
   * The data set does not match its SOP class: an identifying attribute every patient IOD
   * requires (Study, Series, SOP Class or SOP Instance UID) is missing, or its SOP Class or
   * Instance UID differs from the command's.
   */
  datasetMismatch: 'DICOM_ERR_STORE_DATASET_MISMATCH',
  /** The SOP instance is already stored and the duplicate policy is 'reject'. */
  duplicate: 'DICOM_ERR_STORE_DUPLICATE',
  /** Another I/O failure (EIO, permissions, …). */
  io: 'DICOM_ERR_STORE_IO',
  /** The data set stream ended early or failed (peer gone, association aborted). */
  aborted: 'DICOM_ERR_STORE_ABORTED',
  /** A query identifier is not valid for the information model and level. */
  invalidQuery: 'DICOM_ERR_STORE_INVALID_QUERY',
  /** The index database failed. */
  index: 'DICOM_ERR_STORE_INDEX',
  /** The index database has a schema version this version cannot read (written by a newer one). */
  indexVersion: 'DICOM_ERR_STORE_INDEX_VERSION',
  /** The index database cannot be reached (server down, refused, authentication failed). */
  indexUnavailable: 'DICOM_ERR_STORE_INDEX_UNAVAILABLE',
  /** The blob store has no object under the key. */
  blobNotFound: 'DICOM_ERR_STORE_BLOB_NOT_FOUND',
  /** The blob store's bucket (or root directory) does not exist. */
  blobContainer: 'DICOM_ERR_STORE_BLOB_CONTAINER',
  /** The blob store refused the credentials or the operation (403, bad key id or signature). */
  blobAccess: 'DICOM_ERR_STORE_BLOB_ACCESS',
  /** The blob store cannot be reached or answered a server error (refused, reset, timeout, 5xx). */
  blobUnavailable: 'DICOM_ERR_STORE_BLOB_UNAVAILABLE',
  /** A stored copy is not the one its index row records (another size: cut short, or changed). */
  blobDamaged: 'DICOM_ERR_STORE_BLOB_DAMAGED',
} as const;

export type StoreErrorCode = (typeof storeErrorCodes)[keyof typeof storeErrorCodes];

/** The one table from store error to DIMSE status. */
export const statusForStoreError: Readonly<Record<StoreErrorCode, number>> = {
  [storeErrorCodes.outOfResources]: storeStatus.outOfResources,
  [storeErrorCodes.cannotUnderstand]: storeStatus.cannotUnderstand,
  [storeErrorCodes.datasetMismatch]: storeStatus.datasetDoesNotMatchSopClass,
  [storeErrorCodes.duplicate]: storeStatus.duplicateSopInstance,
  [storeErrorCodes.io]: storeStatus.processingFailure,
  [storeErrorCodes.aborted]: storeStatus.processingFailure,
  [storeErrorCodes.invalidQuery]: storeStatus.identifierDoesNotMatchSopClass,
  [storeErrorCodes.index]: storeStatus.processingFailure,
  [storeErrorCodes.indexVersion]: storeStatus.processingFailure,
  [storeErrorCodes.indexUnavailable]: storeStatus.outOfResources,
  [storeErrorCodes.blobNotFound]: storeStatus.processingFailure,
  [storeErrorCodes.blobContainer]: storeStatus.processingFailure,
  [storeErrorCodes.blobAccess]: storeStatus.processingFailure,
  // A storage service that is down may be back soon: A700 tells the SCU to send again later.
  [storeErrorCodes.blobUnavailable]: storeStatus.outOfResources,
  [storeErrorCodes.blobDamaged]: storeStatus.processingFailure,
};

/** errno codes that mean "no room": answered as out of resources. */
const resourceErrnos = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EMFILE', 'ENFILE', 'ENOMEM']);

/** A store, index or query failure, with the DIMSE status it answers. */
export class StoreError extends DicomError {
  /** The DIMSE status to answer (from `statusForStoreError`). */
  readonly status: number;
  /**
   * The Error Comment (0000,0902) to answer: an LO value (PS3.5 6.2: at most 64 characters) that
   * says what went wrong without the server's paths; the message (for logs) may say more.
   */
  readonly comment: string;
  /**
   * The Offending Element (0000,0901) to answer with an A900 or Cxxx (PS3.4 Table B.2-1): the
   * tags of the attributes at fault, when the failure is about particular ones.
   */
  readonly offendingElement: readonly number[] | undefined;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; comment?: string; offendingElement?: readonly number[] }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = statusForStoreError[code];
    this.comment = shortComment(options?.comment ?? message);
    this.offendingElement = options?.offendingElement;
  }
}

/** At most 64 characters of the default repertoire (PS3.5 6.1.2.1), cut at a word and marked when longer. */
function shortComment(text: string): string {
  return cutAtWord(text.replace(/[\r\n\\]+/g, ' ').replace(/[^\x20-\x7e]/g, '?'));
}

/** SQLite primary result codes (sqlite3.h) that mean the disk or the file system gave out. */
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

/**
 * Map an index (SQLite) failure to a StoreError: a full disk (SQLITE_FULL) or an I/O error under
 * the database (SQLITE_IOERR_*) is out of resources (A700), as a full disk is for the files: the
 * SCU may send again later. Anything else is an index failure (0110).
 */
export function storeErrorFromIndex(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  const primary = typeof errcode === 'number' ? errcode & 0xff : undefined;
  if (primary === SQLITE_FULL || primary === SQLITE_IOERR) {
    return new StoreError(storeErrorCodes.outOfResources, `${what}: ${String((error as Error).message ?? error)}`, {
      cause: error,
      comment: primary === SQLITE_FULL ? 'out of resources: the index database is full' : 'out of resources: the index database cannot write',
    });
  }
  return new StoreError(storeErrorCodes.index, `${what}: ${String(error)}`, { cause: error, comment: 'the index database failed' });
}

/** Map a file-system error to a StoreError (ENOSPC → out of resources, others → I/O). */
export function storeErrorFromFs(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && resourceErrnos.has(errno)) {
    return new StoreError(storeErrorCodes.outOfResources, `${what}: ${errno}`, { cause: error, comment: `out of resources: ${errno}` });
  }
  const why = typeof errno === 'string' ? errno : String(error);
  return new StoreError(storeErrorCodes.io, `${what}: ${why}`, { cause: error, comment: `cannot store the file: ${why}` });
}
