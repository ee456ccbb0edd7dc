// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';
export * from './acse/errors.js';
export * from './acse/presentation-context.js';
export * from './acse/role-selection.js';
export * from './acse/user-identity.js';
export * from './acse/extended-negotiation.js';
export * from './acse/certificate-binding.js';
export * from './acse/negotiate.js';
