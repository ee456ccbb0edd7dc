/**
 * The shape of `StorageServer.create(config)`, checked before anything is opened: an unknown key
 * (at the top, in `limits`, in `server`, in a destination) or a value of the wrong type is an
 * InvalidOptionError naming its path (`limits.maxQueryMatches`), not an option silently ignored
 * or a TypeError once the server runs. Values are checked further where they are used.
 */
import { checkMaximumLength } from '../../acse/options.js';
import { InvalidOptionError } from '../../errors.js';
import { SERVER_OPTIONS_SHAPE } from '../../ae/server-options.js';
import { any, arrayOf, boolean, checkFields, describe, either, fields, func, integer, isPlainObject, milliseconds, object, oneOf, required, string, type Check } from '../../internal/option-shape.js';

const isString = (v: unknown): boolean => typeof v === 'string';
const isFunction = (v: unknown): boolean => typeof v === 'function';
/** An object whose every value passes `value` (keys are names: AE titles). */
function record(value: Check): Check {
  return (option, v) => {
    if (!isPlainObject(v)) throw new InvalidOptionError(option, `must be an object keyed by AE title, got ${describe(v)}`);
    for (const [k, x] of Object.entries(v)) value(`${option}.${k}`, x);
  };
}

const maximumLength: Check = (option, v) => void checkMaximumLength(option, v as number);

const remoteAe = fields({ host: required(string), port: required(integer(1, 65535)), tls: object, callingAeTitle: string, maxPduLength: maximumLength });

const LIMITS_SHAPE: Readonly<Record<string, Check>> = {
  maxAssociations: integer(1),
  maxPendingConnections: integer(1),
  maxPendingBytes: integer(0),
  maxPduLength: maximumLength,
  idleTimeout: milliseconds,
  // Checked with its own messages by DicomServer.
  asynchronousOperations: any,
  maxBufferedBytes: integer(0),
  maxBufferedBytesPerAssociation: integer(0),
  datasetStallTimeout: milliseconds,
  handshakeTimeout: milliseconds,
  artimTimeout: milliseconds,
  negotiationTimeout: milliseconds,
  maxQueryMatches: integer(0),
  maxConcurrentQueries: integer(1),
  moveTimeout: integer(1),
  maxIdentifierLength: integer(0),
  maxCommitmentRequestLength: integer(0),
};

/** The DicomServer options a StorageServer takes through `server` (the others are its own). */
const OWN = new Set(['aeTitle', 'tls', 'presentationContexts', 'handlers', 'maxAssociations', 'maxPendingConnections', 'maxPendingBytes', 'maxPduLength', 'certificateBindings', 'asynchronousOperations', 'maxBufferedBytes', 'maxBufferedBytesPerAssociation']);
const SERVER_SHAPE = Object.fromEntries(Object.entries(SERVER_OPTIONS_SHAPE).filter(([k]) => !OWN.has(k)));

const STORAGE_CONFIG_SHAPE: Readonly<Record<string, Check>> = {
  aeTitle: either('an AE title or a list of them', [isString, string], [Array.isArray, arrayOf(string, 'a list of AE titles')]),
  storeRoot: string,
  index: either('a path or an InstanceIndex', [isString, string], [isPlainObject, object]),
  storage: object,
  // Checked with their own messages (FileStore).
  duplicates: any,
  fsync: any,
  destinations: record(remoteAe),
  tls: any,
  limits: fields(LIMITS_SHAPE),
  certificateBindings: arrayOf(object, 'a list of certificate bindings'),
  requireCertificateBinding: boolean,
  caseInsensitivePersonName: boolean,
  callingAeTitles: either('a list of AE titles or a function', [Array.isArray, arrayOf(string, 'a list of AE titles')], [isFunction, func]),
  access: either('a list of access rules or a function', [Array.isArray, arrayOf(object, 'a list of access rules')], [isFunction, func]),
  transferSyntaxes: arrayOf(string, 'a list of transfer syntax UIDs'),
  acceptUnknownSopClasses: boolean,
  worklist: func,
  commitmentReport: oneOf(['auto', 'new-association']),
  recoverCommitments: either('true, false or { interval, staleAfter }', [(v) => typeof v === 'boolean', boolean], [isPlainObject, fields({ interval: any, staleAfter: milliseconds })]),
  server: fields(SERVER_SHAPE),
};

/** Throws InvalidOptionError for the first key of `config` unknown or of the wrong shape. */
export function checkStorageServerConfig(config: unknown): void {
  if (!isPlainObject(config)) throw new InvalidOptionError('config', 'must be an object');
  checkFields('', config, STORAGE_CONFIG_SHAPE);
}
