/**
 * The tables messages.ts hands the direct command encoder and decoder (command-encoder.ts,
 * command-decoder.ts): its command specs, and the field-to-keyword table transcribed here.
 */
import type { CommandTables } from '../../src/dimse/command-encoder.js';
import { commandSpecs } from '../../src/dimse/messages.js';

export const fieldToKeyword: Record<string, string> = {
  affectedSopClassUid: 'AffectedSOPClassUID', requestedSopClassUid: 'RequestedSOPClassUID', messageId: 'MessageID',
  messageIdBeingRespondedTo: 'MessageIDBeingRespondedTo', moveDestination: 'MoveDestination', priority: 'Priority', status: 'Status',
  offendingElement: 'OffendingElement', errorComment: 'ErrorComment', errorId: 'ErrorID', affectedSopInstanceUid: 'AffectedSOPInstanceUID',
  requestedSopInstanceUid: 'RequestedSOPInstanceUID', eventTypeId: 'EventTypeID', attributeIdentifierList: 'AttributeIdentifierList',
  actionTypeId: 'ActionTypeID', numberOfRemainingSuboperations: 'NumberOfRemainingSuboperations',
  numberOfCompletedSuboperations: 'NumberOfCompletedSuboperations', numberOfFailedSuboperations: 'NumberOfFailedSuboperations',
  numberOfWarningSuboperations: 'NumberOfWarningSuboperations', moveOriginatorApplicationEntityTitle: 'MoveOriginatorApplicationEntityTitle',
  moveOriginatorMessageId: 'MoveOriginatorMessageID',
};
export const tables: CommandTables = { specs: commandSpecs, fieldToKeyword };
