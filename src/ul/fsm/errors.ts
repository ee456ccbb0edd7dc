/** Errors of the PS3.8 9.2 state machine. */
import { DicomError } from '../../errors.js';
import type { EventId, State } from './ids.js';
import { Events } from './ids.js';

/**
 * An event arrived in a state whose cell in Table 9-10 is empty: a service primitive issued when
 * the standard does not allow it (e.g. P-DATA request in Sta7), or a transport/timer event that
 * cannot occur in that state. The state is left unchanged and nothing is sent.
 */
export class InvalidStateEventError extends DicomError {
  readonly state: State;
  readonly event: EventId;
  constructor(state: State, event: EventId) {
    super(
      'DICOM_ERR_UL_INVALID_EVENT',
      `${event} (${Events[event]}) is not valid in ${state} (PS3.8 Table 9-10 has no action for it)`,
    );
    this.state = state;
    this.event = event;
  }
}
