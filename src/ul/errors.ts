/**
 * Errors of the PS3.8 upper layer's PDU codec. Each carries the A-ABORT reason PS3.8 Table 9-26
 * gives for it, so the state machine can answer a bad PDU with the right A-ABORT without a
 * second mapping table.
 */
import { DicomError } from '../errors.js';
import { AbortReason } from './pdu/types.js';
import type { SniffedTransport } from './pdu/sniff.js';

/** An A-ABORT reason/diag. value of PS3.8 Table 9-26 (source = service provider). */
export type AbortReasonCode = (typeof AbortReason)[keyof typeof AbortReason];

/**
 * Received bytes are not a well-formed PDU. `field` names the PDU field or item that is wrong
 * (e.g. `A-ASSOCIATE-RQ.Presentation-context-ID`), `abortReason` is the A-ABORT reason to send.
 */
export class PduDecodeError extends DicomError {
  readonly field: string;
  readonly abortReason: AbortReasonCode;
  /** PDU-type octet of the offending PDU, when it was known. */
  readonly pduType: number | undefined;
  /**
   * Set when the very first bytes of a connection were not DICOM but recognisably another
   * protocol ('tls': the peer speaks TLS on a plain DICOM port; 'http'); undefined otherwise.
   */
  readonly sniffed: SniffedTransport | undefined;

  constructor(
    field: string,
    message: string,
    abortReason: AbortReasonCode,
    options?: { cause?: unknown; pduType?: number; sniffed?: SniffedTransport },
  ) {
    super('DICOM_ERR_PDU_MALFORMED', `${field}: ${message}`, options);
    this.field = field;
    this.abortReason = abortReason;
    this.pduType = options?.pduType;
    this.sniffed = options?.sniffed;
  }
}

/**
 * A PDU announced a length above what this receiver accepts; raised from the 6-byte header,
 * before any of the body is buffered. PS3.8 gives no dedicated reason: the PDU-length parameter
 * has an invalid value (Table 9-26 reason 6).
 */
export class PduTooLargeError extends DicomError {
  readonly pduType: number;
  /** PDU-length as announced (bytes after the 6-byte header). */
  readonly length: number;
  readonly limit: number;
  readonly abortReason: AbortReasonCode = AbortReason.InvalidPduParameterValue;

  constructor(pduType: number, length: number, limit: number, options?: { cause?: unknown }) {
    super(
      'DICOM_ERR_PDU_TOO_LARGE',
      `PDU type 0x${pduType.toString(16).padStart(2, '0')} announces length ${length}, above the limit of ${limit}`,
      options,
    );
    this.pduType = pduType;
    this.length = length;
    this.limit = limit;
  }
}

/**
 * A PDU given to the encoder cannot be encoded as PS3.8 requires (AE title longer than 16
 * characters, a UID with characters outside Annex F, an even presentation context ID, a
 * value out of range). This is a caller error, never a peer error.
 */
export class PduEncodeError extends DicomError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_PDU_ENCODE', `${field}: ${message}`, options);
    this.field = field;
  }
}
