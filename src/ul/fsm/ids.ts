/**
 * Names of the PS3.8 Section 9.2 state machine: states (Tables 9-1 … 9-5), events (Table 9-10,
 * first column) and actions (Tables 9-6 … 9-9), exactly as the standard spells them.
 */

/** PS3.8 9.2.1, Tables 9-1 … 9-5. The value is the standard's definition of the state. */
export const States = {
  Sta1: 'Idle',
  Sta2: 'Transport connection open (awaiting A-ASSOCIATE-RQ PDU)',
  Sta3: 'Awaiting local A-ASSOCIATE response primitive',
  Sta4: 'Awaiting transport connection opening to complete',
  Sta5: 'Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU',
  Sta6: 'Association established and ready for data transfer',
  Sta7: 'Awaiting A-RELEASE-RP PDU',
  Sta8: 'Awaiting local A-RELEASE response primitive',
  Sta9: 'Release collision requestor side; awaiting A-RELEASE response',
  Sta10: 'Release collision acceptor side; awaiting A-RELEASE-RP PDU',
  Sta11: 'Release collision requestor side; awaiting A-RELEASE-RP PDU',
  Sta12: 'Release collision acceptor side; awaiting A-RELEASE response primitive',
  Sta13: 'Awaiting transport connection close indication (association no longer exists)',
} as const;
export type State = keyof typeof States;
export const STATE_IDS = Object.keys(States) as readonly State[];

/** PS3.8 Table 9-10, event column. The value says where the event comes from. */
export const Events = {
  Evt1: 'A-ASSOCIATE request (local user)',
  Evt2: 'Transport connect confirmation (local transport service)',
  Evt3: 'A-ASSOCIATE-AC PDU received',
  Evt4: 'A-ASSOCIATE-RJ PDU received',
  Evt5: 'Transport connection indication (local transport service)',
  Evt6: 'A-ASSOCIATE-RQ PDU received',
  Evt7: 'A-ASSOCIATE response primitive (accept)',
  Evt8: 'A-ASSOCIATE response primitive (reject)',
  Evt9: 'P-DATA request primitive',
  Evt10: 'P-DATA-TF PDU received',
  Evt11: 'A-RELEASE request primitive',
  Evt12: 'A-RELEASE-RQ PDU received',
  Evt13: 'A-RELEASE-RP PDU received',
  Evt14: 'A-RELEASE response primitive',
  Evt15: 'A-ABORT request primitive',
  Evt16: 'A-ABORT PDU received',
  Evt17: 'Transport connection closed indication (local transport service)',
  Evt18: 'ARTIM timer expired (association reject/release timer)',
  Evt19: 'Unrecognized or invalid PDU received',
} as const;
export type EventId = keyof typeof Events;
export const EVENT_IDS = Object.keys(Events) as readonly EventId[];

/** PS3.8 9.2.2, Tables 9-6 (AE), 9-7 (DT), 9-8 (AR), 9-9 (AA). */
export const Actions = {
  'AE-1': 'Issue TRANSPORT CONNECT request primitive to local transport service',
  'AE-2': 'Send A-ASSOCIATE-RQ PDU',
  'AE-3': 'Issue A-ASSOCIATE confirmation (accept) primitive',
  'AE-4': 'Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection',
  'AE-5': 'Issue transport connection response primitive; start ARTIM timer',
  'AE-6': 'Stop ARTIM timer; if the A-ASSOCIATE-RQ is acceptable issue A-ASSOCIATE indication, otherwise send A-ASSOCIATE-RJ PDU and start ARTIM timer',
  'AE-7': 'Send A-ASSOCIATE-AC PDU',
  'AE-8': 'Send A-ASSOCIATE-RJ PDU and start ARTIM timer',
  'DT-1': 'Send P-DATA-TF PDU',
  'DT-2': 'Send P-DATA indication primitive',
  'AR-1': 'Send A-RELEASE-RQ PDU',
  'AR-2': 'Issue A-RELEASE indication primitive',
  'AR-3': 'Issue A-RELEASE confirmation primitive, and close transport connection',
  'AR-4': 'Issue A-RELEASE-RP PDU and start ARTIM timer',
  'AR-5': 'Stop ARTIM timer',
  'AR-6': 'Issue P-DATA indication',
  'AR-7': 'Issue P-DATA-TF PDU',
  'AR-8': 'Issue A-RELEASE indication (release collision)',
  'AR-9': 'Send A-RELEASE-RP PDU',
  'AR-10': 'Issue A-RELEASE confirmation primitive',
  'AA-1': 'Send A-ABORT PDU and start (or restart) ARTIM timer',
  'AA-2': 'Stop ARTIM timer if running; close transport connection',
  'AA-3': 'Issue A-ABORT (service-user source) or A-P-ABORT (service-provider source) indication and close transport connection',
  'AA-4': 'Issue A-P-ABORT indication primitive',
  'AA-5': 'Stop ARTIM timer',
  'AA-6': 'Ignore PDU',
  'AA-7': 'Send A-ABORT PDU',
  'AA-8': 'Send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication, and start ARTIM timer',
} as const;
export type ActionName = keyof typeof Actions;
export const ACTION_NAMES = Object.keys(Actions) as readonly ActionName[];
