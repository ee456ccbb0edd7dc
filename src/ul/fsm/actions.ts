/**
 * PS3.8 9.2.2, Tables 9-6 … 9-9: one small function per action. Actions only talk to the outside
 * through `AssociationActions` (send a PDU, hand a primitive to the service user, ARTIM, the
 * transport), so the state machine is testable without sockets. The next state is not here: it is
 * stated once in transition-table.ts; the two conditional actions (AE-6, AR-8) return the branch.
 */
import type {
  AAbortPdu,
  AAssociateAcPdu,
  AAssociateRjPdu,
  AAssociateRqPdu,
  AReleaseRpPdu,
  AReleaseRqPdu,
  PDataTfPdu,
  Pdu,
} from '../pdu/types.js';
import { AbortReason, AbortSource, RejectReason, RejectResult, RejectSource } from '../pdu/types.js';
import type { ActionName } from './ids.js';
import type { ActionOutcome } from './transition-table.js';

/** An event of Table 9-10 with the data it carries (the PDU received, the primitive's PDU). */
export type FsmInput =
  | { readonly event: 'Evt1'; readonly pdu: AAssociateRqPdu }
  | { readonly event: 'Evt2' }
  | { readonly event: 'Evt3'; readonly pdu: AAssociateAcPdu }
  | { readonly event: 'Evt4'; readonly pdu: AAssociateRjPdu }
  | { readonly event: 'Evt5' }
  | { readonly event: 'Evt6'; readonly pdu: AAssociateRqPdu }
  | { readonly event: 'Evt7'; readonly pdu: AAssociateAcPdu }
  | { readonly event: 'Evt8'; readonly pdu: AAssociateRjPdu }
  | { readonly event: 'Evt9'; readonly pdu: PDataTfPdu }
  | { readonly event: 'Evt10'; readonly pdu: PDataTfPdu }
  | { readonly event: 'Evt11' }
  | { readonly event: 'Evt12'; readonly pdu: AReleaseRqPdu }
  | { readonly event: 'Evt13'; readonly pdu: AReleaseRpPdu }
  | { readonly event: 'Evt14' }
  | { readonly event: 'Evt15' }
  | { readonly event: 'Evt16'; readonly pdu: AAbortPdu }
  | { readonly event: 'Evt17'; readonly cause?: unknown }
  | { readonly event: 'Evt18' }
  | { readonly event: 'Evt19'; readonly reason: number; readonly cause?: unknown };

/** The event a received, well-formed PDU is (Table 9-10). */
export function receivedPduEvent(pdu: Pdu): FsmInput {
  switch (pdu.type) {
    case 'A-ASSOCIATE-RQ':
      return { event: 'Evt6', pdu };
    case 'A-ASSOCIATE-AC':
      return { event: 'Evt3', pdu };
    case 'A-ASSOCIATE-RJ':
      return { event: 'Evt4', pdu };
    case 'P-DATA-TF':
      return { event: 'Evt10', pdu };
    case 'A-RELEASE-RQ':
      return { event: 'Evt12', pdu };
    case 'A-RELEASE-RP':
      return { event: 'Evt13', pdu };
    case 'A-ABORT':
      return { event: 'Evt16', pdu };
  }
}

/** Indication and confirmation primitives the provider issues to the service user (PS3.8 7). */
export type UserPrimitive =
  | { readonly type: 'A-ASSOCIATE indication'; readonly rq: AAssociateRqPdu }
  | { readonly type: 'A-ASSOCIATE confirmation (accept)'; readonly ac: AAssociateAcPdu }
  | { readonly type: 'A-ASSOCIATE confirmation (reject)'; readonly rj: AAssociateRjPdu }
  | { readonly type: 'P-DATA indication'; readonly pdu: PDataTfPdu }
  /** `collision` is true for AR-8 (both sides requested release). */
  | { readonly type: 'A-RELEASE indication'; readonly collision: boolean }
  | { readonly type: 'A-RELEASE confirmation'; readonly collision: boolean }
  /** The peer's service user aborted (A-ABORT PDU with source 0). */
  | { readonly type: 'A-ABORT indication'; readonly source: number; readonly reason: number }
  /**
   * The service provider aborted (PS3.8 7.4): `origin` says whose provider. 'peer': an A-ABORT
   * PDU with a provider source arrived (AA-3); 'local': this provider aborted and sent an A-ABORT
   * with `reason` (AA-8); 'transport': the transport connection closed under the association (AA-4).
   */
  | {
      readonly type: 'A-P-ABORT indication';
      readonly origin: 'peer' | 'local' | 'transport';
      readonly reason: number;
      readonly cause?: unknown;
    };

