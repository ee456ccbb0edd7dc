/**
 * PS3.8 Section 9.2 as typed data.
 *
 * - `ACTION_NEXT_STATE` is Tables 9-6 … 9-9: each action's "Next state is …", stated once, with
 *   the two conditional actions (AE-6, AR-8) naming their branches.
 * - `TRANSITION_TABLE` is Table 9-10: for each state, the action each event triggers.
 *
 * Empty cells of Table 9-10 are simply absent here; `lookupTransition` is the one place that
 * turns an absent cell into `undefined`, and the state machine is the one place that answers it
 * (see state-machine.ts). In Table 9-10 every empty cell is either a local primitive issued in a
 * state where the service user may not issue it, or a transport/timer event that cannot occur in
 * that state (no transport connection, no ARTIM timer running); no PDU event is empty in a state
 * that has a transport connection.
 */
import type { ActionName, EventId, State } from './ids.js';

/** Branching next state of a conditional action, keyed by the branch the action reports. */
export type NextState = State | { readonly [branch: string]: State };

/** PS3.8 Tables 9-6 … 9-9: the next state of each action. */
export const ACTION_NEXT_STATE = {
  'AE-1': 'Sta4',
  'AE-2': 'Sta5',
  'AE-3': 'Sta6',
  'AE-4': 'Sta1',
  'AE-5': 'Sta2',
  /** Sta3 when the A-ASSOCIATE-RQ is acceptable by the service provider, Sta13 when rejected. */
  'AE-6': { acceptable: 'Sta3', rejected: 'Sta13' },
  'AE-7': 'Sta6',
  'AE-8': 'Sta13',
  'DT-1': 'Sta6',
  'DT-2': 'Sta6',
  'AR-1': 'Sta7',
  'AR-2': 'Sta8',
  'AR-3': 'Sta1',
  'AR-4': 'Sta13',
  'AR-5': 'Sta1',
  'AR-6': 'Sta7',
  'AR-7': 'Sta8',
  /** Release collision: Sta9 on the association-requestor side, Sta10 on the acceptor side. */
  'AR-8': { requestor: 'Sta9', acceptor: 'Sta10' },
  'AR-9': 'Sta11',
  'AR-10': 'Sta12',
  'AA-1': 'Sta13',
  'AA-2': 'Sta1',
  'AA-3': 'Sta1',
  'AA-4': 'Sta1',
  'AA-5': 'Sta1',
  'AA-6': 'Sta13',
  'AA-7': 'Sta13',
  'AA-8': 'Sta13',
} as const satisfies { readonly [A in ActionName]: NextState };

/** What an action function returns: nothing for a fixed next state, the branch key otherwise. */
export type ActionOutcome<A extends ActionName> = (typeof ACTION_NEXT_STATE)[A] extends State
  ? void
  : keyof (typeof ACTION_NEXT_STATE)[A];

type Row = { readonly [E in EventId]?: ActionName };

/** PS3.8 Table 9-10, read column by column (one object per state). */
export const TRANSITION_TABLE = {
  Sta1: { Evt1: 'AE-1', Evt5: 'AE-5' },
  Sta2: {
    Evt3: 'AA-1', Evt4: 'AA-1', Evt6: 'AE-6', Evt10: 'AA-1', Evt12: 'AA-1', Evt13: 'AA-1',
    Evt16: 'AA-2', Evt17: 'AA-5', Evt18: 'AA-2', Evt19: 'AA-1',
  },
  Sta3: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt7: 'AE-7', Evt8: 'AE-8', Evt10: 'AA-8',
    Evt12: 'AA-8', Evt13: 'AA-8', Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta4: { Evt2: 'AE-2', Evt15: 'AA-2', Evt17: 'AA-4' },
  Sta5: {
    Evt3: 'AE-3', Evt4: 'AE-4', Evt6: 'AA-8', Evt10: 'AA-8', Evt12: 'AA-8', Evt13: 'AA-8',
    Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta6: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt9: 'DT-1', Evt10: 'DT-2', Evt11: 'AR-1',
    Evt12: 'AR-2', Evt13: 'AA-8', Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta7: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt10: 'AR-6', Evt12: 'AR-8', Evt13: 'AR-3',
    Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta8: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt9: 'AR-7', Evt10: 'AA-8', Evt12: 'AA-8',
    Evt13: 'AA-8', Evt14: 'AR-4', Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta9: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt10: 'AA-8', Evt12: 'AA-8', Evt13: 'AA-8',
    Evt14: 'AR-9', Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta10: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt10: 'AA-8', Evt12: 'AA-8', Evt13: 'AR-10',
    Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta11: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt10: 'AA-8', Evt12: 'AA-8', Evt13: 'AR-3',
    Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta12: {
    Evt3: 'AA-8', Evt4: 'AA-8', Evt6: 'AA-8', Evt10: 'AA-8', Evt12: 'AA-8', Evt13: 'AA-8',
    Evt14: 'AR-4', Evt15: 'AA-1', Evt16: 'AA-3', Evt17: 'AA-4', Evt19: 'AA-8',
  },
  Sta13: {
    Evt3: 'AA-6', Evt4: 'AA-6', Evt6: 'AA-7', Evt10: 'AA-6', Evt12: 'AA-6', Evt13: 'AA-6',
    Evt16: 'AA-2', Evt17: 'AR-5', Evt18: 'AA-2', Evt19: 'AA-7',
  },
} as const satisfies { readonly [S in State]: Row };

/** The action of cell (state, event), or undefined for an empty cell of Table 9-10. */
export function lookupTransition(state: State, event: EventId): ActionName | undefined {
  const row: Row = TRANSITION_TABLE[state];
  return row[event];
}

/** The possible next states of an action (one, or the branches of AE-6 / AR-8). */
export function nextStatesOf(action: ActionName): readonly State[] {
  const next: NextState = ACTION_NEXT_STATE[action];
  return typeof next === 'string' ? [next] : Object.values(next);
}
