/** Verification SOP Class SCP (PS3.4 Annex A): a C-ECHO-RQ is answered Success (PS3.7 9.3.5). */
import { Status } from '../../dictionary/status.js';
import type { DimseHandler } from './registry.js';

export const verificationHandler: DimseHandler<'C-ECHO-RQ'> = {
  handle: () => ({ status: Status.Success }),
};
