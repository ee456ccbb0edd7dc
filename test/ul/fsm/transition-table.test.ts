/**
 * The full 13 × 19 matrix of PS3.8 Table 9-10, checked against a transcription written here
 * independently, in the form the standard prints it: one row per event, one cell per state
 * (Sta1 … Sta13), each cell "action/next state" with the next state taken from the action
 * definitions (Tables 9-6 … 9-9); "" is an empty cell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTION_NAMES, EVENT_IDS, STATE_IDS, type EventId, type State } from '../../../src/ul/fsm/ids.js';
import { lookupTransition, nextStatesOf } from '../../../src/ul/fsm/transition-table.js';
import { InvalidStateEventError } from '../../../src/ul/fsm/errors.js';
import { machineIn, sampleInput } from './fsm-double.js';

const _ = '';
const AE6 = 'AE-6/Sta3|Sta13';
const AR8 = 'AR-8/Sta9|Sta10';
const A1 = 'AA-1/Sta13';
const A2 = 'AA-2/Sta1';
const A3 = 'AA-3/Sta1';
const A4 = 'AA-4/Sta1';
const A6 = 'AA-6/Sta13';
const A7 = 'AA-7/Sta13';
const A8 = 'AA-8/Sta13';

//                       Sta1          Sta2         Sta3          Sta4         Sta5          Sta6          Sta7          Sta8          Sta9          Sta10          Sta11         Sta12         Sta13
const TABLE_9_10: Record<EventId, readonly string[]> = {
  Evt1:  ['AE-1/Sta4',   _,           _,            _,           _,            _,            _,            _,            _,            _,             _,            _,            _],
  Evt2:  [_,             _,           _,            'AE-2/Sta5', _,            _,            _,            _,            _,            _,             _,            _,            _],
  Evt3:  [_,             A1,          A8,           _,           'AE-3/Sta6',  A8,           A8,           A8,           A8,           A8,            A8,           A8,           A6],
  Evt4:  [_,             A1,          A8,           _,           'AE-4/Sta1',  A8,           A8,           A8,           A8,           A8,            A8,           A8,           A6],
  Evt5:  ['AE-5/Sta2',   _,           _,            _,           _,            _,            _,            _,            _,            _,             _,            _,            _],
  Evt6:  [_,             AE6,         A8,           _,           A8,           A8,           A8,           A8,           A8,           A8,            A8,           A8,           A7],
  Evt7:  [_,             _,           'AE-7/Sta6',  _,           _,            _,            _,            _,            _,            _,             _,            _,            _],
  Evt8:  [_,             _,           'AE-8/Sta13', _,           _,            _,            _,            _,            _,            _,             _,            _,            _],
  Evt9:  [_,             _,           _,            _,           _,            'DT-1/Sta6',  _,            'AR-7/Sta8',  _,            _,             _,            _,            _],
  Evt10: [_,             A1,          A8,           _,           A8,           'DT-2/Sta6',  'AR-6/Sta7',  A8,           A8,           A8,            A8,           A8,           A6],
  Evt11: [_,             _,           _,            _,           _,            'AR-1/Sta7',  _,            _,            _,            _,             _,            _,            _],
  Evt12: [_,             A1,          A8,           _,           A8,           'AR-2/Sta8',  AR8,          A8,           A8,           A8,            A8,           A8,           A6],
  Evt13: [_,             A1,          A8,           _,           A8,           A8,           'AR-3/Sta1',  A8,           A8,           'AR-10/Sta12', 'AR-3/Sta1',  A8,           A6],
  Evt14: [_,             _,           _,            _,           _,            _,            _,            'AR-4/Sta13', 'AR-9/Sta11', _,             _,            'AR-4/Sta13', _],
  Evt15: [_,             _,           A1,           A2,          A1,           A1,           A1,           A1,           A1,           A1,            A1,           A1,           _],
  Evt16: [_,             A2,          A3,           _,           A3,           A3,           A3,           A3,           A3,           A3,            A3,           A3,           A2],
  Evt17: [_,             'AA-5/Sta1', A4,           A4,          A4,           A4,           A4,           A4,           A4,           A4,            A4,           A4,           'AR-5/Sta1'],
  Evt18: [_,             A2,          _,            _,           _,            _,            _,            _,            _,            _,             _,            _,            A2],
  Evt19: [_,             A1,          A8,           _,           A8,           A8,           A8,           A8,           A8,           A8,            A8,           A8,           A7],
};

function cell(event: EventId, state: State): { action: string; next: string[] } | undefined {
  const text = TABLE_9_10[event][STATE_IDS.indexOf(state)];
  assert.ok(text !== undefined, `transcription has a cell for ${event}/${state}`);
  if (text === '') return undefined;
  const [action, next] = text.split('/');
  return { action: action!, next: next!.split('|') };
}

test('the transcription itself is 19 rows of 13 cells', () => {
  assert.deepEqual(Object.keys(TABLE_9_10), [...EVENT_IDS]);
  for (const row of Object.values(TABLE_9_10)) assert.equal(row.length, 13);
  assert.equal(STATE_IDS.length, 13);
  assert.equal(EVENT_IDS.length, 19);
});

test('Table 9-10 data: every one of the 247 cells matches the transcription', () => {
  let checked = 0;
  for (const event of EVENT_IDS) {
    for (const state of STATE_IDS) {
      const expected = cell(event, state);
      const action = lookupTransition(state, event);
      if (expected === undefined) {
        assert.equal(action, undefined, `${state}/${event} should be empty`);
      } else {
        assert.equal(action, expected.action, `${state}/${event}`);
        assert.deepEqual([...nextStatesOf(action!)].sort(), [...expected.next].sort(), `next state of ${action}`);
      }
      checked++;
    }
  }
  assert.equal(checked, 247);
});

test('every action of Tables 9-6 … 9-9 appears in Table 9-10', () => {
  const used = new Set<string>();
  for (const row of Object.values(TABLE_9_10)) for (const c of row) if (c !== '') used.add(c.split('/')[0]!);
  assert.deepEqual([...used].sort(), [...ACTION_NAMES].sort());
});

// Behaviour, not just data: drive a real StateMachine into each state by a legal event path,
// fire the event, and check the action taken and the state reached (or the refusal of an empty cell).
for (const state of STATE_IDS) {
  test(`state machine in ${state}: all 19 events behave as Table 9-10 says`, () => {
    for (const event of EVENT_IDS) {
      const { sm, io, transitions } = machineIn(state);
      const expected = cell(event, state);
      if (expected === undefined) {
        assert.throws(
          () => sm.dispatch(sampleInput(event)),
          (e: unknown) => e instanceof InvalidStateEventError && e.code === 'DICOM_ERR_UL_INVALID_EVENT' && e.state === state && e.event === event,
          `${state}/${event} must be refused`,
        );
        assert.equal(sm.state, state, 'state unchanged after an empty cell');
        assert.deepEqual(io.effects, [], 'no side effect after an empty cell');
      } else {
        sm.dispatch(sampleInput(event));
        assert.equal(transitions.length, 1, `${state}/${event}: one transition`);
        assert.equal(transitions[0]!.action, expected.action, `${state}/${event}: action`);
        assert.ok(expected.next.includes(sm.state), `${state}/${event}: ${sm.state} not in ${expected.next.join('|')}`);
        assert.deepEqual(transitions[0], { from: state, event, action: expected.action, to: sm.state });
      }
    }
  });
}
