/**
 * DIMSE-N services as a requestor (PS3.7 10.1): N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE,
 * N-DELETE. Each sends one request on the accepted context of its SOP class, with its data set
 * encoded in the context's transfer syntax, and resolves with the response and its decoded data
 * set; a Failure status rejects with DimseStatusError (warnings resolve). Enough for Storage
 * Commitment Push (PS3.4 J) and MPPS (PS3.4 F).
 */
import { checkTimeoutOption } from './call-options.js';
import type { Association } from '../../ae/association.js';
import { DimseStatusError } from '../../ae/errors.js';
import { decodeDataset, encodeDataset, type NaturalDataset } from '../../dataset/codec.js';
import { formatStatus, isFailure } from '../../dictionary/status.js';
import type { DimseResponse } from '../../dimse/messages.js';
import type { RequestCommand } from '../../ae/association.js';

export interface NResult<R extends DimseResponse = DimseResponse> {
  readonly response: R;
  /** The response's data set (attribute list), decoded; undefined when none was sent. */
  readonly dataset: NaturalDataset | undefined;
}

export interface NOptions {
  /** Milliseconds to wait for the response. */
  readonly timeout?: number;
}

async function nRequest(association: Association, sopClassUid: string, command: RequestCommand, dataset: NaturalDataset | undefined, options: NOptions): Promise<NResult> {
  checkTimeoutOption(options);
  const context = association.contexts.select(sopClassUid);
  const withDataset = dataset === undefined ? command : ({ ...command, hasDataset: true } as RequestCommand);
  const pending = association.request(withDataset, {
    presentationContextId: context.id,
    ...(dataset === undefined ? {} : { dataset: encodeDataset(dataset, context.transferSyntax) }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  });
  const message = await pending.response;
  const response = message.command;
  if (isFailure(response.status)) {
    throw new DimseStatusError(response.type, response.status, `${command.type.replace('-RQ', '')} failed: ${formatStatus(response.status)}${response.errorComment ? ` (${response.errorComment})` : ''}`);
  }
  const decoded = message.dataset !== undefined && message.dataset.byteLength > 0 ? decodeDataset(message.dataset, context.transferSyntax) : undefined;
  return { response, dataset: decoded };
}

export interface NInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
}

/** N-EVENT-REPORT (PS3.7 10.1.1): report event `eventTypeId` about an instance. */
export function nEventReport(association: Association, target: NInstance & { readonly eventTypeId: number; readonly eventInformation?: NaturalDataset }, options: NOptions = {}): Promise<NResult> {
  return nRequest(
    association,
    target.sopClassUid,
    { type: 'N-EVENT-REPORT-RQ', affectedSopClassUid: target.sopClassUid, affectedSopInstanceUid: target.sopInstanceUid, eventTypeId: target.eventTypeId },
    target.eventInformation,
    options,
  );
}

/** N-GET (PS3.7 10.1.2): the listed attributes (tags as numbers, group << 16 | element), all when omitted. */
export function nGet(association: Association, target: NInstance & { readonly attributes?: readonly number[] }, options: NOptions = {}): Promise<NResult> {
  return nRequest(
    association,
    target.sopClassUid,
    {
      type: 'N-GET-RQ',
      requestedSopClassUid: target.sopClassUid,
      requestedSopInstanceUid: target.sopInstanceUid,
      ...(target.attributes === undefined ? {} : { attributeIdentifierList: target.attributes }),
    },
    undefined,
    options,
  );
}

/** N-SET (PS3.7 10.1.3): modify attributes. */
export function nSet(association: Association, target: NInstance & { readonly modifications: NaturalDataset }, options: NOptions = {}): Promise<NResult> {
  return nRequest(
    association,
    target.sopClassUid,
    { type: 'N-SET-RQ', requestedSopClassUid: target.sopClassUid, requestedSopInstanceUid: target.sopInstanceUid },
    target.modifications,
    options,
  );
}

/** N-ACTION (PS3.7 10.1.4): action `actionTypeId` with its information. */
export function nAction(association: Association, target: NInstance & { readonly actionTypeId: number; readonly actionInformation?: NaturalDataset }, options: NOptions = {}): Promise<NResult> {
  return nRequest(
    association,
    target.sopClassUid,
    { type: 'N-ACTION-RQ', requestedSopClassUid: target.sopClassUid, requestedSopInstanceUid: target.sopInstanceUid, actionTypeId: target.actionTypeId },
    target.actionInformation,
    options,
  );
}

/** N-CREATE (PS3.7 10.1.5): create an instance (its UID given, or assigned by the SCP and returned in the response). */
export function nCreate(association: Association, target: { readonly sopClassUid: string; readonly sopInstanceUid?: string; readonly attributes?: NaturalDataset }, options: NOptions = {}): Promise<NResult> {
  return nRequest(
    association,
    target.sopClassUid,
    { type: 'N-CREATE-RQ', affectedSopClassUid: target.sopClassUid, ...(target.sopInstanceUid === undefined ? {} : { affectedSopInstanceUid: target.sopInstanceUid }) },
    target.attributes,
    options,
  );
}

/** N-DELETE (PS3.7 10.1.6). */
export function nDelete(association: Association, target: NInstance, options: NOptions = {}): Promise<NResult> {
  return nRequest(association, target.sopClassUid, { type: 'N-DELETE-RQ', requestedSopClassUid: target.sopClassUid, requestedSopInstanceUid: target.sopInstanceUid }, undefined, options);
}
