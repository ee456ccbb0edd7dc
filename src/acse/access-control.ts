/**
 * Access control of an acceptor: what a requestor may do, decided once per association from who
 * it is (calling AE title, its verified TLS certificate, its accepted user identity) and enforced
 * twice: at negotiation, where presentation contexts (and SCU/SCP roles) it may not use are
 * rejected, and on every request (ae/request-guard.ts), so that a context cannot be used for a
 * request of another kind.
 *
 * Four permissions, each a set of DIMSE requests and the abstract syntaxes that carry them:
 *
 * | permission | requests                               | abstract syntaxes (requestor as SCU)                 |
 * |------------|----------------------------------------|------------------------------------------------------|
 * | echo       | C-ECHO                                 | Verification                                         |
 * | query      | C-FIND, N-GET                          | every *FIND model (Patient/Study Root, Worklist)     |
 * | retrieve   | C-MOVE, C-GET                          | every MOVE/GET model; any other with requestor SCP role (C-GET's C-STOREs to it) |
 * | store      | C-STORE, N-ACTION/N-CREATE/N-SET/…     | everything else: Storage, Storage Commitment, MPPS   |
 */
import { InvalidOptionError } from '../errors.js';
import { QueryRetrieveSopClass, VerificationSopClass } from '../dictionary/uids.js';
import type { TlsInfo } from '../transport/connection.js';
import { certificateMatches, type CertificateIdentity } from './certificate-binding.js';
import type { ReceivedUserIdentity } from './user-identity.js';
import type { NegotiatedRoles, RoleOutcomes } from './role-selection.js';

export const PERMISSIONS = ['echo', 'store', 'query', 'retrieve'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** The decision for one association: what it may do, and which rule said so (for logs). */
export interface AccessDecision {
  /** Empty: the association is rejected, calling AE title not recognised (1, 1, 3). */
  readonly permissions: readonly Permission[];
  /** Which rule decided, in words (never sent to the peer). */
  readonly rule?: string;
}

/** What the acceptor knows of the requestor when it decides. */
export interface AccessPeer {
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly tls?: TlsInfo | undefined;
  readonly remoteAddress?: string | undefined;
  /** The user identity the requestor sent and the identity handler accepted. */
  readonly userIdentity?: ReceivedUserIdentity | undefined;
}

/** The one handler that decides (architecture rule 8); a throw rejects the association. */
export type AuthorizeHandler = (peer: AccessPeer) => AccessDecision | Promise<AccessDecision>;

const FIND_MODELS: ReadonlySet<string> = new Set([
  QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind,
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind,
  QueryRetrieveSopClass.ModalityWorklistInformationModelFind,
  '1.2.840.10008.5.1.4.1.2.3.1', // Patient/Study Only (retired)
  '1.2.840.10008.5.1.4.32.1', // General Purpose Worklist (retired)
  '1.2.840.10008.5.1.4.38.2', // Hanging Protocol
  '1.2.840.10008.5.1.4.39.2', // Color Palette
]);
const RETRIEVE_MODELS: ReadonlySet<string> = new Set([
  QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelMove,
  QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelGet,
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove,
  QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet,
  '1.2.840.10008.5.1.4.1.2.3.2', '1.2.840.10008.5.1.4.1.2.3.3', // Patient/Study Only MOVE, GET (retired)
  '1.2.840.10008.5.1.4.1.2.4.2', '1.2.840.10008.5.1.4.1.2.4.3', // Composite Instance Root MOVE, GET
  '1.2.840.10008.5.1.4.1.2.5.3', // Composite Instance Retrieve Without Bulk Data GET
  '1.2.840.10008.5.1.4.38.3', '1.2.840.10008.5.1.4.38.4', // Hanging Protocol MOVE, GET
  '1.2.840.10008.5.1.4.39.3', '1.2.840.10008.5.1.4.39.4', // Color Palette MOVE, GET
]);

/** The permission a presentation context needs, from its abstract syntax and the requestor's role on it. */
export function permissionForContext(abstractSyntax: string, requestorRole: 'scu' | 'scp'): Permission {
  if (abstractSyntax === VerificationSopClass) return 'echo';
  if (FIND_MODELS.has(abstractSyntax)) return 'query';
  if (RETRIEVE_MODELS.has(abstractSyntax)) return 'retrieve';
  // The requestor performing operations we invoke: C-STOREs of its own C-GET.
  if (requestorRole === 'scp') return 'retrieve';
  return 'store';
}

/** The permission a request needs, from its command alone. */
export function permissionForRequest(command: string): Permission {
  switch (command) {
    case 'C-ECHO-RQ': return 'echo';
    case 'C-FIND-RQ': case 'N-GET-RQ': return 'query';
    case 'C-MOVE-RQ': case 'C-GET-RQ': return 'retrieve';
    default: return 'store';
  }
}

/** One rule of `accessRules`. A rule applies when every condition it has holds. */
export interface AccessRule {
  /** Calling AE title (compared without padding), or '*' for any. */
  readonly aeTitle: string;
  /**
   * The requestor's TLS certificate, verified in the handshake: a certificate identity as in
   * certificate bindings, or 'any' for any verified certificate. Absent: no condition.
   */
  readonly certificate?: CertificateIdentity | 'any';
  /** The username of an accepted user identity (types 1 and 2). Absent: no condition. */
  readonly user?: string;
  readonly permissions: readonly Permission[];
}

/**
 * The default rules, after any configured ones: a peer with a verified certificate may do
 * everything; an anonymous one (plain DICOM, or TLS without a client certificate) may verify and
 * store, never read. See docs/access-control.md for why.
 */
export const DEFAULT_ACCESS_RULES: readonly AccessRule[] = Object.freeze([
  Object.freeze({ aeTitle: '*', certificate: 'any' as const, permissions: Object.freeze([...PERMISSIONS]) }),
  Object.freeze({ aeTitle: '*', permissions: Object.freeze(['echo', 'store'] as Permission[]) }),
]);

function verifiedCertificate(tls: TlsInfo | undefined): TlsInfo['peerCertificate'] {
  return tls !== undefined && tls.verifyResult.code === 0 ? tls.peerCertificate : undefined;
}

function applies(rule: AccessRule, peer: AccessPeer): boolean {
  if (rule.aeTitle !== '*' && rule.aeTitle.trim() !== peer.callingAeTitle) return false;
  if (rule.certificate !== undefined) {
    const cert = verifiedCertificate(peer.tls);
    if (cert === undefined) return false;
    if (rule.certificate !== 'any' && !certificateMatches(cert, rule.certificate)) return false;
  }
  if (rule.user !== undefined && peer.userIdentity?.username !== rule.user) return false;
  return true;
}

function describe(rule: AccessRule, index: number | undefined): string {
  const parts = [`AE ${rule.aeTitle === '*' ? 'any' : `'${rule.aeTitle}'`}`];
  if (rule.certificate === 'any') parts.push('any verified certificate');
  else if (rule.certificate !== undefined) parts.push('a bound certificate');
  if (rule.user !== undefined) parts.push(`user '${rule.user}'`);
  return `${index === undefined ? 'default rule' : `access rule ${index}`} (${parts.join(', ')}): ${rule.permissions.length === 0 ? 'nothing' : rule.permissions.join(', ')}`;
}

/** Validate rules at the public boundary (InvalidOptionError naming the rule). */
export function checkAccessRules(option: string, rules: readonly AccessRule[]): void {
  if (!Array.isArray(rules)) throw new InvalidOptionError(option, 'must be an array of rules');
  rules.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || typeof r.aeTitle !== 'string' || r.aeTitle.trim() === '') {
      throw new InvalidOptionError(`${option}[${i}].aeTitle`, 'must be an AE title or "*"');
    }
    if (!Array.isArray(r.permissions) || (r.permissions as readonly unknown[]).some((p) => !(PERMISSIONS as readonly string[]).includes(p as string))) {
      throw new InvalidOptionError(`${option}[${i}].permissions`, `must be a list of ${PERMISSIONS.join(', ')}`);
    }
  });
}

