import { StorageSopClass, QueryRetrieveSopClass, NormalizedSopClass, VerificationSopClass } from '../../src/dictionary/uids.js';
import type { DimseCommand } from '../../src/dimse/messages.js';

const CT = StorageSopClass.CtImageStorage;
const err = { offendingElement: [0x00100010], errorComment: 'bad', errorId: 3 };
const subops = {
  numberOfRemainingSuboperations: 3,
  numberOfCompletedSuboperations: 2,
  numberOfFailedSuboperations: 1,
  numberOfWarningSuboperations: 0,
};

/** One fully populated example of every command, with the dataset flag as it decodes. */
export const dimseExamples: readonly DimseCommand[] = [
  { type: 'C-STORE-RQ', messageId: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3.4', priority: 0, moveOriginatorApplicationEntityTitle: 'MOVER', moveOriginatorMessageId: 9, hasDataset: true },
  { type: 'C-STORE-RSP', messageIdBeingRespondedTo: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3.4', status: 0xb000, ...err, hasDataset: false },
  { type: 'C-FIND-RQ', messageId: 2, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, priority: 2, hasDataset: true },
  { type: 'C-FIND-RSP', messageIdBeingRespondedTo: 2, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, status: 0xff00, hasDataset: true },
  { type: 'C-GET-RQ', messageId: 3, affectedSopClassUid: QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelGet, priority: 1, hasDataset: true },
  { type: 'C-GET-RSP', messageIdBeingRespondedTo: 3, status: 0xff00, ...subops, hasDataset: false },
  { type: 'C-MOVE-RQ', messageId: 4, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, priority: 0, moveDestination: 'STORESCP', hasDataset: true },
  { type: 'C-MOVE-RSP', messageIdBeingRespondedTo: 4, affectedSopClassUid: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove, status: 0xb000, ...subops, hasDataset: true },
  { type: 'C-ECHO-RQ', messageId: 5, affectedSopClassUid: VerificationSopClass, hasDataset: false },
  { type: 'C-ECHO-RSP', messageIdBeingRespondedTo: 5, affectedSopClassUid: VerificationSopClass, status: 0, hasDataset: false },
  { type: 'C-CANCEL-RQ', messageIdBeingRespondedTo: 2, hasDataset: false },
  { type: 'N-EVENT-REPORT-RQ', messageId: 6, affectedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, affectedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, eventTypeId: 1, hasDataset: true },
  { type: 'N-EVENT-REPORT-RSP', messageIdBeingRespondedTo: 6, affectedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, affectedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, eventTypeId: 1, status: 0, hasDataset: false },
  { type: 'N-GET-RQ', messageId: 7, requestedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, requestedSopInstanceUid: '1.2.5', attributeIdentifierList: [0x00400252, 0x00400253], hasDataset: false },
  { type: 'N-GET-RSP', messageIdBeingRespondedTo: 7, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.5', status: 0x0107, ...err, hasDataset: true },
  { type: 'N-SET-RQ', messageId: 8, requestedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, requestedSopInstanceUid: '1.2.5', hasDataset: true },
  { type: 'N-SET-RSP', messageIdBeingRespondedTo: 8, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.5', attributeIdentifierList: [0x00400252], status: 0x0116, hasDataset: false },
  { type: 'N-ACTION-RQ', messageId: 9, requestedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, requestedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, actionTypeId: 1, hasDataset: true },
  { type: 'N-ACTION-RSP', messageIdBeingRespondedTo: 9, affectedSopClassUid: NormalizedSopClass.StorageCommitmentPushModel, affectedSopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance, actionTypeId: 1, status: 0, hasDataset: false },
  { type: 'N-CREATE-RQ', messageId: 10, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.6', hasDataset: true },
  { type: 'N-CREATE-RSP', messageIdBeingRespondedTo: 10, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.6', status: 0, hasDataset: true },
  { type: 'N-DELETE-RQ', messageId: 11, requestedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, requestedSopInstanceUid: '1.2.6', hasDataset: false },
  { type: 'N-DELETE-RSP', messageIdBeingRespondedTo: 11, affectedSopClassUid: NormalizedSopClass.ModalityPerformedProcedureStep, affectedSopInstanceUid: '1.2.6', status: 0x0112, ...err, hasDataset: false },
];

