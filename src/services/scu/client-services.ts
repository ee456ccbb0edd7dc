// The SCU services DicomClient delegates to (one import for ae/client.ts).
export { storeInstances, storageContextsFor, part10StreamSource } from './store.js';
export type { StoreSource, StoreOptions, StoreResult, StoreProgress, DatasetStreamSource } from './store.js';
export { find, queryModels } from './find.js';
export type { FindOptions, QueryModelName } from './find.js';
export { move, get, getContexts } from './retrieve.js';
export type { RetrieveOptions, RetrieveResult, GetOptions } from './retrieve.js';
export { CommitmentReceiver, requestStorageCommitment } from './commitment.js';
export type { SopReference, CommitmentReport } from './commitment.js';
export type { NaturalDataset } from '../../dataset/codec.js';
