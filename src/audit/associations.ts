/**
 * Association events for the audit trail: every A-ASSOCIATE-AC and A-ASSOCIATE-RJ, sent or
 * received, read from the PDU channels (so a rejection by the upper layer itself — an unsupported
 * application context or protocol version, the association limit, a closing server — is seen as
 * well as one by the server's policy). The RQ that each answers is kept per upper layer.
 */
import type { AAssociateAcPdu, AAssociateRjPdu, AAssociateRqPdu, Pdu } from '../ul/pdu/types.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import { associationEvent, type AssociationFacts, type AuditSource } from './events.js';
import type { AuditMessage } from './message.js';

interface PduEvent { readonly association: UpperLayer; readonly pdu: Pdu }

export class AssociationAudit {
  readonly #record: (m: AuditMessage) => void;
  readonly #src: AuditSource;
  readonly #rq = new WeakMap<UpperLayer, AAssociateRqPdu>();
  /**
   * A rejection we sent, until the server's 'association-rejected' event (published right after
   * the RJ, in the same call) says why; one that none follows is recorded on its own.
   */
  readonly #pending = new Map<UpperLayer, AAssociateRjPdu>();

  constructor(src: AuditSource, record: (m: AuditMessage) => void) {
    this.#src = src;
    this.#record = record;
  }

  onSent({ association, pdu }: PduEvent): void {
    if (pdu.type === 'A-ASSOCIATE-RQ') { this.#rq.set(association, pdu); return; }
    if (pdu.type === 'A-ASSOCIATE-AC') { this.#answered(association, undefined, 'acceptor', pdu); return; }
    if (pdu.type !== 'A-ASSOCIATE-RJ') return;
    this.#pending.set(association, pdu);
    queueMicrotask(() => {
      if (this.#pending.get(association) !== pdu) return;
      this.#pending.delete(association);
      this.#answered(association, pdu, 'acceptor');
    });
  }

  onReceived({ association, pdu }: PduEvent): void {
    if (pdu.type === 'A-ASSOCIATE-RQ') this.#rq.set(association, pdu);
    else if (pdu.type === 'A-ASSOCIATE-AC') this.#answered(association, undefined, 'requestor', pdu);
    else if (pdu.type === 'A-ASSOCIATE-RJ') this.#answered(association, pdu, 'requestor');
  }

  /**
   * The server's policy rejected (its event carries why): the RJ waiting for it is recorded with
   * the reason; returns the RJ, or undefined when none was seen for this upper layer.
   */
  claim(association: UpperLayer | undefined): AAssociateRjPdu | undefined {
    if (association === undefined) return undefined;
    const rj = this.#pending.get(association);
    this.#pending.delete(association);
    return rj;
  }

  #answered(ul: UpperLayer, rj: AAssociateRjPdu | undefined, localRole: 'acceptor' | 'requestor', ac?: AAssociateAcPdu): void {
    const rq = this.#rq.get(ul);
    this.#rq.delete(ul);
    const transport = ul.transport;
    const remote = transport?.remoteAddress;
    const cert = transport?.tls?.peerCertificate;
    const calling = rq?.callingAeTitle.trim();
    const called = rq?.calledAeTitle.trim();
    const facts: AssociationFacts = {
      requestor: { aeTitle: calling, address: localRole === 'acceptor' ? remote : undefined },
      acceptor: { aeTitle: called, address: localRole === 'requestor' ? remote : undefined },
      localRole,
      reject: rj,
      certificateSubject: cert?.subject.replace(/\n/g, ', '),
      certificateFingerprint: cert?.fingerprint256,
      tlsProtocol: transport?.tls?.protocol,
      // An association that accepted none of the contexts asked for is accepted all the same (PS3.8 allows either): say so.
      contexts: ac === undefined ? undefined : { accepted: ac.presentationContexts.filter((c) => c.result === 0).length, proposed: rq?.presentationContexts.length ?? ac.presentationContexts.length },
    };
    this.#record(associationEvent(this.#src, facts));
  }
}
