// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';
