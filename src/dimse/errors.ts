import { DicomError } from '../errors.js';

/** A command set (group 0000) could not be decoded: truncated, wrong length, wrong VR length, wrong group. */
export class CommandSetDecodeError extends DicomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_COMMAND_SET_DECODE', message, options);
  }
}

/** A command set could not be encoded: a value out of range or of the wrong type. */
export class CommandSetEncodeError extends DicomError {
  readonly element: string;
  constructor(element: string, message: string) {
    super('DICOM_ERR_COMMAND_SET_ENCODE', `${element}: ${message}`);
    this.element = element;
  }
}

/** A message lacks an element its command requires (PS3.7 Sections 9.3 / 10.3), or has one it must not. */
export class InvalidCommandError extends DicomError {
  /** The command (e.g. 'C-STORE-RQ'), or undefined when the Command Field itself is unknown. */
  readonly command: string | undefined;
  /** The offending field (standard keyword, e.g. 'AffectedSOPInstanceUID'). */
  readonly field: string;
  constructor(command: string | undefined, field: string, message: string) {
    super('DICOM_ERR_INVALID_COMMAND', `${command ?? 'command'}: ${field}: ${message}`);
    this.command = command;
    this.field = field;
  }
}

/** Why the P-DATA stream broke PS3.7 Annex E / PS3.8 Annex E. */
export const DimseProtocolViolation = {
  DatasetBeforeCommand: 'dataset-before-command',
  InterleavedMessage: 'interleaved-message',
  UnexpectedDataset: 'unexpected-dataset',
  MissingDataset: 'missing-dataset',
  CommandTooLarge: 'command-too-large',
  /** A dataset collected in memory outgrew the receiver's limit (collectSink). */
  DatasetTooLarge: 'dataset-too-large',
  InvalidCommand: 'invalid-command',
  UnknownPresentationContext: 'unknown-presentation-context',
  Closed: 'closed',
  /** The Writable behind a writableSink closed before the dataset was written to it. */
  SinkClosed: 'sink-closed',
} as const;
export type DimseProtocolViolationName = (typeof DimseProtocolViolation)[keyof typeof DimseProtocolViolation];

/** The peer broke the DIMSE fragment rules; the association must be aborted (PS3.8 Annex E, PS3.7 9.3/10.3). */
export class DimseProtocolError extends DicomError {
  readonly violation: DimseProtocolViolationName;
  readonly presentationContextId: number | undefined;
  constructor(
    violation: DimseProtocolViolationName,
    message: string,
    presentationContextId?: number,
    options?: { cause?: unknown },
  ) {
    super('DICOM_ERR_DIMSE_PROTOCOL', message, options);
    this.violation = violation;
    this.presentationContextId = presentationContextId;
  }
}
