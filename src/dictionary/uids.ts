/**
 * UIDs this toolkit names (PS3.6 Annex A). SOP classes by service; Storage SOP classes are those
 * of PS3.4 Annex B.5 (Table B.5-1) that are not retired, named as in PS3.6 Annex A without spaces.
 */

import { OtherStorageSopClass, RetiredStorageSopClass } from './standard-storage-sop-classes.js';

/** PS3.4 Annex A. */
export const VerificationSopClass = '1.2.840.10008.1.1';

/** PS3.4 Annex B.5, Table B.5-1: the Storage SOP classes in current use. */
export const StorageSopClass = {
  ComputedRadiographyImageStorage: '1.2.840.10008.5.1.4.1.1.1',
  DigitalXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.1',
  DigitalXRayImageStorageForProcessing: '1.2.840.10008.5.1.4.1.1.1.1.1',
  DigitalMammographyXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.2',
  DigitalMammographyXRayImageStorageForProcessing: '1.2.840.10008.5.1.4.1.1.1.2.1',
  DigitalIntraOralXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.3',
  DigitalIntraOralXRayImageStorageForProcessing: '1.2.840.10008.5.1.4.1.1.1.3.1',
  CtImageStorage: '1.2.840.10008.5.1.4.1.1.2',
  EnhancedCtImageStorage: '1.2.840.10008.5.1.4.1.1.2.1',
  LegacyConvertedEnhancedCtImageStorage: '1.2.840.10008.5.1.4.1.1.2.2',
  UltrasoundMultiFrameImageStorage: '1.2.840.10008.5.1.4.1.1.3.1',
  MrImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  EnhancedMrImageStorage: '1.2.840.10008.5.1.4.1.1.4.1',
  MrSpectroscopyStorage: '1.2.840.10008.5.1.4.1.1.4.2',
  EnhancedMrColorImageStorage: '1.2.840.10008.5.1.4.1.1.4.3',
  LegacyConvertedEnhancedMrImageStorage: '1.2.840.10008.5.1.4.1.1.4.4',
  UltrasoundImageStorage: '1.2.840.10008.5.1.4.1.1.6.1',
  EnhancedUsVolumeStorage: '1.2.840.10008.5.1.4.1.1.6.2',
  PhotoacousticImageStorage: '1.2.840.10008.5.1.4.1.1.6.3',
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  MultiFrameSingleBitSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.1',
  MultiFrameGrayscaleByteSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.2',
  MultiFrameGrayscaleWordSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.3',
  MultiFrameTrueColorSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.4',
  TwelveLeadEcgWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.1.1',
  GeneralEcgWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.1.2',
  AmbulatoryEcgWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.1.3',
  General32BitEcgWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.1.4',
  HemodynamicWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.2.1',
  CardiacElectrophysiologyWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.3.1',
  BasicVoiceAudioWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.4.1',
  GeneralAudioWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.4.2',
  ArterialPulseWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.5.1',
  RespiratoryWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.6.1',
  MultiChannelRespiratoryWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.6.2',
  RoutineScalpElectroencephalogramWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.7.1',
  ElectromyogramWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.7.2',
  ElectrooculogramWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.7.3',
  SleepElectroencephalogramWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.7.4',
  BodyPositionWaveformStorage: '1.2.840.10008.5.1.4.1.1.9.8.1',
  GrayscaleSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.1',
  ColorSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.2',
  PseudoColorSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.3',
  BlendingSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.4',
  XaXrfGrayscaleSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.5',
  GrayscalePlanarMprVolumetricPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.6',
  CompositingPlanarMprVolumetricPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.7',
  AdvancedBlendingPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.8',
  VolumeRenderingVolumetricPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.9',
  SegmentedVolumeRenderingVolumetricPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.10',
  MultipleVolumeRenderingVolumetricPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.11',
  VariableModalityLutSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.12',
  XRayAngiographicImageStorage: '1.2.840.10008.5.1.4.1.1.12.1',
  EnhancedXaImageStorage: '1.2.840.10008.5.1.4.1.1.12.1.1',
  XRayRadiofluoroscopicImageStorage: '1.2.840.10008.5.1.4.1.1.12.2',
  EnhancedXrfImageStorage: '1.2.840.10008.5.1.4.1.1.12.2.1',
  XRay3dAngiographicImageStorage: '1.2.840.10008.5.1.4.1.1.13.1.1',
  XRay3dCraniofacialImageStorage: '1.2.840.10008.5.1.4.1.1.13.1.2',
  BreastTomosynthesisImageStorage: '1.2.840.10008.5.1.4.1.1.13.1.3',
  BreastProjectionXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.13.1.4',
  BreastProjectionXRayImageStorageForProcessing: '1.2.840.10008.5.1.4.1.1.13.1.5',
  IntravascularOpticalCoherenceTomographyImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.14.1',
  IntravascularOpticalCoherenceTomographyImageStorageForProcessing: '1.2.840.10008.5.1.4.1.1.14.2',
  NuclearMedicineImageStorage: '1.2.840.10008.5.1.4.1.1.20',
  ParametricMapStorage: '1.2.840.10008.5.1.4.1.1.30',
  RawDataStorage: '1.2.840.10008.5.1.4.1.1.66',
  SpatialRegistrationStorage: '1.2.840.10008.5.1.4.1.1.66.1',
  SpatialFiducialsStorage: '1.2.840.10008.5.1.4.1.1.66.2',
  DeformableSpatialRegistrationStorage: '1.2.840.10008.5.1.4.1.1.66.3',
  SegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.4',
  SurfaceSegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.5',
  TractographyResultsStorage: '1.2.840.10008.5.1.4.1.1.66.6',
  LabelMapSegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.7',
  HeightMapSegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.8',
  RealWorldValueMappingStorage: '1.2.840.10008.5.1.4.1.1.67',
  SurfaceScanMeshStorage: '1.2.840.10008.5.1.4.1.1.68.1',
  SurfaceScanPointCloudStorage: '1.2.840.10008.5.1.4.1.1.68.2',
  VlEndoscopicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.1',
  VideoEndoscopicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.1.1',
  VlMicroscopicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.2',
  VideoMicroscopicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.2.1',
  VlSlideCoordinatesMicroscopicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.3',
  VlPhotographicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.4',
  VideoPhotographicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.4.1',
  OphthalmicPhotography8BitImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.1',
  OphthalmicPhotography16BitImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.2',
  StereometricRelationshipStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.3',
  OphthalmicTomographyImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.4',
  WideFieldOphthalmicPhotographyStereographicProjectionImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.5',
  WideFieldOphthalmicPhotography3dCoordinatesImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.6',
  OphthalmicOpticalCoherenceTomographyEnFaceImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.7',
  OphthalmicOpticalCoherenceTomographyBScanVolumeAnalysisStorage: '1.2.840.10008.5.1.4.1.1.77.1.5.8',
  VlWholeSlideMicroscopyImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.6',
  DermoscopicPhotographyImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.7',
  ConfocalMicroscopyImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.8',
  ConfocalMicroscopyTiledPyramidalImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.9',
  LensometryMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.78.1',
  AutorefractionMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.78.2',
  KeratometryMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.78.3',
  SubjectiveRefractionMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.78.4',
  VisualAcuityMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.78.5',
  SpectaclePrescriptionReportStorage: '1.2.840.10008.5.1.4.1.1.78.6',
  OphthalmicAxialMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.78.7',
  IntraocularLensCalculationsStorage: '1.2.840.10008.5.1.4.1.1.78.8',
  MacularGridThicknessAndVolumeReportStorage: '1.2.840.10008.5.1.4.1.1.79.1',
  OphthalmicVisualFieldStaticPerimetryMeasurementsStorage: '1.2.840.10008.5.1.4.1.1.80.1',
  OphthalmicThicknessMapStorage: '1.2.840.10008.5.1.4.1.1.81.1',
  CornealTopographyMapStorage: '1.2.840.10008.5.1.4.1.1.82.1',
  BasicTextSrStorage: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSrStorage: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSrStorage: '1.2.840.10008.5.1.4.1.1.88.33',
  Comprehensive3dSrStorage: '1.2.840.10008.5.1.4.1.1.88.34',
  ExtensibleSrStorage: '1.2.840.10008.5.1.4.1.1.88.35',
  ProcedureLogStorage: '1.2.840.10008.5.1.4.1.1.88.40',
  MammographyCadSrStorage: '1.2.840.10008.5.1.4.1.1.88.50',
  KeyObjectSelectionDocumentStorage: '1.2.840.10008.5.1.4.1.1.88.59',
  ChestCadSrStorage: '1.2.840.10008.5.1.4.1.1.88.65',
  XRayRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.67',
  RadiopharmaceuticalRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.68',
  ColonCadSrStorage: '1.2.840.10008.5.1.4.1.1.88.69',
  ImplantationPlanSrStorage: '1.2.840.10008.5.1.4.1.1.88.70',
  AcquisitionContextSrStorage: '1.2.840.10008.5.1.4.1.1.88.71',
  SimplifiedAdultEchoSrStorage: '1.2.840.10008.5.1.4.1.1.88.72',
  PatientRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.73',
  PlannedImagingAgentAdministrationSrStorage: '1.2.840.10008.5.1.4.1.1.88.74',
  PerformedImagingAgentAdministrationSrStorage: '1.2.840.10008.5.1.4.1.1.88.75',
  EnhancedXRayRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.76',
  WaveformAnnotationSrStorage: '1.2.840.10008.5.1.4.1.1.88.77',
  ContentAssessmentResultsStorage: '1.2.840.10008.5.1.4.1.1.90.1',
  MicroscopyBulkSimpleAnnotationsStorage: '1.2.840.10008.5.1.4.1.1.91.1',
  EncapsulatedPdfStorage: '1.2.840.10008.5.1.4.1.1.104.1',
  EncapsulatedCdaStorage: '1.2.840.10008.5.1.4.1.1.104.2',
  EncapsulatedStlStorage: '1.2.840.10008.5.1.4.1.1.104.3',
  EncapsulatedObjStorage: '1.2.840.10008.5.1.4.1.1.104.4',
  EncapsulatedMtlStorage: '1.2.840.10008.5.1.4.1.1.104.5',
  PositronEmissionTomographyImageStorage: '1.2.840.10008.5.1.4.1.1.128',
  LegacyConvertedEnhancedPetImageStorage: '1.2.840.10008.5.1.4.1.1.128.1',
  EnhancedPetImageStorage: '1.2.840.10008.5.1.4.1.1.130',
  BasicStructuredDisplayStorage: '1.2.840.10008.5.1.4.1.1.131',
  CtPerformedProcedureProtocolStorage: '1.2.840.10008.5.1.4.1.1.200.2',
  XaPerformedProcedureProtocolStorage: '1.2.840.10008.5.1.4.1.1.200.8',
  RtImageStorage: '1.2.840.10008.5.1.4.1.1.481.1',
  RtDoseStorage: '1.2.840.10008.5.1.4.1.1.481.2',
  RtStructureSetStorage: '1.2.840.10008.5.1.4.1.1.481.3',
  RtBeamsTreatmentRecordStorage: '1.2.840.10008.5.1.4.1.1.481.4',
  RtPlanStorage: '1.2.840.10008.5.1.4.1.1.481.5',
  RtBrachyTreatmentRecordStorage: '1.2.840.10008.5.1.4.1.1.481.6',
  RtTreatmentSummaryRecordStorage: '1.2.840.10008.5.1.4.1.1.481.7',
  RtIonPlanStorage: '1.2.840.10008.5.1.4.1.1.481.8',
  RtIonBeamsTreatmentRecordStorage: '1.2.840.10008.5.1.4.1.1.481.9',
  RtPhysicianIntentStorage: '1.2.840.10008.5.1.4.1.1.481.10',
  RtSegmentAnnotationStorage: '1.2.840.10008.5.1.4.1.1.481.11',
  RtRadiationSetStorage: '1.2.840.10008.5.1.4.1.1.481.12',
  CArmPhotonElectronRadiationStorage: '1.2.840.10008.5.1.4.1.1.481.13',
  TomotherapeuticRadiationStorage: '1.2.840.10008.5.1.4.1.1.481.14',
  RoboticArmRadiationStorage: '1.2.840.10008.5.1.4.1.1.481.15',
  RtRadiationRecordSetStorage: '1.2.840.10008.5.1.4.1.1.481.16',
  RtRadiationSalvageRecordStorage: '1.2.840.10008.5.1.4.1.1.481.17',
  TomotherapeuticRadiationRecordStorage: '1.2.840.10008.5.1.4.1.1.481.18',
  CArmPhotonElectronRadiationRecordStorage: '1.2.840.10008.5.1.4.1.1.481.19',
  RoboticRadiationRecordStorage: '1.2.840.10008.5.1.4.1.1.481.20',
  RtRadiationSetDeliveryInstructionStorage: '1.2.840.10008.5.1.4.1.1.481.21',
  RtTreatmentPreparationStorage: '1.2.840.10008.5.1.4.1.1.481.22',
  EnhancedRtImageStorage: '1.2.840.10008.5.1.4.1.1.481.23',
  EnhancedContinuousRtImageStorage: '1.2.840.10008.5.1.4.1.1.481.24',
  RtPatientPositionAcquisitionInstructionStorage: '1.2.840.10008.5.1.4.1.1.481.25',
  RtBeamsDeliveryInstructionStorage: '1.2.840.10008.5.1.4.34.7',
  RtBrachyApplicationSetupDeliveryInstructionStorage: '1.2.840.10008.5.1.4.34.10',
} as const;
export type StorageSopClassUid = (typeof StorageSopClass)[keyof typeof StorageSopClass];

