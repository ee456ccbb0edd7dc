import { FileStore } from '../../src/store/file-store.js';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { ctImageStorage, encodeDataset, encodeSequence, specElements, type Element, type InstanceSpec } from './dicom-data.js';

const p1 = { PatientID: 'PID001', PatientName: 'DOE^JOHN', PatientBirthDate: '19700101', PatientSex: 'M' };
const p2 = { PatientID: 'PID002', PatientName: 'DOE^JANE', PatientBirthDate: '19851231', PatientSex: 'F' };
const p3 = { PatientID: 'PID[3]', PatientName: 'smith^bob', PatientSex: 'O' };
const st1 = { StudyInstanceUID: '1.2.826.0.2.1', StudyDate: '20200101', StudyTime: '101500', AccessionNumber: 'ACC1', StudyID: 'S1', StudyDescription: 'CT HEAD', ReferringPhysicianName: 'SMITH^ANNA' };
const st2 = { StudyInstanceUID: '1.2.826.0.2.2', StudyDate: '20210615', StudyTime: '083000', AccessionNumber: 'ACC2', StudyID: 'S2', StudyDescription: 'CT CHEST' };
const st3 = { StudyInstanceUID: '1.2.826.0.2.3', StudyDate: '20190310', StudyTime: '235959.5', AccessionNumber: 'ACC3', StudyID: 'S3', StudyDescription: 'MR KNEE', ReferringPhysicianName: 'JONES^B' };
const st4 = { StudyInstanceUID: '1.2.826.0.2.4', AccessionNumber: 'X4', StudyID: 'S4', StudyDescription: 'NO DATE' };

function series(uid: string, Modality: string, SeriesNumber: string, count: number, SeriesDescription?: string) {
  return Array.from({ length: count }, (_, n) => ({
    SeriesInstanceUID: uid,
    Modality,
    SeriesNumber,
    ...(SeriesDescription === undefined ? {} : { SeriesDescription }),
    SOPInstanceUID: `${uid}.${n + 1}`,
    InstanceNumber: String(n + 1),
    SOPClassUID: ctImageStorage,
  }));
}

/** 3 patients, 4 studies, 5 series, 7 instances: the known data set of the query tests. */
export const knownInstances: readonly InstanceSpec[] = [
  ...series('1.2.826.0.2.1.1', 'CT', '1', 2, 'AXIAL').map((i) => ({ ...p1, ...st1, ...i })),
  ...series('1.2.826.0.2.1.2', 'MR', '2', 1, 'T1').map((i) => ({ ...p1, ...st1, ...i })),
  ...series('1.2.826.0.2.2.1', 'CT', '1', 1).map((i) => ({ ...p1, ...st2, ...i })),
  ...series('1.2.826.0.2.3.1', 'MR', '1', 2).map((i) => ({ ...p2, ...st3, ...i })),
  ...series('1.2.826.0.2.4.1', 'OT', '7', 1).map((i) => ({ ...p3, ...st4, ...i })),
];

/** Sequences for sequence matching: a procedure code on study 1, request attributes on series 1.2.826.0.2.3.1. */
function sequences(spec: InstanceSpec): Element[] {
  const out: Element[] = [];
  if (spec.StudyInstanceUID === '1.2.826.0.2.1') {
    out.push([0x00081032, 'SQ', encodeSequence([[[0x00080100, 'SH', 'CTHEAD'], [0x00080102, 'SH', 'LOCAL'], [0x00080104, 'LO', 'CT Head']]])]);
  }
  if (spec.SeriesInstanceUID === '1.2.826.0.2.3.1') {
    out.push([
      0x00400275,
      'SQ',
      encodeSequence([
        [[0x00401001, 'SH', 'RP100'], [0x00400009, 'SH', 'SPS7']],
        [[0x00401001, 'SH', 'RP101'], [0x00400009, 'SH', 'SPS8']],
      ]),
    ]);
  }
  return out;
}

export function knownDataset(spec: InstanceSpec): Buffer {
  return encodeDataset([...specElements(spec), ...sequences(spec), [0x7fe00010, 'OB', new Uint8Array(64)]]);
}

/** Store the known data set through the file store into `root`, indexing into `index`. */
export async function storeKnownDataset(root: string, index: InstanceIndex): Promise<FileStore> {
  const store = await FileStore.open({ root, index, fsync: 'none' });
  for (const spec of knownInstances) {
    await store.store(
      { sopClassUid: ctImageStorage, sopInstanceUid: spec.SOPInstanceUID, transferSyntaxUid: '1.2.840.10008.1.2.1' },
      (async function* () {
        yield knownDataset(spec);
      })(),
    );
  }
  return store;
}