/** The side effects the actions need. Implemented by the upper layer (or a test double). */
export interface AssociationActions {
  /** AE-1: open the transport connection; its completion is reported as Evt2, failure as Evt17. */
  connectTransport(): void;
  sendPdu(pdu: Pdu): void;
  closeTransport(): void;
  /** Start the ARTIM timer, restarting it if it runs; expiry is reported as Evt18. */
  startArtim(): void;
  stopArtim(): void;
  /** Hand an indication or confirmation primitive to the local service user. */
  deliver(primitive: UserPrimitive): void;
  /**
   * AE-6: the service provider's own check of an A-ASSOCIATE-RQ (not the user's negotiation):
   * undefined when acceptable, otherwise the A-ASSOCIATE-RJ to send.
   */
  checkAssociateRq(rq: AAssociateRqPdu): AAssociateRjPdu | undefined;
}

/** Per-association memory the actions share with the state machine. */
export interface AssociationContext {
  readonly io: AssociationActions;
  /** Set by Evt1 (requestor) or Evt5 (acceptor); AR-8 branches on it. */
  role: 'requestor' | 'acceptor' | undefined;
  /** The A-ASSOCIATE request of Evt1, sent by AE-2 once the transport is up. */
  associateRq: AAssociateRqPdu | undefined;
}

/**
 * The provider-level check of AE-6: only the protocol version (PS3.8 9.3.2: bit 0 must be set);
 * anything else (application context, AE titles, contexts) is the service user's decision.
 */
export function defaultCheckAssociateRq(rq: AAssociateRqPdu): AAssociateRjPdu | undefined {
  if ((rq.protocolVersion & 1) === 0) {
    return {
      type: 'A-ASSOCIATE-RJ',
      result: RejectResult.RejectedPermanent,
      source: RejectSource.ServiceProviderAcse,
      reason: RejectReason.ProtocolVersionNotSupported,
    };
  }
  return undefined;
}

/** A-ABORT PDU sent by this provider: reason from Evt19's decode error, else "unexpected PDU". */
function providerAbort(input: FsmInput): AAbortPdu {
  return {
    type: 'A-ABORT',
    source: AbortSource.ServiceProvider,
    reason: input.event === 'Evt19' ? input.reason : AbortReason.UnexpectedPdu,
  };
}

function pduOf<E extends FsmInput['event']>(input: FsmInput, event: E): Extract<FsmInput, { event: E }> {
  if (input.event !== event) throw new Error(`internal: action expected ${event}, got ${input.event}`);
  return input as Extract<FsmInput, { event: E }>;
}

type ActionFn<A extends ActionName> = (ctx: AssociationContext, input: FsmInput) => ActionOutcome<A>;