const storageUids: ReadonlySet<string> = new Set(Object.values(StorageSopClass));
/** True when `uid` is one of the Storage SOP classes of {@link StorageSopClass}. */
export function isStorageSopClass(uid: string): boolean {
  return storageUids.has(uid);
}

export { OtherStorageSopClass, RetiredStorageSopClass } from './standard-storage-sop-classes.js';
const retiredStorageUids: ReadonlySet<string> = new Set(Object.values(RetiredStorageSopClass));
/** True when `uid` is a retired Storage SOP class ({@link RetiredStorageSopClass}). */
export function isRetiredStorageSopClass(uid: string): boolean {
  return retiredStorageUids.has(uid);
}

/**
 * PS3.4 Annex GG (Non-Patient Object Storage Service Class), Table GG.3-1: classes sent with
 * C-STORE whose IODs (PS3.3: Hanging Protocol, Color Palette, Implant Templates, Defined
 * Procedure Protocols, Protocol Approval, Inventory) have no Patient, Study or Series: they carry
 * no Study or Series Instance UID, and the standard queries and retrieves them with information
 * models of their own (Hanging Protocol, Color Palette, Implant Template, Defined Procedure
 * Protocol, Inventory Q/R), not Patient or Study Root. Inventory Storage is newer than the
 * generated table (standard-storage-sop-classes.ts), hence its UID here.
 */
