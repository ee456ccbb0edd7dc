/**
 * An A-ASSOCIATE-RJ carries only three numbers (PS3.8 Table 9-21), never the titles the peer
 * would accept: the caller gets the sentence that names the fix instead.
 */
import { CliError } from './errors.js';

/** serve's default AE title (serve-config.ts), named here so this hint loads none of serve's modules. */
const DEFAULT_SERVE_AE_HINT = "dicom-tls serve answers to DICOM-TLS unless started with --aet; the server's log names the titles it accepts";

const SERVICE_USER = 1;
const CALLING_NOT_RECOGNIZED = 3;
const CALLED_NOT_RECOGNIZED = 7;

/** A CliError with the hint for an AE-title rejection, or `e` unchanged. */
export function explainRejection(e: unknown, s: { callingAeTitle: string; calledAeTitle: string }): unknown {
  const err = e as { code?: string; source?: number; reason?: number; description?: { reason: string } };
  if (err?.code !== 'DICOM_ERR_ASSOCIATION_REJECTED' || err.source !== SERVICE_USER) return e;
  if (err.reason === CALLED_NOT_RECOGNIZED) {
    return new CliError(err.code, `association rejected (${err.description?.reason ?? 'called-AE-title-not-recognized'}): the peer does not answer to the called AE title '${s.calledAeTitle}'; give its AE title with --call AE (${DEFAULT_SERVE_AE_HINT})`, { cause: e });
  }
  if (err.reason === CALLING_NOT_RECOGNIZED) {
    return new CliError(err.code, `association rejected (${err.description?.reason ?? 'calling-AE-title-not-recognized'}): the peer does not accept our calling AE title '${s.callingAeTitle}'; give a title it knows with --aet AE, or ask its administrator to add '${s.callingAeTitle}'`, { cause: e });
  }
  return e;
}
