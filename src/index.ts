// Public surface: re-exports only.
export * from './errors.js';
export { channelNames } from './diagnostics.js';
export type { TransportConnection, TlsInfo } from './transport/connection.js';
export * from './ul/pdu/types.js';
export { PduDecodeError, PduTooLargeError, PduEncodeError, type AbortReasonCode } from './ul/errors.js';
export { encodePdu, encodePduParts } from './ul/pdu/encode.js';
export { decodePdu, isKnownPduType } from './ul/pdu/decode.js';
export { PduReader, type PduReaderOptions } from './ul/pdu/pdu-reader.js';
export { sniffTransport, type SniffedTransport } from './ul/pdu/sniff.js';
