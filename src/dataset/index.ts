// The dataset helpers other layers use (re-exports only).
export { decodeDataset, encodeDataset, decodeDatasetDict, encodeDatasetDict, transcodeDataset, DEFAULT_MAX_INFLATED_LENGTH } from './codec.js';
export type { NaturalDataset } from './codec.js';
export type { DcmjsDict } from './dcmjs.js';
export { DatasetDecodeError, DatasetEncodeError, UnsupportedTransferSyntaxError } from './errors.js';
export { toDicomJson } from './json-model.js';
export type { DicomJsonAttribute, DicomJsonDataset } from './json-model.js';
