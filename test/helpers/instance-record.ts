/** An index row for tests of the InstanceIndex: one CT instance of one study, every key given. */
import type { InstanceRecord } from '../../src/store/instance-index.js';

export const instanceRecord = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  SpecificCharacterSet: '',
  PatientID: 'P1',
  PatientName: 'A^B',
  PatientBirthDate: '',
  PatientSex: '',
  StudyInstanceUID: '1.1',
  StudyDate: '20200101',
  StudyTime: '',
  AccessionNumber: '',
  StudyID: '',
  StudyDescription: '',
  ReferringPhysicianName: '',
  SeriesInstanceUID: '1.1.1',
  Modality: 'CT',
  SeriesNumber: '1',
  SeriesDescription: '',
  SOPInstanceUID: '1.1.1.1',
  SOPClassUID: '1.2',
  InstanceNumber: '1',
  key: 'x/1.dcm',
  transferSyntaxUid: '1.2.840.10008.1.2.1',
  size: 10,
  ...over,
});
