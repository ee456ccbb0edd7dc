/**
 * The shape of what the SCU calls take (store, find, move, get; also through DicomClient): the
 * sources, the identifier, the destination and the options object, checked before anything is
 * sent. An unknown option (a typo), a string for a number or a callback that is not a function is
 * an InvalidOptionError naming it, not a TypeError half-way through a batch (a progress callback
 * called for the first time) or an option silently ignored.
 */
import { InvalidOptionError } from '../../errors.js';
import { abortSignal, checkFields, describe, fields, func, integer, isPlainObject, milliseconds, object, oneOf, required, string, type Check } from '../../internal/option-shape.js';

/** PS3.7 Table E.1-1: 0 medium, 1 high, 2 low. */
const priority = oneOf([0, 1, 2]);

const STORE_SHAPE: Readonly<Record<string, Check>> = {
  priority,
  onProgress: func,
  moveOriginator: fields({ aeTitle: string, messageId: integer(0, 65535) }),
  maxTranscodeBytes: integer(0),
  signal: abortSignal,
  timeout: milliseconds,
  maxOutstanding: integer(1),
};

const FIND_SHAPE: Readonly<Record<string, Check>> = { priority, signal: abortSignal, timeout: milliseconds };
const RETRIEVE_SHAPE: Readonly<Record<string, Check>> = { ...FIND_SHAPE, onProgress: func };
const GET_SHAPE: Readonly<Record<string, Check>> = { ...RETRIEVE_SHAPE, store: object, onInstance: func, onStored: func, onFailed: func };

const TIMEOUT_SHAPE: Readonly<Record<string, Check>> = { timeout: milliseconds };

/** The `{ timeout }` of echo and the N-services. */
export function checkTimeoutOption(options: unknown): void {
  checkFields('', options, TIMEOUT_SHAPE);
}

/** requestStorageCommitment's `{ transactionUid, timeout }`. */
export function checkCommitmentCall(references: unknown, options: unknown): void {
  if (!Array.isArray(references)) throw new InvalidOptionError('references', `must be an array of { sopClassUid, sopInstanceUid }, got ${describe(references)}`);
  references.forEach((r, i) => fields({ sopClassUid: required(string), sopInstanceUid: required(string) })(`references[${i}]`, r));
  checkFields('', options, { transactionUid: string, timeout: milliseconds });
}

/** `sources` of storeInstances: a list of file paths and stream sources; `options` its StoreOptions. */
export function checkStoreCall(sources: unknown, options: unknown): void {
  if (!Array.isArray(sources)) throw new InvalidOptionError('sources', `must be an array of file paths or stream sources, got ${describe(sources)}`);
  sources.forEach((s, i) => {
    if (typeof s !== 'string' && !isPlainObject(s)) throw new InvalidOptionError(`sources[${i}]`, `must be a file path or a stream source, got ${describe(s)}`);
  });
  checkFields('', options, STORE_SHAPE);
}

function checkIdentifier(identifier: unknown): void {
  if (!isPlainObject(identifier)) throw new InvalidOptionError('identifier', `must be a data set object ({ QueryRetrieveLevel: 'STUDY', … }), got ${describe(identifier)}`);
}

export function checkFindCall(identifier: unknown, options: unknown): void {
  checkIdentifier(identifier);
  checkFields('', options, FIND_SHAPE);
}

export function checkRetrieveCall(kind: 'move' | 'get', identifier: unknown, destination: unknown, options: unknown): void {
  checkIdentifier(identifier);
  if (kind === 'move') {
    if (typeof destination !== 'string' || destination.trim() === '') throw new InvalidOptionError('destination', `must be the AE title to move to, got ${describe(destination)}`);
    checkFields('', options, RETRIEVE_SHAPE);
  } else checkFields('', options, GET_SHAPE);
}
