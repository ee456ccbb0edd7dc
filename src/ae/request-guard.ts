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
 * data set is read and dropped, never given to a handler.
 */
import { permissionForRequest } from '../acse/access-control.js';
import type { DatasetSink } from '../dimse/assembler.js';
import { Status } from '../dictionary/status.js';
import { HandlerRegistry, type DimseHandler, type RequestContext, type RequestName } from '../services/scp/registry.js';

const DISCARD: DatasetSink = { fragmentUse: 'write', write: () => undefined, end: () => undefined };

/** Why `request` may not run on this association, or undefined when it may. */
export function requestRefusal(request: { readonly type: string }, context: RequestContext): string | undefined {
  const access = context.association.info.access;
  if (access === undefined) return undefined;
  const needed = permissionForRequest(request.type);
  if (!access.permissions.includes(needed)) return `not authorized: ${request.type} needs '${needed}'`;
  if (!context.presentationContext.roles.requestorIsScu) return `not authorized: no SCU role on context ${context.presentationContext.id}`;
  return undefined;
}

function guard<N extends RequestName>(handler: DimseHandler<N>): DimseHandler<N> {
  return {
    datasetLimit: handler.datasetLimit,
    datasetSink(request, context) {
      if (requestRefusal(request, context) !== undefined) return DISCARD;
      return handler.datasetSink?.(request, context);
    },
    handle(request, context) {
      const why = requestRefusal(request, context);
      // LO: at most 64 characters (PS3.7 C.5: Error Comment).
      if (why !== undefined) return { status: Status.NotAuthorized, errorComment: why.slice(0, 64) };
      return handler.handle(request, context);
    },
  };
}

/** A view of `registry` whose handlers check each request first; registrations stay on `registry`. */
class GuardedRegistry extends HandlerRegistry {
  readonly #inner: HandlerRegistry;
  readonly #wrapped = new WeakMap<object, DimseHandler<never>>();

  constructor(inner: HandlerRegistry) {
    super({ defaults: false });
    this.#inner = inner;
  }

  override register<N extends RequestName>(command: N, handler: DimseHandler<N>): this {
    this.#inner.register(command, handler);
    return this;
  }

  override unregister(command: RequestName): this {
    this.#inner.unregister(command);
    return this;
  }

  override get<N extends RequestName>(command: N): DimseHandler<N> | undefined {
    const h = this.#inner.get(command);
    if (h === undefined) return undefined;
    let g = this.#wrapped.get(h);
    if (g === undefined) {
      g = guard(h) as unknown as DimseHandler<never>;
      this.#wrapped.set(h, g);
    }
    return g as unknown as DimseHandler<N>;
  }

  override has(command: RequestName): boolean {
    return this.#inner.has(command);
  }
}

export function guardRequests(registry: HandlerRegistry): HandlerRegistry {
  return new GuardedRegistry(registry);
}