/** One function per action of Tables 9-6 … 9-9. */
export const ACTIONS: { readonly [A in ActionName]: ActionFn<A> } = {
  'AE-1': (ctx, input) => {
    ctx.role = 'requestor';
    ctx.associateRq = pduOf(input, 'Evt1').pdu;
    ctx.io.connectTransport();
  },
  'AE-2': (ctx) => {
    if (ctx.associateRq === undefined) throw new Error('internal: AE-2 without A-ASSOCIATE request');
    ctx.io.sendPdu(ctx.associateRq);
  },
  'AE-3': (ctx, input) => {
    ctx.io.deliver({ type: 'A-ASSOCIATE confirmation (accept)', ac: pduOf(input, 'Evt3').pdu });
  },
  'AE-4': (ctx, input) => {
    ctx.io.deliver({ type: 'A-ASSOCIATE confirmation (reject)', rj: pduOf(input, 'Evt4').pdu });
    ctx.io.closeTransport();
  },
  'AE-5': (ctx) => {
    // The transport connection response is implicit: the connection is already accepted.
    ctx.role = 'acceptor';
    ctx.io.startArtim();
  },
  'AE-6': (ctx, input) => {
    ctx.io.stopArtim();
    const rq = pduOf(input, 'Evt6').pdu;
    const rj = ctx.io.checkAssociateRq(rq);
    if (rj === undefined) {
      ctx.io.deliver({ type: 'A-ASSOCIATE indication', rq });
      return 'acceptable';
    }
    ctx.io.sendPdu(rj);
    ctx.io.startArtim();
    return 'rejected';
  },
  'AE-7': (ctx, input) => {
    ctx.io.sendPdu(pduOf(input, 'Evt7').pdu);
  },
  'AE-8': (ctx, input) => {
    ctx.io.sendPdu(pduOf(input, 'Evt8').pdu);
    ctx.io.startArtim();
  },
  'DT-1': (ctx, input) => {
    ctx.io.sendPdu(pduOf(input, 'Evt9').pdu);
  },
  'DT-2': (ctx, input) => {
    ctx.io.deliver({ type: 'P-DATA indication', pdu: pduOf(input, 'Evt10').pdu });
  },
  'AR-1': (ctx) => {
    ctx.io.sendPdu({ type: 'A-RELEASE-RQ' });
  },
  'AR-2': (ctx) => {
    ctx.io.deliver({ type: 'A-RELEASE indication', collision: false });
  },
  'AR-3': (ctx) => {
    ctx.io.deliver({ type: 'A-RELEASE confirmation', collision: false });
    ctx.io.closeTransport();
  },
  'AR-4': (ctx) => {
    ctx.io.sendPdu({ type: 'A-RELEASE-RP' });
    ctx.io.startArtim();
  },
  'AR-5': (ctx) => {
    ctx.io.stopArtim();
  },
  'AR-6': (ctx, input) => {
    ctx.io.deliver({ type: 'P-DATA indication', pdu: pduOf(input, 'Evt10').pdu });
  },
  'AR-7': (ctx, input) => {
    ctx.io.sendPdu(pduOf(input, 'Evt9').pdu);
  },
  'AR-8': (ctx) => {
    ctx.io.deliver({ type: 'A-RELEASE indication', collision: true });
    return ctx.role === 'requestor' ? 'requestor' : 'acceptor';
  },
  'AR-9': (ctx) => {
    ctx.io.sendPdu({ type: 'A-RELEASE-RP' });
  },
  'AR-10': (ctx) => {
    ctx.io.deliver({ type: 'A-RELEASE confirmation', collision: true });
  },
  'AA-1': (ctx, input) => {
    // Evt15 is the local user's A-ABORT request: service-user source (Table 9-26, source 0,
    // reason not significant). AA-1 is also the answer to a PDU arriving in Sta2, before any
    // service user is involved: there the provider is the one aborting, so the PDU says so.
    ctx.io.sendPdu(
      input.event === 'Evt15'
        ? { type: 'A-ABORT', source: AbortSource.ServiceUser, reason: AbortReason.NotSpecified }
        : providerAbort(input),
    );
    ctx.io.startArtim();
  },
  'AA-2': (ctx) => {
    ctx.io.stopArtim();
    ctx.io.closeTransport();
  },
  'AA-3': (ctx, input) => {
    const { source, reason } = pduOf(input, 'Evt16').pdu;
    ctx.io.deliver(
      source === AbortSource.ServiceUser
        ? { type: 'A-ABORT indication', source, reason }
        : { type: 'A-P-ABORT indication', origin: 'peer', reason },
    );
    ctx.io.closeTransport();
  },
  'AA-4': (ctx, input) => {
    ctx.io.deliver({
      type: 'A-P-ABORT indication',
      origin: 'transport',
      reason: AbortReason.NotSpecified,
      cause: input.event === 'Evt17' ? input.cause : undefined,
    });
  },
  'AA-5': (ctx) => {
    ctx.io.stopArtim();
  },
  'AA-6': () => {
    // Sta13: the association no longer exists; a PDU still in flight is ignored.
  },
  'AA-7': (ctx, input) => {
    ctx.io.sendPdu(providerAbort(input));
  },
  'AA-8': (ctx, input) => {
    const pdu = providerAbort(input);
    ctx.io.sendPdu(pdu);
    ctx.io.deliver({
      type: 'A-P-ABORT indication',
      origin: 'local',
      reason: pdu.reason,
      cause: input.event === 'Evt19' ? input.cause : undefined,
    });
    ctx.io.startArtim();
  },
};
