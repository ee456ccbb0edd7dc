/**
 * Query/Retrieve FIND SCU (PS3.4 C.4.1) and Modality Worklist FIND SCU (PS3.4 K.4): one C-FIND-RQ,
 * the matches (Pending responses, PS3.7 9.1.2) yielded as naturalized data sets as they arrive.
 * Leaving the loop early (break, return, throw) or aborting the signal sends C-CANCEL-RQ
 * (PS3.7 9.3.2.3) and waits for the final response, so the association is ready for the next
 * request.
 */
import { checkFindCall } from './call-options.js';
import type { Association } from '../../ae/association.js';
import { DimseStatusError } from '../../ae/errors.js';
import { decodeDataset, encodeDataset, type NaturalDataset } from '../../dataset/codec.js';
import { Priority } from '../../dictionary/command-field.js';
import { formatStatus, isPending, isSuccess, Status } from '../../dictionary/status.js';
import { QueryRetrieveSopClass } from '../../dictionary/uids.js';
import { InvalidOptionError } from '../../errors.js';

/** The information models (PS3.4 C.6, K.6) by name. */
export const queryModels = {
  PATIENT_ROOT: {
    find: QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind,
    move: QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelMove,
    get: QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelGet,
  },
  STUDY_ROOT: {
    find: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind,
    move: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove,
    get: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet,
  },
  MODALITY_WORKLIST: { find: QueryRetrieveSopClass.ModalityWorklistInformationModelFind, move: undefined, get: undefined },
} as const;
export type QueryModelName = keyof typeof queryModels;

/** The SOP class of `model` for `operation`, or an InvalidOptionError naming the option. */
export function sopClassFor(model: QueryModelName, operation: 'find' | 'move' | 'get'): string {
  const uid = queryModels[model]?.[operation];
  if (uid === undefined) throw new InvalidOptionError('model', `${String(model)} has no ${operation.toUpperCase()} SOP class`);
  return uid;
}

export interface FindOptions {
  readonly priority?: number;
  /** Aborting sends C-CANCEL-RQ; the iteration then ends after the final (Cancel) response. */
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for each response. */
  readonly timeout?: number;
}

/**
 * C-FIND: yields each match. A final status other than Success/Cancel rejects the iteration with
 * DimseStatusError (its `status`, e.g. 0xA900 identifier does not match SOP class).
 */
export function find(association: Association, model: QueryModelName, identifier: NaturalDataset, options: FindOptions = {}): AsyncGenerator<NaturalDataset> {
  // Checked at the call, not at the first iteration (a generator's body waits for that).
  checkFindCall(identifier, options);
  sopClassFor(model, 'find');
  return decoded(findEncoded(association, model, identifier, options));
}

async function* decoded(matches: AsyncGenerator<EncodedMatch>): AsyncGenerator<NaturalDataset> {
  for await (const m of matches) yield decodeDataset(m.dataset, m.transferSyntaxUid);
}

/** A match as it arrived: the identifier's bytes and the transfer syntax to read them in. */
export interface EncodedMatch {
  readonly dataset: Uint8Array;
  readonly transferSyntaxUid: string;
}

/**
 * {@link find}, yielding each match undecoded: for a caller that wants more than the naturalized
 * form keeps (private attributes, VRs, binary values), e.g. the DICOM JSON Model (PS3.18 F.2).
 */
export function findEncoded(association: Association, model: QueryModelName, identifier: NaturalDataset, options: FindOptions = {}): AsyncGenerator<EncodedMatch> {
  checkFindCall(identifier, options);
  sopClassFor(model, 'find');
  return encodedMatches(association, model, identifier, options);
}

async function* encodedMatches(association: Association, model: QueryModelName, identifier: NaturalDataset, options: FindOptions): AsyncGenerator<EncodedMatch> {
  const sopClass = sopClassFor(model, 'find');
  const context = association.contexts.select(sopClass, { requestorRole: association.role === 'requestor' ? 'scu' : 'scp' });
  const dataset = encodeDataset(identifier, context.transferSyntax);
  const pending = association.request(
    { type: 'C-FIND-RQ', affectedSopClassUid: sopClass, priority: options.priority ?? Priority.Medium },
    { dataset, presentationContextId: context.id, ...(options.timeout === undefined ? {} : { timeout: options.timeout }) },
  );
  const onAbort = (): void => void pending.cancel().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  let finished = false;
  try {
    for await (const message of pending) {
      const status = message.command.status;
      if (isPending(status)) {
        if (message.dataset !== undefined && options.signal?.aborted !== true) yield { dataset: message.dataset, transferSyntaxUid: context.transferSyntax };
        continue;
      }
      finished = true;
      if (isSuccess(status) || status === Status.Cancel) return;
      throw new DimseStatusError('C-FIND-RSP', status, `C-FIND failed: ${formatStatus(status)}${message.command.errorComment ? ` (${message.command.errorComment})` : ''}`);
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!finished && !pending.settled) {
      // The consumer stopped early: cancel and let the final response arrive (or the association end).
      await pending.cancel().catch(() => undefined);
      await pending.response.catch(() => undefined);
    }
  }
}
