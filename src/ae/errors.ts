/**
 * Errors of the application-entity layer (DicomClient, DicomServer, Association). Timeouts use
 * the shared TimeoutError (`timer`: 'connect' | 'association' | 'dimse' | 'idle'); rejection,
 * abort and transport-mismatch errors come from the upper layer (ul/upper-layer-errors.ts).
 */
import { DicomError } from '../errors.js';
import type { DimseResponse } from '../dimse/messages.js';

/** Nothing listens at host:port (ECONNREFUSED). */
export class ConnectionRefusedError extends DicomError {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, options?: { cause?: unknown }) {
    super('DICOM_ERR_CONNECTION_REFUSED', `connection to ${host}:${port} refused: nothing listens there`, options);
    this.host = host;
    this.port = port;
  }
}

/** The TCP connection could not be made for another reason (host unreachable, DNS, reset). */
export class ConnectionError extends DicomError {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_CONNECTION', `connection to ${host}:${port} failed: ${message}`, options);
    this.host = host;
    this.port = port;
  }
}

/**
 * The peer broke the DIMSE message exchange above the fragment rules: a response to a message ID
 * we never sent, a response of the wrong kind, a second final response. The association is
 * aborted (PS3.7 9.1, 10.1: responses answer an outstanding request).
 */
export class UnexpectedResponseError extends DicomError {
  readonly messageId: number;
  constructor(messageId: number, message: string) {
    super('DICOM_ERR_DIMSE_UNEXPECTED_RESPONSE', message);
    this.messageId = messageId;
  }
}

/** A handler for this DIMSE command is already registered (exactly one per service, rule 8). */
export class HandlerAlreadyRegisteredError extends DicomError {
  readonly command: string;
  constructor(command: string) {
    super('DICOM_ERR_HANDLER_ALREADY_REGISTERED', `a handler for ${command} is already registered`);
    this.command = command;
  }
}

/** A DIMSE response came back with a failure (or cancel) status. `status` is the code. */
export class DimseStatusError extends DicomError {
  readonly status: number;
  readonly command: string;
  constructor(command: string, status: number, message: string) {
    super('DICOM_ERR_DIMSE_STATUS', message);
    this.status = status;
    this.command = command;
  }
}

/** Every Message ID (1–65535) is taken by an outstanding request on this association (PS3.7 9.3.1.1). */
export class MessageIdsExhaustedError extends DicomError {
  constructor() {
    super('DICOM_ERR_MESSAGE_IDS_EXHAUSTED', 'all 65535 message IDs are taken by outstanding requests on this association');
  }
}

/**
 * The peer invoked more operations than the Asynchronous Operations Window it negotiated allows
 * (PS3.7 D.3.3.3; 1 when none was negotiated): a request arrived while `window` of its requests
 * were still unanswered. The association is aborted.
 */
export class OperationsWindowExceededError extends DicomError {
  readonly window: number;
  readonly messageId: number;
  constructor(window: number, command: string, messageId: number) {
    super('DICOM_ERR_OPERATIONS_WINDOW_EXCEEDED', `${command} (message ID ${messageId}) arrived while ${window} request${window === 1 ? ' was' : 's were'} outstanding, beyond the negotiated Asynchronous Operations Window of ${window} (PS3.7 D.3.3.3); association aborted`);
    this.window = window;
    this.messageId = messageId;
  }
}

/**
 * A request data set being collected in memory got no fragment for `stalledMs` while it was the
 * one allowed beyond the server's buffer budget and other data sets waited for room
 * (`DicomServerOptions.timeouts.datasetStall`, docs/limits.md). Its association is aborted and
 * its bytes given back, so the next one goes on.
 */
export class DatasetStalledError extends DicomError {
  readonly stalledMs: number;
  /** Bytes of the abandoned data set that had arrived. */
  readonly heldBytes: number;
  /** Waits for room in the budget when it was abandoned. */
  readonly waiting: number;
  constructor(stalledMs: number, heldBytes: number, waiting: number) {
    super('DICOM_ERR_DATASET_STALLED', `the request data set being received (${heldBytes} bytes so far) made no progress for ${stalledMs} ms while ${waiting} other${waiting === 1 ? '' : 's'} waited for room in the server's buffer budget; association aborted`);
    this.stalledMs = stalledMs;
    this.heldBytes = heldBytes;
    this.waiting = waiting;
  }
}

