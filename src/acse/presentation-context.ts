import { TransferSyntax } from '../dictionary/uids.js';
import { InvalidOptionError } from '../errors.js';
import {
  PresentationContextResult,
  type PresentationContextAcItem,
  type PresentationContextResultCode,
  type PresentationContextRqItem,
} from '../ul/pdu/types.js';
import { isWireUid } from '../ul/pdu/values.js';
import { InvalidAssociateRequestError, NegotiationError, NoAcceptedContextError } from './errors.js';
import { DEFAULT_ROLES, type NegotiatedRoles, type RoleOutcomes } from './role-selection.js';

/**
 * Presentation context negotiation (PS3.8 7.1.1.13, 9.3.2.2, 9.3.3.2; PS3.7 D.3.2).
 *
 * Requestor: turn "abstract syntax + transfer syntaxes" wishes into items with odd IDs 1–255.
 * Acceptor: a policy turns each proposed item into exactly one result item.
 * Requestor again: read the AC into a typed map of what can be used.
 */

const { ExplicitVrLittleEndian, ImplicitVrLittleEndian } = TransferSyntax;

/** PS3.5 9.1: a UID is 1–64 characters of digits and dots, components without leading zeros. */
const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
export function isValidUid(uid: string): boolean {
  return uid.length >= 1 && uid.length <= 64 && UID_PATTERN.test(uid);
}

/** The maximum number of presentation contexts: odd IDs 1..255 give 128 (PS3.8 9.3.2.2). */
export const MAX_PRESENTATION_CONTEXTS = 128;

/** What the requestor wants to use: an abstract syntax and the transfer syntaxes it can send. */
export interface RequestedContext {
  readonly abstractSyntax: string;
  /** In the requestor's order of preference; at least one. */
  readonly transferSyntaxes: readonly string[];
  /**
   * Propose one context per transfer syntax instead of one context with all of them, so the
   * acceptor can accept several (useful for a storage SCU holding files in different encodings).
   */
  readonly separateContextPerTransferSyntax?: boolean;
}

/**
 * Requestor side: build the 0x20 items with IDs 1, 3, 5, …. More than 128 contexts is an
 * InvalidOptionError, as is an invalid UID or an empty transfer syntax list.
 */
export function buildPresentationContexts(requested: readonly RequestedContext[]): PresentationContextRqItem[] {
  const out: PresentationContextRqItem[] = [];
  requested.forEach((r, i) => {
    const name = `presentationContexts[${i}]`;
    if (!isValidUid(r.abstractSyntax)) {
      throw new InvalidOptionError(`${name}.abstractSyntax`, `'${r.abstractSyntax}' is not a valid UID`);
    }
    if (r.transferSyntaxes.length === 0) {
      throw new InvalidOptionError(`${name}.transferSyntaxes`, 'at least one transfer syntax is required');
    }
    r.transferSyntaxes.forEach((ts, j) => {
      if (!isValidUid(ts)) throw new InvalidOptionError(`${name}.transferSyntaxes[${j}]`, `'${ts}' is not a valid UID`);
    });
    const unique = [...new Set(r.transferSyntaxes)];
    const groups = r.separateContextPerTransferSyntax === true ? unique.map((ts) => [ts]) : [unique];
    for (const g of groups) {
      if (out.length === MAX_PRESENTATION_CONTEXTS) {
        throw new InvalidOptionError(
          'presentationContexts',
          `more than ${MAX_PRESENTATION_CONTEXTS} presentation contexts (IDs are odd numbers 1–255)`,
        );
      }
      out.push({ id: out.length * 2 + 1, abstractSyntax: r.abstractSyntax, transferSyntaxes: g });
    }
  });
  return out;
}

/** One abstract syntax the acceptor supports. */
export interface SupportedAbstractSyntax {
  readonly abstractSyntax: string;
  /** In the acceptor's order of preference; defaults to the policy's `defaultTransferSyntaxes`. */
  readonly transferSyntaxes?: readonly string[];
  /**
   * Role selection answer for this SOP class (PS3.7 D.3.3.4): may the requestor act as SCU / SCP.
   * Absent: role selection proposals for this SOP class are not answered (default roles).
   */
  readonly roles?: { readonly scu: boolean; readonly scp: boolean };
}

