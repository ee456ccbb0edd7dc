import { InvalidOptionError } from '../errors.js';
import type { PresentationDataValue } from '../ul/pdu/types.js';
import { InvalidCommandError } from './errors.js';
import { commandHasDataset, commandSpecs, encodeCommand } from './messages.js';
import type { DimseCommand } from './messages.js';

/**
 * Splits one DIMSE message into presentation-data-value items (PS3.8 Annex E, PS3.7 Section 6.3.1):
 * the command fragments first, the last one with the last-fragment bit, then the dataset fragments,
 * the last one likewise. Every PDV is meant to travel in its own P-DATA-TF PDU.
 *
 * Size rule (PS3.8 Annex D.1): the peer's Maximum Length is the largest *variable field* of a
 * P-DATA-TF it accepts, i.e. the PDU length field. One PDV item in that field costs a 4-byte item
 * length, 1-byte context id and 1-byte message control header, so a fragment may hold
 * maxPduLength − 6 bytes. (The 6-byte PDU header is outside the variable field.)
 *
 * Dataset bytes are not copied: fragments are `subarray` views of the chunks given, except the
 * few bytes joining a chunk of odd length to the next and the pad of an odd-length stream.
 */

/** PDV item header inside the P-DATA-TF variable field: item length (4) + context id (1) + control (1). */
export const PDV_ITEM_HEADER_LENGTH = 6;
/** P-DATA-TF PDU header: type (1) + reserved (1) + length (4). Not counted in Maximum Length. */
export const PDU_HEADER_LENGTH = 6;
/** Fragment size used when the peer announces no limit (Maximum Length 0, PS3.8 D.1): 1 MiB. */
export const UNLIMITED_FRAGMENT_LENGTH = 0x100000;

/**
 * Most fragments made at once (a list, a batch): a data set is cut in slices of this many whole
 * fragments, so the PDVs of one slice are made, sent and let go before the next. A peer's tiny
 * Maximum Length (8: two data bytes per PDU) otherwise made ~150 bytes of PDV objects per two
 * bytes of data at once, 600 MB for a 4 MB instance. With usual PDU sizes a slice is 16 MiB or
 * more: the fragments are the same as without slices.
 */
export const MAX_FRAGMENTS_AT_ONCE = 1024;

/** Largest fragment a PDV may carry for a peer's Maximum Length (0 = unlimited), always even. */
export function maxFragmentLength(maxPduLength: number): number {
  if (!Number.isInteger(maxPduLength) || maxPduLength < 0 || maxPduLength > 0xffffffff) {
    throw new InvalidOptionError('maxPduLength', `must be an integer 0–4294967295, got ${String(maxPduLength)}`);
  }
  if (maxPduLength === 0) return UNLIMITED_FRAGMENT_LENGTH;
  if (maxPduLength <= PDV_ITEM_HEADER_LENGTH) {
    throw new InvalidOptionError('maxPduLength', `${maxPduLength} leaves no room for data after the 6-byte PDV header`);
  }
  // Rounded down to even: every fragment has an even length (PS3.7 Annex F). A peer that allows
  // one data byte (Maximum Length 7) leaves no choice: one byte per fragment.
  return Math.max(1, Math.min(maxPduLength - PDV_ITEM_HEADER_LENGTH, UNLIMITED_FRAGMENT_LENGTH * 16) & ~1);
}

export interface FragmentOptions {
  /** Odd 1–255: the accepted presentation context the message travels on. */
  readonly presentationContextId: number;
  /** The peer's Maximum Length (user-information sub-item 0x51); 0 = no limit. */
  readonly maxPduLength: number;
}

/** A dataset to send: whole, or as chunks (e.g. read from a file) — never concatenated here. */
export type DatasetSource = Uint8Array | Iterable<Uint8Array>;
export type AsyncDatasetSource = DatasetSource | AsyncIterable<Uint8Array>;

const isContextId = (id: number): boolean => Number.isInteger(id) && id >= 1 && id <= 255 && id % 2 === 1;
/** A Maximum Length maxFragmentLength takes without an error. */
const isMaxPduLength = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff && (n === 0 || n > PDV_ITEM_HEADER_LENGTH);

