/**
 * What the store takes from a data set's head (dataset-head.ts) for its key and index rows, and
 * the UID checks of PS3.4 B.2.3 on it and on the C-STORE command: pure, no I/O.
 */
import type { DatasetHeadScanner } from './dataset-head.js';
import { headText } from './dataset-head.js';
import { StoreError, storeErrorCodes } from './errors.js';
import type { StoredInstance, StoreRequestMeta } from './file-store-types.js';

/**
 * PS3.5 9.1: numeric components separated by single dots, at most 64 characters. Never '.' or
 * '..': UIDs become directory and file names, so this is also what keeps a data set from
 * escaping the root.
 */
export const uidPattern = /^(?=.{1,64}$)\d+(\.\d+)*$/;

/**
 * The index attributes of a scanned head, text decoded with the instance's own character set
 * (PS3.5 6.1); throws the StoreError a data set that is not the announced instance earns.
 */
export function instanceAttributes(scanned: DatasetHeadScanner, meta: Pick<StoreRequestMeta, 'sopClassUid' | 'sopInstanceUid'>): StoredInstance['attributes'] {
  const values = scanned.values;
  const charset = headText(values.get(0x0008_0005), '');
  // Text is decoded with the instance's own character set (PS3.5 6.1), so the index holds Unicode.
  const text = (tag: number): string => headText(values.get(tag), charset);
  const items = (sequence: number, keys: Record<string, number>): Record<string, string>[] =>
    (scanned.sequences.get(sequence) ?? []).map((item) => {
      const out: Record<string, string> = {};
      for (const [keyword, tag] of Object.entries(keys)) out[keyword] = headText(item.get(tag), charset);
      return out;
    });
  const attributes = {
    SpecificCharacterSet: charset,
    PatientID: text(0x0010_0020),
    PatientName: text(0x0010_0010),
    PatientBirthDate: text(0x0010_0030),
    PatientSex: text(0x0010_0040),
    StudyInstanceUID: text(0x0020_000d),
    StudyDate: text(0x0008_0020),
    StudyTime: text(0x0008_0030),
    AccessionNumber: text(0x0008_0050),
    StudyID: text(0x0020_0010),
    StudyDescription: text(0x0008_1030),
    ReferringPhysicianName: text(0x0008_0090),
    SeriesInstanceUID: text(0x0020_000e),
    Modality: text(0x0008_0060),
    SeriesNumber: text(0x0020_0011),
    SeriesDescription: text(0x0008_103e),
    SOPInstanceUID: text(0x0008_0018),
    SOPClassUID: text(0x0008_0016),
    InstanceNumber: text(0x0020_0013),
    ProcedureCodeSequence: items(0x0008_1032, { CodeValue: 0x0008_0100, CodingSchemeDesignator: 0x0008_0102, CodeMeaning: 0x0008_0104 }),
    RequestAttributesSequence: items(0x0040_0275, { RequestedProcedureID: 0x0040_1001, ScheduledProcedureStepID: 0x0040_0009 }),
  };
  checkIdentifyingUids(attributes);
  // PS3.4 B.2.3: the data set must be the instance the command announces.
  if (attributes.SOPInstanceUID !== meta.sopInstanceUid || attributes.SOPClassUID !== meta.sopClassUid) {
    throw new StoreError(
      storeErrorCodes.datasetMismatch,
      `the data set is ${attributes.SOPClassUID || '(no class)'} / ${attributes.SOPInstanceUID || '(no instance)'}, the command says ${meta.sopClassUid} / ${meta.sopInstanceUid}`,
      { comment: attributes.SOPInstanceUID !== meta.sopInstanceUid ? "SOP Instance UID differs from the command's" : "SOP Class UID differs from the command's" },
    );
  }
  return attributes;
}

/**
 * The UIDs every stored instance needs (its storage key and index rows are made of them): an
 * empty or absent one is a data set that does not match its (patient) SOP class, A900, as these
 * are Type 1 in every IOD the server accepts (PS3.3 General Study, General Series, SOP Common);
 * a value that is not a UID (PS3.5 9.1: digits and dots, at most 64 characters) is not
 * understood, C000. Either names the attribute (Error Comment and Offending Element).
 */
function checkIdentifyingUids(attributes: Readonly<Record<'StudyInstanceUID' | 'SeriesInstanceUID' | 'SOPClassUID' | 'SOPInstanceUID', string>>): void {
  for (const [key, tag, label] of identifyingUids) {
    const value = attributes[key];
    if (value === '') {
      throw new StoreError(storeErrorCodes.datasetMismatch, `the data set has no ${key} ${label}`, { comment: `${key} ${label} is missing`, offendingElement: [tag] });
    }
    if (!uidPattern.test(value)) {
      throw new StoreError(storeErrorCodes.cannotUnderstand, `the data set's ${key} ${label} is not a valid UID: ${JSON.stringify(value)}`, {
        comment: `${key} ${label} is not a valid UID`,
        offendingElement: [tag],
      });
    }
  }
}

/** A UID of the C-STORE command: C000 naming its element when it is not one. */
export function checkCommandUid(name: string, uid: unknown, tag: number, label: string): void {
  if (typeof uid !== 'string' || !uidPattern.test(uid)) {
    throw new StoreError(storeErrorCodes.cannotUnderstand, `${name}: the command's ${label} is not a valid UID: ${JSON.stringify(uid)}`, {
      comment: `${label} is not a valid UID`,
      offendingElement: [tag],
    });
  }
}

const identifyingUids = [
  ['SOPClassUID', 0x0008_0016, '(0008,0016)'],
  ['SOPInstanceUID', 0x0008_0018, '(0008,0018)'],
  ['StudyInstanceUID', 0x0020_000d, '(0020,000D)'],
  ['SeriesInstanceUID', 0x0020_000e, '(0020,000E)'],
] as const;