export const NonPatientStorageSopClass = {
  HangingProtocolStorage: OtherStorageSopClass.HangingProtocolStorage,
  ColorPaletteStorage: OtherStorageSopClass.ColorPaletteStorage,
  GenericImplantTemplateStorage: OtherStorageSopClass.GenericImplantTemplateStorage,
  ImplantAssemblyTemplateStorage: OtherStorageSopClass.ImplantAssemblyTemplateStorage,
  ImplantTemplateGroupStorage: OtherStorageSopClass.ImplantTemplateGroupStorage,
  CtDefinedProcedureProtocolStorage: OtherStorageSopClass.CtDefinedProcedureProtocolStorage,
  ProtocolApprovalStorage: OtherStorageSopClass.ProtocolApprovalStorage,
  XaDefinedProcedureProtocolStorage: OtherStorageSopClass.XaDefinedProcedureProtocolStorage,
  InventoryStorage: '1.2.840.10008.5.1.4.1.1.201.1',
} as const;
const nonPatientStorageUids: ReadonlySet<string> = new Set(Object.values(NonPatientStorageSopClass));
/** True when `uid` is a non-patient object storage class ({@link NonPatientStorageSopClass}). */
export function isNonPatientStorageSopClass(uid: string): boolean {
  return nonPatientStorageUids.has(uid);
}

