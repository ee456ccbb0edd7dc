/**
 * AuditTrail: turns what the library publishes on its diagnostics channels into DICOM audit
 * messages (PS3.15 A.5) and hands them to an AuditSender. Nothing in the protocol layers calls
 * it (architecture: cross-cutting consumers subscribe). A subscriber runs inside the publisher's
 * call, so every handler here only records and queues: it never waits and never throws.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { hostname } from 'node:os';
import { channelNames, publish } from '../diagnostics.js';
import type { Association } from '../ae/association.js';
import type { DimseCommand } from '../dimse/messages.js';
import { TlsHandshakeError, type TlsError } from '../transport/tls/errors.js';
import type { SecureSocket } from '../transport/tls/socket.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import type { AAssociateRjPdu, Pdu } from '../ul/pdu/types.js';
import { AssociationAudit } from './associations.js';
import { identifierKeys, Outgoing, sentByStudy, type SentInstance } from './outgoing.js';
import { statusClass, StatusClass } from '../dictionary/status.js';
import { EventOutcome } from './codes.js';
import {
  applicationActivity, associationEvent, beginTransferring, instancesAccessed, instancesTransferred, query, securityAlert, userAuthentication,
  type Application, type AuditSource, type NodeAuthenticationFailure, type StudyTransfer, type Transfer,
} from './events.js';
import { auditMessageToXml, type AuditMessage } from './message.js';
import { auditContexts, type AuditSender } from './sender.js';
import { syslogMessage } from './syslog.js';
import type { RetrieveEvent } from '../services/scp/query-retrieve.js';
import type { RetrieveInstance } from '../store/query.js';

export interface AuditTrailOptions {
  /** Where messages go; without one they are only published on `channelNames.audit` ('recorded'). */
  readonly sender?: AuditSender | undefined;
  /** AuditSourceID (PS3.15 A.5.1); default the host name. */
  readonly auditSourceId?: string;
  readonly auditEnterpriseSiteId?: string;
  /** The process, for Application Activity: its name and the AE titles it serves. */
  readonly application?: Application;
  /** Our AE title, for participants before an association names one (a refused handshake). */
  readonly localAeTitle?: string;
}

interface StudyAcc { studyInstanceUid: string; action: 'C' | 'R' | 'U'; patientId?: string | undefined; patientName?: string | undefined; accessionNumber?: string | undefined; sopClasses: Map<string, string[]> }
interface AssociationAcc { association: Association; studies: Map<string, StudyAcc>; failures: number; identityRecorded: boolean }

const C_FIND_RQ = 'C-FIND-RQ';

export class AuditTrail {
  readonly #sender: AuditSender | undefined;
  readonly #src: AuditSource;
  readonly #app: Application;
  readonly #localAe: string | undefined;
  readonly #subs: [string, (m: unknown) => void][] = [];
  /** Per acceptor association (keyed by its upper layer): studies received, for A.5.3.7. */
  readonly #assocs = new Map<UpperLayer, AssociationAcc>();
  /** SOP Instance UID of a C-STORE-RQ being received → its association (until its 'stored', 'store-duplicate' or 'store-failed' event). */
  readonly #storing = new Map<string, AssociationAcc>();
  /** One Security Alert per streak of failed audit-channel handshakes, not one per retry. */
  #auditChannelAlerted = false;
  #started = false;
  readonly #associations: AssociationAudit;
  /** What associations we requested send: C-STORE instances, C-FIND and C-MOVE identifiers. */
  readonly #outgoing = new Outgoing((a, command, ts, dataset) => this.#onRequestSent(a, command, ts, dataset));
  /** C-MOVE requests we sent, by upper layer and Message ID, until their final response. */
  readonly #moves = new Map<UpperLayer, Map<number, { destination: string; studies: string[]; patientId: string | undefined }>>();
  /** Messages recorded (queued or published). */
  recorded = 0;

