/**
 * PS3.8 Section 9.3: the seven upper-layer PDUs and their items, as readonly plain objects in a
 * discriminated union on `type`. The codec (encode.ts / decode.ts) is the only place that knows
 * byte layouts; everything above works with these shapes.
 */

/** PDU type octet (PS3.8 Table 9-11 … 9-26, first byte of each PDU). */
export const PduTypeCode = {
  'A-ASSOCIATE-RQ': 0x01,
  'A-ASSOCIATE-AC': 0x02,
  'A-ASSOCIATE-RJ': 0x03,
  'P-DATA-TF': 0x04,
  'A-RELEASE-RQ': 0x05,
  'A-RELEASE-RP': 0x06,
  'A-ABORT': 0x07,
} as const;
export type PduTypeName = keyof typeof PduTypeCode;

/** Item type octets of variable items and user-information sub-items (PS3.8 9.3.2 – 9.3.3, PS3.7 D.3.3). */
export const ItemType = {
  ApplicationContext: 0x10,
  PresentationContextRq: 0x20,
  PresentationContextAc: 0x21,
  AbstractSyntax: 0x30,
  TransferSyntax: 0x40,
  UserInformation: 0x50,
  MaximumLength: 0x51,
  ImplementationClassUid: 0x52,
  AsynchronousOperationsWindow: 0x53,
  ScpScuRoleSelection: 0x54,
  ImplementationVersionName: 0x55,
  SopClassExtendedNegotiation: 0x56,
  SopClassCommonExtendedNegotiation: 0x57,
  UserIdentityRq: 0x58,
  UserIdentityAc: 0x59,
} as const;

/** The DICOM application context name (PS3.7 Annex A.2.1). */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** PS3.8 9.3.2.2, item 0x20. */
export interface PresentationContextRqItem {
  /** Odd integer 1–255. */
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
}

/** Result/reason of a presentation context in A-ASSOCIATE-AC (PS3.8 Table 9-18). */
export const PresentationContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;
export type PresentationContextResultCode = (typeof PresentationContextResult)[keyof typeof PresentationContextResult];

/** PS3.8 9.3.3.2, item 0x21. `transferSyntax` is significant only when result is Acceptance. */
export interface PresentationContextAcItem {
  readonly id: number;
  readonly result: PresentationContextResultCode;
  readonly transferSyntax: string;
}

/** PS3.7 D.3.3.4, sub-item 0x54. */
export interface RoleSelectionItem {
  readonly sopClassUid: string;
  readonly scuRole: boolean;
  readonly scpRole: boolean;
}

/** PS3.7 D.3.3.5, sub-item 0x56. */
export interface SopClassExtendedNegotiationItem {
  readonly sopClassUid: string;
  readonly serviceClassApplicationInformation: Uint8Array;
}

/** PS3.7 D.3.3.6, sub-item 0x57 (A-ASSOCIATE-RQ only). */
export interface SopClassCommonExtendedNegotiationItem {
  readonly sopClassUid: string;
  readonly serviceClassUid: string;
  readonly relatedGeneralSopClassUids: readonly string[];
}

/** User identity type (PS3.7 Table D.3-14). */
export const UserIdentityType = {
  Username: 1,
  UsernameAndPasscode: 2,
  Kerberos: 3,
  Saml: 4,
  Jwt: 5,
} as const;
export type UserIdentityTypeCode = (typeof UserIdentityType)[keyof typeof UserIdentityType];

/** PS3.7 D.3.3.7.1, sub-item 0x58. */
export interface UserIdentityRqItem {
  readonly identityType: UserIdentityTypeCode;
  readonly positiveResponseRequested: boolean;
  readonly primaryField: Uint8Array;
  /** Non-empty only for type 2 (passcode). */
  readonly secondaryField: Uint8Array;
}

/** PS3.7 D.3.3.7.2, sub-item 0x59. */
export interface UserIdentityAcItem {
  readonly serverResponse: Uint8Array;
}

/** A sub-item this implementation does not know; kept verbatim so nothing is lost. */
export interface UnknownSubItem {
  readonly itemType: number;
  readonly data: Uint8Array;
}

/** PS3.8 9.3.2.3 / PS3.7 Annex D.3.3, item 0x50. Absent sub-items are undefined / empty. */
export interface UserInformationItem {
  /** 0x51: maximum length of the P-DATA-TF PDUs the sender can receive; 0 = no limit. */
  readonly maximumLength: number | undefined;
  /** 0x52. */
  readonly implementationClassUid: string | undefined;
  /** 0x55. */
  readonly implementationVersionName: string | undefined;
  /** 0x53. */
  readonly asynchronousOperationsWindow:
    | { readonly maxOperationsInvoked: number; readonly maxOperationsPerformed: number }
    | undefined;
  /** 0x54, one per SOP class. */
  readonly roleSelections: readonly RoleSelectionItem[];
  /** 0x56. */
  readonly sopClassExtendedNegotiations: readonly SopClassExtendedNegotiationItem[];
  /** 0x57 (RQ only). */
  readonly sopClassCommonExtendedNegotiations: readonly SopClassCommonExtendedNegotiationItem[];
  /** 0x58 (RQ only). */
  readonly userIdentityRq: UserIdentityRqItem | undefined;
  /** 0x59 (AC only). */
  readonly userIdentityAc: UserIdentityAcItem | undefined;
  /** Sub-items with unknown types, in order of appearance. */
  readonly unknownSubItems: readonly UnknownSubItem[];
}

