/**
 * The second half of access control (acse/access-control.ts): every request an acceptor receives
 * is checked against what its association was granted before a handler sees it. Negotiation
 * already rejected the contexts the requestor may not use, but a context carries any command of
 * its SOP class (a C-STORE-RQ on a context accepted only for a C-GET's sub-operations; a command
 * naming another SOP class than its context's was refused before, see context-match.ts), so the
 * command itself is checked here:
 *
 * - the request's permission (C-ECHO echo, C-FIND query, C-MOVE/C-GET retrieve, the rest store)
 *   must have been granted;
 * - the requestor must hold the SCU role on the context it used (PS3.7 D.3.3.4).
 *
 * A refused request is answered 0124H Refused: Not Authorized (PS3.7 C.5) with a comment; its
 * data set is read and dropped, never given to a handler. The association asks once per request,
 * when its command has arrived and a handler is registered for it (a request nobody handles is
 * answered Unrecognized operation, as without access control).
 */
import { permissionForRequest } from '../acse/access-control.js';
import { Status } from '../dictionary/status.js';
import type { RequestContext } from '../services/scp/registry.js';

/** Why `request` may not run on this association, or undefined when it may. */
export function requestRefusal(request: { readonly type: string }, context: RequestContext): string | undefined {
  const access = context.association.info.access;
  if (access === undefined) return undefined;
  const needed = permissionForRequest(request.type);
  if (!access.permissions.includes(needed)) return `not authorized: ${request.type} needs '${needed}'`;
  if (!context.presentationContext.roles.requestorIsScu) return `not authorized: no SCU role on context ${context.presentationContext.id}`;
  return undefined;
}

/** The answer to a refused request: Refused: Not Authorized, `why` as its Error Comment. */
export function notAuthorized(why: string): { readonly status: number; readonly errorComment: string } {
  // LO: the association shortens it to 64 characters (PS3.7 C.5: Error Comment; error-comment.ts).
  return { status: Status.NotAuthorized, errorComment: why };
}