function checkContextId(id: number): void {
  if (!isContextId(id)) {
    throw new InvalidOptionError('presentationContextId', `must be an odd integer 1–255, got ${String(id)}`);
  }
}

/**
 * The one PDV of a message without a data set whose command fits one fragment (every
 * C-STORE-RSP, C-ECHO, most responses), made without a generator or a fragment list. Undefined
 * when {@link fragmentCommandBatches} must take the message: a data set announced, a longer
 * command, or options it rejects (and names).
 */
export function singleCommandFragment(command: DimseCommand, options: FragmentOptions): PresentationDataValue | undefined {
  if (commandSpecs[command.type] === undefined || commandHasDataset(command)) return undefined;
  if (!isContextId(options.presentationContextId) || !isMaxPduLength(options.maxPduLength)) return undefined;
  const data = encodeCommand(command);
  if (data.length > maxFragmentLength(options.maxPduLength)) return undefined;
  return { presentationContextId: options.presentationContextId, isCommand: true, isLast: true, data };
}

/**
 * The PDVs of a message whose command fits one fragment and whose data set is one buffer of even
 * length (every C-STORE-RQ of a file read whole): a list made directly, without the generators,
 * the splitter and its held fragment (per message sent, they were most of the fragmenter's cost
 * and garbage). The same PDVs as {@link fragmentCommandBatches}, the fragments views of
 * `dataset`. Undefined when that function must take the message (and name what is wrong).
 */
export function inMemoryMessageFragments(command: DimseCommand, dataset: Uint8Array, options: FragmentOptions): PresentationDataValue[] | undefined {
  if (commandSpecs[command.type] === undefined || !commandHasDataset(command)) return undefined;
  const id = options.presentationContextId;
  if (!isContextId(id) || !isMaxPduLength(options.maxPduLength)) return undefined;
  const max = maxFragmentLength(options.maxPduLength);
  const n = dataset.length;
  if (max % 2 === 1 || n === 0 || n % 2 === 1 || n > max * MAX_FRAGMENTS_AT_ONCE) return undefined;
  const data = encodeCommand(command);
  if (data.length > max) return undefined;
  const out: PresentationDataValue[] = [{ presentationContextId: id, isCommand: true, isLast: true, data }];
  for (let o = 0; o < n; o += max) {
    const end = Math.min(o + max, n);
    out.push({ presentationContextId: id, isCommand: false, isLast: end === n, data: dataset.subarray(o, end) });
  }
  return out;
}

/**
 * Cuts a byte stream into fragments of at most `max` (even) bytes, holding back the most recent
 * fragment until it is known whether more follow, so that the last one gets the last-fragment bit.
 *
 * Every fragment has an even length (PS3.7 Annex F; DCMTK aborts on an "Odd Fragment Length"):
 * a chunk of odd length leaves its last byte carried over and joined with the start of the next
 * chunk (one small copy of at most one fragment), and a stream of odd total length (a deflated
 * data set, PS3.5 A.5) ends with one zero pad byte, as DCMTK pads its own deflated streams.
 */
class Splitter {
  readonly #id: number;
  readonly #isCommand: boolean;
  readonly #max: number;
  /** False only for one-byte fragments (a peer's Maximum Length of 7): nothing even fits. */
  readonly #even: boolean;
  #held: Uint8Array | undefined;
  #carry: number | undefined;

  constructor(id: number, isCommand: boolean, max: number) {
    this.#id = id;
    this.#isCommand = isCommand;
    this.#max = max;
    this.#even = max % 2 === 0;
  }

