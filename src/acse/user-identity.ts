import { InvalidOptionError } from '../errors.js';
import { IdentityChecksBusyError } from './errors.js';
import type { TlsInfo } from '../transport/connection.js';
import {
  RejectReason,
  RejectResult,
  RejectSource,
  UserIdentityType,
  type UserIdentityAcItem,
  type UserIdentityRqItem,
  type UserIdentityTypeCode,
} from '../ul/pdu/types.js';
import { printable } from '../ul/pdu/values.js';

/**
 * User Identity Negotiation (PS3.7 D.3.3.7): sub-item 0x58 in the RQ, 0x59 in the AC.
 * Type 1 username, 2 username + passcode, 3 Kerberos service ticket, 4 SAML assertion,
 * 5 JSON Web Token. Usernames and passcodes are UTF-8 (D.3.3.7.1).
 */

/** Names of the identity types, as used on both sides of this API. */
export type UserIdentityTypeName = 'username' | 'username-passcode' | 'kerberos' | 'saml' | 'jwt';

const codeOf: Readonly<Record<UserIdentityTypeName, UserIdentityTypeCode>> = {
  username: UserIdentityType.Username,
  'username-passcode': UserIdentityType.UsernameAndPasscode,
  kerberos: UserIdentityType.Kerberos,
  saml: UserIdentityType.Saml,
  jwt: UserIdentityType.Jwt,
};
const nameOf: Readonly<Record<number, UserIdentityTypeName>> = {
  1: 'username',
  2: 'username-passcode',
  3: 'kerberos',
  4: 'saml',
  5: 'jwt',
};

/** Requestor side: the identity to send. */
export type UserIdentityRequest = { readonly positiveResponseRequested?: boolean } & (
  | { readonly type: 'username'; readonly username: string }
  | { readonly type: 'username-passcode'; readonly username: string; readonly passcode: string }
  | { readonly type: 'kerberos'; readonly ticket: Uint8Array }
  | { readonly type: 'saml'; readonly assertion: string | Uint8Array }
  | { readonly type: 'jwt'; readonly token: string | Uint8Array }
);

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
/** Fields have a 2-byte length (Table D.3-14). */
const MAX_FIELD = 0xffff;

function bytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : v;
}

/** Requestor side: build the 0x58 item. Empty or over-long fields are option errors. */
export function buildUserIdentityRq(identity: UserIdentityRequest): UserIdentityRqItem {
  const code = codeOf[identity.type];
  if (code === undefined) throw new InvalidOptionError('userIdentity.type', `unknown type '${String(identity.type)}'`);
  let primary: Uint8Array;
  let secondary: Uint8Array = new Uint8Array(0);
  switch (identity.type) {
    case 'username':
      primary = bytes(identity.username);
      break;
    case 'username-passcode':
      primary = bytes(identity.username);
      secondary = bytes(identity.passcode);
      if (secondary.length === 0) throw new InvalidOptionError('userIdentity.passcode', 'must not be empty');
      break;
    case 'kerberos':
      primary = identity.ticket;
      break;
    case 'saml':
      primary = bytes(identity.assertion);
      break;
    case 'jwt':
      primary = bytes(identity.token);
      break;
  }
  if (primary.length === 0) throw new InvalidOptionError('userIdentity', 'the primary field must not be empty');
  if (primary.length > MAX_FIELD || secondary.length > MAX_FIELD) {
    throw new InvalidOptionError('userIdentity', `a field is longer than ${MAX_FIELD} bytes`);
  }
  return {
    identityType: code,
    positiveResponseRequested: identity.positiveResponseRequested === true,
    primaryField: primary,
    secondaryField: secondary,
  };
}

/** Acceptor side: the identity as the handler sees it. */
export interface ReceivedUserIdentity {
  readonly type: UserIdentityTypeName;
  /** Types 1 and 2. */
  readonly username?: string;
  /** Type 2. */
  readonly passcode?: string;
  /** Types 3, 4, 5: the Kerberos ticket, SAML assertion or JWT as received. */
  readonly token?: Uint8Array;
  readonly positiveResponseRequested: boolean;
}

