/**
 * The DICOM audit message (PS3.15 A.5.1) as a readonly plain object, and its one XML encoding.
 * Element order follows the A.5.1 schema (EventID, EventTypeCode*, EventOutcomeDescription?;
 * RoleIDCode* in ActiveParticipant; ParticipantObjectIDTypeCode, Name|Query, Detail*, Description*).
 */
import type { Code, EventActionCode, EventOutcome } from './codes.js';

export interface ActiveParticipant {
  readonly userId: string;
  readonly alternativeUserId?: string | undefined;
  readonly userName?: string | undefined;
  readonly userIsRequestor: boolean;
  readonly networkAccessPointId?: string | undefined;
  /** '1' machine name, '2' IP address (A.5.1). */
  readonly networkAccessPointTypeCode?: '1' | '2' | '3' | '4' | '5' | undefined;
  readonly roleIdCodes?: readonly Code[];
}

/** One SOPClass of a study's ParticipantObjectDescription (A.5.1 DICOMObjectDescriptionContents). */
export interface SopClassDescription {
  readonly uid: string;
  readonly numberOfInstances: number;
  readonly instances?: readonly string[];
}

export interface ParticipantObject {
  readonly id: string;
  readonly idTypeCode: Code;
  readonly typeCode?: '1' | '2' | '3' | '4' | undefined;
  readonly typeCodeRole?: string | undefined;
  readonly name?: string | undefined;
  /** Bytes carried base64 in ParticipantObjectQuery (A.5.1); excludes `name`. */
  readonly query?: Uint8Array | undefined;
  /** ParticipantObjectDetail type/value pairs; values are base64-encoded by the encoder. */
  readonly details?: readonly { readonly type: string; readonly value: string | Uint8Array }[];
  readonly sopClasses?: readonly SopClassDescription[];
  readonly accessions?: readonly string[];
}

export interface AuditMessage {
  readonly eventId: Code;
  readonly eventTypeCodes?: readonly Code[];
  readonly eventActionCode: EventActionCode;
  readonly eventDateTime: Date;
  readonly eventOutcomeIndicator: EventOutcome;
  readonly eventOutcomeDescription?: string | undefined;
  readonly activeParticipants: readonly ActiveParticipant[];
  readonly auditSource: { readonly auditSourceId: string; readonly auditEnterpriseSiteId?: string | undefined; readonly typeCode?: string | undefined };
  readonly participantObjects?: readonly ParticipantObject[];
}

// XML 1.0 forbids most C0 controls even as references: replace them, they only come from the wire.
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/**
 * Line breaks and tabs as character references: the message is one line (the file transport
 * writes one per line, and readers of syslog split on them), so a peer's user name or AE title
 * holding a line break could not start a line a reader would take for another record. A
 * reference keeps the character for the parser (raw, an attribute's would turn into a space).
 */
const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' };

export function escapeXml(s: string): string {
  return s.replace(INVALID_XML, '\ufffd').replace(/[&<>"'\n\r\t]/g, (c) => ESCAPES[c]!);
}

/** xsd:token collapses white space; do it ourselves so what is sent is what a validator sees. */
function token(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function attrs(pairs: readonly (readonly [string, string | undefined])[]): string {
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escapeXml(v!)}"`).join('');
}

function code(element: string, c: Code): string {
  return `<${element}${attrs([['csd-code', c.csdCode], ['codeSystemName', c.codeSystemName], ['originalText', c.originalText]])}/>`;
}

function b64(v: string | Uint8Array): string {
  return Buffer.from(typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64');
}

/** The message as one line of XML (no declaration newline inside, so it fits a syslog MSG). */
export function auditMessageToXml(m: AuditMessage): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?><AuditMessage>'];
  out.push(`<EventIdentification${attrs([
    ['EventActionCode', m.eventActionCode],
    ['EventDateTime', m.eventDateTime.toISOString()],
    ['EventOutcomeIndicator', m.eventOutcomeIndicator],
  ])}>`);
  out.push(code('EventID', m.eventId));
  for (const t of m.eventTypeCodes ?? []) out.push(code('EventTypeCode', t));
  if (m.eventOutcomeDescription !== undefined) out.push(`<EventOutcomeDescription>${escapeXml(m.eventOutcomeDescription)}</EventOutcomeDescription>`);
  out.push('</EventIdentification>');
  for (const p of m.activeParticipants) {
    const a = attrs([
      ['UserID', p.userId],
      ['AlternativeUserID', p.alternativeUserId],
      ['UserName', p.userName],
      ['UserIsRequestor', p.userIsRequestor ? 'true' : 'false'],
      ['NetworkAccessPointID', p.networkAccessPointId === undefined ? undefined : token(p.networkAccessPointId)],
      ['NetworkAccessPointTypeCode', p.networkAccessPointId === undefined ? undefined : p.networkAccessPointTypeCode],
    ]);
    const roles = (p.roleIdCodes ?? []).map((r) => code('RoleIDCode', r)).join('');
    out.push(roles === '' ? `<ActiveParticipant${a}/>` : `<ActiveParticipant${a}>${roles}</ActiveParticipant>`);
  }
  const s = m.auditSource;
  out.push(`<AuditSourceIdentification${attrs([['AuditEnterpriseSiteID', s.auditEnterpriseSiteId === undefined ? undefined : token(s.auditEnterpriseSiteId)], ['AuditSourceID', token(s.auditSourceId)]])}>`);
  if (s.typeCode !== undefined) out.push(`<AuditSourceTypeCode csd-code="${escapeXml(s.typeCode)}"/>`);
  out.push('</AuditSourceIdentification>');
  for (const o of m.participantObjects ?? []) {
    out.push(`<ParticipantObjectIdentification${attrs([
      ['ParticipantObjectID', token(o.id)],
      ['ParticipantObjectTypeCode', o.typeCode],
      ['ParticipantObjectTypeCodeRole', o.typeCodeRole],
    ])}>`);
    out.push(code('ParticipantObjectIDTypeCode', o.idTypeCode));
    // The A.5.1.1 schema requires a name or a query in every participant object: an object with
    // neither (a study, a patient without a name) is named by its ID.
    if (o.query !== undefined) out.push(`<ParticipantObjectQuery>${b64(o.query)}</ParticipantObjectQuery>`);
    else out.push(`<ParticipantObjectName>${escapeXml(token(o.name !== undefined && token(o.name) !== '' ? o.name : o.id))}</ParticipantObjectName>`);
    for (const d of o.details ?? []) out.push(`<ParticipantObjectDetail${attrs([['type', d.type], ['value', b64(d.value)]])}/>`);
    if ((o.sopClasses?.length ?? 0) > 0 || (o.accessions?.length ?? 0) > 0) {
      out.push('<ParticipantObjectDescription>');
      for (const a of o.accessions ?? []) out.push(`<Accession Number="${escapeXml(token(a))}"/>`);
      for (const c of o.sopClasses ?? []) {
        const inst = (c.instances ?? []).map((i) => `<Instance UID="${escapeXml(i)}"/>`).join('');
        const open = `<SOPClass UID="${escapeXml(c.uid)}" NumberOfInstances="${c.numberOfInstances}"`;
        out.push(inst === '' ? `${open}/>` : `${open}>${inst}</SOPClass>`);
      }
      out.push('</ParticipantObjectDescription>');
    }
    out.push('</ParticipantObjectIdentification>');
  }
  out.push('</AuditMessage>');
  return out.join('');
}
