import { InvalidOptionError } from '../errors.js';
import type { RoleSelectionItem } from '../ul/pdu/types.js';
import { NegotiationError } from './errors.js';

/**
 * SCP/SCU Role Selection Negotiation (PS3.7 D.3.3.4).
 *
 * The requestor proposes, per SOP class, whether it wants to act as SCU and/or SCP. The acceptor
 * may answer with one item per proposed SOP class, returning 1 only for a role that was proposed
 * (it may not grant a role nobody asked for). Without an answer item the default roles hold:
 * requestor = SCU, acceptor = SCP, whatever was proposed.
 */

/** What one side may do for one SOP class, seen from the requestor. The acceptor's roles mirror it. */
export interface NegotiatedRoles {
  /** The requestor may invoke operations (send requests) on this SOP class. */
  readonly requestorIsScu: boolean;
  /** The requestor may perform operations (answer requests from the acceptor) on this SOP class. */
  readonly requestorIsScp: boolean;
}

/** Default roles of D.3.3.4 when no role selection was agreed. */
export const DEFAULT_ROLES: NegotiatedRoles = Object.freeze({ requestorIsScu: true, requestorIsScp: false });

/** What the requestor proposes for one SOP class. */
export interface RoleProposal {
  readonly sopClassUid: string;
  readonly scuRole: boolean;
  readonly scpRole: boolean;
}

/**
 * Requestor side: the 0x54 items. At most one per SOP class (D.3.3.4), and proposing neither
 * role is pointless, so both are refused as option errors.
 */
export function buildRoleSelectionItems(proposals: readonly RoleProposal[]): RoleSelectionItem[] {
  const seen = new Set<string>();
  return proposals.map((p, i) => {
    if (seen.has(p.sopClassUid)) {
      throw new InvalidOptionError(`roles[${i}]`, `SOP class ${p.sopClassUid} is proposed twice (one item per SOP class)`);
    }
    seen.add(p.sopClassUid);
    if (!p.scuRole && !p.scpRole) {
      throw new InvalidOptionError(`roles[${i}]`, `proposes neither SCU nor SCP role for ${p.sopClassUid}`);
    }
    return { sopClassUid: p.sopClassUid, scuRole: p.scuRole, scpRole: p.scpRole };
  });
}

/**
 * Acceptor side policy for one SOP class: may the requestor act as SCU, as SCP. Returning
 * undefined means "do not answer" (the default roles then apply).
 */
export type RoleSelectionPolicy = (sopClassUid: string) => { readonly scu: boolean; readonly scp: boolean } | undefined;

/**
 * Acceptor side: answer the requestor's 0x54 items. Only proposed SOP classes are answered, and
 * a role is granted (1) only when it was proposed and the policy allows it (D.3.3.4.2).
 */
export function answerRoleSelection(
  proposed: readonly RoleSelectionItem[],
  policy: RoleSelectionPolicy | undefined,
): RoleSelectionItem[] {
  if (policy === undefined) return [];
  const answered = new Set<string>();
  const out: RoleSelectionItem[] = [];
  for (const item of proposed) {
    if (answered.has(item.sopClassUid)) continue; // a duplicate proposal gets one answer
    const allow = policy(item.sopClassUid);
    if (allow === undefined) continue;
    answered.add(item.sopClassUid);
    out.push({
      sopClassUid: item.sopClassUid,
      scuRole: item.scuRole && allow.scu,
      scpRole: item.scpRole && allow.scp,
    });
  }
  return out;
}

/**
 * The outcome for one SOP class from the proposal and the answer (either may be absent).
 * No proposal or no answer: default roles. Otherwise a role holds when it was both proposed and
 * granted; a 1 in the answer for a role that was not proposed grants nothing. An outcome with
 * neither role means the context cannot be used at all.
 */
export function negotiatedRoles(
  proposal: Pick<RoleSelectionItem, 'scuRole' | 'scpRole'> | undefined,
  answer: Pick<RoleSelectionItem, 'scuRole' | 'scpRole'> | undefined,
): NegotiatedRoles {
  if (proposal === undefined || answer === undefined) return DEFAULT_ROLES;
  return {
    requestorIsScu: proposal.scuRole && answer.scuRole,
    requestorIsScp: proposal.scpRole && answer.scpRole,
  };
}

/** Index items by SOP class, keeping the first of duplicates. */
function bySopClass(items: readonly RoleSelectionItem[]): Map<string, RoleSelectionItem> {
  const m = new Map<string, RoleSelectionItem>();
  for (const it of items) if (!m.has(it.sopClassUid)) m.set(it.sopClassUid, it);
  return m;
}

/** Roles for every SOP class mentioned, plus a lookup that falls back to the defaults. */
export interface RoleOutcomes {
  readonly bySopClass: ReadonlyMap<string, NegotiatedRoles>;
  rolesFor(sopClassUid: string): NegotiatedRoles;
}

/**
 * Both sides: compute the outcome from the RQ's and AC's 0x54 items. With `strict`, an AC item
 * for a SOP class that was not proposed, or granting an unproposed role, is a NegotiationError.
 * interpretAssociateAc does not ask for it: such an answer grants nothing (negotiatedRoles), so
 * the requestor tolerates it; `strict` is for checking an acceptor's own answers.
 */
export function roleOutcomes(
  proposed: readonly RoleSelectionItem[],
  answered: readonly RoleSelectionItem[],
  options: { strict?: boolean } = {},
): RoleOutcomes {
  const p = bySopClass(proposed);
  const a = bySopClass(answered);
  if (options.strict === true) {
    for (const [uid, ans] of a) {
      const prop = p.get(uid);
      if (prop === undefined) {
        throw new NegotiationError(`A-ASSOCIATE-AC answers role selection for ${uid}, which was not proposed`);
      }
      if ((ans.scuRole && !prop.scuRole) || (ans.scpRole && !prop.scpRole)) {
        throw new NegotiationError(`A-ASSOCIATE-AC grants a role for ${uid} that was not proposed (PS3.7 D.3.3.4)`);
      }
    }
  }
  const map = new Map<string, NegotiatedRoles>();
  for (const [uid, prop] of p) map.set(uid, negotiatedRoles(prop, a.get(uid)));
  return {
    bySopClass: map,
    rolesFor: (uid) => map.get(uid) ?? DEFAULT_ROLES,
  };
}
