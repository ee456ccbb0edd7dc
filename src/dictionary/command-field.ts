/** Command Field (0000,0100) values, PS3.7 Table E.1-1 and Sections 9.3 / 10.3. */
export const CommandField = {
  'C-STORE-RQ': 0x0001,
  'C-STORE-RSP': 0x8001,
  'C-GET-RQ': 0x0010,
  'C-GET-RSP': 0x8010,
  'C-FIND-RQ': 0x0020,
  'C-FIND-RSP': 0x8020,
  'C-MOVE-RQ': 0x0021,
  'C-MOVE-RSP': 0x8021,
  'C-ECHO-RQ': 0x0030,
  'C-ECHO-RSP': 0x8030,
  'N-EVENT-REPORT-RQ': 0x0100,
  'N-EVENT-REPORT-RSP': 0x8100,
  'N-GET-RQ': 0x0110,
  'N-GET-RSP': 0x8110,
  'N-SET-RQ': 0x0120,
  'N-SET-RSP': 0x8120,
  'N-ACTION-RQ': 0x0130,
  'N-ACTION-RSP': 0x8130,
  'N-CREATE-RQ': 0x0140,
  'N-CREATE-RSP': 0x8140,
  'N-DELETE-RQ': 0x0150,
  'N-DELETE-RSP': 0x8150,
  'C-CANCEL-RQ': 0x0fff,
} as const;
export type CommandName = keyof typeof CommandField;
export type CommandFieldValue = (typeof CommandField)[CommandName];

const byValue: ReadonlyMap<number, CommandName> = new Map(
  (Object.entries(CommandField) as [CommandName, number][]).map(([k, v]) => [v, k]),
);

/** The command name for a Command Field value, or undefined when the value is not defined. */
export function commandNameOf(value: number): CommandName | undefined {
  return byValue.get(value);
}

/** Bit 15 of the Command Field marks a response (PS3.7 E.1-1: responses are request | 0x8000). */
export function isResponseCommandField(value: number): boolean {
  return (value & 0x8000) !== 0;
}

/** Command Data Set Type (0000,0800): 0x0101 means no dataset; any other value means one follows. */
export const CommandDataSetTypeNull = 0x0101;
/** The value this implementation sends when a dataset follows (DCMTK and pynetdicom send 0x0000 too). */
export const CommandDataSetTypePresent = 0x0000;

/** Priority (0000,0700), PS3.7 Table E.1-1. */
export const Priority = { Medium: 0x0000, High: 0x0001, Low: 0x0002 } as const;
export type PriorityValue = (typeof Priority)[keyof typeof Priority];
