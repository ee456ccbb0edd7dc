/**
 * PDU encoder, PS3.8 Section 9.3 and PS3.7 Annex D.3.3. Pure and synchronous: a Pdu in, bytes
 * out. Values that PS3.8 cannot carry raise PduEncodeError naming the field (caller error).
 * All multi-byte integers are big endian (PS3.8 9.3.1); reserved fields are sent as zero.
 */
import { ByteWriter } from '../../internal/byte-writer.js';
import { PduEncodeError } from '../errors.js';
import {
  ItemType,
  PduTypeCode,
  type AAssociateAcPdu,
  type AAssociateRqPdu,
  type PDataTfPdu,
  type Pdu,
  type UserInformationItem,
} from './types.js';

/** Payloads up to this size are copied next to their PDV header; larger ones are sent as views. */
const COPY_THRESHOLD = 1024;

function fail(field: string, message: string): never {
  throw new PduEncodeError(field, message);
}

function checkUint(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) fail(field, `must be an integer 0–${max}, got ${value}`);
  return value;
}

/**
 * AE title: 1–16 characters of the default repertoire without backslash or control characters,
 * not all spaces (PS3.5 Table 6.2-1, VR AE); sent space-padded to 16 bytes (PS3.8 Table 9-11).
 */
function aeTitleField(ae: string, field: string): string {
  if (ae.length > 16) fail(field, `AE title "${ae}" is longer than 16 characters`);
  if (ae.trim().length === 0) fail(field, 'AE title must not be empty or all spaces');
  if (!/^[\x20-\x5b\x5d-\x7e]*$/.test(ae)) fail(field, `AE title "${ae}" has a character outside the default repertoire, or a backslash`);
  return ae.padEnd(16, ' ');
}

/**
 * UIDs in items are encoded per PS3.8 Annex F: digits and dots, at most 64 characters, no
 * padding (unlike a UI data element, an item carries the exact length).
 */
function uid(value: string, field: string, allowEmpty = false): string {
  if (value.length === 0 && allowEmpty) return value;
  if (!/^[0-9.]{1,64}$/.test(value)) fail(field, `"${value}" is not a UID (1–64 digits and dots)`);
  return value;
}

function writeUidItem(w: ByteWriter, type: number, value: string, field: string, allowEmpty = false): void {
  w.u8(type).u8(0).u16(value.length).latin1(uid(value, field, allowEmpty));
}

function checkPresentationContextId(id: number, field: string): number {
  checkUint(id, 255, field);
  if (id % 2 === 0) fail(field, `presentation context ID must be odd, got ${id}`);
  return id;
}

function checkBytes(b: Uint8Array, max: number, field: string): Uint8Array {
  if (!(b instanceof Uint8Array)) fail(field, 'must be a Uint8Array');
  if (b.length > max) fail(field, `${b.length} bytes exceed the 2-byte length field`);
  return b;
}

