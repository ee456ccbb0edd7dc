/**
 * Errors the upper layer (upper-layer.ts) reports or throws. The PDU codec's own errors
 * (PduDecodeError, PduTooLargeError, PduEncodeError) are in ul/errors.ts; the state machine's
 * InvalidStateEventError is in ul/fsm/errors.ts.
 */
import { DicomError } from '../errors.js';

/**
 * The peer speaks another protocol than DICOM on this connection, recognised from its first bytes
 * (ul/pdu/sniff.ts): a TLS ClientHello on a plain DICOM port (we are the acceptor), a TLS alert
 * or record answering our plain A-ASSOCIATE-RQ (we connected without TLS to a TLS port), or HTTP.
 * `detected: 'dicom'` is reported by the AE layer around a TLS handshake: plain DICOM PDUs answered
 * our ClientHello (a plain port), or arrived where a ClientHello was expected (a TLS port).
 */
export class TransportMismatchError extends DicomError {
  /** What the first bytes look like. */
  readonly detected: 'tls' | 'http' | 'dicom';
  /** Our side of the connection. */
  readonly role: 'requestor' | 'acceptor' | undefined;
  /** The first bytes received, for the report (at most 16). */
  readonly firstBytes: Uint8Array;

  constructor(detected: 'tls' | 'http' | 'dicom', role: 'requestor' | 'acceptor' | undefined, firstBytes: Uint8Array, options?: { cause?: unknown }) {
    const hex = Buffer.from(firstBytes.subarray(0, 16)).toString('hex');
    const message =
      detected === 'dicom'
        ? role === 'requestor'
          ? `the peer answered the TLS ClientHello with plain DICOM: this is a plain (non-TLS) port (first bytes ${hex})`
          : `plain DICOM arrived on a TLS port: the peer connected without TLS (first bytes ${hex})`
        : detected === 'http'
        ? `the peer speaks HTTP, not DICOM (first bytes ${hex})`
        : role === 'requestor'
          ? `the peer answered with TLS: this is a TLS port and the connection was made without TLS (first bytes ${hex})`
          : `a TLS record (ClientHello) arrived on a plain DICOM port: the peer expects TLS here (first bytes ${hex})`;
    super(
      detected === 'tls' ? 'DICOM_ERR_UL_TLS_ON_PLAIN_PORT' : detected === 'dicom' ? 'DICOM_ERR_UL_TRANSPORT_MISMATCH' : 'DICOM_ERR_UL_NOT_DICOM',
      message,
      options,
    );
    this.detected = detected;
    this.role = role;
    this.firstBytes = firstBytes.slice(0, 16);
  }
}

/** A P-DATA-TF to send is longer than the peer's Maximum-length-received (PS3.8 D.1). */
export class PduExceedsPeerMaximumError extends DicomError {
  readonly length: number;
  readonly limit: number;
  constructor(length: number, limit: number) {
    super('DICOM_ERR_UL_PDU_EXCEEDS_PEER_MAXIMUM', `P-DATA-TF PDU-length ${length} exceeds the peer's maximum length received of ${limit}`);
    this.length = length;
    this.limit = limit;
  }
}

export { AssociationRejectedError } from './reject-reasons.js';

/**
 * The association was aborted: by the peer's service user (A-ABORT, `origin` 'peer-user'), by the
 * peer's provider ('peer'), by this provider after a protocol error ('local'), or because the
 * transport connection went away ('transport'). `reason` is the PS3.8 Table 9-26 value.
 */
export class AssociationAbortedError extends DicomError {
  readonly origin: 'peer-user' | 'peer' | 'local' | 'transport';
  readonly source: number;
  readonly reason: number;
  constructor(origin: 'peer-user' | 'peer' | 'local' | 'transport', source: number, reason: number, options?: { cause?: unknown }) {
    super('DICOM_ERR_ASSOCIATION_ABORTED', `association aborted (${origin}; source ${source}, reason ${reason}, PS3.8 Table 9-26)`, options);
    this.origin = origin;
    this.source = source;
    this.reason = reason;
  }
}

/** The association (or its transport connection) is already closed. */
export class AssociationClosedError extends DicomError {
  constructor(message = 'the association is closed', options?: { cause?: unknown }) {
    super('DICOM_ERR_ASSOCIATION_CLOSED', message, options);
  }
}