/** What the handler knows of the association asking. */
export interface UserIdentityContext {
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly tls?: TlsInfo | undefined;
  /** The requestor's IP address, when known (throttleUserIdentity keeps its count per address). */
  readonly remoteAddress?: string | undefined;
}

/** The handler's answer: true/false, or an object carrying the server response (types 3–5). */
export type UserIdentityDecision =
  | boolean
  | { readonly accept: true; readonly serverResponse?: Uint8Array }
  | { readonly accept: false };

/** The one server-side handler that accepts or rejects an identity (architecture rule 8: a handler). */
export type UserIdentityHandler = (
  identity: ReceivedUserIdentity,
  context: UserIdentityContext,
) => Promise<UserIdentityDecision> | UserIdentityDecision;

/** Decode a received 0x58 item; undefined with a reason when it cannot be understood. */
export function decodeUserIdentityRq(
  item: UserIdentityRqItem,
): { identity: ReceivedUserIdentity } | { identity: undefined; why: string } {
  const type = nameOf[item.identityType];
  if (type === undefined) return { identity: undefined, why: `unknown user identity type ${item.identityType}` };
  const positiveResponseRequested = item.positiveResponseRequested;
  if (type === 'username' || type === 'username-passcode') {
    let username: string;
    let passcode: string | undefined;
    try {
      username = utf8Strict.decode(item.primaryField);
      if (type === 'username-passcode') passcode = utf8Strict.decode(item.secondaryField);
    } catch {
      return { identity: undefined, why: 'user identity username or passcode is not valid UTF-8' };
    }
    return {
      identity: type === 'username' ? { type, username, positiveResponseRequested } : { type, username, passcode: passcode ?? '', positiveResponseRequested },
    };
  }
  return { identity: { type, token: item.primaryField, positiveResponseRequested } };
}

/**
 * The A-ASSOCIATE-RJ for a rejected identity. PS3.7 D.3.3.7 says an association rejected for an
 * authorization failure is indicated with rejected-permanent and source "DICOM UL service
 * provider (ACSE related function)" (2); of that source's reasons (PS3.8 Table 9-21) only
 * no-reason-given (1) fits. pynetdicom's acceptor sends 2/2/1 (transient) instead; DCMTK 3.6.7's
 * SCPs do not check identities at all.
 */
export const USER_IDENTITY_REJECTION = Object.freeze({
  result: RejectResult.RejectedPermanent,
  source: RejectSource.ServiceProviderAcse,
  reason: RejectReason.AcseNoReasonGiven,
});

/** Whether a handler's answer accepts the identity: `true`, or an object with `accept: true`. */
export function isAccepted(decision: UserIdentityDecision): boolean {
  return decision === true || (typeof decision === 'object' && decision !== null && decision.accept === true);
}

/** Outcome of the acceptor's identity check. `ac` is the 0x59 item to put in our AC, if any. */
export type UserIdentityOutcome =
  | { readonly accept: true; readonly identity: ReceivedUserIdentity | undefined; readonly ac: UserIdentityAcItem | undefined }
  | { readonly accept: false; readonly why: string; readonly busy?: IdentityChecksBusyError };

/**
 * The answers of evaluateUserIdentity that no handler decides, in one place: no 0x58 item
 * (accepted, unless `required`), an item that cannot be decoded (rejected), no handler (the
 * identity ignored, unless `required`). Otherwise the decoded identity, for `ask` to decide on.
 */
function triageUserIdentity(
  item: UserIdentityRqItem | undefined,
  handler: UserIdentityHandler | undefined,
  required: boolean,
): UserIdentityOutcome | { readonly ask: UserIdentityHandler; readonly identity: ReceivedUserIdentity } {
  if (item === undefined) {
    return required
      ? { accept: false, why: 'no user identity was given and the acceptor requires one' }
      : { accept: true, identity: undefined, ac: undefined };
  }
  const decoded = decodeUserIdentityRq(item);
  if (decoded.identity === undefined) return { accept: false, why: decoded.why };
  const identity = decoded.identity;
  if (handler === undefined) {
    return required
      ? { accept: false, why: 'the acceptor requires a user identity but has no handler to check it' }
      : { accept: true, identity, ac: undefined };
  }
  return { ask: handler, identity };
}