/** PS3.4 Annex C.6 (Query/Retrieve information models) and Annex K.6 (Modality Worklist). */
export const QueryRetrieveSopClass = {
  PatientRootQueryRetrieveInformationModelFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootQueryRetrieveInformationModelMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootQueryRetrieveInformationModelGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootQueryRetrieveInformationModelFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootQueryRetrieveInformationModelMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootQueryRetrieveInformationModelGet: '1.2.840.10008.5.1.4.1.2.2.3',
  ModalityWorklistInformationModelFind: '1.2.840.10008.5.1.4.31',
} as const;

/** PS3.4 Annex J (Storage Commitment) and Annex F (MPPS). */
export const NormalizedSopClass = {
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
  /** Well-known SOP instance of the Storage Commitment Push Model (PS3.4 J.3.5). */
  StorageCommitmentPushModelInstance: '1.2.840.10008.1.20.1.1',
  ModalityPerformedProcedureStep: '1.2.840.10008.3.1.2.3.3',
  ModalityPerformedProcedureStepRetrieve: '1.2.840.10008.3.1.2.3.4',
  ModalityPerformedProcedureStepNotification: '1.2.840.10008.3.1.2.3.5',
} as const;

/** PS3.5 Section 10 and Annex A: the transfer syntaxes, by UID. */
export const TransferSyntax = {
  ImplicitVrLittleEndian: '1.2.840.10008.1.2',
  ExplicitVrLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVrLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVrLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVrBigEndian: '1.2.840.10008.1.2.2',
  JpegBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JpegExtended12Bit: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSv1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  Jpeg2000MultiComponentLossless: '1.2.840.10008.1.2.4.92',
  Jpeg2000MultiComponent: '1.2.840.10008.1.2.4.93',
  JpipReferenced: '1.2.840.10008.1.2.4.94',
  JpipReferencedDeflate: '1.2.840.10008.1.2.4.95',
  Mpeg2MainProfileMainLevel: '1.2.840.10008.1.2.4.100',
  FragmentableMpeg2MainProfileMainLevel: '1.2.840.10008.1.2.4.100.1',
  Mpeg2MainProfileHighLevel: '1.2.840.10008.1.2.4.101',
  FragmentableMpeg2MainProfileHighLevel: '1.2.840.10008.1.2.4.101.1',
  Mpeg4Avc264HighProfile: '1.2.840.10008.1.2.4.102',
  FragmentableMpeg4Avc264HighProfile: '1.2.840.10008.1.2.4.102.1',
  Mpeg4Avc264BdCompatibleHighProfile: '1.2.840.10008.1.2.4.103',
  FragmentableMpeg4Avc264BdCompatibleHighProfile: '1.2.840.10008.1.2.4.103.1',
  Mpeg4Avc264HighProfileFor2dVideo: '1.2.840.10008.1.2.4.104',
  FragmentableMpeg4Avc264HighProfileFor2dVideo: '1.2.840.10008.1.2.4.104.1',
  Mpeg4Avc264HighProfileFor3dVideo: '1.2.840.10008.1.2.4.105',
  FragmentableMpeg4Avc264HighProfileFor3dVideo: '1.2.840.10008.1.2.4.105.1',
  Mpeg4Avc264StereoHighProfile: '1.2.840.10008.1.2.4.106',
  FragmentableMpeg4Avc264StereoHighProfile: '1.2.840.10008.1.2.4.106.1',
  Hevc265MainProfile: '1.2.840.10008.1.2.4.107',
  Hevc265Main10Profile: '1.2.840.10008.1.2.4.108',
  HighThroughputJpeg2000Lossless: '1.2.840.10008.1.2.4.201',
  HighThroughputJpeg2000RpclLossless: '1.2.840.10008.1.2.4.202',
  HighThroughputJpeg2000: '1.2.840.10008.1.2.4.203',
  JpipHtj2kReferenced: '1.2.840.10008.1.2.4.204',
  JpipHtj2kReferencedDeflate: '1.2.840.10008.1.2.4.205',
  RleLossless: '1.2.840.10008.1.2.5',
  SmpteSt211020UncompressedProgressiveActiveVideo: '1.2.840.10008.1.2.7.1',
  SmpteSt211020UncompressedInterlacedActiveVideo: '1.2.840.10008.1.2.7.2',
  SmpteSt211030PcmDigitalAudio: '1.2.840.10008.1.2.7.3',
} as const;
export type TransferSyntaxUid = (typeof TransferSyntax)[keyof typeof TransferSyntax];

