/**
 * PDU decoder, PS3.8 Section 9.3 and PS3.7 Annex D.3.3. Pure and synchronous: one complete PDU
 * in (as framed by PduReader), a Pdu out. P-DATA-TF fragments are views into the input.
 *
 * Strict where the standard is: lengths must agree at every level, items must be of the types
 * the PDU allows, presentation context IDs must be odd, PDVs must lie within the PDU. Lenient
 * where peers are: reserved fields are not tested (PS3.8 9.3.1), AE titles lose leading and
 * trailing spaces, UIDs lose a trailing NUL or space some peers add, unknown user-information
 * sub-items are kept verbatim (PS3.7 D.3.3). Every failure is a PduDecodeError carrying the
 * A-ABORT reason of PS3.8 Table 9-26.
 *
 * Values are validated here when A-ABORT is the answer to a bad one (UIDs of user-information
 * sub-items, the version name, an accepted transfer syntax). Values PS3.8 answers otherwise are
 * handed on as received and checked by the acceptor before anything else (acse/negotiate.ts):
 * AE titles (A-ASSOCIATE-RJ 1/1/3, 1/1/7), the application context name (1/1/2) and proposed
 * abstract and transfer syntaxes (presentation context result 3 or 4, the other contexts go on).
 */
import { ByteReader } from '../../internal/byte-reader.js';
import { PduDecodeError, type AbortReasonCode } from '../errors.js';
import { isVersionName, isWireUid, printable } from './values.js';
import {
  AbortReason,
  ItemType,
  PduTypeCode,
  type AAssociateAcPdu,
  type AAssociateRqPdu,
  type PDataTfPdu,
  type Pdu,
  type PresentationContextAcItem,
  type PresentationContextResultCode,
  type PresentationContextRqItem,
  type PresentationDataValue,
  type RoleSelectionItem,
  type SopClassCommonExtendedNegotiationItem,
  type SopClassExtendedNegotiationItem,
  type UnknownSubItem,
  type UserIdentityAcItem,
  type UserIdentityRqItem,
  type UserIdentityTypeCode,
  type UserInformationItem,
} from './types.js';

const INVALID = AbortReason.InvalidPduParameterValue;
const UNEXPECTED = AbortReason.UnexpectedPduParameter;
const UNRECOGNIZED = AbortReason.UnrecognizedPduParameter;

