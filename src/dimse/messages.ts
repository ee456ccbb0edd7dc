import { CommandDataSetTypeNull, CommandDataSetTypePresent, CommandField, commandNameOf } from '../dictionary/command-field.js';
import type { CommandName } from '../dictionary/command-field.js';
import { decodeCommandSet, encodeCommandSet, type DecodeCommandSetOptions } from './command-set.js';
import type { CommandElementKeyword, CommandSetElements } from './command-set.js';
import { InvalidCommandError } from './errors.js';
import { encodeCommandDirect } from './command-encoder.js';
import { decodeCommandDirect } from './command-decoder.js';

/**
 * Every DIMSE-C and DIMSE-N command (PS3.7 Sections 9.3 and 10.3) as a readonly plain object in a
 * discriminated union on `type`. Field names are the standard's keywords in camelCase.
 * `hasDataset` mirrors CommandDataSetType (0000,0800): false ⇔ 0x0101.
 */

/** Fields every response may carry when the status is a failure or warning (PS3.7 C.4, C.5, 10.1). */
interface ResponseErrorFields {
  readonly status: number;
  readonly offendingElement?: readonly number[];
  readonly errorComment?: string;
  readonly errorId?: number;
  /** Received only: elements of other groups a peer put after the command group (see CommandSetElements). */
  readonly statusDetail?: Uint8Array;
}

/** Sub-operation counts of C-MOVE / C-GET responses (PS3.7 9.3.3.2, 9.3.4.2). */
interface SuboperationFields {
  readonly numberOfRemainingSuboperations?: number;
  readonly numberOfCompletedSuboperations?: number;
  readonly numberOfFailedSuboperations?: number;
  readonly numberOfWarningSuboperations?: number;
}