/**
 * What evaluateUserIdentity answers when it calls no handler, without a promise to wait for;
 * undefined when the handler is to decide (an item that decodes, and a handler).
 */
export function settledUserIdentity(
  item: UserIdentityRqItem | undefined,
  handler: UserIdentityHandler | undefined,
  options: { required?: boolean } = {},
): UserIdentityOutcome | undefined {
  const triaged = triageUserIdentity(item, handler, options.required === true);
  return 'ask' in triaged ? undefined : triaged;
}

/**
 * Acceptor side. No 0x58 item: accept (unless `required`). No handler: the identity is ignored
 * and no 0x59 is sent, as for an acceptor that does not support the negotiation (D.3.3.7).
 * A handler that throws rejects. On acceptance with a positive response requested, the 0x59
 * item carries an empty response for types 1 and 2 and the handler's server response (possibly
 * empty) for types 3–5. settledUserIdentity gives the answers that call no handler synchronously.
 */
export async function evaluateUserIdentity(
  item: UserIdentityRqItem | undefined,
  handler: UserIdentityHandler | undefined,
  context: UserIdentityContext,
  options: { required?: boolean } = {},
): Promise<UserIdentityOutcome> {
  const triaged = triageUserIdentity(item, handler, options.required === true);
  if (!('ask' in triaged)) return triaged;
  const { ask, identity } = triaged;
  let decision: UserIdentityDecision;
  try {
    decision = await ask(identity, context);
  } catch (err) {
    // Not checked at all (throttleUserIdentity): refused as transient, not as a wrong identity.
    if (err instanceof IdentityChecksBusyError) return { accept: false, why: err.message, busy: err };
    return { accept: false, why: `the user identity handler failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isAccepted(decision)) {
    // The username is the peer's text: escaped, as it ends up in diagnostics and logs.
    const who = identity.username !== undefined ? ` '${printable(identity.username)}'` : '';
    return { accept: false, why: `user identity (${identity.type}${who}) rejected by the handler` };
  }
  if (!identity.positiveResponseRequested) return { accept: true, identity, ac: undefined };
  const serverResponse =
    identity.type === 'username' || identity.type === 'username-passcode'
      ? new Uint8Array(0)
      : typeof decision === 'object' && decision.accept === true && decision.serverResponse !== undefined
        ? decision.serverResponse
        : new Uint8Array(0);
  // Table D.3-15: the response and its 2-byte length fill a sub-item of at most 65535 bytes.
  // Checked here, where a refusal can still be answered, and not by the encoder of our AC.
  if (!(serverResponse instanceof Uint8Array) || serverResponse.length > MAX_FIELD - 2) {
    return { accept: false, why: `the user identity handler's server response is not bytes of at most ${MAX_FIELD - 2}` };
  }
  return { accept: true, identity, ac: { serverResponse } };
}

/** Requestor side: what the AC says about our identity. */
export interface UserIdentityResult {
  /** We sent a 0x58 item. */
  readonly sent: boolean;
  readonly positiveResponseRequested: boolean;
  /** The acceptor sent 0x59: it checked and accepted the identity (D.3.3.7.2). */
  readonly confirmed: boolean;
  /** The 0x59 server response (Kerberos server ticket, SAML response, …); empty for types 1 and 2. */
  readonly serverResponse: Uint8Array | undefined;
}

export function interpretUserIdentityAc(
  sent: UserIdentityRqItem | undefined,
  received: UserIdentityAcItem | undefined,
): UserIdentityResult {
  return {
    sent: sent !== undefined,
    positiveResponseRequested: sent?.positiveResponseRequested === true,
    confirmed: sent?.positiveResponseRequested === true && received !== undefined,
    serverResponse: received?.serverResponse,
  };
}
