/**
 * The PS3.8 9.2 DICOM upper layer protocol machine of one association: the current state, and
 * `dispatch` that looks an event up in Table 9-10, runs the action and moves to the next state.
 * Each transition is published on the `stateTransition` diagnostics channel.
 */
import { channel, channelNames } from '../../diagnostics.js';
import type { AssociationActions, AssociationContext, FsmInput } from './actions.js';
import { ACTIONS } from './actions.js';
import { InvalidStateEventError } from './errors.js';
import type { ActionName, EventId, State } from './ids.js';
import { ACTION_NEXT_STATE, lookupTransition, type NextState } from './transition-table.js';

/** One transition taken: the row of Table 9-10 that applied. */
export interface Transition {
  readonly from: State;
  readonly event: EventId;
  readonly action: ActionName;
  readonly to: State;
}

export interface StateMachineOptions {
  /** What diagnostics messages name as `association` (the upper layer passes itself). */
  readonly association?: unknown;
  /** Called after every transition (after the diagnostics publish). */
  readonly onTransition?: (transition: Transition) => void;
}

export class StateMachine {
  #state: State = 'Sta1';
  readonly #ctx: AssociationContext;
  readonly #association: unknown;
  readonly #onTransition: ((t: Transition) => void) | undefined;
  /** Events raised by actions while an action runs wait here, so each action runs to completion. */
  readonly #queue: FsmInput[] = [];
  #running = false;

  constructor(io: AssociationActions, options: StateMachineOptions = {}) {
    this.#ctx = { io, role: undefined, associateRq: undefined };
    this.#association = options.association;
    this.#onTransition = options.onTransition;
  }

  get state(): State {
    return this.#state;
  }

  /** 'requestor' after Evt1, 'acceptor' after Evt5. */
  get role(): 'requestor' | 'acceptor' | undefined {
    return this.#ctx.role;
  }

  /**
   * True in Sta6 with no action running and nobody subscribed to the `stateTransition` channel:
   * a P-DATA-TF sent (Evt9, DT-1) or received (Evt10, DT-2) then leaves the state as it is, and
   * the caller may run the action itself: the upper layer does, for the two P-DATA-TFs of every
   * small message, without the table lookups, the action call and the transition record that
   * `dispatch` makes for them. Such a transition is not passed to `onTransition`.
   */
  get inDataTransfer(): boolean {
    return this.#state === 'Sta6' && !this.#running && !stateTransitionChannel.hasSubscribers;
  }

  /** True when Table 9-10 has an action for `event` in the current state. */
  accepts(event: EventId): boolean {
    return lookupTransition(this.#state, event) !== undefined;
  }

  /**
   * Process one event. An empty cell of Table 9-10 (the one place they are handled) throws
   * InvalidStateEventError and leaves the state unchanged. An event raised from inside an action
   * is queued and processed once that action has finished.
   */
  dispatch(input: FsmInput): void {
    if (lookupTransition(this.#state, input.event) === undefined && !this.#running) {
      throw new InvalidStateEventError(this.#state, input.event);
    }
    if (this.#running) {
      this.#queue.push(input);
      return;
    }
    this.#running = true;
    try {
      this.#step(input);
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        this.#step(next);
      }
    } finally {
      this.#running = false;
      this.#queue.length = 0;
    }
  }

  #step(input: FsmInput): void {
    const from = this.#state;
    const action = lookupTransition(from, input.event);
    // Only a queued event can get here without a cell: the transition before it made it moot
    // (e.g. a transport close after AA-2 already closed it in Sta1). It is dropped.
    if (action === undefined) return;
    const outcome = (ACTIONS[action] as (c: AssociationContext, i: FsmInput) => string | void)(this.#ctx, input);
    const to = resolveNext(ACTION_NEXT_STATE[action], outcome);
    this.#state = to;
    const transition = transitionOf(from, input.event, action, to);
    if (stateTransitionChannel.hasSubscribers) stateTransitionChannel.publish({ association: this.#association, ...transition });
    this.#onTransition?.(transition);
  }
}

const stateTransitionChannel = channel(channelNames.stateTransition);

/**
 * The transitions taken, made once each and shared (they are values): every P-DATA-TF sent or
 * received is a transition (DT-1, DT-2), and an object per PDU was garbage.
 */
const transitions = new Map<State, Map<EventId, Map<State, Transition>>>();

function transitionOf(from: State, event: EventId, action: ActionName, to: State): Transition {
  let byEvent = transitions.get(from);
  if (byEvent === undefined) transitions.set(from, (byEvent = new Map()));
  let byTo = byEvent.get(event);
  if (byTo === undefined) byEvent.set(event, (byTo = new Map()));
  let t = byTo.get(to);
  // The action follows from the cell (from, event), so (from, event, to) names one transition.
  if (t === undefined) byTo.set(to, (t = Object.freeze({ from, event, action, to })));
  return t;
}

function resolveNext(next: NextState, outcome: string | void): State {
  if (typeof next === 'string') return next;
  const to = outcome === undefined ? undefined : next[outcome];
  if (to === undefined) throw new Error(`internal: conditional action returned ${String(outcome)}`);
  return to;
}
