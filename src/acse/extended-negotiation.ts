import type {
  SopClassCommonExtendedNegotiationItem,
  SopClassExtendedNegotiationItem,
} from '../ul/pdu/types.js';

/**
 * SOP Class Extended Negotiation (0x56, PS3.7 D.3.3.5) and SOP Class Common Extended
 * Negotiation (0x57, D.3.3.6).
 *
 * 0x56 carries service-class application information (for example the C-FIND relational-query
 * flags of PS3.4 C.5). The acceptor answers a SOP class only when a handler returns bytes for it;
 * by default nothing is answered, which the requestor must read as "the extended features are
 * not supported". 0x57 exists only in the RQ: there is no answer item. The acceptor may use it to
 * accept a specialised SOP class it does not know by its related general SOP class.
 */

/** What an extended-negotiation handler knows of the association. */
export interface ExtendedNegotiationContext {
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
}

/**
 * Acceptor handler for 0x56: given the requestor's application information for one SOP class,
 * return the information to answer with, or undefined to not answer that SOP class.
 */
export type SopClassExtendedHandler = (
  sopClassUid: string,
  applicationInformation: Uint8Array,
  context: ExtendedNegotiationContext,
) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

/**
 * Acceptor handler for 0x57: return the SOP class UIDs (among those of the items) that the
 * acceptor will accept as if they were supported, with its default transfer syntaxes.
 */
export type SopClassCommonExtendedHandler = (
  items: readonly SopClassCommonExtendedNegotiationItem[],
  context: ExtendedNegotiationContext,
) => readonly string[] | Promise<readonly string[]>;

/**
 * What answerSopClassExtended answers when it calls no handler, without a promise to wait for:
 * nothing without a handler or without a proposed item whose SOP class we accepted. Undefined
 * when the handler is to be asked.
 */
export function settledSopClassExtended(
  proposed: readonly SopClassExtendedNegotiationItem[],
  handler: SopClassExtendedHandler | undefined,
  acceptedAbstractSyntaxes: ReadonlySet<string>,
): SopClassExtendedNegotiationItem[] | undefined {
  return handler === undefined || !proposed.some((item) => acceptedAbstractSyntaxes.has(item.sopClassUid)) ? [] : undefined;
}

/**
 * Acceptor side: the 0x56 items of our AC. Only proposed SOP classes whose abstract syntax we
 * accepted are answered (an answer for anything else would mean nothing to the requestor), one
 * answer per SOP class. A handler that throws answers nothing for that SOP class: extended
 * negotiation is optional, its failure never fails the association.
 */
export async function answerSopClassExtended(
  proposed: readonly SopClassExtendedNegotiationItem[],
  handler: SopClassExtendedHandler | undefined,
  acceptedAbstractSyntaxes: ReadonlySet<string>,
  context: ExtendedNegotiationContext,
): Promise<SopClassExtendedNegotiationItem[]> {
  const settled = settledSopClassExtended(proposed, handler, acceptedAbstractSyntaxes);
  if (settled !== undefined) return settled;
  const ask = handler!; // settledSopClassExtended answers every call without one
  const out: SopClassExtendedNegotiationItem[] = [];
  const done = new Set<string>();
  for (const item of proposed) {
    if (done.has(item.sopClassUid) || !acceptedAbstractSyntaxes.has(item.sopClassUid)) continue;
    done.add(item.sopClassUid);
    let answer: Uint8Array | undefined;
    try {
      answer = await ask(item.sopClassUid, item.serviceClassApplicationInformation, context);
    } catch {
      answer = undefined;
    }
    // Anything but bytes (an untyped handler) is no answer: it would only fail later, in the encoder.
    // …as is an answer too long for its sub-item (Table D.3-11: a 2-byte item length).
    if (answer instanceof Uint8Array && answer.length <= 0xffff - 2 - item.sopClassUid.length) {
      out.push({ sopClassUid: item.sopClassUid, serviceClassApplicationInformation: answer });
    }
  }
  return out;
}

/**
 * What acceptViaCommonExtended answers when it calls no handler, without a promise to wait for:
 * nothing without a handler or without items. Undefined when the handler is to be asked.
 */
export function settledCommonExtended(
  proposed: readonly SopClassCommonExtendedNegotiationItem[],
  handler: SopClassCommonExtendedHandler | undefined,
): Set<string> | undefined {
  return handler === undefined || proposed.length === 0 ? new Set() : undefined;
}

/**
 * Acceptor side: SOP classes to accept on the strength of 0x57 items. Only UIDs that were
 * actually proposed in the items are kept; a throwing handler, or one that answers no list, adds nothing.
 */
export async function acceptViaCommonExtended(
  proposed: readonly SopClassCommonExtendedNegotiationItem[],
  handler: SopClassCommonExtendedHandler | undefined,
  context: ExtendedNegotiationContext,
): Promise<Set<string>> {
  const settled = settledCommonExtended(proposed, handler);
  if (settled !== undefined) return settled;
  const ask = handler!; // settledCommonExtended answers every call without one
  let uids: readonly string[];
  try {
    uids = await ask(proposed, context);
  } catch {
    return new Set();
  }
  if (!Array.isArray(uids)) return new Set(); // an untyped handler's odd answer adds nothing, as a throw does
  const known = new Set(proposed.map((p) => p.sopClassUid));
  return new Set(uids.filter((u) => known.has(u)));
}

/** Requestor side: the acceptor's 0x56 answers by SOP class (first answer wins). */
export function interpretSopClassExtended(
  answered: readonly SopClassExtendedNegotiationItem[],
): ReadonlyMap<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const a of answered) if (!m.has(a.sopClassUid)) m.set(a.sopClassUid, a.serviceClassApplicationInformation);
  return m;
}
