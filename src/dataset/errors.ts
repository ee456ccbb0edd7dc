import { DicomError } from '../errors.js';

/** Dataset bytes could not be decoded in the given transfer syntax. */
export class DatasetDecodeError extends DicomError {
  readonly transferSyntaxUid: string;
  constructor(transferSyntaxUid: string, message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_DATASET_DECODE', message, options);
    this.transferSyntaxUid = transferSyntaxUid;
  }
}

/** A dataset could not be encoded (bad value, unknown keyword). */
export class DatasetEncodeError extends DicomError {
  readonly transferSyntaxUid: string;
  constructor(transferSyntaxUid: string, message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_DATASET_ENCODE', message, options);
    this.transferSyntaxUid = transferSyntaxUid;
  }
}

/** These helpers handle only the uncompressed syntaxes (implicit/explicit LE, explicit BE, deflated). */
export class UnsupportedTransferSyntaxError extends DicomError {
  readonly transferSyntaxUid: string;
  constructor(transferSyntaxUid: string, message: string) {
    super('DICOM_ERR_UNSUPPORTED_TRANSFER_SYNTAX', message);
    this.transferSyntaxUid = transferSyntaxUid;
  }
}
