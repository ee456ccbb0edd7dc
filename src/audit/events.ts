/**
 * Builders for the audit messages this toolkit emits, one per PS3.15 A.5.3 message. Each takes
 * plain facts and returns an AuditMessage with the field values A.5.3 prescribes.
 */
import { isIP } from 'node:net';
import { describeRejection } from '../ul/reject-reasons.js';
import {
  AuditSourceTypeCode, EventActionCode, EventId, EventOutcome, EventTypeCode, ExtensionEventTypeCode, NetworkAccessPointTypeCode,
  ParticipantObjectIdTypeCode, ParticipantObjectTypeCode, ParticipantObjectTypeCodeRole, RoleIdCode,
} from './codes.js';
import type { ActiveParticipant, AuditMessage, ParticipantObject } from './message.js';

/** Who reports: AuditSourceIdentification (A.5.1). */
export interface AuditSource {
  readonly auditSourceId: string;
  readonly auditEnterpriseSiteId?: string | undefined;
}

/** A DICOM node as an ActiveParticipant: its AE title and network address. */
export interface Node {
  /** AE title, or a process identity when there is none yet (before an A-ASSOCIATE-RQ). */
  readonly aeTitle?: string | undefined;
  readonly address?: string | undefined;
}

function source(s: AuditSource): AuditMessage['auditSource'] {
  return { auditSourceId: s.auditSourceId, auditEnterpriseSiteId: s.auditEnterpriseSiteId, typeCode: AuditSourceTypeCode.ApplicationServer };
}