/** PS3.7 9.3.1.1, Table 9.3-1. */
export interface CStoreRq {
  readonly type: 'C-STORE-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly affectedSopInstanceUid: string;
  readonly priority: number;
  readonly moveOriginatorApplicationEntityTitle?: string;
  readonly moveOriginatorMessageId?: number;
  readonly hasDataset?: true;
}
/** PS3.7 9.3.1.2, Table 9.3-2. */
export interface CStoreRsp extends ResponseErrorFields {
  readonly type: 'C-STORE-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly hasDataset?: false;
}
/** PS3.7 9.3.2.1, Table 9.3-3. */
export interface CFindRq {
  readonly type: 'C-FIND-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly priority: number;
  readonly hasDataset?: true;
}
/** PS3.7 9.3.2.2, Table 9.3-4. A pending response carries the match as its dataset. */
export interface CFindRsp extends ResponseErrorFields {
  readonly type: 'C-FIND-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly hasDataset?: boolean;
}
/** PS3.7 9.3.3.1, Table 9.3-5. */
export interface CGetRq {
  readonly type: 'C-GET-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly priority: number;
  readonly hasDataset?: true;
}
/** PS3.7 9.3.3.2, Table 9.3-6. */
export interface CGetRsp extends ResponseErrorFields, SuboperationFields {
  readonly type: 'C-GET-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly hasDataset?: boolean;
}
/** PS3.7 9.3.4.1, Table 9.3-7. */
export interface CMoveRq {
  readonly type: 'C-MOVE-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly priority: number;
  readonly moveDestination: string;
  readonly hasDataset?: true;
}
/** PS3.7 9.3.4.2, Table 9.3-8. */
export interface CMoveRsp extends ResponseErrorFields, SuboperationFields {
  readonly type: 'C-MOVE-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly hasDataset?: boolean;
}
/** PS3.7 9.3.5.1, Table 9.3-9. */
export interface CEchoRq {
  readonly type: 'C-ECHO-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly hasDataset?: false;
}
/** PS3.7 9.3.5.2, Table 9.3-10. */
export interface CEchoRsp extends ResponseErrorFields {
  readonly type: 'C-ECHO-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly hasDataset?: false;
}
/** PS3.7 9.3.2.3, Table 9.3-11 (C-FIND-CANCEL, C-GET-CANCEL, C-MOVE-CANCEL). */
export interface CCancelRq {
  readonly type: 'C-CANCEL-RQ';
  readonly messageIdBeingRespondedTo: number;
  readonly hasDataset?: false;
}
/** PS3.7 10.3.1.1, Table 10.3-1. */
export interface NEventReportRq {
  readonly type: 'N-EVENT-REPORT-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly affectedSopInstanceUid: string;
  readonly eventTypeId: number;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.1.2, Table 10.3-2. */
export interface NEventReportRsp extends ResponseErrorFields {
  readonly type: 'N-EVENT-REPORT-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly eventTypeId?: number;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.2.1, Table 10.3-3. */
export interface NGetRq {
  readonly type: 'N-GET-RQ';
  readonly messageId: number;
  readonly requestedSopClassUid: string;
  readonly requestedSopInstanceUid: string;
  readonly attributeIdentifierList?: readonly number[];
  readonly hasDataset?: false;
}
/** PS3.7 10.3.2.2, Table 10.3-4. */
export interface NGetRsp extends ResponseErrorFields {
  readonly type: 'N-GET-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.3.1, Table 10.3-5. */
export interface NSetRq {
  readonly type: 'N-SET-RQ';
  readonly messageId: number;
  readonly requestedSopClassUid: string;
  readonly requestedSopInstanceUid: string;
  readonly hasDataset?: true;
}
/** PS3.7 10.3.3.2, Table 10.3-6. */
export interface NSetRsp extends ResponseErrorFields {
  readonly type: 'N-SET-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly attributeIdentifierList?: readonly number[];
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.4.1, Table 10.3-7. */
export interface NActionRq {
  readonly type: 'N-ACTION-RQ';
  readonly messageId: number;
  readonly requestedSopClassUid: string;
  readonly requestedSopInstanceUid: string;
  readonly actionTypeId: number;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.4.2, Table 10.3-8. */
export interface NActionRsp extends ResponseErrorFields {
  readonly type: 'N-ACTION-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly actionTypeId?: number;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.5.1, Table 10.3-9. */
export interface NCreateRq {
  readonly type: 'N-CREATE-RQ';
  readonly messageId: number;
  readonly affectedSopClassUid: string;
  readonly affectedSopInstanceUid?: string;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.5.2, Table 10.3-10. */
export interface NCreateRsp extends ResponseErrorFields {
  readonly type: 'N-CREATE-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly hasDataset?: boolean;
}
/** PS3.7 10.3.6.1, Table 10.3-11. */
export interface NDeleteRq {
  readonly type: 'N-DELETE-RQ';
  readonly messageId: number;
  readonly requestedSopClassUid: string;
  readonly requestedSopInstanceUid: string;
  readonly hasDataset?: false;
}
/** PS3.7 10.3.6.2, Table 10.3-12. */
export interface NDeleteRsp extends ResponseErrorFields {
  readonly type: 'N-DELETE-RSP';
  readonly messageIdBeingRespondedTo: number;
  readonly affectedSopClassUid?: string;
  readonly affectedSopInstanceUid?: string;
  readonly hasDataset?: false;
}

export type DimseRequest =
  | CStoreRq | CFindRq | CGetRq | CMoveRq | CEchoRq | CCancelRq
  | NEventReportRq | NGetRq | NSetRq | NActionRq | NCreateRq | NDeleteRq;
export type DimseResponse =
  | CStoreRsp | CFindRsp | CGetRsp | CMoveRsp | CEchoRsp
  | NEventReportRsp | NGetRsp | NSetRsp | NActionRsp | NCreateRsp | NDeleteRsp;
export type DimseCommand = DimseRequest | DimseResponse;
/** A command of a given name, e.g. `CommandOf<'C-ECHO-RQ'>` is {@link CEchoRq}. */
export type CommandOf<N extends CommandName> = Extract<DimseCommand, { type: N }>;

/** Message field ↔ command element keyword (PS3.7 Table E.1-1). */
const fieldToKeyword = {
  affectedSopClassUid: 'AffectedSOPClassUID',
  requestedSopClassUid: 'RequestedSOPClassUID',
  messageId: 'MessageID',
  messageIdBeingRespondedTo: 'MessageIDBeingRespondedTo',
  moveDestination: 'MoveDestination',
  priority: 'Priority',
  status: 'Status',
  offendingElement: 'OffendingElement',
  errorComment: 'ErrorComment',
  errorId: 'ErrorID',
  affectedSopInstanceUid: 'AffectedSOPInstanceUID',
  requestedSopInstanceUid: 'RequestedSOPInstanceUID',
  eventTypeId: 'EventTypeID',
  attributeIdentifierList: 'AttributeIdentifierList',
  actionTypeId: 'ActionTypeID',
  numberOfRemainingSuboperations: 'NumberOfRemainingSuboperations',
  numberOfCompletedSuboperations: 'NumberOfCompletedSuboperations',
  numberOfFailedSuboperations: 'NumberOfFailedSuboperations',
  numberOfWarningSuboperations: 'NumberOfWarningSuboperations',
  moveOriginatorApplicationEntityTitle: 'MoveOriginatorApplicationEntityTitle',
  moveOriginatorMessageId: 'MoveOriginatorMessageID',
} as const satisfies Record<string, CommandElementKeyword>;
type Field = keyof typeof fieldToKeyword;

/** Whether a command carries a dataset: always, never, or as the situation requires. */
type DatasetRule = 'required' | 'none' | 'optional';
interface CommandSpec {
  readonly required: readonly Field[];
  readonly optional: readonly Field[];
  readonly dataset: DatasetRule;
}

const errorFields: readonly Field[] = ['offendingElement', 'errorComment', 'errorId'];
const subops: readonly Field[] = [
  'numberOfRemainingSuboperations',
  'numberOfCompletedSuboperations',
  'numberOfFailedSuboperations',
  'numberOfWarningSuboperations',
];
const rsp = (optional: readonly Field[], dataset: DatasetRule): CommandSpec => ({
  required: ['messageIdBeingRespondedTo', 'status'],
  optional: [...optional, ...errorFields],
  dataset,
});

/** Which elements each command must and may carry (M / U / C columns of PS3.7 Tables 9.3-x, 10.3-x). */
export const commandSpecs: { readonly [N in CommandName]: CommandSpec } = {
  'C-STORE-RQ': {
    required: ['messageId', 'affectedSopClassUid', 'affectedSopInstanceUid', 'priority'],
    optional: ['moveOriginatorApplicationEntityTitle', 'moveOriginatorMessageId'],
    dataset: 'required',
  },
  'C-STORE-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid'], 'none'),
  'C-FIND-RQ': { required: ['messageId', 'affectedSopClassUid', 'priority'], optional: [], dataset: 'required' },
  'C-FIND-RSP': rsp(['affectedSopClassUid'], 'optional'),
  'C-GET-RQ': { required: ['messageId', 'affectedSopClassUid', 'priority'], optional: [], dataset: 'required' },
  'C-GET-RSP': rsp(['affectedSopClassUid', ...subops], 'optional'),
  'C-MOVE-RQ': {
    required: ['messageId', 'affectedSopClassUid', 'priority', 'moveDestination'],
    optional: [],
    dataset: 'required',
  },
  'C-MOVE-RSP': rsp(['affectedSopClassUid', ...subops], 'optional'),
  'C-ECHO-RQ': { required: ['messageId', 'affectedSopClassUid'], optional: [], dataset: 'none' },
  'C-ECHO-RSP': rsp(['affectedSopClassUid'], 'none'),
  'C-CANCEL-RQ': { required: ['messageIdBeingRespondedTo'], optional: [], dataset: 'none' },
  'N-EVENT-REPORT-RQ': {
    required: ['messageId', 'affectedSopClassUid', 'affectedSopInstanceUid', 'eventTypeId'],
    optional: [],
    dataset: 'optional',
  },
  'N-EVENT-REPORT-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid', 'eventTypeId'], 'optional'),
  'N-GET-RQ': {
    required: ['messageId', 'requestedSopClassUid', 'requestedSopInstanceUid'],
    optional: ['attributeIdentifierList'],
    dataset: 'none',
  },
  'N-GET-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid'], 'optional'),
  'N-SET-RQ': { required: ['messageId', 'requestedSopClassUid', 'requestedSopInstanceUid'], optional: [], dataset: 'required' },
  'N-SET-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid', 'attributeIdentifierList'], 'optional'),
  'N-ACTION-RQ': {
    required: ['messageId', 'requestedSopClassUid', 'requestedSopInstanceUid', 'actionTypeId'],
    optional: [],
    dataset: 'optional',
  },
  'N-ACTION-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid', 'actionTypeId'], 'optional'),
  'N-CREATE-RQ': { required: ['messageId', 'affectedSopClassUid'], optional: ['affectedSopInstanceUid'], dataset: 'optional' },
  'N-CREATE-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid'], 'optional'),
  'N-DELETE-RQ': { required: ['messageId', 'requestedSopClassUid', 'requestedSopInstanceUid'], optional: [], dataset: 'none' },
  'N-DELETE-RSP': rsp(['affectedSopClassUid', 'affectedSopInstanceUid'], 'none'),
};

