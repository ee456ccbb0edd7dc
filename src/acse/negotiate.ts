import { InvalidOptionError, type DicomError } from '../errors.js';
import type { TlsInfo } from '../transport/connection.js';
import {
  DICOM_APPLICATION_CONTEXT,
  RejectReason,
  RejectResult,
  RejectSource,
  type AAssociateAcPdu,
  type AAssociateRjPdu,
  type AAssociateRqPdu,
  type SopClassCommonExtendedNegotiationItem,
  type SopClassExtendedNegotiationItem,
  type UserInformationItem,
} from '../ul/pdu/types.js';
import { isAeTitleValue, printable } from '../ul/pdu/values.js';
import {
  acceptorOperations,
  answerAsynchronousOperations,
  checkAsynchronousOperationsWindow,
  requestorOperations,
  type AsynchronousOperations,
  type AsynchronousOperationsWindow,
} from './asynchronous-operations.js';
import { checkCertificateBinding, type CertificateBinding } from './certificate-binding.js';
import { permissionForContext, permittedRoles, type AccessDecision, type AuthorizeHandler } from './access-control.js';
import { AssociationRejectedError, NegotiationError } from './errors.js';
import {
  acceptViaCommonExtended,
  answerSopClassExtended,
  interpretSopClassExtended,
  settledCommonExtended,
  settledSopClassExtended,
  type SopClassCommonExtendedHandler,
  type SopClassExtendedHandler,
} from './extended-negotiation.js';
import {
  AcceptedContexts,
  answerPresentationContexts,
  buildPresentationContexts,
  checkRequestedContextIds,
  interpretPresentationContexts,
  type PresentationContextPolicy,
  type RequestedContext,
} from './presentation-context.js';
import {
  answerRoleSelection,
  buildRoleSelectionItems,
  roleOutcomes,
  type RoleOutcomes,
  type RoleProposal,
} from './role-selection.js';
import {
  buildUserIdentityRq,
  evaluateUserIdentity,
  interpretUserIdentityAc,
  settledUserIdentity,
  USER_IDENTITY_REJECTION,
  type ReceivedUserIdentity,
  type UserIdentityHandler,
  type UserIdentityRequest,
  type UserIdentityResult,
} from './user-identity.js';

export { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../implementation.js';
export { DEFAULT_MAXIMUM_LENGTH, DEFAULT_MIN_PEER_MAXIMUM_LENGTH, checkAeTitle, checkMinPeerMaximumLength } from './options.js';
import { checkImplementation, checkMaximumLength, checkMinPeerMaximumLength, checkAeTitle } from './options.js';
function emptyUserInformation(): UserInformationItem {
  return {
    maximumLength: undefined,
    implementationClassUid: undefined,
    implementationVersionName: undefined,
    asynchronousOperationsWindow: undefined,
    roleSelections: [],
    sopClassExtendedNegotiations: [],
    sopClassCommonExtendedNegotiations: [],
    userIdentityRq: undefined,
    userIdentityAc: undefined,
    unknownSubItems: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Acceptor

/** What the acceptor knows of the connection the RQ came on. */
export interface AcceptorContext {
  readonly tls?: TlsInfo | undefined;
  readonly remoteAddress?: string | undefined;
}

/** The acceptor's whole negotiation policy (the SCP's configuration). */
export interface AcceptorPolicy {
  /** Called AE titles we answer to (compared without padding); undefined: any. */
  readonly aeTitle?: string | readonly string[] | ((calledAeTitle: string) => boolean);
  /** Calling AE titles we accept; undefined: any. */
  readonly callingAeTitles?:
    | readonly string[]
    | ((callingAeTitle: string, context: AcceptorContext) => boolean | Promise<boolean>);
  /** Calling AE titles bound to TLS client certificates (see certificate-binding.ts). */
  readonly certificateBindings?: readonly CertificateBinding[];
  /** Reject calling AE titles without a binding. Default false. */
  readonly requireCertificateBinding?: boolean;
  readonly presentationContexts: PresentationContextPolicy;
  readonly userIdentity?: UserIdentityHandler;
  /** Reject associations without a (checked) user identity. Default false. */
  readonly requireUserIdentity?: boolean;
  /**
   * What the requestor may do (access-control.ts), decided after its AE title, certificate
   * binding and user identity were accepted: contexts needing a permission it lacks are rejected
   * (user-rejection), no permission at all rejects the association (1, 1, 3). Absent: no checks.
   */
  readonly authorize?: AuthorizeHandler;
  readonly sopClassExtended?: SopClassExtendedHandler;
  readonly sopClassCommonExtended?: SopClassCommonExtendedHandler;
  /** Reject (1, 1, 1) when no presentation context could be accepted, as DCMTK's DcmSCP does. Default false: accept with all rejected. */
  readonly rejectWhenNoContextAccepted?: boolean;
  /** Our receive limit for P-DATA-TF PDUs, sent in 0x51. Default 16384; 0 = no limit. */
  readonly maximumLength?: number;
  /**
   * Refuse (A-ASSOCIATE-RJ 1/1/1) a requestor whose Maximum Length is below this (0, no limit, is
   * always fine): we would have to cut every message into PDUs of that size. Default 256.
   */
  readonly minPeerMaximumLength?: number;
  /**
   * The most we allow in an Asynchronous Operations Window (PS3.7 D.3.3.3), in the standard's
   * terms (requestor's side; 0 = unlimited): `maxOperationsInvoked` requests the requestor may
   * have outstanding with us, `maxOperationsPerformed` of ours it may be asked to perform at once.
   * A proposal is answered with each value narrowed to these. Absent: a proposal is answered 1/1.
   */
  readonly asynchronousOperations?: AsynchronousOperationsWindow;
  readonly implementationClassUid?: string;
  readonly implementationVersionName?: string;
}

/** The facts of an accepted association, for the side that accepted it. */
export interface AcceptedAssociation {
  readonly accept: AAssociateAcPdu;
  readonly contexts: AcceptedContexts;
  readonly roles: RoleOutcomes;
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  /** Our receive limit (what we put in 0x51). */
  readonly maximumLength: number;
  /** The peer's receive limit from its 0x51: the largest P-DATA-TF we may send. 0 = no limit (also when absent). */
  readonly peerMaximumLength: number;
  readonly peerImplementationClassUid: string | undefined;
  readonly peerImplementationVersionName: string | undefined;
  /** The checked identity, when one was sent and a handler accepted it (or was not configured). */
  readonly userIdentity: ReceivedUserIdentity | undefined;
  /** 0x57 items received (informational; no answer exists). */
  readonly sopClassCommonExtended: readonly SopClassCommonExtendedNegotiationItem[];
  /** The agreed Asynchronous Operations Window in our terms (1/1 when not negotiated). */
  readonly asynchronousOperations: AsynchronousOperations;
  /** What `policy.authorize` granted; undefined without it. */
  readonly access: AccessDecision | undefined;
}

export interface RejectedAssociation {
  readonly reject: AAssociateRjPdu;
  /** Why, in words, for the diagnostics channel and logs (never sent to the peer). */
  readonly why: string;
  /** Which node-authentication check refused, when one did (the audit trail reports these as Security Alerts). */
  readonly check?: 'certificate-binding' | 'user-identity';
  /** The local error behind a refusal no policy decided (the negotiation timeout, too many identity checks under way). */
  readonly error?: DicomError;
}

function rj(result: number, source: number, reason: number): AAssociateRjPdu {
  return { type: 'A-ASSOCIATE-RJ', result, source, reason };
}

/** A-ASSOCIATE-RJ the server sends when it has too many associations (PS3.8 Table 9-21: 2, 3, 2). */
export function tooManyAssociationsRejection(): AAssociateRjPdu {
  return rj(RejectResult.RejectedTransient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded);
}
/** A-ASSOCIATE-RJ for temporary congestion (2, 3, 1), e.g. while shutting down. */
export function temporaryCongestionRejection(): AAssociateRjPdu {
  return rj(RejectResult.RejectedTransient, RejectSource.ServiceProviderPresentation, RejectReason.TemporaryCongestion);
}

/**
 * A-ASSOCIATE-RJ (2, 1, 1: rejected-transient, service-user, no-reason-given) when the policy has
 * not decided within the server's negotiation timeout: nothing was refused, a later try may pass.
 */
export const negotiationTimeoutRejection: AAssociateRjPdu = rj(RejectResult.RejectedTransient, RejectSource.ServiceUser, RejectReason.NoReasonGiven);

/**
 * A-ASSOCIATE-RJ (1, 1, 1) when the AC we would send does not encode: the policy's handlers
 * answered more than the user information item's 2-byte length holds (PS3.8 9.3.3).
 */
export const unencodableAcceptRejection: AAssociateRjPdu = rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.NoReasonGiven);

function matchesCalled(policy: AcceptorPolicy['aeTitle'], called: string): boolean {
  if (policy === undefined) return true;
  if (typeof policy === 'function') return policy(called);
  const list = typeof policy === 'string' ? [policy] : policy;
  return list.some((t) => t.trim() === called);
}

/**
 * The acceptor's decision on an A-ASSOCIATE-RQ (PS3.7 D.3, PS3.8 7.1). Checks in this order,
 * first failure wins: protocol version (1, 2, 2), application context name (1, 1, 2), called AE
 * title (1, 1, 7), calling AE title and its certificate binding (1, 1, 3), user identity
 * (USER_IDENTITY_REJECTION). Then presentation contexts with role selection, extended
 * negotiation, maximum length, implementation identification and the asynchronous operations
 * window (D.3.3.3: answered only when proposed, narrowed to `policy.asynchronousOperations`, 1/1
 * without that policy).
 *
 * Throws InvalidAssociateRequestError for an RQ with invalid presentation context IDs (the
 * caller A-ABORTs).
 */
export async function negotiateAssociation(
  rq: AAssociateRqPdu,
  policy: AcceptorPolicy,
  context: AcceptorContext = {},
): Promise<AcceptedAssociation | RejectedAssociation> {
  const maximumLength = checkMaximumLength('maximumLength', policy.maximumLength);
  const impl = checkImplementation(policy.implementationClassUid, policy.implementationVersionName);
  const asyncAllowed = checkAsynchronousOperationsWindow('asynchronousOperations', policy.asynchronousOperations);
  const minPeerMaximumLength = checkMinPeerMaximumLength(policy.minPeerMaximumLength);
  checkRequestedContextIds(rq.presentationContexts);
  const called = rq.calledAeTitle.trim();
  const calling = rq.callingAeTitle.trim();

  // PS3.8 9.3.2: bit 0 of the protocol version is version 1, the only one defined.
  if ((rq.protocolVersion & 1) === 0) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceProviderAcse, RejectReason.ProtocolVersionNotSupported),
      why: `protocol version 0x${rq.protocolVersion.toString(16).padStart(4, '0')} does not include version 1`,
    };
  }
  if (rq.applicationContextName !== DICOM_APPLICATION_CONTEXT) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.ApplicationContextNameNotSupported),
      why: `application context name '${printable(rq.applicationContextName)}' is not ${DICOM_APPLICATION_CONTEXT}`,
    };
  }
  // A title the AE VR cannot hold is not anyone's: rejected before any policy sees it (and so
  // never echoed in an A-ASSOCIATE-AC, whose encoder could not carry it).
  if (!isAeTitleValue(called)) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.CalledAeTitleNotRecognized),
      why: `called AE title '${printable(rq.calledAeTitle)}' is not a valid AE title`,
    };
  }
  if (!isAeTitleValue(calling)) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.CallingAeTitleNotRecognized),
      why: `calling AE title '${printable(rq.callingAeTitle)}' is not a valid AE title`,
    };
  }
  let calledOk: boolean;
  // The log line names the titles we answer to: A-ASSOCIATE-RJ cannot carry them to the caller.
  const ours = typeof policy.aeTitle === 'string' ? [policy.aeTitle] : Array.isArray(policy.aeTitle) ? policy.aeTitle as readonly string[] : undefined;
  let calledWhy = `called AE title '${called}' is not one of ours${ours !== undefined ? ` (${ours.map((t) => `'${t.trim()}'`).join(', ')})` : ''}`;
  try {
    calledOk = matchesCalled(policy.aeTitle, called);
  } catch (err) {
    // As for the calling AE title below: a failing check rejects, it never escapes as a foreign error.
    calledOk = false;
    calledWhy = `called AE title check for '${called}' failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!calledOk) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.CalledAeTitleNotRecognized),
      why: calledWhy,
    };
  }
  let callingOk: boolean;
  let callingWhy = `calling AE title '${calling}' is not accepted`;
  try {
    callingOk =
      policy.callingAeTitles === undefined
        ? true
        : typeof policy.callingAeTitles === 'function'
          ? (await policy.callingAeTitles(calling, context)) === true
          : policy.callingAeTitles.some((t) => t.trim() === calling);
  } catch (err) {
    // A failing check must not let the peer in: treat as not recognised.
    callingOk = false;
    callingWhy = `calling AE title check for '${calling}' failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!callingOk) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.CallingAeTitleNotRecognized),
      why: callingWhy,
    };
  }
  if (policy.certificateBindings !== undefined || policy.requireCertificateBinding === true) {
    const bindingFailure = checkCertificateBinding(calling, context.tls?.peerCertificate, policy.certificateBindings ?? [], {
      requireBinding: policy.requireCertificateBinding === true,
    });
    if (bindingFailure !== undefined) {
      return {
        reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.CallingAeTitleNotRecognized),
        why: bindingFailure,
        check: 'certificate-binding',
      };
    }
  }
  const ui = rq.userInformation;
  const peerMax = ui.maximumLength ?? 0;
  if (peerMax !== 0 && peerMax < minPeerMaximumLength) {
    // PS3.8 has no reason for it; the association is refused outright, before anything runs,
    // rather than accepted and left unable to answer (a 6-byte limit fits no data at all).
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.NoReasonGiven),
      why: `the requestor's maximum length ${peerMax} is below the ${minPeerMaximumLength} we send P-DATA-TF PDUs down to`,
    };
  }
  // The steps below that may call a handler of the policy are awaited only when a handler is to
  // be called: each settled answer awaited was a promise and a microtask turn more between a
  // requestor's A-ASSOCIATE-RQ and our AC (three per association). Their modules' settled*
  // functions give the answers that call no handler.
  const identityOptions = { required: policy.requireUserIdentity === true };
  const identity = settledUserIdentity(ui.userIdentityRq, policy.userIdentity, identityOptions)
    ?? await evaluateUserIdentity(
      ui.userIdentityRq,
      policy.userIdentity,
      { callingAeTitle: calling, calledAeTitle: called, tls: context.tls, remoteAddress: context.remoteAddress },
      identityOptions,
    );
  if (!identity.accept) {
    // Too many checks under way: nothing was checked, so no identity was refused.
    if (identity.busy !== undefined) return { reject: tooManyAssociationsRejection(), why: identity.why, error: identity.busy };
    const r = USER_IDENTITY_REJECTION;
    return { reject: rj(r.result, r.source, r.reason), why: identity.why, check: 'user-identity' };
  }
  let access: AccessDecision | undefined;
  if (policy.authorize !== undefined) {
    try {
      access = await policy.authorize({ callingAeTitle: calling, calledAeTitle: called, tls: context.tls, remoteAddress: context.remoteAddress, userIdentity: identity.identity });
    } catch (err) {
      access = { permissions: [], rule: `the access check failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (access.permissions.length === 0) {
      return {
        reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.CallingAeTitleNotRecognized),
        why: `calling AE title '${calling}' may do nothing here (${access.rule ?? 'no permission'})`,
      };
    }
  }
  const granted = access === undefined ? undefined : new Set(access.permissions);
  const permits = (uid: string, role: 'scu' | 'scp'): boolean => granted === undefined || granted.has(permissionForContext(uid, role));

  const extContext = { callingAeTitle: calling, calledAeTitle: called };
  // 0x57: SOP classes the handler accepts by their related general SOP class.
  const viaCommon = settledCommonExtended(ui.sopClassCommonExtendedNegotiations, policy.sopClassCommonExtended)
    ?? await acceptViaCommonExtended(ui.sopClassCommonExtendedNegotiations, policy.sopClassCommonExtended, extContext);
  const pcPolicy: PresentationContextPolicy =
    viaCommon.size === 0
      ? policy.presentationContexts
      : {
          ...policy.presentationContexts,
          acceptAbstractSyntax: (uid) =>
            viaCommon.has(uid) || policy.presentationContexts.acceptAbstractSyntax?.(uid) === true,
        };
  const supported = policy.presentationContexts.supported ?? [];
  // A role the requestor may not hold is answered 0 (D.3.3.4.2); a context left with no role, or
  // without its default SCU role, is rejected below as user-rejection.
  const roleAnswers = answerRoleSelection(ui.roleSelections, (uid) => {
    const r = supported.find((s) => s.abstractSyntax === uid)?.roles;
    return r === undefined || granted === undefined ? r : { scu: r.scu && permits(uid, 'scu'), scp: r.scp && permits(uid, 'scp') };
  });
  const negotiatedRoles = roleOutcomes(ui.roleSelections, roleAnswers);
  const roles = granted === undefined ? negotiatedRoles : permittedRoles(negotiatedRoles, permits);
  const pc = answerPresentationContexts(rq.presentationContexts, pcPolicy, roles);
  if (pc.accepted.length === 0 && policy.rejectWhenNoContextAccepted === true) {
    return {
      reject: rj(RejectResult.RejectedPermanent, RejectSource.ServiceUser, RejectReason.NoReasonGiven),
      why: 'no proposed presentation context could be accepted',
    };
  }
  const acceptedSyntaxes = new Set(pc.accepted.map((c) => c.abstractSyntax));
  const extAnswers = settledSopClassExtended(ui.sopClassExtendedNegotiations, policy.sopClassExtended, acceptedSyntaxes)
    ?? await answerSopClassExtended(ui.sopClassExtendedNegotiations, policy.sopClassExtended, acceptedSyntaxes, extContext);
  const asyncAnswer = answerAsynchronousOperations(ui.asynchronousOperationsWindow, asyncAllowed);

  const accept: AAssociateAcPdu = {
    type: 'A-ASSOCIATE-AC',
    protocolVersion: 1,
    // Echoed as received (PS3.8 9.3.3: not to be tested on receipt): checked above, and only
    // padding differs between the trimmed and the received title.
    calledAeTitle: rq.calledAeTitle.length <= 16 ? rq.calledAeTitle : called,
    callingAeTitle: rq.callingAeTitle.length <= 16 ? rq.callingAeTitle : calling,
    applicationContextName: DICOM_APPLICATION_CONTEXT,
    presentationContexts: pc.results,
    userInformation: {
      ...emptyUserInformation(),
      maximumLength,
      implementationClassUid: impl.uid,
      implementationVersionName: impl.name,
      asynchronousOperationsWindow: asyncAnswer,
      roleSelections: roleAnswers,
      sopClassExtendedNegotiations: extAnswers,
      userIdentityAc: identity.ac,
    },
  };
  return {
    accept,
    contexts: new AcceptedContexts(pc.accepted, pc.rejected),
    roles,
    callingAeTitle: calling,
    calledAeTitle: called,
    maximumLength,
    peerMaximumLength: peerMax,
    peerImplementationClassUid: ui.implementationClassUid,
    peerImplementationVersionName: ui.implementationVersionName,
    userIdentity: identity.identity,
    sopClassCommonExtended: ui.sopClassCommonExtendedNegotiations,
    asynchronousOperations: acceptorOperations(asyncAnswer),
    access,
  };
}

/** Narrowing helper for the result of negotiateAssociation. */
export function isRejected(r: AcceptedAssociation | RejectedAssociation): r is RejectedAssociation {
  return 'reject' in r;
}

// ---------------------------------------------------------------------------------------------
// Requestor

export interface AssociateRqOptions {
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly presentationContexts: readonly RequestedContext[];
  readonly roles?: readonly RoleProposal[];
  readonly userIdentity?: UserIdentityRequest;
  /** Our receive limit for P-DATA-TF PDUs. Default 16384; 0 = no limit. */
  readonly maximumLength?: number;
  readonly sopClassExtended?: readonly SopClassExtendedNegotiationItem[];
  readonly sopClassCommonExtended?: readonly SopClassCommonExtendedNegotiationItem[];
  /**
   * Propose an Asynchronous Operations Window (PS3.7 D.3.3.3; 0 = unlimited). Absent: the
   * sub-item is not sent and operations stay synchronous (as DCMTK's tools do).
   */
  readonly asynchronousOperations?: AsynchronousOperationsWindow;
  readonly implementationClassUid?: string;
  readonly implementationVersionName?: string;
}

/** Requestor side: the A-ASSOCIATE-RQ for these options (validated, InvalidOptionError naming the option). */
export function buildAssociateRq(options: AssociateRqOptions): AAssociateRqPdu {
  const calling = checkAeTitle('callingAeTitle', options.callingAeTitle);
  const called = checkAeTitle('calledAeTitle', options.calledAeTitle);
  if (options.presentationContexts.length === 0) {
    throw new InvalidOptionError('presentationContexts', 'at least one presentation context is required');
  }
  const impl = checkImplementation(options.implementationClassUid, options.implementationVersionName);
  return {
    type: 'A-ASSOCIATE-RQ',
    protocolVersion: 1,
    calledAeTitle: called,
    callingAeTitle: calling,
    applicationContextName: DICOM_APPLICATION_CONTEXT,
    presentationContexts: buildPresentationContexts(options.presentationContexts),
    userInformation: {
      ...emptyUserInformation(),
      maximumLength: checkMaximumLength('maximumLength', options.maximumLength),
      implementationClassUid: impl.uid,
      implementationVersionName: impl.name,
      asynchronousOperationsWindow: checkAsynchronousOperationsWindow('asynchronousOperations', options.asynchronousOperations),
      roleSelections: buildRoleSelectionItems(options.roles ?? []),
      sopClassExtendedNegotiations: options.sopClassExtended ?? [],
      sopClassCommonExtendedNegotiations: options.sopClassCommonExtended ?? [],
      userIdentityRq: options.userIdentity === undefined ? undefined : buildUserIdentityRq(options.userIdentity),
    },
  };
}

/** The facts of an accepted association, for the side that requested it. */
export interface NegotiatedAssociation {
  readonly contexts: AcceptedContexts;
  readonly roles: RoleOutcomes;
  /** Our receive limit (what we sent in 0x51). */
  readonly maximumLength: number;
  /** The acceptor's receive limit: the largest P-DATA-TF we may send. 0 = no limit (also when absent). */
  readonly peerMaximumLength: number;
  readonly peerImplementationClassUid: string | undefined;
  readonly peerImplementationVersionName: string | undefined;
  readonly userIdentity: UserIdentityResult;
  /** The acceptor's 0x56 answers by SOP class; a SOP class not in the map: extended features not agreed. */
  readonly sopClassExtended: ReadonlyMap<string, Uint8Array>;
  /** The agreed Asynchronous Operations Window in our terms: `invoked` is how many requests we may have outstanding. */
  readonly asynchronousOperations: AsynchronousOperations;
}

/**
 * Requestor side: read the A-ASSOCIATE-AC against our RQ. Throws NegotiationError when the AC
 * breaks the rules (the caller A-ABORTs): another application context name, an answer for an
 * unknown context, a transfer syntax we did not propose.
 */
export function interpretAssociateAc(rq: AAssociateRqPdu, ac: AAssociateAcPdu, minPeerMaximumLength?: number): NegotiatedAssociation {
  if (ac.applicationContextName !== rq.applicationContextName) {
    throw new NegotiationError(
      `A-ASSOCIATE-AC application context name '${ac.applicationContextName}' differs from the proposed '${rq.applicationContextName}'`,
    );
  }
  const peerMax = ac.userInformation.maximumLength ?? 0;
  if (peerMax > 0 && peerMax < 7) {
    throw new NegotiationError(`A-ASSOCIATE-AC maximum length ${peerMax} leaves no room for data after a PDV header`);
  }
  // The acceptor's floor, as the acceptor applies it to a requestor (negotiateAssociation): a few
  // data bytes per P-DATA-TF cost tens of times the CPU and memory per byte sent.
  const floor = checkMinPeerMaximumLength(minPeerMaximumLength);
  if (peerMax > 0 && peerMax < floor) {
    throw new NegotiationError(`A-ASSOCIATE-AC maximum length ${peerMax} is below the ${floor} we send P-DATA-TF PDUs down to (minPeerMaximumLength)`);
  }
  const roles = roleOutcomes(rq.userInformation.roleSelections, ac.userInformation.roleSelections);
  const contexts = interpretPresentationContexts(rq.presentationContexts, ac.presentationContexts, roles);
  return {
    contexts,
    roles,
    maximumLength: rq.userInformation.maximumLength ?? 0,
    peerMaximumLength: peerMax,
    peerImplementationClassUid: ac.userInformation.implementationClassUid,
    peerImplementationVersionName: ac.userInformation.implementationVersionName,
    userIdentity: interpretUserIdentityAc(rq.userInformation.userIdentityRq, ac.userInformation.userIdentityAc),
    sopClassExtended: interpretSopClassExtended(ac.userInformation.sopClassExtendedNegotiations),
    asynchronousOperations: requestorOperations(rq.userInformation.asynchronousOperationsWindow, ac.userInformation.asynchronousOperationsWindow),
  };
}

/** Requestor side: the typed error for a received A-ASSOCIATE-RJ. */
export function associationRejectedError(pdu: AAssociateRjPdu): AssociationRejectedError {
  return new AssociationRejectedError(pdu);
}