/** User information item 0x50 with its sub-items in ascending item-type order (PS3.7 D.3.3). */
function writeUserInformation(w: ByteWriter, ui: UserInformationItem, isRq: boolean, pduName: string): void {
  const f = `${pduName}.User-Information`;
  w.u8(ItemType.UserInformation).u8(0);
  const itemLen = w.markU16();
  if (ui.maximumLength !== undefined) {
    w.u8(ItemType.MaximumLength).u8(0).u16(4).u32(checkUint(ui.maximumLength, 0xffffffff, `${f}.Maximum-Length`));
  }
  if (ui.implementationClassUid !== undefined) {
    writeUidItem(w, ItemType.ImplementationClassUid, ui.implementationClassUid, `${f}.Implementation-Class-UID`);
  }
  if (ui.asynchronousOperationsWindow !== undefined) {
    const a = ui.asynchronousOperationsWindow;
    w.u8(ItemType.AsynchronousOperationsWindow).u8(0).u16(4);
    w.u16(checkUint(a.maxOperationsInvoked, 0xffff, `${f}.Maximum-number-operations-invoked`));
    w.u16(checkUint(a.maxOperationsPerformed, 0xffff, `${f}.Maximum-number-operations-performed`));
  }
  for (const r of ui.roleSelections) {
    // PS3.7 Table D.3-9: UID-length, SOP-class-uid, SCU-role, SCP-role.
    w.u8(ItemType.ScpScuRoleSelection).u8(0);
    const m = w.markU16();
    w.u16(r.sopClassUid.length).latin1(uid(r.sopClassUid, `${f}.SCP/SCU-Role-Selection.SOP-class-uid`));
    w.u8(r.scuRole ? 1 : 0).u8(r.scpRole ? 1 : 0);
    w.patchU16(m);
  }
  if (ui.implementationVersionName !== undefined) {
    const v = ui.implementationVersionName;
    if (v.length < 1 || v.length > 16 || !/^[\x20-\x7e]*$/.test(v)) {
      fail(`${f}.Implementation-version-name`, `"${v}" must be 1–16 printable ASCII characters`);
    }
    w.u8(ItemType.ImplementationVersionName).u8(0).u16(v.length).latin1(v);
  }
  for (const s of ui.sopClassExtendedNegotiations) {
    // PS3.7 Table D.3-11: SOP-class-uid-length, SOP-class-uid, Service-class-application-information.
    const sf = `${f}.SOP-Class-Extended-Negotiation`;
    w.u8(ItemType.SopClassExtendedNegotiation).u8(0);
    const m = w.markU16();
    w.u16(s.sopClassUid.length).latin1(uid(s.sopClassUid, `${sf}.SOP-class-uid`));
    w.bytes(checkBytes(s.serviceClassApplicationInformation, 0xffff - 2 - s.sopClassUid.length, `${sf}.Service-class-application-information`));
    w.patchU16(m);
  }
  if (!isRq && ui.sopClassCommonExtendedNegotiations.length > 0) {
    fail(`${f}.SOP-Class-Common-Extended-Negotiation`, 'is sent in A-ASSOCIATE-RQ only (PS3.7 D.3.3.6)');
  }
  for (const c of ui.sopClassCommonExtendedNegotiations) {
    // PS3.7 Table D.3-12: byte 1 is the sub-item version, 0.
    const cf = `${f}.SOP-Class-Common-Extended-Negotiation`;
    w.u8(ItemType.SopClassCommonExtendedNegotiation).u8(0);
    const m = w.markU16();
    w.u16(c.sopClassUid.length).latin1(uid(c.sopClassUid, `${cf}.SOP-class-uid`));
    w.u16(c.serviceClassUid.length).latin1(uid(c.serviceClassUid, `${cf}.Service-class-uid`));
    const rm = w.markU16();
    for (const r of c.relatedGeneralSopClassUids) {
      w.u16(r.length).latin1(uid(r, `${cf}.Related-general-sop-class-uid`));
    }
    w.patchU16(rm);
    if (w.patchU16(m) > 0xffff) fail(cf, 'too long for its 2-byte length');
  }
  if (ui.userIdentityRq !== undefined) {
    const uf = `${f}.User-Identity-Negotiation`;
    if (!isRq) fail(uf, 'sub-item 0x58 is sent in A-ASSOCIATE-RQ only (PS3.7 D.3.3.7.1)');
    const u = ui.userIdentityRq;
    // PS3.7 Table D.3-14.
    w.u8(ItemType.UserIdentityRq).u8(0);
    const m = w.markU16();
    w.u8(checkUint(u.identityType, 255, `${uf}.User-Identity-Type`)).u8(u.positiveResponseRequested ? 1 : 0);
    w.u16(u.primaryField.length).bytes(checkBytes(u.primaryField, 0xffff, `${uf}.Primary-field`));
    w.u16(u.secondaryField.length).bytes(checkBytes(u.secondaryField, 0xffff, `${uf}.Secondary-field`));
    if (w.patchU16(m) > 0xffff) fail(uf, 'too long for its 2-byte item length');
  }
  if (ui.userIdentityAc !== undefined) {
    const uf = `${f}.User-Identity-Negotiation`;
    if (isRq) fail(uf, 'sub-item 0x59 is sent in A-ASSOCIATE-AC only (PS3.7 D.3.3.7.2)');
    // PS3.7 Table D.3-15.
    const s = checkBytes(ui.userIdentityAc.serverResponse, 0xffff - 2, `${uf}.Server-response`);
    w.u8(ItemType.UserIdentityAc).u8(0).u16(s.length + 2).u16(s.length).bytes(s);
  }
  for (const u of ui.unknownSubItems) {
    checkUint(u.itemType, 255, `${f}.unknown-sub-item.Item-type`);
    w.u8(u.itemType).u8(0).u16(checkBytes(u.data, 0xffff, `${f}.unknown-sub-item`).length).bytes(u.data);
  }
  if (w.patchU16(itemLen) > 0xffff) fail(f, 'sub-items exceed the 2-byte item length');
}

