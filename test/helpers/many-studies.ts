/** An index with many studies (one instance each, no files): the load of big C-FINDs. */
import type { InstanceIndex, InstanceRecord } from '../../src/store/instance-index.js';

export function studyRecord(n: number, root = '1.2.826.0.1.3680043.9.7777.90'): InstanceRecord {
  return {
    SpecificCharacterSet: '',
    PatientID: `P${n % 97}`,
    PatientName: `LOAD^PATIENT${n % 97}`,
    PatientBirthDate: '19700101',
    PatientSex: 'O',
    StudyInstanceUID: `${root}.${n}`,
    StudyDate: '20240101',
    StudyTime: '120000',
    AccessionNumber: `A${n}`,
    StudyID: `S${n}`,
    StudyDescription: `LOAD STUDY ${n}`,
    ReferringPhysicianName: '',
    SeriesInstanceUID: `${root}.${n}.1`,
    Modality: 'CT',
    SeriesNumber: '1',
    SeriesDescription: '',
    SOPInstanceUID: `${root}.${n}.1.1`,
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    InstanceNumber: '1',
    key: `nonexistent/${n}.dcm`,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    size: 1,
  };
}

/** Add `count` studies, one instance each. */
export async function addStudies(index: InstanceIndex, count: number, root?: string): Promise<void> {
  for (let n = 1; n <= count; n++) await index.addInstance(studyRecord(n, root));
}