/** The acceptor's presentation-context policy. */
export interface PresentationContextPolicy {
  /** Explicitly supported abstract syntaxes. */
  readonly supported?: readonly SupportedAbstractSyntax[];
  /**
   * Accept any other abstract syntax for which this returns true (for example "any storage SOP
   * class"), with `defaultTransferSyntaxes`.
   */
  readonly acceptAbstractSyntax?: (abstractSyntax: string) => boolean;
  /** Acceptor's preference order for abstract syntaxes without their own list. Default: Explicit VR LE, Implicit VR LE. */
  readonly defaultTransferSyntaxes?: readonly string[];
  /**
   * Last word on a context that would otherwise be accepted: return false to answer
   * user-rejection (1). Used for example to cap the number of contexts per SOP class.
   */
  readonly acceptContext?: (ctx: { id: number; abstractSyntax: string; transferSyntax: string }) => boolean;
}

export const DEFAULT_TRANSFER_SYNTAXES: readonly string[] = Object.freeze([
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
]);

/** Transfer syntaxes the acceptor would use for an abstract syntax, or undefined if unsupported. */
export function supportedTransferSyntaxes(
  policy: PresentationContextPolicy,
  abstractSyntax: string,
): readonly string[] | undefined {
  const entry = policy.supported?.find((s) => s.abstractSyntax === abstractSyntax);
  const defaults = policy.defaultTransferSyntaxes ?? DEFAULT_TRANSFER_SYNTAXES;
  if (entry !== undefined) return entry.transferSyntaxes ?? defaults;
  if (policy.acceptAbstractSyntax?.(abstractSyntax) === true) return defaults;
  return undefined;
}

/** A context that can carry messages, with the roles the association agreed for its SOP class. */
export interface AcceptedContext {
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntax: string;
  readonly roles: NegotiatedRoles;
}

/** A proposed context that was not accepted, with the acceptor's result. */
export interface RejectedContext {
  readonly id: number;
  readonly abstractSyntax: string;
  readonly result: PresentationContextResultCode;
}

/** The standard's words for a presentation context result (PS3.8 Table 9-18). */
export const presentationContextResultNames: Readonly<Record<number, string>> = {
  0: 'acceptance',
  1: 'user-rejection',
  2: 'no-reason (provider rejection)',
  3: 'abstract-syntax-not-supported (provider rejection)',
  4: 'transfer-syntaxes-not-supported (provider rejection)',
};

/** Check the RQ's IDs: odd, 1–255, unique (PS3.8 9.3.2.2). */
export function checkRequestedContextIds(contexts: readonly PresentationContextRqItem[]): void {
  const seen = new Set<number>();
  for (const c of contexts) {
    if (!Number.isInteger(c.id) || c.id < 1 || c.id > 255 || c.id % 2 === 0) {
      throw new InvalidAssociateRequestError(`presentation context ID ${c.id} is not an odd integer 1–255`);
    }
    if (seen.has(c.id)) throw new InvalidAssociateRequestError(`presentation context ID ${c.id} appears twice`);
    seen.add(c.id);
  }
}

/**
 * Acceptor side: one AC result per RQ context, same IDs, same order. Acceptance picks the first
 * transfer syntax in the acceptor's preference order that the requestor proposed. A context whose
 * negotiated roles leave the requestor neither SCU nor SCP is answered user-rejection (1): it
 * could carry nothing.
 */