/** How a transfer syntax encodes a dataset (PS3.5 Section 10). */
export interface TransferSyntaxProperties {
  readonly uid: string;
  /** Implicit VR (only Implicit VR Little Endian). */
  readonly implicitVr: boolean;
  readonly littleEndian: boolean;
  /** The whole dataset after the meta header is deflated (PS3.5 A.5). */
  readonly deflated: boolean;
  /** Pixel Data is encapsulated (PS3.5 A.4); false for the native (uncompressed) syntaxes. */
  readonly encapsulated: boolean;
  /** Referenced pixel data (JPIP, PS3.5 A.6/A.7): the pixel data lives elsewhere. */
  readonly referencedPixelData: boolean;
}

function props(uid: string, o: Partial<Omit<TransferSyntaxProperties, 'uid'>>): TransferSyntaxProperties {
  return {
    uid,
    implicitVr: o.implicitVr ?? false,
    littleEndian: o.littleEndian ?? true,
    deflated: o.deflated ?? false,
    encapsulated: o.encapsulated ?? true,
    referencedPixelData: o.referencedPixelData ?? false,
  };
}

const tsTable: ReadonlyMap<string, TransferSyntaxProperties> = new Map(
  Object.values(TransferSyntax).map((uid): [string, TransferSyntaxProperties] => {
    switch (uid) {
      case TransferSyntax.ImplicitVrLittleEndian:
        return [uid, props(uid, { implicitVr: true, encapsulated: false })];
      case TransferSyntax.ExplicitVrLittleEndian:
        return [uid, props(uid, { encapsulated: false })];
      case TransferSyntax.DeflatedExplicitVrLittleEndian:
        return [uid, props(uid, { deflated: true, encapsulated: false })];
      case TransferSyntax.ExplicitVrBigEndian:
        return [uid, props(uid, { littleEndian: false, encapsulated: false })];
      case TransferSyntax.JpipReferenced:
      case TransferSyntax.JpipHtj2kReferenced:
        return [uid, props(uid, { encapsulated: false, referencedPixelData: true })];
      case TransferSyntax.JpipReferencedDeflate:
      case TransferSyntax.JpipHtj2kReferencedDeflate:
        return [uid, props(uid, { encapsulated: false, referencedPixelData: true, deflated: true })];
      default:
        // Every other registered syntax is explicit VR little endian with encapsulated pixel data
        // (PS3.5 A.4, incl. Encapsulated Uncompressed and the SMPTE ST 2110 ones).
        return [uid, props(uid, {})];
    }
  }),
);

/**
 * Properties of a transfer syntax. Unknown UIDs are, by PS3.5 A.4, explicit VR little endian
 * with encapsulated pixel data (every transfer syntax defined after the first four is); callers
 * that must know whether a UID is registered use {@link isKnownTransferSyntax}.
 */
export function transferSyntaxProperties(uid: string): TransferSyntaxProperties {
  return tsTable.get(uid) ?? props(uid, {});
}

export function isKnownTransferSyntax(uid: string): boolean {
  return tsTable.has(uid);
}
