/** A recording AssociationActions double and helpers to drive the state machine into any state. */
import type { AssociationActions, FsmInput, UserPrimitive } from '../../../src/ul/fsm/actions.js';
import { defaultCheckAssociateRq } from '../../../src/ul/fsm/actions.js';
import type { EventId, State } from '../../../src/ul/fsm/ids.js';
import { StateMachine, type Transition } from '../../../src/ul/fsm/state-machine.js';
import type { AAssociateRqPdu, Pdu } from '../../../src/ul/pdu/types.js';
import { userInformation } from '../../helpers/user-information.js';

export type Effect =
  | { kind: 'connect' }
  | { kind: 'send'; pdu: Pdu }
  | { kind: 'close' }
  | { kind: 'artim-start' }
  | { kind: 'artim-stop' }
  | { kind: 'deliver'; primitive: UserPrimitive };

export class RecordingActions implements AssociationActions {
  effects: Effect[] = [];
  check: (rq: AAssociateRqPdu) => ReturnType<AssociationActions['checkAssociateRq']> = defaultCheckAssociateRq;
  connectTransport(): void {
    this.effects.push({ kind: 'connect' });
  }
  sendPdu(pdu: Pdu): void {
    this.effects.push({ kind: 'send', pdu });
  }
  closeTransport(): void {
    this.effects.push({ kind: 'close' });
  }
  startArtim(): void {
    this.effects.push({ kind: 'artim-start' });
  }
  stopArtim(): void {
    this.effects.push({ kind: 'artim-stop' });
  }
  deliver(primitive: UserPrimitive): void {
    this.effects.push({ kind: 'deliver', primitive });
  }
  checkAssociateRq(rq: AAssociateRqPdu) {
    return this.check(rq);
  }
  take(): Effect[] {
    const e = this.effects;
    this.effects = [];
    return e;
  }
}

const UI = userInformation({ maximumLength: 16384, implementationClassUid: '1.2.3.4' });

export const rq: AAssociateRqPdu = {
  type: 'A-ASSOCIATE-RQ',
  protocolVersion: 1,
  calledAeTitle: 'CALLED',
  callingAeTitle: 'CALLING',
  applicationContextName: '1.2.840.10008.3.1.1.1',
  presentationContexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
  userInformation: UI,
};

/** A representative input for each event of Table 9-10. */
export function sampleInput(event: EventId): FsmInput {
  switch (event) {
    case 'Evt1':
      return { event, pdu: rq };
    case 'Evt3':
    case 'Evt7':
      return {
        event,
        pdu: {
          type: 'A-ASSOCIATE-AC',
          protocolVersion: 1,
          calledAeTitle: 'CALLED',
          callingAeTitle: 'CALLING',
          applicationContextName: '1.2.840.10008.3.1.1.1',
          presentationContexts: [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }],
          userInformation: UI,
        },
      };
    case 'Evt4':
    case 'Evt8':
      return { event, pdu: { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 1 } };
    case 'Evt6':
      return { event, pdu: rq };
    case 'Evt9':
    case 'Evt10':
      return {
        event,
        pdu: { type: 'P-DATA-TF', pdvs: [{ presentationContextId: 1, isCommand: true, isLast: true, data: new Uint8Array([1, 2]) }] },
      };
    case 'Evt12':
      return { event, pdu: { type: 'A-RELEASE-RQ' } };
    case 'Evt13':
      return { event, pdu: { type: 'A-RELEASE-RP' } };
    case 'Evt16':
      return { event, pdu: { type: 'A-ABORT', source: 0, reason: 0 } };
    case 'Evt19':
      return { event, reason: 1 };
    case 'Evt2':
    case 'Evt5':
    case 'Evt11':
    case 'Evt14':
    case 'Evt15':
    case 'Evt17':
    case 'Evt18':
      return { event };
  }
}

/** The event path that leads from Sta1 to each state (every state is reachable). */
export const PATH_TO: { readonly [S in State]: readonly EventId[] } = {
  Sta1: [],
  Sta2: ['Evt5'],
  Sta3: ['Evt5', 'Evt6'],
  Sta4: ['Evt1'],
  Sta5: ['Evt1', 'Evt2'],
  Sta6: ['Evt1', 'Evt2', 'Evt3'],
  Sta7: ['Evt1', 'Evt2', 'Evt3', 'Evt11'],
  Sta8: ['Evt1', 'Evt2', 'Evt3', 'Evt12'],
  Sta9: ['Evt1', 'Evt2', 'Evt3', 'Evt11', 'Evt12'],
  Sta10: ['Evt5', 'Evt6', 'Evt7', 'Evt11', 'Evt12'],
  Sta11: ['Evt1', 'Evt2', 'Evt3', 'Evt11', 'Evt12', 'Evt14'],
  Sta12: ['Evt5', 'Evt6', 'Evt7', 'Evt11', 'Evt12', 'Evt13'],
  Sta13: ['Evt5', 'Evt6', 'Evt8'],
};

export function machineIn(state: State): { sm: StateMachine; io: RecordingActions; transitions: Transition[] } {
  const io = new RecordingActions();
  const transitions: Transition[] = [];
  const sm = new StateMachine(io, { onTransition: (t) => transitions.push(t) });
  for (const e of PATH_TO[state]) sm.dispatch(sampleInput(e));
  if (sm.state !== state) throw new Error(`path to ${state} ended in ${sm.state}`);
  io.take();
  transitions.length = 0;
  return { sm, io, transitions };
}
