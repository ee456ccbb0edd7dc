// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';
export * from './dictionary/uids.js';
export * from './dictionary/command-field.js';
export * from './dictionary/status.js';
export * from './dimse/errors.js';
export { CommandElement, encodeCommandSet, decodeCommandSet, MAX_COMMAND_SET_LENGTH } from './dimse/command-set.js';
export type { CommandSetElements, CommandElementKeyword } from './dimse/command-set.js';
export * from './dimse/messages.js';
export * from './dimse/fragmenter.js';
export * from './dimse/assembler.js';
export * from './dataset/index.js';
