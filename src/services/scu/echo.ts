/** Verification SOP Class SCU (PS3.4 Annex A, PS3.7 9.1.5): one C-ECHO-RQ, one C-ECHO-RSP. */
import { checkTimeoutOption } from './call-options.js';
import type { Association } from '../../ae/association.js';
import { DimseStatusError } from '../../ae/errors.js';
import { VerificationSopClass } from '../../dictionary/uids.js';
import { formatStatus, isSuccess } from '../../dictionary/status.js';
import type { CEchoRsp } from '../../dimse/messages.js';

/**
 * Send C-ECHO-RQ on the association's Verification context and resolve with the response.
 * A non-Success status rejects with DimseStatusError; no accepted Verification context with
 * NoAcceptedContextError; no answer in time with TimeoutError('dimse').
 */
export async function echo(association: Association, options: { readonly timeout?: number } = {}): Promise<CEchoRsp> {
  checkTimeoutOption(options);
  const pending = association.request(
    { type: 'C-ECHO-RQ', affectedSopClassUid: VerificationSopClass },
    options.timeout === undefined ? {} : { timeout: options.timeout },
  );
  const { command } = await pending.response;
  const rsp = command as CEchoRsp;
  if (!isSuccess(rsp.status)) {
    throw new DimseStatusError('C-ECHO-RSP', rsp.status, `C-ECHO failed: ${formatStatus(rsp.status)}`);
  }
  return rsp;
}