/**
 * An AuthorizeHandler from rules: the first rule that applies decides; after `rules` come the
 * DEFAULT_ACCESS_RULES (a final `{ aeTitle: '*', permissions: [...] }` rule replaces them).
 */
export function accessRules(rules: readonly AccessRule[] = []): AuthorizeHandler {
  checkAccessRules('access', rules);
  const all: Array<{ rule: AccessRule; index: number | undefined }> = [
    ...rules.map((rule, index) => ({ rule, index })),
    ...DEFAULT_ACCESS_RULES.map((rule) => ({ rule, index: undefined })),
  ];
  return (peer) => {
    for (const { rule, index } of all) {
      if (applies(rule, peer)) return { permissions: [...new Set(rule.permissions)], rule: describe(rule, index) };
    }
    return { permissions: [], rule: 'no rule applies' };
  };
}

/** Roles narrowed to what the requestor is permitted (the same object when everything is). */
export function permittedRoles(outcomes: RoleOutcomes, permits: (uid: string, role: 'scu' | 'scp') => boolean): RoleOutcomes {
  const narrow = (uid: string, r: NegotiatedRoles): NegotiatedRoles => {
    const scu = r.requestorIsScu && permits(uid, 'scu');
    const scp = r.requestorIsScp && permits(uid, 'scp');
    return scu === r.requestorIsScu && scp === r.requestorIsScp ? r : { requestorIsScu: scu, requestorIsScp: scp };
  };
  const bySopClass = new Map([...outcomes.bySopClass].map(([uid, r]) => [uid, narrow(uid, r)] as const));
  return { bySopClass, rolesFor: (uid) => bySopClass.get(uid) ?? narrow(uid, outcomes.rolesFor(uid)) };
}