/**
 * Reading was paused because the peer's pipelined requests (within its Asynchronous Operations
 * Window, PS3.7 D.3.3.3) filled the association's buffer budget with data sets waiting for their
 * handlers, and the handler in front of them took none for as long as a sink may take a PDU (the
 * DIMSE timeout, or the idle timeout where one is set; docs/limits.md). Nothing else frees that
 * room: the association is aborted and its bytes given back.
 */
export class HandlerStalledError extends DicomError {
  readonly waitedMs: number;
  /** Bytes of request data sets the association held, waiting for their handlers. */
  readonly heldBytes: number;
  /** The association's budget (`maxBufferedBytesPerAssociation`). */
  readonly limit: number;
  constructor(waitedMs: number, heldBytes: number, limit: number) {
    super('DICOM_ERR_HANDLER_STALLED', `the peer's queued request data sets (${heldBytes} bytes, the association's budget is ${limit}) waited ${waitedMs} ms for a handler that took none of them; association aborted`);
    this.waitedMs = waitedMs;
    this.heldBytes = heldBytes;
    this.limit = limit;
  }
}

/**
 * A response named another SOP Class or SOP Instance than its request: its Affected SOP Class UID
 * (or Affected SOP Instance UID) is present and differs from the request's (PS3.7 9.3, 10.3:
 * these response fields are "U(=)", equal to the request's when sent). Its status is not taken
 * as the request's outcome: the request fails with this error, which keeps the response. After
 * a final response the association goes on; after a Pending one it is aborted (the responses
 * still to come could not be trusted either).
 */
export class ResponseMismatchError extends DicomError {
  readonly messageId: number;
  /** The response as received (its Status included). */
  readonly response: DimseResponse;
  readonly field: 'affectedSopClassUid' | 'affectedSopInstanceUid';
  readonly expected: string;
  readonly received: string;
  constructor(response: DimseResponse, field: 'affectedSopClassUid' | 'affectedSopInstanceUid', expected: string, received: string) {
    const what = field === 'affectedSopClassUid' ? 'Affected SOP Class UID' : 'Affected SOP Instance UID';
    super('DICOM_ERR_DIMSE_RESPONSE_MISMATCH',
      `${response.type} (message ID ${response.messageIdBeingRespondedTo}) names ${what} ${received}, not the request's ${expected}: its status 0x${response.status.toString(16).padStart(4, '0')} is not taken as the outcome`);
    this.messageId = response.messageIdBeingRespondedTo;
    this.response = response;
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A connection the server closed because more connections than `maxPendingConnections` held no
 * association (a TLS handshake in progress, an A-ASSOCIATE-RQ not yet received): the oldest of
 * them is shed for the one that arrived (docs/limits.md). Peers that stall halfway cannot make
 * the server hold connections without bound, and a peer that completes at once still gets in.
 */
export class PendingConnectionLimitError extends DicomError {
  readonly limit: number;
  /** Which limit: the number of connections, or the bytes they sent before their A-ASSOCIATE-RQ was complete. */
  readonly option: 'maxPendingConnections' | 'maxPendingBytes';
  /** `ended`: its association was over (aborted, released, rejected) and it only waited for the peer to close. */
  constructor(limit: number, option: 'maxPendingConnections' | 'maxPendingBytes' = 'maxPendingConnections', ended = false) {
    const over = option === 'maxPendingConnections'
      ? `${limit} connections held no association (maxPendingConnections)`
      : `connections holding no association had sent more than ${limit} bytes between them (maxPendingBytes)`;
    super('DICOM_ERR_PENDING_CONNECTION_LIMIT', ended
      ? `closed without waiting for the peer to close it, its association over: ${over}`
      : option === 'maxPendingConnections'
        ? `closed: ${limit} connections were waiting to complete a TLS handshake or send an A-ASSOCIATE-RQ (maxPendingConnections) and this one had waited longest`
        : `closed: connections waiting to complete a TLS handshake or send an A-ASSOCIATE-RQ had sent more than ${limit} bytes between them (maxPendingBytes) and this one had waited longest`);
    this.limit = limit;
    this.option = option;
  }
}