/** NetworkAccessPointTypeCode: 2 for an IP address, 1 for a host name (A.5.1). */
/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; the record names the IPv4 address. */
function plainAddress(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

function nap(address: string | undefined): Pick<ActiveParticipant, 'networkAccessPointId' | 'networkAccessPointTypeCode'> {
  if (address === undefined || address === '') return {};
  const a = plainAddress(address)!;
  return { networkAccessPointId: a, networkAccessPointTypeCode: isIP(a) !== 0 ? NetworkAccessPointTypeCode.IpAddress : NetworkAccessPointTypeCode.MachineName };
}

function participant(node: Node, requestor: boolean, role?: typeof RoleIdCode[keyof typeof RoleIdCode]): ActiveParticipant {
  const userId = node.aeTitle !== undefined && node.aeTitle !== '' ? node.aeTitle : (plainAddress(node.address) ?? 'unknown');
  return {
    userId,
    // A.5.2.2: an AE title also appears as AlternativeUserID "AETITLES=…".
    alternativeUserId: node.aeTitle !== undefined && node.aeTitle !== '' ? `AETITLES=${node.aeTitle}` : undefined,
    userIsRequestor: requestor,
    ...nap(node.address),
    roleIdCodes: role === undefined ? [] : [role],
  };
}

/** The process itself (A.5.3.1 "Application started"): process id and the AE titles it serves. */
export interface Application {
  readonly name: string;
  readonly aeTitles?: readonly string[];
  readonly launcher?: string | undefined;
}

/** A.5.3.1 Application Activity: start or stop of `serve` or of a long CLI run. */
export function applicationActivity(src: AuditSource, app: Application, what: 'start' | 'stop', at = new Date()): AuditMessage {
  const ps: ActiveParticipant[] = [{
    userId: app.name,
    alternativeUserId: app.aeTitles !== undefined && app.aeTitles.length > 0 ? `AETITLES=${app.aeTitles.join(';')}` : undefined,
    userIsRequestor: false,
    roleIdCodes: [RoleIdCode.Application],
  }];
  if (app.launcher !== undefined) ps.push({ userId: app.launcher, userIsRequestor: true, roleIdCodes: [RoleIdCode.ApplicationLauncher] });
  return {
    eventId: EventId.ApplicationActivity,
    eventTypeCodes: [what === 'start' ? EventTypeCode.ApplicationStart : EventTypeCode.ApplicationStop],
    eventActionCode: EventActionCode.Execute,
    eventDateTime: at,
    eventOutcomeIndicator: EventOutcome.Success,
    activeParticipants: ps,
    auditSource: source(src),
  };
}

/** Facts of a refused node authentication (a TLS handshake, an identity, a certificate binding). */
export interface NodeAuthenticationFailure {
  readonly kind: 'tls-handshake' | 'user-identity' | 'certificate-binding';
  /** The node that tried to authenticate. */
  readonly peer: Node;
  /** Us. */
  readonly local: Node;
  /** We accepted the connection (the peer is the requestor) or opened it. */
  readonly localRole: 'acceptor' | 'requestor';
  readonly description: string;
  readonly certificateSubject?: string | undefined;
  /** SHA-256 fingerprint, colon-separated hex, as OpenSSL prints it. */
  readonly certificateFingerprint?: string | undefined;
  readonly x509Error?: string | undefined;
  readonly depth?: number | undefined;
  /** 'verify-callback': our verify callback refused a certificate OpenSSL accepted; 'local': our side (OpenSSL's verification, our policy, an alert we sent); 'peer': the peer's alert. */
  readonly refusedBy?: 'verify-callback' | 'local' | 'peer' | undefined;
  readonly userIdentity?: string | undefined;
  /** The A-ASSOCIATE-RJ that carried the refusal, when it was an association's (its result, source, reason are recorded). */
  readonly reject?: { readonly result: number; readonly source: number; readonly reason: number } | undefined;
  readonly at?: Date;
}

/** ParticipantObjectDetail pairs of an A-ASSOCIATE-RJ: the three numbers and the standard's words (PS3.8 Table 9-21). */
function rejectDetails(rj: { result: number; source: number; reason: number }): { type: string; value: string }[] {
  const d = describeRejection(rj.result, rj.source, rj.reason);
  return [
    { type: 'RejectResult', value: `${rj.result} ${d.result}` },
    { type: 'RejectSource', value: `${rj.source} ${d.source}` },
    { type: 'RejectReason', value: `${rj.reason} ${d.reason}` },
  ];
}

/** "A-ASSOCIATE-RJ result 1 (rejected-permanent), source 1 (service-user), reason 3 (calling-AE-title-not-recognized)". */
export function rejectText(rj: { result: number; source: number; reason: number }): string {
  const d = describeRejection(rj.result, rj.source, rj.reason);
  return `A-ASSOCIATE-RJ result ${rj.result} (${d.result}), source ${rj.source} (${d.source}), reason ${rj.reason} (${d.reason})`;
}

/**
 * A.5.3.11 Security Alert, EventTypeCode 110126 Node Authentication, outcome 4 (the attempt failed;
 * the node keeps working). The alert subject is the peer node (110182 Node ID) and the facts are
 * ParticipantObjectDetail pairs so a repository can index them.
 */
export function securityAlert(src: AuditSource, f: NodeAuthenticationFailure): AuditMessage {
  const details: { type: string; value: string }[] = [{ type: 'Failure', value: f.kind }];
  const add = (type: string, value: string | number | undefined): void => { if (value !== undefined) details.push({ type, value: String(value) }); };
  add('CertificateSubject', f.certificateSubject);
  add('CertificateSHA256', f.certificateFingerprint);
  add('X509Error', f.x509Error);
  add('X509ErrorDepth', f.depth);
  add('RefusedBy', f.refusedBy);
  add('UserIdentity', f.userIdentity);
  if (f.reject !== undefined) details.push(...rejectDetails(f.reject));
  const peerId = plainAddress(f.peer.address) ?? f.peer.aeTitle ?? 'unknown';
  return {
    eventId: EventId.SecurityAlert,
    eventTypeCodes: f.reject !== undefined ? [EventTypeCode.NodeAuthentication, ExtensionEventTypeCode.AssociationRejected] : [EventTypeCode.NodeAuthentication],
    eventActionCode: EventActionCode.Execute,
    eventDateTime: f.at ?? new Date(),
    eventOutcomeIndicator: EventOutcome.MinorFailure,
    eventOutcomeDescription: f.reject !== undefined ? `${rejectText(f.reject)}: ${f.description}` : f.description,
    activeParticipants: [
      // The reporting process (us) and the performing node (the peer that tried).
      participant(f.local, f.localRole === 'requestor'),
      participant(f.peer, f.localRole === 'acceptor'),
    ],
    auditSource: source(src),
    participantObjects: [{
      id: peerId,
      idTypeCode: ParticipantObjectIdTypeCode.NodeId,
      typeCode: ParticipantObjectTypeCode.SystemObject,
      typeCodeRole: ParticipantObjectTypeCodeRole.SecurityResource,
      name: f.certificateSubject,
      details,
    }],
  };
}

/** An association accepted or rejected: who asked, who answered, and for a rejection the RJ and why. */
export interface AssociationFacts {
  /** The association requestor (calling AE title) and the acceptor (called AE title), with their addresses when known. */
  readonly requestor: Node;
  readonly acceptor: Node;
  /** Our side: we accepted (or rejected) the request, or we asked. */
  readonly localRole: 'acceptor' | 'requestor';
  readonly reject?: { readonly result: number; readonly source: number; readonly reason: number } | undefined;
  /** Why, in words, when known (our policy's reason). */
  readonly why?: string | undefined;
  readonly certificateSubject?: string | undefined;
  readonly certificateFingerprint?: string | undefined;
  /** The TLS version, when the association runs over TLS. */
  readonly tlsProtocol?: string | undefined;
  /** Accepted: how many of the proposed presentation contexts were accepted. */
  readonly contexts?: { readonly accepted: number; readonly proposed: number } | undefined;
  readonly at?: Date;
}

/** Rejections that refuse the node's identity (PS3.8 Table 9-21, source 1): calling or called AE title not recognized. */
const AUTHENTICATION_REASONS = new Set([3, 7]);

/**
 * An association event as a Security Alert (A.5.3.11): the DICOM audit message set has no message
 * of its own for associations. Accepted: outcome 0 with (110126, DCM, "Node Authentication") — the
 * standard's Security Alert reports node authentication successes as well as failures — and the
 * extension code Association Accepted. Rejected: outcome 4, the extension code Association
 * Rejected, and Node Authentication too when the rejection refused the node's AE title. The alert
 * subject is the peer node (110182 Node ID) with the association's facts as details.
 */
export function associationEvent(src: AuditSource, f: AssociationFacts): AuditMessage {
  const peer = f.localRole === 'acceptor' ? f.requestor : f.acceptor;
  const details: { type: string; value: string }[] = [
    { type: 'Association', value: f.reject === undefined ? 'accepted' : 'rejected' },
    { type: 'CallingAETitle', value: f.requestor.aeTitle ?? '' },
    { type: 'CalledAETitle', value: f.acceptor.aeTitle ?? '' },
    { type: 'RejectedBy', value: f.reject === undefined ? '' : f.localRole === 'acceptor' ? 'local' : 'peer' },
  ].filter((d) => d.value !== '');
  if (f.reject !== undefined) details.push(...rejectDetails(f.reject));
  if (f.certificateSubject !== undefined) details.push({ type: 'CertificateSubject', value: f.certificateSubject });
  if (f.certificateFingerprint !== undefined) details.push({ type: 'CertificateSHA256', value: f.certificateFingerprint });
  if (f.tlsProtocol !== undefined) details.push({ type: 'TLS', value: f.tlsProtocol });
  if (f.contexts !== undefined) details.push({ type: 'PresentationContexts', value: `${f.contexts.accepted} of ${f.contexts.proposed} accepted` });
  const rejected = f.reject !== undefined;
  const authentication = !rejected || (f.reject!.source === 1 && AUTHENTICATION_REASONS.has(f.reject!.reason));
  return {
    eventId: EventId.SecurityAlert,
    eventTypeCodes: [
      ...(authentication ? [EventTypeCode.NodeAuthentication] : []),
      rejected ? ExtensionEventTypeCode.AssociationRejected : ExtensionEventTypeCode.AssociationAccepted,
    ],
    eventActionCode: EventActionCode.Execute,
    eventDateTime: f.at ?? new Date(),
    eventOutcomeIndicator: rejected ? EventOutcome.MinorFailure : EventOutcome.Success,
    eventOutcomeDescription: rejected
      ? `${rejectText(f.reject!)}${f.why !== undefined && f.why !== '' ? `: ${f.why}` : ''}`
      : `association accepted: ${f.requestor.aeTitle ?? '?'} → ${f.acceptor.aeTitle ?? '?'}`,
    activeParticipants: [participant(f.requestor, true), participant(f.acceptor, false)],
    auditSource: source(src),
    participantObjects: [{
      id: plainAddress(peer.address) ?? peer.aeTitle ?? 'unknown',
      idTypeCode: ParticipantObjectIdTypeCode.NodeId,
      typeCode: ParticipantObjectTypeCode.SystemObject,
      typeCodeRole: ParticipantObjectTypeCodeRole.SecurityResource,
      name: f.certificateSubject ?? peer.aeTitle,
      details,
    }],
  };
}

/** A.5.3.12 User Authentication: a user identity (PS3.7 D.3.3.7) accepted or refused. */
export function userAuthentication(src: AuditSource, user: string, node: Node, local: Node, accepted: boolean, description?: string, at = new Date()): AuditMessage {
  return {
    eventId: EventId.UserAuthentication,
    eventTypeCodes: [EventTypeCode.Login],
    eventActionCode: EventActionCode.Execute,
    eventDateTime: at,
    eventOutcomeIndicator: accepted ? EventOutcome.Success : EventOutcome.MinorFailure,
    eventOutcomeDescription: description,
    activeParticipants: [
      { userId: user, userIsRequestor: true, ...nap(node.address) },
      participant(local, false),
    ],
    auditSource: source(src),
  };
}

/** One study's share of a transfer: its patient and the SOP classes with instance counts. */
export interface StudyTransfer {
  readonly studyInstanceUid: string;
  readonly patientId?: string | undefined;
  readonly patientName?: string | undefined;
  readonly accessionNumber?: string | undefined;
  readonly sopClasses: ReadonlyMap<string, readonly string[]>;
}

function studyObjects(s: StudyTransfer, withInstances: boolean): ParticipantObject[] {
  const objects: ParticipantObject[] = [{
    id: s.studyInstanceUid,
    idTypeCode: ParticipantObjectIdTypeCode.StudyInstanceUid,
    typeCode: ParticipantObjectTypeCode.SystemObject,
    typeCodeRole: ParticipantObjectTypeCodeRole.Report,
    accessions: s.accessionNumber !== undefined && s.accessionNumber !== '' ? [s.accessionNumber] : [],
    sopClasses: [...s.sopClasses].map(([uid, instances]) => ({ uid, numberOfInstances: instances.length, instances: withInstances ? instances : [] })),
  }];
  // A.5.3.7: the patient object is required; an instance without Patient ID still names one.
  objects.push({
    id: s.patientId !== undefined && s.patientId !== '' ? s.patientId : 'unknown',
    idTypeCode: ParticipantObjectIdTypeCode.PatientNumber,
    typeCode: ParticipantObjectTypeCode.Person,
    typeCodeRole: ParticipantObjectTypeCodeRole.Patient,
    name: s.patientName !== undefined && s.patientName !== '' ? s.patientName : undefined,
  });
  return objects;
}

export interface Transfer {
  readonly source: Node;
  readonly destination: Node;
  /** Which side asked: the association requestor (C-STORE SCU, or C-MOVE/C-GET SCU); 'other' a third node (a C-MOVE SCU that is not the destination). */
  readonly requestor: 'source' | 'destination' | 'other';
  /** The third node that asked, when `requestor` is 'other' (A.5.3.7 "other participants … the requestor"). */
  readonly requestorNode?: Node | undefined;
  readonly study: StudyTransfer;
  readonly outcome?: typeof EventOutcome[keyof typeof EventOutcome];
  readonly description?: string | undefined;
  readonly at?: Date;
}

/**
 * A.5.3.7 DICOM Instances Transferred, one message per study. `action`: C the receiver that did
 * not hold them; R the sender (or a receiver that held them and changed nothing); U a receiver
 * that replaced the copies it held.
 */
export function instancesTransferred(src: AuditSource, t: Transfer, action: 'C' | 'R' | 'U'): AuditMessage {
  return {
    eventId: EventId.DicomInstancesTransferred,
    eventActionCode: action,
    eventDateTime: t.at ?? new Date(),
    eventOutcomeIndicator: t.outcome ?? EventOutcome.Success,
    eventOutcomeDescription: t.description,
    activeParticipants: [
      participant(t.source, t.requestor === 'source', RoleIdCode.Source),
      participant(t.destination, t.requestor === 'destination', RoleIdCode.Destination),
      ...(t.requestor === 'other' && t.requestorNode !== undefined ? [participant(t.requestorNode, true)] : []),
    ],
    auditSource: source(src),
    participantObjects: studyObjects(t.study, true),
  };
}

/** A.5.3.3 Begin Transferring DICOM Instances: the sender starts a study. */
export function beginTransferring(src: AuditSource, t: Transfer): AuditMessage {
  return { ...instancesTransferred(src, t, 'R'), eventId: EventId.BeginTransferringDicomInstances, eventActionCode: EventActionCode.Execute };
}

/**
 * A.5.3.6 DICOM Instances Accessed: instances read from the store for a retrieve (R), or deleted
 * from it (D). `local` undefined: the process itself did it (one participant, the requestor).
 */
export function instancesAccessed(src: AuditSource, requestor: Node, local: Node | undefined, study: StudyTransfer, action: 'R' | 'D' = 'R', at = new Date(), description?: string): AuditMessage {
  return {
    eventId: EventId.DicomInstancesAccessed,
    eventActionCode: action,
    eventDateTime: at,
    eventOutcomeIndicator: EventOutcome.Success,
    eventOutcomeDescription: description,
    activeParticipants: local === undefined ? [participant(requestor, true)] : [participant(requestor, true), participant(local, false)],
    auditSource: source(src),
    participantObjects: studyObjects(study, action === 'D'),
  };
}

export interface QueryFacts {
  readonly source: Node;
  readonly destination: Node;
  readonly sopClassUid: string;
  /** The identifier exactly as received (A.5.3.10: ParticipantObjectQuery, base64). */
  readonly dataset: Uint8Array;
  readonly transferSyntaxUid: string;
  readonly at?: Date;
}

/** A.5.3.10 Query: the C-FIND identifier, base64, with the transfer syntax it was encoded in. */
export function query(src: AuditSource, q: QueryFacts): AuditMessage {
  return {
    eventId: EventId.Query,
    eventActionCode: EventActionCode.Execute,
    eventDateTime: q.at ?? new Date(),
    eventOutcomeIndicator: EventOutcome.Success,
    activeParticipants: [participant(q.source, true, RoleIdCode.Source), participant(q.destination, false, RoleIdCode.Destination)],
    auditSource: source(src),
    participantObjects: [{
      id: q.sopClassUid,
      idTypeCode: ParticipantObjectIdTypeCode.SopClassUid,
      typeCode: ParticipantObjectTypeCode.SystemObject,
      typeCodeRole: ParticipantObjectTypeCodeRole.Report,
      query: q.dataset,
      details: [{ type: 'TransferSyntax', value: q.transferSyntaxUid }],
    }],
  };
}