/** A-ASSOCIATE-RQ (Table 9-11) and -AC (Table 9-17): same fixed part, different items. */
function encodeAssociate(pdu: AAssociateRqPdu | AAssociateAcPdu): Uint8Array {
  const isRq = pdu.type === 'A-ASSOCIATE-RQ';
  const n = pdu.type;
  const w = new ByteWriter(512);
  w.u8(PduTypeCode[n]).u8(0);
  const pduLen = w.markU32();
  w.u16(checkUint(pdu.protocolVersion, 0xffff, `${n}.Protocol-version`)).zeros(2);
  w.latin1(aeTitleField(pdu.calledAeTitle, `${n}.Called-AE-title`));
  w.latin1(aeTitleField(pdu.callingAeTitle, `${n}.Calling-AE-title`));
  w.zeros(32);
  writeUidItem(w, ItemType.ApplicationContext, pdu.applicationContextName, `${n}.Application-Context-Name`);
  if (isRq) {
    for (const pc of pdu.presentationContexts) {
      const f = `${n}.Presentation-Context`;
      w.u8(ItemType.PresentationContextRq).u8(0);
      const m = w.markU16();
      w.u8(checkPresentationContextId(pc.id, `${f}.Presentation-context-ID`)).zeros(3);
      writeUidItem(w, ItemType.AbstractSyntax, pc.abstractSyntax, `${f}.Abstract-Syntax`);
      if (pc.transferSyntaxes.length === 0) fail(`${f}.Transfer-Syntax`, 'at least one is required (PS3.8 9.3.2.2)');
      for (const ts of pc.transferSyntaxes) writeUidItem(w, ItemType.TransferSyntax, ts, `${f}.Transfer-Syntax`);
      if (w.patchU16(m) > 0xffff) fail(f, 'too long for its 2-byte item length');
    }
  } else {
    for (const pc of pdu.presentationContexts) {
      const f = `${n}.Presentation-Context`;
      w.u8(ItemType.PresentationContextAc).u8(0);
      const m = w.markU16();
      w.u8(checkPresentationContextId(pc.id, `${f}.Presentation-context-ID`)).u8(0);
      w.u8(checkUint(pc.result, 255, `${f}.Result/Reason`)).u8(0);
      // PS3.8 9.3.3.2: the transfer syntax sub-item is always present, not significant unless accepted.
      writeUidItem(w, ItemType.TransferSyntax, pc.transferSyntax, `${f}.Transfer-Syntax`, pc.result !== 0);
      w.patchU16(m);
    }
  }
  writeUserInformation(w, pdu.userInformation, isRq, n);
  w.patchU32(pduLen);
  return w.finish();
}

function fixed4(type: number, b2: number, b3: number, field: string): Uint8Array {
  // Type, reserved, PDU-length = 4, two reserved bytes (or one reserved + result for RJ), b2, b3.
  return Uint8Array.of(type, 0, 0, 0, 0, 4, 0, 0, checkUint(b2, 255, `${field}[8]`), checkUint(b3, 255, `${field}[9]`));
}