/** Context for error reports: which PDU type is being decoded. */
class Ctx {
  constructor(readonly pduType: number) {}
  fail(field: string, message: string, reason: AbortReasonCode): never {
    throw new PduDecodeError(field, message, reason, { pduType: this.pduType });
  }
  reader(bytes: Uint8Array): ByteReader {
    return new ByteReader(bytes, (field, needed, available) =>
      this.fail(field, `truncated: needs ${needed} bytes, ${available} left`, INVALID),
    );
  }
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** Item names as PS3.8 / PS3.7 spell them, for error messages. */
const ITEM_NAMES: ReadonlyMap<number, string> = new Map([
  [ItemType.ApplicationContext, 'Application-Context'],
  [ItemType.PresentationContextRq, 'Presentation-Context'],
  [ItemType.PresentationContextAc, 'Presentation-Context'],
  [ItemType.AbstractSyntax, 'Abstract-Syntax'],
  [ItemType.TransferSyntax, 'Transfer-Syntax'],
  [ItemType.UserInformation, 'User-Information'],
  [ItemType.MaximumLength, 'Maximum-Length'],
  [ItemType.ImplementationClassUid, 'Implementation-Class-UID'],
  [ItemType.AsynchronousOperationsWindow, 'Asynchronous-Operations-Window'],
  [ItemType.ScpScuRoleSelection, 'SCP/SCU-Role-Selection'],
  [ItemType.ImplementationVersionName, 'Implementation-Version-Name'],
  [ItemType.SopClassExtendedNegotiation, 'SOP-Class-Extended-Negotiation'],
  [ItemType.SopClassCommonExtendedNegotiation, 'SOP-Class-Common-Extended-Negotiation'],
  [ItemType.UserIdentityRq, 'User-Identity-Negotiation'],
  [ItemType.UserIdentityAc, 'User-Identity-Negotiation'],
]);
const itemName = (type: number): string => ITEM_NAMES.get(type) ?? `item(${hex(type)})`;

/** UID per PS3.8 Annex F; a trailing NUL or space (sent by some peers) is dropped. */
function readUid(r: ByteReader, n: number, field: string): string {
  return r.latin1(n, field).replace(/[\0 ]+$/, '');
}

/**
 * A UID the receiver keeps or acts on (user-information sub-items, an accepted transfer syntax):
 * one that is not a UID is an invalid PDU parameter value (A-ABORT reason 6), decided here
 * rather than when something echoes it.
 */
function readCheckedUid(ctx: Ctx, r: ByteReader, n: number, field: string): string {
  const v = readUid(r, n, field);
  if (!isWireUid(v)) ctx.fail(field, `"${printable(v)}" is not a UID (PS3.8 Annex F)`, INVALID);
  return v;
}

/** AE title: leading and trailing spaces are not significant (PS3.5 VR AE); NULs are tolerated. */
function readAeTitle(r: ByteReader, field: string): string {
  return r.latin1(16, field).replace(/^[ \0]+|[ \0]+$/g, '');
}

interface Item {
  readonly type: number;
  readonly body: ByteReader;
  readonly length: number;
}

/** Split a variable field into items: type, reserved, 2-byte length, value (PS3.8 9.3.2). */
function* items(r: ByteReader, field: string): Generator<Item> {
  for (let left = r.remaining; left > 0; left = r.remaining) {
    // The field names are needed only by a read that fails: built then, not for every item.
    const whole = left >= 4;
    const type = r.u8(whole ? field : `${field}.Item-type`);
    r.skip(1, whole ? field : `${field}.Reserved`);
    const length = r.u16(whole ? field : `${field}.Item-length`);
    yield { type, length, body: r.sub(length, length <= left - 4 ? field : `${field}.${itemName(type)}.Item-value`) };
  }
}

function expectEnd(ctx: Ctx, r: ByteReader, field: string): void {
  if (r.remaining !== 0) ctx.fail(field, `${r.remaining} bytes left over after the last field`, INVALID);
}

function checkContextId(ctx: Ctx, id: number, field: string): number {
  if (id % 2 === 0) ctx.fail(field, `presentation context ID ${id} is not odd (PS3.8 9.3.2.2)`, INVALID);
  return id;
}

function decodePresentationContextRq(ctx: Ctx, it: Item, f: string): PresentationContextRqItem {
  const r = it.body;
  const id = checkContextId(ctx, r.u8(`${f}.Presentation-context-ID`), `${f}.Presentation-context-ID`);
  r.skip(3, `${f}.Reserved`);
  let abstractSyntax: string | undefined;
  const transferSyntaxes: string[] = [];
  for (const sub of items(r, f)) {
    if (sub.type === ItemType.AbstractSyntax) {
      if (abstractSyntax !== undefined) ctx.fail(`${f}.Abstract-Syntax`, 'more than one abstract syntax sub-item', UNEXPECTED);
      abstractSyntax = readUid(sub.body, sub.length, `${f}.Abstract-syntax-name`);
    } else if (sub.type === ItemType.TransferSyntax) {
      transferSyntaxes.push(readUid(sub.body, sub.length, `${f}.Transfer-syntax-name`));
    } else {
      ctx.fail(`${f}.Item-type`, `sub-item type ${hex(sub.type)} is not allowed in a presentation context`, UNRECOGNIZED);
    }
  }
  if (abstractSyntax === undefined) ctx.fail(`${f}.Abstract-Syntax`, 'missing abstract syntax sub-item', INVALID);
  if (transferSyntaxes.length === 0) ctx.fail(`${f}.Transfer-Syntax`, 'missing transfer syntax sub-item', INVALID);
  return { id, abstractSyntax, transferSyntaxes };
}

function decodePresentationContextAc(ctx: Ctx, it: Item, f: string): PresentationContextAcItem {
  const r = it.body;
  const id = checkContextId(ctx, r.u8(`${f}.Presentation-context-ID`), `${f}.Presentation-context-ID`);
  r.skip(1, `${f}.Reserved`);
  const result = r.u8(`${f}.Result/Reason`);
  if (result > 4) ctx.fail(`${f}.Result/Reason`, `value ${result} is not in PS3.8 Table 9-18`, INVALID);
  r.skip(1, `${f}.Reserved`);
  let transferSyntax: string | undefined;
  for (const sub of items(r, f)) {
    if (sub.type !== ItemType.TransferSyntax) {
      ctx.fail(`${f}.Item-type`, `sub-item type ${hex(sub.type)} is not allowed in a presentation context`, UNRECOGNIZED);
    }
    if (transferSyntax !== undefined) ctx.fail(`${f}.Transfer-Syntax`, 'more than one transfer syntax sub-item', UNEXPECTED);
    transferSyntax = readUid(sub.body, sub.length, `${f}.Transfer-syntax-name`);
  }
  // Not significant when rejected: kept only when it is a UID. Accepted: it must be one.
  if (transferSyntax !== undefined && !isWireUid(transferSyntax)) {
    if (result === 0) ctx.fail(`${f}.Transfer-syntax-name`, `"${printable(transferSyntax)}" is not a UID (PS3.8 Annex F)`, INVALID);
    transferSyntax = '';
  }
  // Not significant when the context is rejected, and some peers then leave it out.
  if (transferSyntax === undefined) {
    if (result === 0) ctx.fail(`${f}.Transfer-Syntax`, 'missing in an accepted presentation context', INVALID);
    transferSyntax = '';
  }
  return { id, result: result as PresentationContextResultCode, transferSyntax };
}

function decodeUserInformation(ctx: Ctx, it: Item, isRq: boolean, pduName: string): UserInformationItem {
  const f = `${pduName}.User-Information`;
  let maximumLength: number | undefined;
  let implementationClassUid: string | undefined;
  let implementationVersionName: string | undefined;
  let asynchronousOperationsWindow: UserInformationItem['asynchronousOperationsWindow'];
  let userIdentityRq: UserIdentityRqItem | undefined;
  let userIdentityAc: UserIdentityAcItem | undefined;
  const roleSelections: RoleSelectionItem[] = [];
  const sopClassExtendedNegotiations: SopClassExtendedNegotiationItem[] = [];
  const sopClassCommonExtendedNegotiations: SopClassCommonExtendedNegotiationItem[] = [];
  const unknownSubItems: UnknownSubItem[] = [];
  const once = (present: unknown, name: string): void => {
    if (present !== undefined) ctx.fail(`${f}.${name}`, 'sub-item appears more than once', UNEXPECTED);
  };

  for (const sub of items(it.body, f)) {
    const r = sub.body;
    switch (sub.type) {
      case ItemType.MaximumLength: {
        const sf = `${f}.Maximum-Length`;
        once(maximumLength, 'Maximum-Length');
        maximumLength = r.u32(`${sf}.Maximum-length-received`);
        expectEnd(ctx, r, sf);
        break;
      }
      case ItemType.ImplementationClassUid:
        once(implementationClassUid, 'Implementation-Class-UID');
        implementationClassUid = readCheckedUid(ctx, r, sub.length, `${f}.Implementation-class-uid`);
        break;
      case ItemType.ImplementationVersionName: {
        const sf = `${f}.Implementation-version-name`;
        once(implementationVersionName, 'Implementation-Version-Name');
        const name = r.latin1(sub.length, sf).replace(/^[ \0]+|[ \0]+$/g, '');
        // PS3.7 D.3.3.2.3. An empty one says nothing and is taken as absent.
        if (name.length > 0 && !isVersionName(name)) ctx.fail(sf, `"${printable(name)}" is not 1–16 characters of the default repertoire`, INVALID);
        implementationVersionName = name.length > 0 ? name : undefined;
        break;
      }
      case ItemType.AsynchronousOperationsWindow: {
        const sf = `${f}.Asynchronous-Operations-Window`;
        once(asynchronousOperationsWindow, 'Asynchronous-Operations-Window');
        asynchronousOperationsWindow = {
          maxOperationsInvoked: r.u16(`${sf}.Maximum-number-operations-invoked`),
          maxOperationsPerformed: r.u16(`${sf}.Maximum-number-operations-performed`),
        };
        expectEnd(ctx, r, sf);
        break;
      }
      case ItemType.ScpScuRoleSelection: {
        // PS3.7 Table D.3-9 / D.3-10.
        const sf = `${f}.SCP/SCU-Role-Selection`;
        const n = r.u16(`${sf}.UID-length`);
        const sopClassUid = readCheckedUid(ctx, r, n, `${sf}.SOP-class-uid`);
        const scu = r.u8(`${sf}.SCU-role`);
        const scp = r.u8(`${sf}.SCP-role`);
        if (scu > 1) ctx.fail(`${sf}.SCU-role`, `value ${scu} is not 0 or 1`, INVALID);
        if (scp > 1) ctx.fail(`${sf}.SCP-role`, `value ${scp} is not 0 or 1`, INVALID);
        expectEnd(ctx, r, sf);
        roleSelections.push({ sopClassUid, scuRole: scu === 1, scpRole: scp === 1 });
        break;
      }
      case ItemType.SopClassExtendedNegotiation: {
        // PS3.7 Table D.3-11: the application information is the rest of the sub-item.
        const sf = `${f}.SOP-Class-Extended-Negotiation`;
        const n = r.u16(`${sf}.SOP-class-uid-length`);
        const sopClassUid = readCheckedUid(ctx, r, n, `${sf}.SOP-class-uid`);
        sopClassExtendedNegotiations.push({
          sopClassUid,
          serviceClassApplicationInformation: r.bytes(r.remaining, `${sf}.Service-class-application-information`),
        });
        break;
      }
      case ItemType.SopClassCommonExtendedNegotiation: {
        // PS3.7 Table D.3-12.
        const sf = `${f}.SOP-Class-Common-Extended-Negotiation`;
        if (!isRq) ctx.fail(sf, 'sub-item 0x57 is allowed in A-ASSOCIATE-RQ only (PS3.7 D.3.3.6)', UNEXPECTED);
        const sopClassUid = readCheckedUid(ctx, r, r.u16(`${sf}.SOP-class-uid-length`), `${sf}.SOP-class-uid`);
        const serviceClassUid = readCheckedUid(ctx, r, r.u16(`${sf}.Service-class-uid-length`), `${sf}.Service-class-uid`);
        const related = r.sub(r.u16(`${sf}.Related-general-sop-class-identification-length`), `${sf}.Related-general-sop-class-identification`);
        const relatedGeneralSopClassUids: string[] = [];
        while (related.remaining > 0) {
          const rn = related.u16(`${sf}.Related-general-sop-class-uid-length`);
          relatedGeneralSopClassUids.push(readCheckedUid(ctx, related, rn, `${sf}.Related-general-sop-class-uid`));
        }
        expectEnd(ctx, r, sf);
        sopClassCommonExtendedNegotiations.push({ sopClassUid, serviceClassUid, relatedGeneralSopClassUids });
        break;
      }
      case ItemType.UserIdentityRq: {
        // PS3.7 Table D.3-14.
        const sf = `${f}.User-Identity-Negotiation`;
        if (!isRq) ctx.fail(sf, 'sub-item 0x58 is allowed in A-ASSOCIATE-RQ only (PS3.7 D.3.3.7.1)', UNEXPECTED);
        once(userIdentityRq, 'User-Identity-Negotiation');
        const identityType = r.u8(`${sf}.User-Identity-Type`);
        if (identityType < 1 || identityType > 5) ctx.fail(`${sf}.User-Identity-Type`, `value ${identityType} is not in PS3.7 Table D.3-14`, INVALID);
        const positive = r.u8(`${sf}.Positive-response-requested`);
        const primaryField = r.bytes(r.u16(`${sf}.Primary-field-length`), `${sf}.Primary-field`);
        const secondaryField = r.bytes(r.u16(`${sf}.Secondary-field-length`), `${sf}.Secondary-field`);
        expectEnd(ctx, r, sf);
        userIdentityRq = {
          identityType: identityType as UserIdentityTypeCode,
          positiveResponseRequested: positive === 1,
          primaryField,
          secondaryField,
        };
        break;
      }
      case ItemType.UserIdentityAc: {
        // PS3.7 Table D.3-15.
        const sf = `${f}.User-Identity-Negotiation`;
        if (isRq) ctx.fail(sf, 'sub-item 0x59 is allowed in A-ASSOCIATE-AC only (PS3.7 D.3.3.7.2)', UNEXPECTED);
        once(userIdentityAc, 'User-Identity-Negotiation');
        const serverResponse = r.bytes(r.u16(`${sf}.Server-response-length`), `${sf}.Server-response`);
        expectEnd(ctx, r, sf);
        userIdentityAc = { serverResponse };
        break;
      }
      default:
        unknownSubItems.push({ itemType: sub.type, data: r.bytes(sub.length, `${f}(${hex(sub.type)})`) });
    }
  }
  return {
    maximumLength,
    implementationClassUid,
    implementationVersionName,
    asynchronousOperationsWindow,
    roleSelections,
    sopClassExtendedNegotiations,
    sopClassCommonExtendedNegotiations,
    userIdentityRq,
    userIdentityAc,
    unknownSubItems,
  };
}

/** A-ASSOCIATE-RQ (Table 9-11) and -AC (Table 9-17). */
function decodeAssociate(ctx: Ctx, r: ByteReader, isRq: boolean): AAssociateRqPdu | AAssociateAcPdu {
  const n = isRq ? 'A-ASSOCIATE-RQ' : 'A-ASSOCIATE-AC';
  const protocolVersion = r.u16(`${n}.Protocol-version`);
  r.skip(2, `${n}.Reserved`);
  const calledAeTitle = readAeTitle(r, `${n}.Called-AE-title`);
  const callingAeTitle = readAeTitle(r, `${n}.Calling-AE-title`);
  r.skip(32, `${n}.Reserved`);
  let applicationContextName: string | undefined;
  let userInformation: UserInformationItem | undefined;
  const rqContexts: PresentationContextRqItem[] = [];
  const acContexts: PresentationContextAcItem[] = [];
  // Table 9-11 lists the items in order; peers differ, so only their counts are checked.
  for (const it of items(r, n)) {
    const f = `${n}.Presentation-Context`;
    switch (it.type) {
      case ItemType.ApplicationContext:
        if (applicationContextName !== undefined) ctx.fail(`${n}.Application-Context`, 'appears more than once', UNEXPECTED);
        applicationContextName = readUid(it.body, it.length, `${n}.Application-context-name`);
        break;
      case ItemType.PresentationContextRq:
        if (!isRq) ctx.fail(`${n}.Item-type`, 'item 0x20 is allowed in A-ASSOCIATE-RQ only', UNEXPECTED);
        rqContexts.push(decodePresentationContextRq(ctx, it, f));
        break;
      case ItemType.PresentationContextAc:
        if (isRq) ctx.fail(`${n}.Item-type`, 'item 0x21 is allowed in A-ASSOCIATE-AC only', UNEXPECTED);
        acContexts.push(decodePresentationContextAc(ctx, it, f));
        break;
      case ItemType.UserInformation:
        if (userInformation !== undefined) ctx.fail(`${n}.User-Information`, 'appears more than once', UNEXPECTED);
        userInformation = decodeUserInformation(ctx, it, isRq, n);
        break;
      default:
        ctx.fail(`${n}.Item-type`, `unrecognized item type ${hex(it.type)}`, UNRECOGNIZED);
    }
  }
  if (applicationContextName === undefined) ctx.fail(`${n}.Application-Context`, 'missing (PS3.8 9.3.2)', INVALID);
  const contexts = isRq ? rqContexts : acContexts;
  if (contexts.length === 0) ctx.fail(`${n}.Presentation-Context`, 'at least one presentation context item is required', INVALID);
  if (userInformation === undefined) ctx.fail(`${n}.User-Information`, 'missing (PS3.8 9.3.2)', INVALID);
  const ids = new Set<number>();
  for (const pc of contexts) {
    if (ids.has(pc.id)) ctx.fail(`${n}.Presentation-Context.Presentation-context-ID`, `ID ${pc.id} appears more than once`, INVALID);
    ids.add(pc.id);
  }
  const common = { protocolVersion, calledAeTitle, callingAeTitle, applicationContextName, userInformation };
  return isRq
    ? { type: 'A-ASSOCIATE-RQ', ...common, presentationContexts: rqContexts }
    : { type: 'A-ASSOCIATE-AC', ...common, presentationContexts: acContexts };
}

/** P-DATA-TF (Table 9-22): one or more PDV items (9.3.5.1, Annex E.2). */
function decodePData(ctx: Ctx, r: ByteReader): PDataTfPdu {
  const pdvs: PresentationDataValue[] = [];
  while (r.remaining > 0) {
    const length = r.u32('P-DATA-TF.PDV.Item-length');
    if (length < 2) ctx.fail('P-DATA-TF.PDV.Item-length', `${length} is too small for the context ID and control header`, INVALID);
    if (length > r.remaining) ctx.fail('P-DATA-TF.PDV.Item-length', `${length} exceeds the ${r.remaining} bytes left in the PDU`, INVALID);
    const presentationContextId = checkContextId(ctx, r.u8('P-DATA-TF.PDV.Presentation-context-ID'), 'P-DATA-TF.PDV.Presentation-context-ID');
    const mch = r.u8('P-DATA-TF.PDV.Message-control-header');
    // Annex E.2: bits 2–7 "shall be set to 0" but, like other reserved values, are not tested.
    pdvs.push({
      presentationContextId,
      isCommand: (mch & 0x01) !== 0,
      isLast: (mch & 0x02) !== 0,
      data: r.bytes(length - 2, 'P-DATA-TF.PDV.Presentation-data-value'),
    });
  }
  if (pdvs.length === 0) ctx.fail('P-DATA-TF.PDV', 'at least one presentation-data-value item is required', INVALID);
  return { type: 'P-DATA-TF', pdvs };
}

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(PduTypeCode));