  constructor(options: AuditTrailOptions = {}) {
    this.#sender = options.sender;
    this.#src = { auditSourceId: options.auditSourceId ?? hostname(), auditEnterpriseSiteId: options.auditEnterpriseSiteId };
    this.#app = options.application ?? { name: `dicom-tls[${process.pid}]` };
    this.#localAe = options.localAeTitle;
    this.#associations = new AssociationAudit(this.#src, (m) => this.record(m));
  }

  /** Subscribe, send what an earlier run left queued, record Application Start. */
  start(): this {
    if (this.#started) return this;
    this.#started = true;
    this.#on(channelNames.tlsHandshakeFailed, (m) => this.#onHandshakeFailed(m as { connection: SecureSocket; error: TlsHandshakeError }));
    this.#on(channelNames.server, (m) => this.#onServer(m as { kind: string } & Record<string, unknown>));
    this.#on(channelNames.dimse, (m) => this.#onDimse(m as { association: Association; direction: 'sent' | 'received'; command: DimseCommand; presentationContextId: number }));
    this.#on(channelNames.requestDataset, (m) => this.#onRequestDataset(m as { association: Association; command: DimseCommand; transferSyntaxUid: string; dataset: Uint8Array }));
    this.#on(channelNames.association, (m) => this.#onAssociation(m as { association: UpperLayer; kind: string }));
    this.#on(channelNames.pduSent, (m) => {
      const e = m as { association: UpperLayer; pdu: Pdu };
      this.#associations.onSent(e);
      this.#outgoing.onPduSent(e.association, e.pdu);
    });
    this.#on(channelNames.pduReceived, (m) => this.#associations.onReceived(m as { association: UpperLayer; pdu: Pdu }));
    this.#on(channelNames.audit, (m) => this.#onAuditChannel(m as { kind: string } & Record<string, unknown>));
    this.#sender?.start();
    this.record(applicationActivity(this.#src, this.#app, 'start'));
    return this;
  }

  /** Record Application Stop, flush what associations still hold, unsubscribe, close the sender. */
  async stop(options: { flushTimeout?: number } = {}): Promise<void> {
    if (!this.#started) return;
    for (const acc of this.#assocs.values()) this.#flushAssociation(acc);
    this.#assocs.clear();
    for (const sent of this.#outgoing.takeAll()) this.#flushSent(sent.association, sent.instances);
    this.record(applicationActivity(this.#src, this.#app, 'stop'));
    for (const [name, fn] of this.#subs) diagnosticsChannel.unsubscribe(name, fn);
    this.#subs.length = 0;
    this.#started = false;
    await this.#sender?.close({ flush: true, timeout: options.flushTimeout ?? 5000 });
  }

  /** Encode, wrap in syslog, queue. Also published on `channelNames.audit` as { kind: 'recorded', message, xml }. */
  record(message: AuditMessage): void {
    const xml = auditMessageToXml(message);
    this.recorded++;
    publish(channelNames.audit, () => ({ kind: 'recorded', message, xml }));
    this.#sender?.send(syslogMessage(xml, message.eventDateTime));
  }

  #on(name: string, fn: (m: unknown) => void): void {
    const guarded = (m: unknown): void => {
      try { fn(m); } catch (error) { publish(channelNames.audit, () => ({ kind: 'listener-error', channel: name, error })); }
    };
    diagnosticsChannel.subscribe(name, guarded);
    this.#subs.push([name, guarded]);
  }

  #local(): { aeTitle?: string | undefined } { return { aeTitle: this.#localAe ?? this.#app.aeTitles?.[0] ?? this.#app.name }; }

  #onHandshakeFailed({ connection, error }: { connection: SecureSocket; error: TlsHandshakeError }): void {
    const ours = auditContexts.has(connection.context);
    if (ours) {
      if (this.#auditChannelAlerted) return;
      this.#auditChannelAlerted = true;
    }
    const v = error.verifyFailure;
    // Which side refused: our verify callback (OpenSSL had accepted), our side otherwise (OpenSSL's
    // verification, or an alert we sent), or the peer (its alert).
    const refusedBy = v?.refusedByCallback === true ? 'verify-callback' : v !== undefined || error.alert?.direction === 'write' ? 'local' : error.alert !== undefined ? 'peer' : undefined;
    const subject = v !== undefined ? /^Subject Name: (.*)$/m.exec(v.certificateString)?.[1] ?? subjectLine(v.certificateString) : connection.tlsInfo?.peerCertificate?.subject.replace(/\n/g, ', ');
    const f: NodeAuthenticationFailure = {
      kind: 'tls-handshake',
      peer: { address: connection.remoteAddress },
      local: this.#local(),
      localRole: connection.role === 'server' ? 'acceptor' : 'requestor',
      description: `${ours ? 'audit repository connection: ' : ''}${error.message}`,
      certificateSubject: subject,
      certificateFingerprint: v?.fingerprint256,
      x509Error: v?.errorName,
      depth: v?.depth,
      refusedBy,
    };
    const message = securityAlert(this.#src, f);
    if (ours) publish(channelNames.audit, () => ({ kind: 'local-security-alert', description: f.description, message }));
    this.record(message);
  }

  /**
   * The audit channel's own events. A streak of failures ends with a delivery: under TLS 1.3 a
   * repository refusing our certificate completes the client's handshake ('connected') first.
   */
  #onAuditChannel(m: { kind: string } & Record<string, unknown>): void {
    if (m.kind === 'delivered') { this.#auditChannelAlerted = false; return; }
    if (m.kind !== 'certificate-refused' || this.#auditChannelAlerted) return;
    this.#auditChannelAlerted = true;
    const conn = m.connection as SecureSocket;
    const error = m.error as TlsError;
    const f: NodeAuthenticationFailure = {
      kind: 'tls-handshake',
      peer: { address: conn.remoteAddress ?? (m.host as string) },
      local: this.#local(),
      localRole: 'requestor',
      description: `audit repository connection: the repository refused our certificate: ${error.message}`,
      refusedBy: 'peer',
    };
    const message = securityAlert(this.#src, f);
    publish(channelNames.audit, () => ({ kind: 'local-security-alert', description: f.description, message }));
    this.record(message);
  }

  #onServer(m: { kind: string } & Record<string, unknown>): void {
    if (m.kind === 'tls-handshake-failed') {
      // TLS refusals arrive on tlsHandshakeFailed; here only what never reached TLS (plain DICOM on the TLS port).
      if (m.error instanceof TlsHandshakeError) return;
      const peer = m.peer as { address?: string } | undefined;
      this.record(securityAlert(this.#src, {
        kind: 'tls-handshake', peer: { address: peer?.address }, local: this.#local(), localRole: 'acceptor',
        description: (m.error as Error | undefined)?.message ?? 'handshake failed', refusedBy: 'local',
      }));
      return;
    }
    if (m.kind === 'association-rejected') {
      // The policy's rejection, with its reason: recorded here instead of from the RJ alone.
      const rj = this.#associations.claim(m.association as UpperLayer | undefined) ?? (m.reject as AAssociateRjPdu);
      const check = m.check as 'certificate-binding' | 'user-identity' | undefined;
      const peer = { aeTitle: m.callingAeTitle as string, address: m.remoteAddress as string | undefined };
      const local = { aeTitle: m.calledAeTitle as string };
      const cert = m.peerCertificate as { subject: string; fingerprint256: string } | undefined;
      const transport = (m.association as UpperLayer | undefined)?.transport;
      if (check === undefined) {
        this.record(associationEvent(this.#src, {
          requestor: peer, acceptor: local, localRole: 'acceptor', reject: rj, why: m.why as string,
          certificateSubject: cert?.subject.replace(/\n/g, ', '), certificateFingerprint: cert?.fingerprint256, tlsProtocol: transport?.tls?.protocol,
        }));
        return;
      }
      const username = m.username as string | undefined;
      this.record(securityAlert(this.#src, {
        kind: check, peer, local, localRole: 'acceptor', description: m.why as string, refusedBy: 'local', reject: rj,
        certificateSubject: cert?.subject.replace(/\n/g, ', '), certificateFingerprint: cert?.fingerprint256, userIdentity: username,
      }));
      if (check === 'user-identity') this.record(userAuthentication(this.#src, username ?? 'unknown', peer, local, false, m.why as string));
      return;
    }
    if (m.kind === 'retrieve-started') { this.#onRetrieveStarted(m as unknown as RetrieveEvent); return; }
    if (m.kind === 'retrieve-failed') { this.#onRetrieveFailed(m as unknown as RetrieveEvent & { reason: string; error: unknown }); return; }
    if (m.kind === 'retrieve-done') { this.#onRetrieveDone(m as unknown as RetrieveEvent & { outcomes: readonly string[]; cancelled: boolean }); return; }
    // A.5.3.7's action: C a new instance; R a re-send kept as first stored ('store-duplicate',
    // duplicates 'keep-first': the receiver held it and changed nothing); U a held copy replaced
    // (duplicates 'overwrite'). One message per study and action.
    if (m.kind === 'stored' || m.kind === 'store-duplicate' || m.kind === 'store-failed') {
      const uid = m.sopInstanceUid as string;
      if (m.kind === 'stored' && m.replaced === true) this.#onReplaced(m);
      const acc = this.#storing.get(uid);
      this.#storing.delete(uid);
      if (acc === undefined) return;
      if (m.kind === 'store-failed') { acc.failures++; return; }
      const studyUid = (m.studyInstanceUid as string | undefined) ?? 'unknown';
      const action = m.kind === 'store-duplicate' ? 'R' : m.replaced === true ? 'U' : 'C';
      const key = `${action}\0${studyUid}`;
      let st = acc.studies.get(key);
      if (st === undefined) {
        st = { studyInstanceUid: studyUid, action, patientId: m.patientId as string | undefined, patientName: m.patientName as string | undefined, accessionNumber: m.accessionNumber as string | undefined, sopClasses: new Map() };
        acc.studies.set(key, st);
      }
      const cls = m.sopClassUid as string;
      const list = st.sopClasses.get(cls) ?? [];
      list.push(uid);
      st.sopClasses.set(cls, list);
      return;
    }
    if (m.kind === 'store-reconciled' && m.action === 'removed') this.#onReconcileRemoved(m);
  }

  /**
   * A held copy replaced under duplicates 'overwrite': the old copy is deleted — DICOM Instances
   * Accessed with action D (A.5.3.6), the sender that caused it as the requestor. The index keeps
   * only the new copy's row: the record names the study and patient of the copy that replaced it.
   */
  #onReplaced(m: Record<string, unknown>): void {
    const calling = m.callingAeTitle as string | undefined;
    this.record(instancesAccessed(this.#src,
      calling !== undefined && calling !== '' ? { aeTitle: calling } : this.#local(),
      calling !== undefined && calling !== '' ? { aeTitle: m.calledAeTitle as string | undefined } : undefined,
      this.#deletedStudy(m), 'D', new Date(), 'stored copy replaced by a re-sent instance (duplicates: overwrite)'));
  }

  /** A copy that an interrupted run left and another indexed copy supersedes, removed at start (reconcile). */
  #onReconcileRemoved(m: Record<string, unknown>): void {
    this.record(instancesAccessed(this.#src, { aeTitle: this.#app.name }, undefined, this.#deletedStudy(m), 'D', new Date(),
      `superseded copy ${m.path as string} removed at start (another copy of the instance is indexed)`));
  }

  #deletedStudy(m: Record<string, unknown>): StudyTransfer {
    const str = (k: string): string | undefined => { const v = m[k]; return typeof v === 'string' && v !== '' ? v : undefined; };
    return {
      studyInstanceUid: str('studyInstanceUid') ?? 'unknown', patientId: str('patientId'), patientName: str('patientName'), accessionNumber: str('accessionNumber'),
      sopClasses: new Map([[str('sopClassUid') ?? 'unknown', [m.sopInstanceUid as string]]]),
    };
  }

  /** Who asked for a retrieve, and whether that is the destination itself (C-GET; a C-MOVE to oneself). */
  #retrieveParties(e: RetrieveEvent): Pick<Transfer, 'source' | 'destination' | 'requestor' | 'requestorNode'> & { asker: { aeTitle: string; address?: string | undefined } } {
    const a = e.association;
    const asker = { aeTitle: a.callingAeTitle, address: a.remoteAddress };
    const self = e.command.type === 'C-GET-RQ' || e.destination.aeTitle.trim() === asker.aeTitle.trim();
    return { source: e.source, destination: e.destination, requestor: self ? 'destination' : 'other', requestorNode: self ? undefined : asker, asker };
  }

  /** A.5.3.3 Begin Transferring and A.5.3.6 Instances Accessed (read), one per study, before the first sub-operation. */
  #onRetrieveStarted(e: RetrieveEvent): void {
    const parties = this.#retrieveParties(e);
    for (const study of byStudy(e.instances)) {
      this.record(beginTransferring(this.#src, { ...parties, study }));
      this.record(instancesAccessed(this.#src, parties.asker, { aeTitle: e.association.calledAeTitle }, study, 'R'));
    }
  }

  /** A.5.3.7 for what we sent (action R), one per study: the instances the destination took. */
  #onRetrieveDone(e: RetrieveEvent & { outcomes: readonly string[]; cancelled: boolean }): void {
    const parties = this.#retrieveParties(e);
    const attempted = e.instances.slice(0, e.outcomes.length);
    const sent = attempted.filter((_, i) => e.outcomes[i] !== 'Failure');
    for (const study of byStudy(e.instances)) {
      const all = e.instances.filter((f) => f.studyInstanceUid === study.studyInstanceUid).length;
      const mine = byStudy(sent.filter((f) => f.studyInstanceUid === study.studyInstanceUid))[0];
      const got = mine === undefined ? 0 : [...mine.sopClasses.values()].reduce((n, l) => n + l.length, 0);
      if (got === all) { this.record(instancesTransferred(this.#src, { ...parties, study }, 'R')); continue; }
      // Instances not taken: the study's record lists what was sent (all it planned when nothing was).
      this.record(instancesTransferred(this.#src, {
        ...parties, study: mine ?? study,
        outcome: got === 0 ? EventOutcome.SeriousFailure : EventOutcome.MinorFailure,
        description: `${all - got} of ${all} instance(s) not transferred${e.cancelled ? '; retrieve cancelled' : ''}`,
      }, 'R'));
    }
  }

  /**
   * A C-MOVE whose destination was never reached (unknown AE title, connection refused or failed,
   * association rejected, TLS handshake refused, or the requestor's C-CANCEL before it answered): A.5.3.7 with outcome 8 (serious failure: nothing
   * was transferred), one per study of what it would have sent. A refused handshake is also its
   * own Security Alert (tlsHandshakeFailed), a rejection its association event.
   */
  #onRetrieveFailed(e: RetrieveEvent & { reason: string; error: unknown }): void {
    const parties = this.#retrieveParties(e);
    const why = e.reason === 'unknown-destination' ? `move destination ${e.destination.aeTitle} unknown`
      : e.reason === 'cancelled' ? `retrieve cancelled before move destination ${e.destination.aeTitle} was reached`
        : `cannot reach move destination ${e.destination.aeTitle}: ${(e.error as Error | undefined)?.message ?? 'error'}`;
    for (const study of byStudy(e.instances)) {
      const all = [...study.sopClasses.values()].reduce((n, l) => n + l.length, 0);
      this.record(instancesTransferred(this.#src, { ...parties, study, outcome: EventOutcome.SeriousFailure, description: `${all} of ${all} instance(s) not transferred: ${why}` }, 'R'));
    }
  }

  #acc(association: Association): AssociationAcc {
    const ul = association.upperLayer;
    let acc = this.#assocs.get(ul);
    if (acc === undefined) {
      acc = { association, studies: new Map(), failures: 0, identityRecorded: false };
      this.#assocs.set(ul, acc);
      const ui = association.info.userIdentity;
      if (association.role === 'acceptor' && ui?.username !== undefined) {
        acc.identityRecorded = true;
        this.record(userAuthentication(this.#src, ui.username, { aeTitle: association.callingAeTitle, address: association.remoteAddress }, { aeTitle: association.calledAeTitle }, true));
      }
    }
    return acc;
  }

  #onDimse({ association, direction, command, presentationContextId }: { association: Association; direction: 'sent' | 'received'; command: DimseCommand; presentationContextId: number }): void {
    this.#outgoing.onDimse(association, direction, command, presentationContextId);
    if (association.role === 'requestor') {
      // C-GET: the peer's C-STORE sub-operations arrive on the association we requested.
      if (direction === 'received' && command.type === 'C-STORE-RQ') this.#storing.set(command.affectedSopInstanceUid, this.#acc(association));
      if (direction === 'received' && command.type === 'C-MOVE-RSP' && statusClass(command.status) !== StatusClass.Pending) this.#onMoveDone(association, command);
      return;
    }
    const acc = this.#acc(association);
    if (direction === 'received' && command.type === 'C-STORE-RQ') this.#storing.set(command.affectedSopInstanceUid, acc);
  }

  /** A C-FIND or C-MOVE identifier we sent: a Query (A.5.3.10) with us as the Source; a C-MOVE's keys kept for its record. */
  #onRequestSent(association: Association, command: DimseCommand, transferSyntaxUid: string, dataset: Uint8Array): void {
    if (command.type === 'C-FIND-RQ') {
      this.record(query(this.#src, {
        source: { aeTitle: association.callingAeTitle },
        destination: { aeTitle: association.calledAeTitle, address: association.remoteAddress },
        sopClassUid: command.affectedSopClassUid, dataset, transferSyntaxUid,
      }));
      return;
    }
    if (command.type !== 'C-MOVE-RQ') return;
    const ul = association.upperLayer;
    const moves = this.#moves.get(ul) ?? new Map();
    moves.set(command.messageId, { destination: command.moveDestination.trim(), ...identifierKeys(dataset, transferSyntaxUid) });
    this.#moves.set(ul, moves);
  }

  /**
   * The final C-MOVE-RSP of a move we asked for: DICOM Instances Transferred (A.5.3.7, action R:
   * we are not the receiver) from the peer (Source) to the move destination (Destination), us as
   * the requestor, one message per Study Instance UID of the identifier. The responses carry
   * counts, not instances: the study lists no SOP classes, the description gives the counts.
   */
  #onMoveDone(association: Association, command: DimseCommand & { type: 'C-MOVE-RSP' }): void {
    const moves = this.#moves.get(association.upperLayer);
    const move = moves?.get(command.messageIdBeingRespondedTo);
    if (move === undefined) return;
    moves!.delete(command.messageIdBeingRespondedTo);
    const completed = command.numberOfCompletedSuboperations ?? 0;
    const warning = command.numberOfWarningSuboperations ?? 0;
    const failed = command.numberOfFailedSuboperations ?? 0;
    const refused = statusClass(command.status) === StatusClass.Failure;
    const outcome = completed + warning === 0 && (failed > 0 || refused) ? EventOutcome.SeriousFailure : failed > 0 || refused ? EventOutcome.MinorFailure : EventOutcome.Success;
    const description = `C-MOVE to ${move.destination}: completed ${completed}, warnings ${warning}, failed ${failed}; status 0x${command.status.toString(16).padStart(4, '0')}${command.errorComment !== undefined ? ` (${command.errorComment})` : ''}`;
    for (const uid of move.studies.length > 0 ? move.studies : ['unknown']) {
      this.record(instancesTransferred(this.#src, {
        source: { aeTitle: association.calledAeTitle, address: association.remoteAddress },
        destination: { aeTitle: move.destination },
        requestor: 'other',
        requestorNode: { aeTitle: association.callingAeTitle },
        study: { studyInstanceUid: uid, patientId: move.patientId, sopClasses: new Map() },
        outcome, description,
      }, 'R'));
    }
  }

  #onRequestDataset({ association, command, transferSyntaxUid, dataset }: { association: Association; command: DimseCommand; transferSyntaxUid: string; dataset: Uint8Array }): void {
    if (association.role !== 'acceptor' || command.type !== C_FIND_RQ) return;
    this.record(query(this.#src, {
      source: { aeTitle: association.callingAeTitle, address: association.remoteAddress },
      destination: { aeTitle: association.calledAeTitle },
      sopClassUid: command.affectedSopClassUid,
      dataset,
      transferSyntaxUid,
    }));
  }

  #onAssociation({ association, kind }: { association: UpperLayer; kind: string }): void {
    if (kind !== 'released' && kind !== 'aborted') return;
    this.#moves.delete(association);
    const sent = this.#outgoing.take(association);
    if (sent !== undefined) this.#flushSent(sent.association, sent.instances, kind === 'aborted');
    const acc = this.#assocs.get(association);
    if (acc === undefined) return;
    this.#assocs.delete(association);
    this.#flushAssociation(acc, kind === 'aborted');
  }

  /** A.5.3.7, one message per study received on the association. */
  #flushAssociation(acc: AssociationAcc, aborted = false): void {
    const a = acc.association;
    // Received on an association the peer requested (C-STORE SCU), or on one we requested (C-GET).
    const theyAsked = a.role === 'acceptor';
    const peer = { aeTitle: theyAsked ? a.callingAeTitle : a.calledAeTitle, address: a.remoteAddress };
    const us = { aeTitle: theyAsked ? a.calledAeTitle : a.callingAeTitle };
    for (const s of acc.studies.values()) {
      const study: StudyTransfer = { studyInstanceUid: s.studyInstanceUid, patientId: s.patientId, patientName: s.patientName, accessionNumber: s.accessionNumber, sopClasses: s.sopClasses };
      const failed = acc.failures > 0 || aborted;
      this.record(instancesTransferred(this.#src, {
        source: peer,
        destination: us,
        requestor: theyAsked ? 'source' : 'destination',
        study,
        outcome: failed ? EventOutcome.MinorFailure : EventOutcome.Success,
        description: failed ? `${acc.failures} instance(s) not stored${aborted ? '; association aborted' : ''}` : undefined,
      }, s.action));
    }
    for (const [uid, v] of this.#storing) if (v === acc) this.#storing.delete(uid);
  }

  /**
   * A.5.3.7 for what an association we requested sent by C-STORE: us the Source (and requestor),
   * the peer the Destination, action R (we are not the receiver), one message per study listing
   * what the peer took; outcome 4 when some were not taken, 8 when none were.
   */
  #flushSent(a: Association, instances: readonly SentInstance[], aborted = false): void {
    for (const { study, all, taken } of sentByStudy(instances)) {
      const outcome = taken === all ? EventOutcome.Success : taken === 0 ? EventOutcome.SeriousFailure : EventOutcome.MinorFailure;
      this.record(instancesTransferred(this.#src, {
        source: { aeTitle: a.callingAeTitle },
        destination: { aeTitle: a.calledAeTitle, address: a.remoteAddress },
        requestor: 'source',
        study,
        outcome,
        description: taken === all ? undefined : `${all - taken} of ${all} instance(s) not taken by ${a.calledAeTitle}${aborted ? '; association aborted' : ''}`,
      }, 'R'));
    }
  }
}

/** Retrieved instances grouped by study, in the order found. */
function byStudy(instances: readonly RetrieveInstance[]): StudyTransfer[] {
  const studies = new Map<string, { studyInstanceUid: string; patientId: string; patientName: string; accessionNumber: string; sopClasses: Map<string, string[]> }>();
  for (const f of instances) {
    let s = studies.get(f.studyInstanceUid);
    if (s === undefined) {
      s = { studyInstanceUid: f.studyInstanceUid, patientId: f.patientId, patientName: f.patientName, accessionNumber: f.accessionNumber, sopClasses: new Map() };
      studies.set(f.studyInstanceUid, s);
    }
    const list = s.sopClasses.get(f.SOPClassUID) ?? [];
    list.push(f.SOPInstanceUID);
    s.sopClasses.set(f.SOPClassUID, list);
  }
  return [...studies.values()];
}

function subjectLine(certificateString: string): string | undefined {
  return /subject\s*[=:]\s*(.*)$/im.exec(certificateString)?.[1];
}