function checkPData(pdu: PDataTfPdu): number {
  if (pdu.pdvs.length === 0) fail('P-DATA-TF', 'at least one presentation-data-value item is required (PS3.8 9.3.5)');
  let total = 0;
  for (const pdv of pdu.pdvs) {
    checkPresentationContextId(pdv.presentationContextId, 'P-DATA-TF.Presentation-context-ID');
    total += 6 + pdv.data.length;
  }
  checkUint(total, 0xffffffff, 'P-DATA-TF.PDU-length');
  return total;
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** PS3.8 Annex E.2: the message control header (bit 0 command, bit 1 last fragment). */
function controlHeader(pdv: PDataTfPdu['pdvs'][number]): number {
  return (pdv.isCommand ? 0x01 : 0) | (pdv.isLast ? 0x02 : 0);
}

function pdvHeader(w: ByteWriter, pdv: PDataTfPdu['pdvs'][number]): void {
  // PS3.8 9.3.5.1 and Annex E.2: item length covers the context ID and the control header.
  w.u32(pdv.data.length + 2).u8(pdv.presentationContextId).u8(controlHeader(pdv));
}

/** Encode one PDU into a single contiguous buffer. */
export function encodePdu(pdu: Pdu): Uint8Array {
  switch (pdu.type) {
    case 'A-ASSOCIATE-RQ':
    case 'A-ASSOCIATE-AC':
      return encodeAssociate(pdu);
    case 'A-ASSOCIATE-RJ': {
      // PS3.8 Table 9-21: reserved, result, source, reason/diag.
      const out = fixed4(PduTypeCode['A-ASSOCIATE-RJ'], pdu.source, pdu.reason, 'A-ASSOCIATE-RJ');
      out[7] = checkUint(pdu.result, 255, 'A-ASSOCIATE-RJ.Result');
      return out;
    }
    case 'P-DATA-TF': {
      const total = checkPData(pdu);
      const w = new ByteWriter(total + 6);
      w.u8(PduTypeCode['P-DATA-TF']).u8(0).u32(total);
      for (const pdv of pdu.pdvs) {
        pdvHeader(w, pdv);
        w.bytes(pdv.data);
      }
      return w.finish();
    }
    case 'A-RELEASE-RQ':
      return fixed4(PduTypeCode['A-RELEASE-RQ'], 0, 0, 'A-RELEASE-RQ');
    case 'A-RELEASE-RP':
      return fixed4(PduTypeCode['A-RELEASE-RP'], 0, 0, 'A-RELEASE-RP');
    case 'A-ABORT':
      // PS3.8 Table 9-26: two reserved bytes, then source and reason/diag.
      return fixed4(PduTypeCode['A-ABORT'], pdu.source, pdu.reason, 'A-ABORT');
    default:
      return fail('PDU-type', `unknown PDU ${(pdu as { type: unknown }).type as string}`);
  }
}

/**
 * Encode one PDU as a list of buffers to write in order (for `writev`). For P-DATA-TF, fragments
 * larger than 1 KiB are returned as the caller's own views, never copied; headers and small
 * fragments are coalesced. Other PDUs come back as one buffer.
 */
export function encodePduParts(pdu: Pdu): Uint8Array[] {
  if (pdu.type !== 'P-DATA-TF') return [encodePdu(pdu)];
  const total = checkPData(pdu);
  // The usual P-DATA-TF, one large fragment: its 12 header bytes written directly (two writer
  // objects per PDU were a measurable share of sending with a peer's 16 KiB PDUs).
  if (pdu.pdvs.length === 1 && pdu.pdvs[0]!.data.length > COPY_THRESHOLD) {
    const pdv = pdu.pdvs[0]!;
    // A Buffer (from Node's pool, every byte written below): a stream write converts any other
    // Uint8Array into one, an object per PDU of a large message.
    const h = Buffer.allocUnsafe(12);
    h[0] = PduTypeCode['P-DATA-TF'];
    h[1] = 0;
    putU32(h, 2, total);
    putU32(h, 6, pdv.data.length + 2);
    h[10] = pdv.presentationContextId;
    h[11] = controlHeader(pdv);
    return [h, pdv.data];
  }
  // One small fragment (a command: every response): header and fragment in one exact buffer.
  if (pdu.pdvs.length === 1) {
    const pdv = pdu.pdvs[0]!;
    const b = new Uint8Array(12 + pdv.data.length);
    b[0] = PduTypeCode['P-DATA-TF'];
    putU32(b, 2, total);
    putU32(b, 6, pdv.data.length + 2);
    b[10] = pdv.presentationContextId;
    b[11] = controlHeader(pdv);
    b.set(pdv.data, 12);
    return [b];
  }
  const parts: Uint8Array[] = [];
  let w = new ByteWriter(64);
  w.u8(PduTypeCode['P-DATA-TF']).u8(0).u32(total);
  for (const pdv of pdu.pdvs) {
    pdvHeader(w, pdv);
    if (pdv.data.length <= COPY_THRESHOLD) {
      w.bytes(pdv.data);
    } else {
      parts.push(w.finish(), pdv.data);
      w = new ByteWriter(64);
    }
  }
  if (w.length > 0) parts.push(w.finish());
  return parts;
}