/** True if `type` is one of the seven PDU types of PS3.8 9.3. */
export function isKnownPduType(type: number): boolean {
  return KNOWN_TYPES.has(type);
}

/**
 * The usual P-DATA-TF: one PDV item filling the PDU, with an odd context ID. Read without the
 * reader and error context decodePData sets up (objects per PDU received); anything else,
 * malformed included, is left to it. Same result, the value a view of `bytes`.
 */
function decodeOnePdv(bytes: Uint8Array): PDataTfPdu | undefined {
  const n = bytes.length;
  if (n < 12 || bytes[0] !== PduTypeCode['P-DATA-TF']) return undefined;
  const pduLength = ((bytes[2]! << 24) | (bytes[3]! << 16) | (bytes[4]! << 8) | bytes[5]!) >>> 0;
  const itemLength = ((bytes[6]! << 24) | (bytes[7]! << 16) | (bytes[8]! << 8) | bytes[9]!) >>> 0;
  const presentationContextId = bytes[10]!;
  if (pduLength !== n - 6 || itemLength !== n - 10 || presentationContextId % 2 === 0) return undefined;
  const mch = bytes[11]!;
  // Annex E.2: bits 2–7 "shall be set to 0" but, like other reserved values, are not tested.
  return { type: 'P-DATA-TF', pdvs: [{ presentationContextId, isCommand: (mch & 0x01) !== 0, isLast: (mch & 0x02) !== 0, data: bytes.subarray(12) }] };
}

