// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';
export * from './dataset/part10.js';
export * from './store/errors.js';
export { FileStore, duplicatePolicies, fsyncPolicies } from './store/file-store.js';
export type { DuplicatePolicy, FsyncPolicy, FileStoreOptions, StoreRequestMeta, StoredInstance } from './store/file-store.js';
export { IndexDb } from './store/index-db.js';
export type { IndexDbOptions, InstanceRecord, StoredFile } from './store/index-db.js';
export { findMatches, instancesFor, queryLevels, informationModels } from './store/query.js';
export type { QueryLevel, InformationModel, FindOptions, NaturalizedDataset, NaturalizedValue } from './store/query.js';
