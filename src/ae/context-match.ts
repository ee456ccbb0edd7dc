/**
 * A received request's SOP class against the abstract syntax of the presentation context it came
 * on. A presentation context is negotiated for one abstract syntax (PS3.8 7.1.1.13), and the
 * SOP class a DIMSE request names (Affected SOP Class UID of the C-services, N-EVENT-REPORT and
 * N-CREATE; Requested SOP Class UID of N-GET, N-SET, N-ACTION, N-DELETE) is that abstract syntax:
 * a CT Image Storage context does not carry a Secondary Capture C-STORE-RQ, whose transfer
 * syntax, role and acceptance were never negotiated. Answering such a request Success stored an
 * instance under a SOP class the association never agreed to.
 *
 * The one case where the two legitimately differ is a Meta SOP Class (PS3.4 H.3, PS3.7 10.1):
 * its context carries requests for each of its member SOP classes (a Basic Film Session N-CREATE
 * on the Basic Grayscale Print Management Meta SOP Class context). Query/Retrieve and Storage
 * Commitment have no such case: a C-FIND/C-MOVE/C-GET names the information model its context
 * was negotiated for, a Storage Commitment N-ACTION / N-EVENT-REPORT names the Push Model SOP
 * class on the Push Model context, and the C-STOREs of a C-GET or C-MOVE travel on contexts of
 * their own storage SOP classes.
 *
 * A mismatch is refused, its data set read and dropped and no handler run: C-services answer
 * 0122H "Refused: SOP Class not supported" (PS3.7 Annex C), N-services 0118H "No such SOP
 * Class" (PS3.7 Annex C, the N-services' failure statuses in Section 10.1). The association goes on.
 */
import { Status } from '../dictionary/status.js';

/** Meta SOP Classes (PS3.4 H.3) and the SOP classes their contexts may carry. */
const META_SOP_CLASSES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  // Basic Grayscale Print Management Meta SOP Class (PS3.4 H.3.1).
  ['1.2.840.10008.5.1.1.9', new Set(['1.2.840.10008.5.1.1.1', '1.2.840.10008.5.1.1.2', '1.2.840.10008.5.1.1.4', '1.2.840.10008.5.1.1.16'])],
  // Basic Color Print Management Meta SOP Class (PS3.4 H.3.2).
  ['1.2.840.10008.5.1.1.18', new Set(['1.2.840.10008.5.1.1.1', '1.2.840.10008.5.1.1.2', '1.2.840.10008.5.1.1.4.1', '1.2.840.10008.5.1.1.16'])],
]);

/** The SOP class a request names. */
export function requestSopClass(request: { readonly type: string }): string | undefined {
  const r = request as { affectedSopClassUid?: string; requestedSopClassUid?: string };
  return r.affectedSopClassUid ?? r.requestedSopClassUid;
}

export interface ContextMismatch {
  readonly status: number;
  readonly errorComment: string;
  readonly sopClassUid: string;
  readonly abstractSyntax: string;
}

/** Why `request` may not run on a context for `abstractSyntax`, or undefined when it may. */
export function contextMismatch(request: { readonly type: string }, abstractSyntax: string): ContextMismatch | undefined {
  const sopClassUid = requestSopClass(request);
  if (sopClassUid === undefined || sopClassUid === abstractSyntax) return undefined;
  if (META_SOP_CLASSES.get(abstractSyntax)?.has(sopClassUid) === true) return undefined;
  const status = request.type.startsWith('N-') ? Status.NoSuchSopClass : Status.SopClassNotSupported;
  // LO: at most 64 characters (PS3.7 C.5: Error Comment).
  const errorComment = `SOP class ${sopClassUid} is not the context's`;
  return { status, errorComment, sopClassUid, abstractSyntax };
}