/** Decode exactly one complete PDU (header included). */
export function decodePdu(bytes: Uint8Array): Pdu {
  return decodeOnePdv(bytes) ?? decodeAnyPdu(bytes);
}

/** decodePdu without the one-PDV shortcut (exported for the test that compares the two). */
export function decodeAnyPdu(bytes: Uint8Array): Pdu {
  const type = bytes.length > 0 ? (bytes[0] as number) : -1;
  const ctx = new Ctx(type);
  const r = ctx.reader(bytes);
  r.u8('PDU-type');
  if (!KNOWN_TYPES.has(type)) {
    throw new PduDecodeError('PDU-type', `unrecognized PDU type ${hex(type)}`, AbortReason.UnrecognizedPdu, { pduType: type });
  }
  r.skip(1, 'Reserved');
  const length = r.u32('PDU-length');
  if (length !== r.remaining) {
    ctx.fail('PDU-length', `announces ${length} bytes but ${r.remaining} follow the header`, INVALID);
  }
  switch (type) {
    case PduTypeCode['A-ASSOCIATE-RQ']:
      return decodeAssociate(ctx, r, true);
    case PduTypeCode['A-ASSOCIATE-AC']:
      return decodeAssociate(ctx, r, false);
    case PduTypeCode['P-DATA-TF']:
      return decodePData(ctx, r);
    default:
      break;
  }
  // The four fixed-size PDUs: PDU-length is 4 (Tables 9-21, 9-24, 9-25, 9-26).
  if (length !== 4) ctx.fail('PDU-length', `must be 4 for this PDU type, got ${length}`, INVALID);
  r.skip(1, 'Reserved');
  const b7 = r.u8('PDU[7]');
  const b8 = r.u8('PDU[8]');
  const b9 = r.u8('PDU[9]');
  switch (type) {
    case PduTypeCode['A-ASSOCIATE-RJ']:
      return { type: 'A-ASSOCIATE-RJ', result: b7, source: b8, reason: b9 };
    case PduTypeCode['A-RELEASE-RQ']:
      return { type: 'A-RELEASE-RQ' };
    case PduTypeCode['A-RELEASE-RP']:
      return { type: 'A-RELEASE-RP' };
    default:
      return { type: 'A-ABORT', source: b8, reason: b9 };
  }
}