export function answerPresentationContexts(
  contexts: readonly PresentationContextRqItem[],
  policy: PresentationContextPolicy,
  roles?: RoleOutcomes,
): { results: PresentationContextAcItem[]; accepted: AcceptedContext[]; rejected: RejectedContext[] } {
  checkRequestedContextIds(contexts);
  const results: PresentationContextAcItem[] = [];
  const accepted: AcceptedContext[] = [];
  const rejected: RejectedContext[] = [];
  const reject = (c: PresentationContextRqItem, result: PresentationContextResultCode): void => {
    // The transfer syntax is not significant on rejection (PS3.8 9.3.3.2) but the sub-item is
    // still sent; echoing a proposed one avoids a zero-length UID that strict peers choke on. Only
    // a valid UID is echoed: a peer's garbage would make our own encoder throw.
    const echo = c.transferSyntaxes.find(isWireUid) ?? ImplicitVrLittleEndian;
    results.push({ id: c.id, result, transferSyntax: echo });
    rejected.push({ id: c.id, abstractSyntax: c.abstractSyntax, result });
  };
  for (const c of contexts) {
    // A proposed syntax that is not a UID is nothing we support; the policy never sees it.
    const ours = isWireUid(c.abstractSyntax) ? supportedTransferSyntaxes(policy, c.abstractSyntax) : undefined;
    if (ours === undefined) {
      reject(c, PresentationContextResult.AbstractSyntaxNotSupported);
      continue;
    }
    const chosen = ours.find((ts) => isWireUid(ts) && c.transferSyntaxes.includes(ts));
    if (chosen === undefined) {
      reject(c, PresentationContextResult.TransferSyntaxesNotSupported);
      continue;
    }
    const r = roles?.rolesFor(c.abstractSyntax) ?? DEFAULT_ROLES;
    if (!r.requestorIsScu && !r.requestorIsScp) {
      reject(c, PresentationContextResult.UserRejection);
      continue;
    }
    if (policy.acceptContext?.({ id: c.id, abstractSyntax: c.abstractSyntax, transferSyntax: chosen }) === false) {
      reject(c, PresentationContextResult.UserRejection);
      continue;
    }
    results.push({ id: c.id, result: PresentationContextResult.Acceptance, transferSyntax: chosen });
    accepted.push({ id: c.id, abstractSyntax: c.abstractSyntax, transferSyntax: chosen, roles: r });
  }
  return { results, accepted, rejected };
}

/** Options of `AcceptedContexts.find` / `select`. */
export interface ContextSelection {
  /** Preferred transfer syntax; undefined: any accepted context of the SOP class. */
  readonly transferSyntax?: string;
  /**
   * Tried in order when no context has `transferSyntax` (data can be converted to these).
   * Default: Explicit VR Little Endian, then Implicit VR Little Endian. Give [] for an exact match only.
   */
  readonly fallbackTransferSyntaxes?: readonly string[];
  /** The role we need, seen from the requestor: 'scu' to send requests, 'scp' to answer them. */
  readonly requestorRole?: 'scu' | 'scp';
}

const DEFAULT_FALLBACK_TRANSFER_SYNTAXES: readonly string[] = [ExplicitVrLittleEndian, ImplicitVrLittleEndian];

/** The transfer syntaxes a selection accepts, in order: the preferred one, then the fallbacks. */
function wantedTransferSyntaxes(selection: ContextSelection): string[] {
  if (selection.transferSyntax === undefined) return [];
  return [selection.transferSyntax, ...(selection.fallbackTransferSyntaxes ?? DEFAULT_FALLBACK_TRANSFER_SYNTAXES)];
}

/** The negotiated presentation contexts of one association, indexed for sending. */
export class AcceptedContexts {
  readonly #byId: ReadonlyMap<number, AcceptedContext>;
  /** In ID order, sorted once: `find` runs for every instance sent. */
  readonly #all: readonly AcceptedContext[];
  readonly rejected: readonly RejectedContext[];

  constructor(accepted: readonly AcceptedContext[], rejected: readonly RejectedContext[] = []) {
    this.#byId = new Map(accepted.map((c) => [c.id, c]));
    this.#all = Object.freeze([...this.#byId.values()].sort((a, b) => a.id - b.id));
    this.rejected = rejected;
  }

  /** All accepted contexts in ID order. */
  get all(): readonly AcceptedContext[] {
    return this.#all;
  }

