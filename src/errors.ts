/**
 * Every error the library throws or emits is a DicomError: a stable `code` that scripts and
 * callers can switch on, a plain-language message, and the underlying `cause` kept.
 * Layer-specific subclasses live next to their layer (transport/tls/errors.ts, ul/errors.ts, …)
 * and all extend this class.
 */
export class DicomError extends Error {
  /** Stable identifier, `DICOM_ERR_…` or `DICOM_TLS_ERR_…`; never changes between releases. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option given to a public function or constructor is missing or out of range. */
export class InvalidOptionError extends DicomError {
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_INVALID_OPTION', `${option}: ${message}`, options);
    this.option = option;
  }
}

/** A timer ran out: connect, ARTIM, DIMSE response, idle. `timer` names which. */
export class TimeoutError extends DicomError {
  readonly timer: string;
  constructor(timer: string, message: string, options?: { cause?: unknown }) {
    super('DICOM_ERR_TIMEOUT', message, options);
    this.timer = timer;
  }
}