  /** Appends to `out` the fragments of `chunk` that are known not to be the last. */
  push(chunk: Uint8Array, out: PresentationDataValue[]): PresentationDataValue[] {
    if (chunk.length === 0) return out;
    let rest = chunk;
    if (this.#carry !== undefined) {
      const take = Math.min(rest.length, this.#max - 1);
      const joined = new Uint8Array(1 + take);
      joined[0] = this.#carry;
      joined.set(rest.subarray(0, take), 1);
      this.#carry = undefined;
      this.#piece(joined, out);
      rest = rest.subarray(take);
    }
    for (let o = 0; o < rest.length; o += this.#max) this.#piece(rest.subarray(o, Math.min(o + this.#max, rest.length)), out);
    return out;
  }

  finish(out: PresentationDataValue[] = []): PresentationDataValue[] {
    if (this.#carry !== undefined) {
      this.#piece(Uint8Array.of(this.#carry, 0), out);
      this.#carry = undefined;
    }
    // An empty stream still needs one (empty) PDV with the last-fragment bit to end the message.
    out.push(this.#pdv(this.#held ?? new Uint8Array(0), true));
    this.#held = undefined;
    return out;
  }

  /** Only the last piece of a chunk can be odd (`max` is even): its last byte waits for the next. */
  #piece(piece: Uint8Array, out: PresentationDataValue[]): void {
    let data = piece;
    if (this.#even && data.length % 2 === 1) {
      this.#carry = data[data.length - 1]!;
      data = data.subarray(0, data.length - 1);
      if (data.length === 0) return;
    }
    if (this.#held !== undefined) out.push(this.#pdv(this.#held, false));
    this.#held = data;
  }

  #pdv(data: Uint8Array, isLast: boolean): PresentationDataValue {
    return { presentationContextId: this.#id, isCommand: this.#isCommand, isLast, data };
  }
}

function isUint8Array(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array;
}

function checkChunk(chunk: unknown): Uint8Array {
  if (!isUint8Array(chunk)) {
    throw new InvalidOptionError('dataset', 'chunks must be Uint8Array (a Buffer is one); got a string or other value');
  }
  return chunk;
}

/**
 * The dataset itself must be bytes or an (async) iterable of chunks: a string or number from an
 * untyped caller would otherwise fail as a TypeError deep inside `for…of` / `in`.
 */
function checkDatasetSource(dataset: unknown, allowAsync: boolean): void {
  if (dataset === undefined || isUint8Array(dataset)) return;
  if (typeof dataset === 'object' && dataset !== null && (Symbol.iterator in dataset || (allowAsync && Symbol.asyncIterator in dataset))) return;
  throw new InvalidOptionError('dataset', `must be a Uint8Array or an iterable of Uint8Array chunks; got ${dataset === null ? 'null' : typeof dataset}`);
}

/**
 * Fragment a message whose dataset (if any) is in memory or a synchronous iterable of chunks.
 * `dataset` undefined means the command has no dataset (CommandDataSetType 0x0101).
 */
export function* fragmentMessage(
  command: Uint8Array,
  dataset: DatasetSource | undefined,
  options: FragmentOptions,
): Generator<PresentationDataValue, void, undefined> {
  checkContextId(options.presentationContextId);
  checkDatasetSource(dataset, false);
  const max = maxFragmentLength(options.maxPduLength);
  yield* commandFragments(command, options.presentationContextId, max);
  if (dataset === undefined) return;
  const d = new Splitter(options.presentationContextId, false, max);
  if (isUint8Array(dataset)) for (const slice of slices(dataset, max)) yield* d.push(slice, []);
  else for (const chunk of dataset) for (const slice of slices(checkChunk(chunk), max)) yield* d.push(slice, []);
  yield* d.finish();
}

/**
 * `chunk` in slices of MAX_FRAGMENTS_AT_ONCE whole fragments of `max` bytes (the last slice the
 * rest): cut where the fragments are cut anyway (`max` is even, or 1), so the PDVs are the same.
 */
function* slices(chunk: Uint8Array, max: number): Generator<Uint8Array, void, undefined> {
  const size = max * MAX_FRAGMENTS_AT_ONCE;
  if (chunk.length <= size) {
    yield chunk;
    return;
  }
  for (let o = 0; o < chunk.length; o += size) yield chunk.subarray(o, Math.min(o + size, chunk.length));
}

function commandFragments(command: Uint8Array, presentationContextId: number, max: number): PresentationDataValue[] {
  const c = new Splitter(presentationContextId, true, max);
  return c.finish(c.push(command, []));
}

/** Like {@link fragmentMessage}, for a dataset that arrives as an async iterable (a file stream). */
export async function* fragmentMessageAsync(
  command: Uint8Array,
  dataset: AsyncDatasetSource | undefined,
  options: FragmentOptions,
): AsyncGenerator<PresentationDataValue, void, undefined> {
  checkDatasetSource(dataset, true);
  if (dataset === undefined || isUint8Array(dataset) || Symbol.iterator in dataset) {
    yield* fragmentMessage(command, dataset as DatasetSource | undefined, options);
    return;
  }
  for await (const batch of fragmentMessageBatches(command, dataset, options)) yield* batch;
}

/**
 * Like {@link fragmentMessageAsync}, with the PDVs in batches: the command's first, then those of
 * each chunk of the dataset together (the last fragment of a chunk travels with the next batch,
 * once it is known whether it is the last). A sender awaits once per chunk instead of once per
 * fragment: with a peer's 16 KiB PDUs a 52 MB instance is ~3,200 fragments, and a promise for
 * each was a tenth of the sending process's CPU.
 */
export async function* fragmentMessageBatches(
  command: Uint8Array,
  dataset: AsyncIterable<Uint8Array>,
  options: FragmentOptions,
): AsyncGenerator<PresentationDataValue[], void, undefined> {
  checkDatasetSource(dataset, true);
  checkContextId(options.presentationContextId);
  const max = maxFragmentLength(options.maxPduLength);
  yield commandFragments(command, options.presentationContextId, max);
  const d = new Splitter(options.presentationContextId, false, max);
  for await (const chunk of dataset) {
    for (const slice of slices(checkChunk(chunk), max)) {
      const batch = d.push(slice, []);
      if (batch.length > 0) yield batch;
    }
  }
  yield d.finish();
}

/**
 * Encode `command` and fragment it with its dataset, checking that a dataset is given exactly when
 * the command announces one (CommandDataSetType, PS3.7 E.1-1) — the usual entry point for services.
 * A dataset in memory (or none, as in every response) gives a synchronous generator, so a sender
 * pays no promise per fragment; a stream gives an async one.
 */
export function fragmentCommand(
  command: DimseCommand,
  dataset: AsyncDatasetSource | undefined,
  options: FragmentOptions,
): Generator<PresentationDataValue, void, undefined> | AsyncGenerator<PresentationDataValue, void, undefined> {
  checkAnnounced(command, dataset);
  const encoded = encodeCommand(command);
  return isInMemory(dataset) ? fragmentMessage(encoded, dataset, options) : fragmentMessageAsync(encoded, dataset, options);
}

/**
 * {@link fragmentCommand} for a sender: the same synchronous generator of PDVs for a dataset in
 * memory, and for a stream an async generator of batches ({@link fragmentMessageBatches}).
 */
export function fragmentCommandBatches(
  command: DimseCommand,
  dataset: AsyncDatasetSource | undefined,
  options: FragmentOptions,
): Generator<PresentationDataValue, void, undefined> | AsyncGenerator<PresentationDataValue[], void, undefined> {
  checkAnnounced(command, dataset);
  const encoded = encodeCommand(command);
  return isInMemory(dataset) ? fragmentMessage(encoded, dataset, options) : fragmentMessageBatches(encoded, dataset as AsyncIterable<Uint8Array>, options);
}

/** A dataset must be given exactly when the command announces one (CommandDataSetType). */
function checkAnnounced(command: DimseCommand, dataset: unknown): void {
  const announces = commandHasDataset(command);
  if (announces !== (dataset !== undefined)) {
    throw new InvalidCommandError(
      command.type,
      'CommandDataSetType',
      announces ? 'the command announces a dataset but none was given' : 'a dataset was given but the command announces none',
    );
  }
}

/** The dataset is in memory: bytes or a synchronous iterable of chunks (or there is none). */
function isInMemory(dataset: AsyncDatasetSource | undefined): dataset is DatasetSource | undefined {
  return dataset === undefined || isUint8Array(dataset) || (typeof dataset === 'object' && dataset !== null && Symbol.iterator in dataset);
}