  /** The accepted contexts keyed by presentation context ID. */
  get byId(): ReadonlyMap<number, AcceptedContext> {
    return this.#byId;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The context with this ID, if accepted (a received PDV names its context by ID). */
  get(id: number): AcceptedContext | undefined {
    return this.#byId.get(id);
  }

  /** The context to use for `abstractSyntax`, or undefined. */
  find(abstractSyntax: string, selection: ContextSelection = {}): AcceptedContext | undefined {
    // The first fitting context in ID order for the preferred syntax, then for each fallback in
    // turn; no arrays built per call (it runs once per instance sent).
    const role = selection.requestorRole;
    const fits = (c: AcceptedContext, ts: string | undefined): boolean =>
      c.abstractSyntax === abstractSyntax && (ts === undefined || c.transferSyntax === ts) &&
      (role === undefined || (role === 'scu' ? c.roles.requestorIsScu : c.roles.requestorIsScp));
    const preferred = selection.transferSyntax;
    for (const c of this.#all) if (fits(c, preferred)) return c;
    if (preferred === undefined) return undefined;
    for (const ts of selection.fallbackTransferSyntaxes ?? DEFAULT_FALLBACK_TRANSFER_SYNTAXES) {
      for (const c of this.#all) if (fits(c, ts)) return c;
    }
    return undefined;
  }

  /** As `find`, but a NoAcceptedContextError says why nothing fits. */
  select(abstractSyntax: string, selection: ContextSelection = {}): AcceptedContext {
    const hit = this.find(abstractSyntax, selection);
    if (hit !== undefined) return hit;
    const wanted = wantedTransferSyntaxes(selection);
    const same = this.all.filter((c) => c.abstractSyntax === abstractSyntax);
    const rej = this.rejected.find((r) => r.abstractSyntax === abstractSyntax);
    let why: string;
    if (same.length === 0) {
      why =
        rej === undefined
          ? 'it was not proposed'
          : `the peer answered ${presentationContextResultNames[rej.result] ?? rej.result}`;
    } else if (wanted.length > 0 && !same.some((c) => wanted.includes(c.transferSyntax))) {
      why = `accepted only with ${same.map((c) => c.transferSyntax).join(', ')}`;
    } else {
      why = `the negotiated roles do not allow the requestor to act as ${selection.requestorRole?.toUpperCase()}`;
    }
    throw new NoAcceptedContextError(
      abstractSyntax,
      wanted,
      `no accepted presentation context for ${abstractSyntax}${wanted.length > 0 ? ` with ${wanted.join(' / ')}` : ''}: ${why}`,
    );
  }
}

/**
 * Requestor side: read the AC's results against what we proposed. An answer for an unknown ID,
 * or an accepted transfer syntax we did not propose, is a NegotiationError. A proposed context
 * without an answer counts as rejected with no-reason (2).
 */
export function interpretPresentationContexts(
  proposed: readonly PresentationContextRqItem[],
  results: readonly PresentationContextAcItem[],
  roles?: RoleOutcomes,
): AcceptedContexts {
  const byId = new Map(proposed.map((p) => [p.id, p]));
  const answered = new Set<number>();
  const accepted: AcceptedContext[] = [];
  const rejected: RejectedContext[] = [];
  for (const r of results) {
    const p = byId.get(r.id);
    if (p === undefined) throw new NegotiationError(`A-ASSOCIATE-AC answers presentation context ${r.id}, which was not proposed`);
    if (answered.has(r.id)) throw new NegotiationError(`A-ASSOCIATE-AC answers presentation context ${r.id} twice`);
    answered.add(r.id);
    if (r.result === PresentationContextResult.Acceptance) {
      if (!p.transferSyntaxes.includes(r.transferSyntax)) {
        throw new NegotiationError(
          `A-ASSOCIATE-AC accepts presentation context ${r.id} with transfer syntax '${r.transferSyntax}', which was not proposed`,
        );
      }
      const roleOutcome = roles?.rolesFor(p.abstractSyntax) ?? DEFAULT_ROLES;
      if (!roleOutcome.requestorIsScu && !roleOutcome.requestorIsScp) {
        // Accepted, but role selection left nobody able to use it (PS3.7 D.3.3.4).
        rejected.push({ id: r.id, abstractSyntax: p.abstractSyntax, result: PresentationContextResult.UserRejection });
        continue;
      }
      accepted.push({ id: r.id, abstractSyntax: p.abstractSyntax, transferSyntax: r.transferSyntax, roles: roleOutcome });
    } else {
      rejected.push({ id: r.id, abstractSyntax: p.abstractSyntax, result: r.result });
    }
  }
  for (const p of proposed) {
    if (!answered.has(p.id)) rejected.push({ id: p.id, abstractSyntax: p.abstractSyntax, result: PresentationContextResult.NoReason });
  }
  return new AcceptedContexts(accepted, rejected);
}