/** Whether `command` is followed by a dataset, applying the defaults of {@link commandSpecs}. */
export function commandHasDataset(command: DimseCommand): boolean {
  const rule = commandSpecs[command.type].dataset;
  if (rule === 'none') return false;
  if (rule === 'required') return true;
  return command.hasDataset === true;
}

function checkDataset(name: CommandName, rule: DatasetRule, has: boolean | undefined): boolean {
  if (rule === 'none') {
    if (has === true) throw new InvalidCommandError(name, 'CommandDataSetType', 'this command never has a dataset');
    return false;
  }
  if (rule === 'required') {
    if (has === false) throw new InvalidCommandError(name, 'CommandDataSetType', 'this command always has a dataset');
    return true;
  }
  return has === true;
}

/** Map a message to its command elements, validating required fields and the dataset rule. */
export function commandToElements(command: DimseCommand): CommandSetElements {
  const name = command.type;
  const spec = commandSpecs[name];
  if (spec === undefined) throw new InvalidCommandError(String(name), 'type', 'unknown command');
  const src = command as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { CommandField: CommandField[name] };
  for (const f of spec.required) {
    if (src[f] === undefined) throw new InvalidCommandError(name, fieldToKeyword[f], `required field "${f}" is missing`);
    out[fieldToKeyword[f]] = src[f];
  }
  for (const f of spec.optional) if (src[f] !== undefined) out[fieldToKeyword[f]] = src[f];
  for (const key of Object.keys(src)) {
    if (key === 'type' || key === 'hasDataset' || key === 'statusDetail') continue;
    if (!(spec.required as readonly string[]).includes(key) && !(spec.optional as readonly string[]).includes(key) && src[key] !== undefined) {
      throw new InvalidCommandError(name, key, 'field not allowed in this command');
    }
  }
  const has = checkDataset(name, spec.dataset, command.hasDataset);
  out['CommandDataSetType'] = has ? CommandDataSetTypePresent : CommandDataSetTypeNull;
  return out as CommandSetElements;
}