/** PS3.8 9.3.2, Table 9-11. */
export interface AAssociateRqPdu {
  readonly type: 'A-ASSOCIATE-RQ';
  /** Bit 0 set = version 1; sent as 0x0001. */
  readonly protocolVersion: number;
  /** Up to 16 characters; padding spaces removed on decode. */
  readonly calledAeTitle: string;
  readonly callingAeTitle: string;
  readonly applicationContextName: string;
  readonly presentationContexts: readonly PresentationContextRqItem[];
  readonly userInformation: UserInformationItem;
}

/** PS3.8 9.3.3, Table 9-17. Called/calling AE titles are echoed, and not to be tested on receipt. */
export interface AAssociateAcPdu {
  readonly type: 'A-ASSOCIATE-AC';
  readonly protocolVersion: number;
  readonly calledAeTitle: string;
  readonly callingAeTitle: string;
  readonly applicationContextName: string;
  readonly presentationContexts: readonly PresentationContextAcItem[];
  readonly userInformation: UserInformationItem;
}

/** A-ASSOCIATE-RJ result (PS3.8 Table 9-21). */
export const RejectResult = { RejectedPermanent: 1, RejectedTransient: 2 } as const;
/** A-ASSOCIATE-RJ source (PS3.8 Table 9-21). */
export const RejectSource = {
  ServiceUser: 1,
  ServiceProviderAcse: 2,
  ServiceProviderPresentation: 3,
} as const;
/** A-ASSOCIATE-RJ reason/diag., by source (PS3.8 Table 9-21). */
export const RejectReason = {
  /** source 1 */
  NoReasonGiven: 1,
  ApplicationContextNameNotSupported: 2,
  CallingAeTitleNotRecognized: 3,
  CalledAeTitleNotRecognized: 7,
  /** source 2 */
  AcseNoReasonGiven: 1,
  ProtocolVersionNotSupported: 2,
  /** source 3 */
  TemporaryCongestion: 1,
  LocalLimitExceeded: 2,
} as const;

/** PS3.8 9.3.4, Table 9-21. */
export interface AAssociateRjPdu {
  readonly type: 'A-ASSOCIATE-RJ';
  readonly result: number;
  readonly source: number;
  readonly reason: number;
}

/** One presentation-data-value item of a P-DATA-TF (PS3.8 9.3.5.1, Annex E.2). */
export interface PresentationDataValue {
  readonly presentationContextId: number;
  /** Message control header bit 0. */
  readonly isCommand: boolean;
  /** Message control header bit 1 (on a piece that `continued`, false: the last piece carries it). */
  readonly isLast: boolean;
  /** The fragment; on decode a view into the received bytes (no copy). */
  readonly data: Uint8Array;
  /**
   * Set on decode only, by a PduReader with `splitDataValues`: this entry is a piece of one PDV
   * item whose value arrived in several reads, and the next entry continues it (same context and
   * command bit). The item on the wire is the pieces' data joined; the last piece has no flag.
   */
  readonly continued?: true;
}

/** PS3.8 9.3.5, Table 9-22. */
export interface PDataTfPdu {
  readonly type: 'P-DATA-TF';
  readonly pdvs: readonly PresentationDataValue[];
}

/** PS3.8 9.3.6. */
export interface AReleaseRqPdu {
  readonly type: 'A-RELEASE-RQ';
}

/** PS3.8 9.3.7. */
export interface AReleaseRpPdu {
  readonly type: 'A-RELEASE-RP';
}

/** A-ABORT source (PS3.8 Table 9-26). 1 is reserved. */
export const AbortSource = { ServiceUser: 0, Reserved: 1, ServiceProvider: 2 } as const;
/** A-ABORT reason when source is the service provider (PS3.8 Table 9-26). */
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

/** PS3.8 9.3.8, Table 9-26. */
export interface AAbortPdu {
  readonly type: 'A-ABORT';
  readonly source: number;
  readonly reason: number;
}

export type Pdu =
  | AAssociateRqPdu
  | AAssociateAcPdu
  | AAssociateRjPdu
  | PDataTfPdu
  | AReleaseRqPdu
  | AReleaseRpPdu
  | AAbortPdu;
