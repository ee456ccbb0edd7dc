/**
 * Code tables of the DICOM audit message (PS3.15 A.5; the codes themselves are PS3.16 CID 400–405,
 * coding scheme "DCM"; the numeric ones come from RFC 3881 and the A.5.1 schema). One table each.
 */

/** A coded value as the schema's CodedValueType: csd-code, codeSystemName, originalText (PS3.15 A.5.1). */
export interface Code {
  readonly csdCode: string;
  readonly codeSystemName: string;
  readonly originalText: string;
}

const dcm = (csdCode: string, originalText: string): Code => Object.freeze({ csdCode, codeSystemName: 'DCM', originalText });

/** EventID, PS3.16 CID 400 "Audit Event ID". */
export const EventId = {
  ApplicationActivity: dcm('110100', 'Application Activity'),
  AuditLogUsed: dcm('110101', 'Audit Log Used'),
  BeginTransferringDicomInstances: dcm('110102', 'Begin Transferring DICOM Instances'),
  DicomInstancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  DicomInstancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  DicomStudyDeleted: dcm('110105', 'DICOM Study Deleted'),
  Export: dcm('110106', 'Export'),
  Import: dcm('110107', 'Import'),
  NetworkEntry: dcm('110108', 'Network Entry'),
  Query: dcm('110112', 'Query'),
  SecurityAlert: dcm('110113', 'Security Alert'),
  UserAuthentication: dcm('110114', 'User Authentication'),
} as const;

/** EventTypeCode, PS3.16 CID 401 "Audit Event Type Code". */
export const EventTypeCode = {
  ApplicationStart: dcm('110120', 'Application Start'),
  ApplicationStop: dcm('110121', 'Application Stop'),
  Login: dcm('110122', 'Login'),
  Logout: dcm('110123', 'Logout'),
  Attach: dcm('110124', 'Attach'),
  Detach: dcm('110125', 'Detach'),
  NodeAuthentication: dcm('110126', 'Node Authentication'),
  SecurityConfiguration: dcm('110129', 'Security Configuration'),
  UseOfRestrictedFunction: dcm('110132', 'Use of Restricted Function'),
  AuditRecordingStopped: dcm('110133', 'Audit Recording Stopped'),
  AuditRecordingStarted: dcm('110134', 'Audit Recording Started'),
} as const;

/**
 * Implementation extensions (PS3.15 A.5 lets an implementation extend the messages and asks its
 * conformance statement to describe them): EventTypeCodes of a Security Alert for association
 * events, coding scheme 99DICOMTLS (PS3.16 8.2: a private scheme designator starts with "99").
 */
export const ExtensionEventTypeCode = {
  AssociationAccepted: Object.freeze({ csdCode: 'ASSOCIATION-ACCEPTED', codeSystemName: '99DICOMTLS', originalText: 'Association Accepted' }),
  AssociationRejected: Object.freeze({ csdCode: 'ASSOCIATION-REJECTED', codeSystemName: '99DICOMTLS', originalText: 'Association Rejected' }),
} as const;

/** RoleIDCode of an ActiveParticipant, PS3.16 CID 402 "Audit Active Participant Role ID Code". */
export const RoleIdCode = {
  Application: dcm('110150', 'Application'),
  ApplicationLauncher: dcm('110151', 'Application Launcher'),
  Destination: dcm('110152', 'Destination Role ID'),
  Source: dcm('110153', 'Source Role ID'),
} as const;

/** ParticipantObjectIDTypeCode, PS3.16 CID 404 and RFC 3881 5.5.4. */
export const ParticipantObjectIdTypeCode = {
  /** RFC 3881: 2 = Patient Number. */
  PatientNumber: Object.freeze({ csdCode: '2', codeSystemName: 'RFC-3881', originalText: 'Patient Number' }),
  StudyInstanceUid: dcm('110180', 'Study Instance UID'),
  SopClassUid: dcm('110181', 'SOP Class UID'),
  NodeId: dcm('110182', 'Node ID'),
} as const;

/** EventActionCode (PS3.15 A.5.1 schema). */
export const EventActionCode = { Create: 'C', Read: 'R', Update: 'U', Delete: 'D', Execute: 'E' } as const;
export type EventActionCode = (typeof EventActionCode)[keyof typeof EventActionCode];

/** EventOutcomeIndicator (PS3.15 A.5.1 schema). */
export const EventOutcome = { Success: '0', MinorFailure: '4', SeriousFailure: '8', MajorFailure: '12' } as const;
export type EventOutcome = (typeof EventOutcome)[keyof typeof EventOutcome];

/** NetworkAccessPointTypeCode (PS3.15 A.5.1 schema). */
export const NetworkAccessPointTypeCode = { MachineName: '1', IpAddress: '2', TelephoneNumber: '3', Email: '4', Uri: '5' } as const;

/** ParticipantObjectTypeCode (PS3.15 A.5.1 schema). */
export const ParticipantObjectTypeCode = { Person: '1', SystemObject: '2', Organization: '3', Other: '4' } as const;

/** ParticipantObjectTypeCodeRole (PS3.15 A.5.1.2.2). */
export const ParticipantObjectTypeCodeRole = { Patient: '1', Location: '2', Report: '3', Resource: '4', MasterFile: '5', User: '6', SecurityResource: '13', DataRepository: '17', Query: '24' } as const;

/** AuditSourceTypeCode (PS3.15 A.5.1.2.1): 4 = application server process. */
export const AuditSourceTypeCode = { EndUserInterface: '1', ApplicationServer: '4', SecurityServer: '6', Other: '9' } as const;