/**
 * Map decoded command elements to a message, validating the Command Field, required fields and the
 * dataset rule. Elements the command does not define are ignored (PS3.7 does not forbid them and
 * old peers send retired ones); unknown group-0000 elements likewise.
 */
export function elementsToCommand(elements: CommandSetElements): DimseCommand {
  const cf = elements.CommandField;
  if (cf === undefined) throw new InvalidCommandError(undefined, 'CommandField', 'required element is missing');
  const name = commandNameOf(cf);
  if (name === undefined) {
    throw new InvalidCommandError(undefined, 'CommandField', `unknown value 0x${cf.toString(16).padStart(4, '0')}`);
  }
  const spec = commandSpecs[name];
  const dst: Record<string, unknown> = { type: name };
  for (const f of spec.required) {
    const v = elements[fieldToKeyword[f]];
    if (v === undefined) throw new InvalidCommandError(name, fieldToKeyword[f], 'required element is missing');
    dst[f] = v;
  }
  for (const f of spec.optional) {
    const v = elements[fieldToKeyword[f]];
    if (v !== undefined) dst[f] = v;
  }
  const dataSetType = elements.CommandDataSetType;
  if (dataSetType === undefined) throw new InvalidCommandError(name, 'CommandDataSetType', 'required element is missing');
  dst['hasDataset'] = checkDataset(name, spec.dataset, dataSetType !== CommandDataSetTypeNull);
  if (elements.statusDetail !== undefined && name.endsWith('-RSP')) dst['statusDetail'] = elements.statusDetail;
  return dst as unknown as DimseCommand;
}

const tables = { specs: commandSpecs, fieldToKeyword };

/**
 * Encode a message to command-set bytes: written directly when every field is valid
 * (command-encoder.ts), otherwise by the generic path, which names what is wrong.
 */
export function encodeCommand(command: DimseCommand): Uint8Array {
  return encodeCommandDirect(command, tables) ?? encodeCommandSet(commandToElements(command));
}

/**
 * Decode command-set bytes to a message (`options.onWarning`: what was tolerated, see
 * decodeCommandSet): read directly when well formed (command-decoder.ts), otherwise by the
 * generic path, which names what is wrong. The message keeps no view of `bytes` unless it has
 * a `statusDetail`.
 */
export function decodeCommand(bytes: Uint8Array, options: DecodeCommandSetOptions = {}): DimseCommand {
  return (decodeCommandDirect(bytes, tables) as DimseCommand | undefined) ?? elementsToCommand(decodeCommandSet(bytes, options));
}

export function isRequest(command: DimseCommand): command is DimseRequest {
  return (CommandField[command.type] & 0x8000) === 0;
}
