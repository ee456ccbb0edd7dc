/**
 * Storage Service Class SCU (PS3.4 Annex B, PS3.7 9.1.1): C-STORE of Part 10 files, whole
 * directories or data sets given as streams, many instances over one association.
 *
 * Each instance travels on a context with its own transfer syntax when the peer accepted one,
 * streamed from disk in chunks that are whole multiples of the peer's fragment size (so the
 * P-DATA-TF PDUs are as large as the peer allows); nothing is ever loaded whole. Only when no
 * such context exists and both syntaxes are uncompressed is the data set transcoded (explicit ↔
 * implicit VR, in memory, up to `maxTranscodeBytes`); encapsulated pixel data is never touched.
 * The same code sends the C-STORE sub-operations of C-MOVE (new association) and C-GET (same
 * association, our side acting in the SCP role).
 */
import { checkStoreCall } from './call-options.js';
import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Association, PendingRequest } from '../../ae/association.js';
import { presentationContextResultNames, type AcceptedContext, type RequestedContext } from '../../acse/presentation-context.js';
import { InvalidOptionError, type DicomError } from '../../errors.js';
import { decodePart10Header, decodeWholePart10Header, readPart10HeaderFromFd, type Part10Header } from '../../dataset/part10.js';
import { transcodeDataset } from '../../dataset/codec.js';
import { maxFragmentLength } from '../../dimse/fragmenter.js';
import type { AsyncDatasetSource } from '../../dimse/fragmenter.js';
import type { CStoreRsp } from '../../dimse/messages.js';
import { Priority } from '../../dictionary/command-field.js';
import { StatusClass, statusClass } from '../../dictionary/status.js';
import { TransferSyntax, transferSyntaxProperties } from '../../dictionary/uids.js';
import { channel, channelNames } from '../../diagnostics.js';
import { WholeFiles, fileChunks } from './file-chunks.js';
import { codeUnitOrder } from '../../internal/code-unit-order.js';
import { monotonicMs } from '../../internal/clock.js';

/** A data set to send that is not a file: its identity and encoding, and its bytes (no Part 10 header). */
export interface DatasetStreamSource {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly dataset: AsyncDatasetSource;
  /** Bytes, when known (progress only). */
  readonly size?: number;
}

/** A file path (a Part 10 file or a directory searched recursively) or a data set stream. */
export type StoreSource = string | DatasetStreamSource;

/** The result of one instance: the C-STORE-RSP status, or the error that kept it from being sent. */
export interface StoreResult {
  /** The file path, or undefined for a stream source. */
  readonly path: string | undefined;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  /** The file's (or stream's) transfer syntax. */
  readonly transferSyntaxUid: string;
  /** The transfer syntax it travelled in (differs when transcoded). */
  readonly sentTransferSyntaxUid: string | undefined;
  /** C-STORE-RSP Status, or undefined when it was never sent (`error` says why). */
  readonly status: number | undefined;
  /** 'Success' | 'Warning' | 'Failure' (a local error is a Failure). */
  readonly outcome: 'Success' | 'Warning' | 'Failure';
  readonly errorComment: string | undefined;
  readonly response: CStoreRsp | undefined;
  readonly error: DicomError | Error | undefined;
  readonly bytes: number;
  /**
   * True when the instance was never offered to the peer because the association had already
   * ended (aborted, timed out, lost) while an earlier one was in flight: `error` is that reason.
   */
  readonly skipped?: boolean;
}

/** Progress of one send: before an instance starts (`sent` 0) and when it is answered. */
export interface StoreProgress {
  readonly index: number;
  readonly total: number;
  readonly sopInstanceUid: string;
  readonly phase: 'sending' | 'done';
  readonly result?: StoreResult;
}

export interface StoreOptions {
  readonly priority?: number;
  /** Called before each instance is sent and once its answer is in. A throwing listener is ignored. */
  readonly onProgress?: (progress: StoreProgress) => void;
  /** C-MOVE sub-operations: the originator's AE title and Message ID (PS3.7 9.3.1.1). */
  readonly moveOriginator?: { readonly aeTitle: string; readonly messageId: number };
  /** Largest data set transcoded in memory when no context has the file's own syntax. Default 64 MiB. */
  readonly maxTranscodeBytes?: number;
  /** Stop before the next instance when aborted (C-CANCEL of the C-MOVE/C-GET that sends them). */
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for each C-STORE-RSP. */
  readonly timeout?: number;
  /**
   * Most C-STORE-RQs kept outstanding when the negotiated Asynchronous Operations Window allows
   * more than one (`association.info.asynchronousOperations.invoked`; 0 there = unlimited).
   * Default 16 (`DEFAULT_STORE_WINDOW`).
   */
  readonly maxOutstanding?: number;
}

interface Resolved {
  readonly path: string | undefined;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly size: number | undefined;
  readonly header?: Part10Header;
  readonly dataset?: AsyncDatasetSource;
  /** A file opened to be sent: its data set read whole (small files)… */
  readonly whole?: Uint8Array;
  /** …or its descriptor, the head read, the data set to stream from `header.datasetOffset`. */
  readonly fd?: number;
}

type Unreadable = { readonly path: string; readonly error: Error };

const DEFAULT_MAX_TRANSCODE = 64 * 1024 * 1024;

/**
 * Files are listed and their headers read with synchronous calls, the event loop let go every
 * SLICE_MS (other associations of the process keep being served while a large directory is
 * resolved). A thread-pool round trip per call (stat, open, read, close) cost several times the
 * calls: 200 small files took 35-45 ms to resolve before the first byte was sent, now ~3-6 ms.
 */
const SLICE_MS = 4;

class Slices {
  #since = monotonicMs();
  #calls = 0;
  /**
   * Whether this slice of synchronous work is used up. Asked once per file: the clock is read
   * every 8th time (a file's step takes ~5-30 µs), and the caller awaits `yield()` only then,
   * not a promise per file.
   */
  due(): boolean {
    return (++this.#calls & 7) === 0 && monotonicMs() - this.#since >= SLICE_MS;
  }
  /** Let the event loop run, then start a new slice. */
  async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = monotonicMs();
  }
}

/** Every regular file under `path` (or `path` itself), sorted for a stable order. */
export async function listFiles(path: string): Promise<string[]> {
  const out: string[] = [];
  await collectFiles(path, out, new Slices());
  return out;
}

async function collectFiles(path: string, out: string[], slices: Slices): Promise<void> {
  if (slices.due()) await slices.yield();
  if (!statSync(path).isDirectory()) {
    out.push(path);
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => codeUnitOrder(a.name, b.name))) {
    if (entry.name.startsWith('.')) continue; // temporary files of a store in progress, dot files
    const full = join(path, entry.name);
    if (entry.isDirectory()) await collectFiles(full, out, slices);
    else if (entry.isFile()) out.push(full);
  }
}

/**
 * A file's head, for planning (its SOP class and transfer syntax) or to name a skipped instance:
 * never sent from this, so no size (an fstat per file); openForSend reads the file it sends.
 */
function resolvePath(path: string): Resolved | { path: string; error: Error } {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const header = readPart10HeaderFromFd(fd);
    return {
      path,
      sopClassUid: header.meta.MediaStorageSOPClassUID,
      sopInstanceUid: header.meta.MediaStorageSOPInstanceUID,
      transferSyntaxUid: header.meta.TransferSyntaxUID,
      size: undefined,
      header,
    };
  } catch (error) {
    return { path, error: error as Error };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Files listed and their headers read; an unreadable one as `{ path, error }`. (Also for store-plan.ts.) */
export async function resolveSources(sources: readonly StoreSource[]): Promise<(Resolved | Unreadable)[]> {
  const slices = new Slices();
  const out: (Resolved | Unreadable | string)[] = await listSources(sources, slices);
  for (const [k, item] of out.entries()) {
    if (typeof item !== 'string') continue;
    if (slices.due()) await slices.yield();
    out[k] = resolvePath(item);
  }
  return out as (Resolved | Unreadable)[];
}

/**
 * Lists of paths already known to name files, not directories (the CLI's expanded inputs, the
 * plans made from them): listed again, each cost a `stat` per file, twice per `dicom-tls store`
 * (the plan, then the send). Not public: only code that listed the files itself marks them.
 */
const listedFiles = new WeakSet<readonly StoreSource[]>();

/** Mark `files` (paths of files, each stat'ed by the caller) as listed; returns it. */
export function markListedFiles<T extends readonly string[]>(files: T): T {
  listedFiles.add(files);
  return files;
}

/** Whether `sources` was marked by markListedFiles (store-plan.ts passes the mark on). */
export function isListedFiles(sources: readonly StoreSource[]): boolean {
  return listedFiles.has(sources);
}

/** Files listed (paths, their headers not read yet) and streams checked. */
async function listSources(sources: readonly StoreSource[], slices = new Slices()): Promise<(Resolved | string)[]> {
  // Already listed: a file that has gone since fails alone when it is opened.
  if (listedFiles.has(sources)) return [...(sources as readonly string[])];
  const out: (Resolved | string)[] = [];
  for (const [i, s] of sources.entries()) {
    if (typeof s === 'string') {
      const files: string[] = [];
      await collectFiles(s, files, slices);
      out.push(...files);
    } else if (s !== null && typeof s === 'object' && typeof s.sopClassUid === 'string' && typeof s.sopInstanceUid === 'string' && typeof s.transferSyntaxUid === 'string' && s.dataset !== undefined) {
      out.push({ path: undefined, sopClassUid: s.sopClassUid, sopInstanceUid: s.sopInstanceUid, transferSyntaxUid: s.transferSyntaxUid, size: s.size, dataset: s.dataset });
    } else {
      throw new InvalidOptionError(`sources[${i}]`, 'must be a path or { sopClassUid, sopInstanceUid, transferSyntaxUid, dataset }');
    }
  }
  return out;
}

/**
 * Open a file to send it: one open, the head parsed from the bytes read. A small file is read
 * whole (into `files`' reused buffers) and closed; a larger one stays open, its head read, for
 * its data set to be streamed from the same descriptor.
 */
function openForSend(files: WholeFiles, path: string, mayReuse: boolean): Resolved | Unreadable {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const fileSize = fstatSync(fd).size;
    let header: Part10Header;
    let whole: Uint8Array | undefined;
    let size: number;
    if (fileSize <= WHOLE_FILE_MAX) {
      const bytes = files.readFd(fd, fileSize, mayReuse);
      closeSync(fd);
      fd = undefined;
      header = decodeWholePart10Header(bytes);
      whole = bytes.subarray(header.datasetOffset);
      size = whole.length;
    } else {
      header = readPart10HeaderFromFd(fd);
      size = fileSize - header.datasetOffset;
    }
    const opened: Resolved = {
      path,
      sopClassUid: header.meta.MediaStorageSOPClassUID,
      sopInstanceUid: header.meta.MediaStorageSOPInstanceUID,
      transferSyntaxUid: header.meta.TransferSyntaxUID,
      size,
      header,
      ...(whole === undefined ? { fd: fd! } : { whole }),
    };
    fd = undefined;
    return opened;
  } catch (error) {
    return { path, error: error as Error };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Close the descriptor of a file opened to be sent and not streamed. */
function closeUnsent(r: Resolved | Unreadable | undefined): void {
  if (r !== undefined && 'fd' in r && r.fd !== undefined) {
    try {
      closeSync(r.fd);
    } catch {
      // Nothing to do: it was only read.
    }
  }
}

/** Uncompressed, so convertible explicit ↔ implicit VR (PS3.5 A.1-A.3). */
export function convertible(ts: string): boolean {
  const p = transferSyntaxProperties(ts);
  return !p.encapsulated && !p.referencedPixelData;
}

/**
 * The presentation contexts to propose for sending these sources: for each SOP class and each
 * transfer syntax found, one context with that syntax alone, plus one with Implicit VR Little
 * Endian (the default every SCP must accept, PS3.5 10.1) for syntaxes that can be converted.
 */
export async function storageContextsFor(sources: readonly StoreSource[]): Promise<RequestedContext[]> {
  const pairs = new Map<string, Set<string>>();
  for (const r of await resolveSources(sources)) {
    if ('error' in r) continue;
    const set = pairs.get(r.sopClassUid) ?? new Set<string>();
    set.add(r.transferSyntaxUid);
    if (convertible(r.transferSyntaxUid)) set.add(TransferSyntax.ImplicitVrLittleEndian);
    pairs.set(r.sopClassUid, set);
  }
  return [...pairs].map(([abstractSyntax, ts]) => ({ abstractSyntax, transferSyntaxes: [...ts], separateContextPerTransferSyntax: true }));
}

/** The context to send an instance on: its own syntax first, then (if convertible) explicit/implicit LE. */
export function contextFor(association: Association, sopClassUid: string, transferSyntaxUid: string): AcceptedContext | undefined {
  // The sender of C-STORE-RQ is the Storage SCU: the requestor as SCU, or (C-GET) the acceptor,
  // the requestor then being the Storage SCP by role selection (PS3.7 D.3.3.4).
  const requestorRole = association.role === 'requestor' ? 'scu' : 'scp';
  return association.contexts.find(sopClassUid, {
    transferSyntax: transferSyntaxUid,
    fallbackTransferSyntaxes: convertible(transferSyntaxUid) ? [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] : [],
    requestorRole,
  });
}

/**
 * A file's read buffer may be filled again once the upper layer and the transport have nothing
 * queued (every byte handed to them copied out: the upper layer gathers PDUs until the end of a
 * tick, see UpperLayer.queuedBytes) and nobody watches sent PDUs (a subscriber may keep their views).
 */
function mayReuseBuffers(association: Association): boolean {
  return association.upperLayer.transport !== undefined && association.upperLayer.queuedBytes === 0 && !channel(channelNames.pduSent).hasSubscribers;
}

/** Chunk size for reading from disk: a whole number of fragments, about 1 MiB. */
function readChunkSize(association: Association): number {
  const fragment = maxFragmentLength(association.peerMaxPduLength);
  return fragment * Math.max(1, Math.floor((1 << 20) / fragment));
}

function outcomeOf(status: number): StoreResult['outcome'] {
  const c = statusClass(status);
  return c === StatusClass.Success ? 'Success' : c === StatusClass.Warning ? 'Warning' : 'Failure';
}

async function datasetBytes(r: Resolved): Promise<Uint8Array> {
  if (r.whole !== undefined) return r.whole;
  if (r.path !== undefined) {
    // node:fs/promises only here (a data set to transcode): loading it costs ~1 ms of every start.
    const file = await process.getBuiltinModule('node:fs/promises').readFile(r.path);
    return file.subarray(r.header!.datasetOffset);
  }
  const d = r.dataset!;
  if (d instanceof Uint8Array) return d;
  const parts: Uint8Array[] = [];
  for await (const c of d as AsyncIterable<Uint8Array>) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * Files up to this size are read whole, one instance ahead: the read of instance n+1 happens
 * once instance n is on the wire, while the peer works on it. Streaming each small file (re-reading
 * its header, open, read, close, a 1 MiB read buffer each) put ~6 thread-pool round trips and 1 MiB
 * of garbage per instance on the critical path; a thread-pool readFile still cost four round trips
 * of main-thread work per instance, where the synchronous calls take ~40 us for 100 KB.
 */
const WHOLE_FILE_MAX = 4 << 20;

/** An instance on its way: `sent` settles when its C-STORE-RQ is written out, `result` when it is answered. */
interface InFlight {
  readonly sent: Promise<void>;
  readonly result: Promise<StoreResult>;
}

async function sendOne(association: Association, r: Resolved, options: StoreOptions): Promise<StoreResult | InFlight> {
  const base = { path: r.path, sopClassUid: r.sopClassUid, sopInstanceUid: r.sopInstanceUid, transferSyntaxUid: r.transferSyntaxUid };
  const failed = (error: Error, sent?: string): StoreResult => ({
    ...base,
    sentTransferSyntaxUid: sent,
    status: undefined,
    outcome: 'Failure',
    errorComment: error.message,
    response: undefined,
    error,
    bytes: 0,
  });
  const context = contextFor(association, r.sopClassUid, r.transferSyntaxUid);
  if (context === undefined) {
    closeUnsent(r);
    // The peer's answer for this class, when it refused it (a non-patient object, a private class): the user sees why.
    const refused = association.contexts.rejected.find((c) => c.abstractSyntax === r.sopClassUid);
    const answer = refused === undefined ? '' : ` (the peer answered ${presentationContextResultNames[refused.result] ?? refused.result})`;
    return failed(new InvalidOptionError('sources', `no accepted presentation context can carry ${r.sopClassUid} in ${r.transferSyntaxUid}${answer}`));
  }
  let dataset: AsyncDatasetSource;
  let bytes = r.size ?? 0;
  if (context.transferSyntax === r.transferSyntaxUid) {
    // A deflated file is sent deflated: the context's syntax says so (PS3.5 A.5).
    if (r.whole !== undefined) {
      // A small file, read whole (usually while the previous instance was on the wire).
      dataset = r.whole;
    } else if (r.fd !== undefined) {
      // Opened (before the command goes out: a file gone since it was listed fails alone), its
      // head read; the data set streams from the same descriptor.
      dataset = fileChunks(r.fd, r.header!.datasetOffset, readChunkSize(association), () => mayReuseBuffers(association));
    } else {
      dataset = r.dataset!;
    }
  } else {
    const max = options.maxTranscodeBytes ?? DEFAULT_MAX_TRANSCODE;
    if (r.size !== undefined && r.size > max) {
      closeUnsent(r);
      return failed(new InvalidOptionError('maxTranscodeBytes', `${r.sopInstanceUid} (${r.size} bytes) would need transcoding to ${context.transferSyntax}, above the limit of ${max} bytes`));
    }
    try {
      const converted = transcodeDataset(await datasetBytes(r), r.transferSyntaxUid, context.transferSyntax);
      dataset = converted;
      bytes = converted.byteLength;
    } catch (error) {
      return failed(error as Error, context.transferSyntax);
    } finally {
      closeUnsent(r);
    }
  }
  const request = association.request(
    {
      type: 'C-STORE-RQ',
      affectedSopClassUid: r.sopClassUid,
      affectedSopInstanceUid: r.sopInstanceUid,
      priority: options.priority ?? Priority.Medium,
      ...(options.moveOriginator === undefined
        ? {}
        : { moveOriginatorApplicationEntityTitle: options.moveOriginator.aeTitle, moveOriginatorMessageId: options.moveOriginator.messageId }),
    },
    { dataset, presentationContextId: context.id, ...(options.timeout === undefined ? {} : { timeout: options.timeout }) },
  );
  // Only a stream needs its source kept (to destroy it on failure): a whole-file buffer is let go
  // once written, not held while its response is awaited behind others in the window.
  const source = typeof (dataset as { destroy?: unknown }).destroy === 'function' ? (dataset as unknown as { destroy(): void }) : undefined;
  return { sent: request.sent, result: answered(association, request, base, context.transferSyntax, bytes, source) };
}

async function answered(
  association: Association,
  request: PendingRequest,
  base: Pick<StoreResult, 'path' | 'sopClassUid' | 'sopInstanceUid' | 'transferSyntaxUid'>,
  sentTransferSyntaxUid: string,
  bytes: number,
  source: { destroy(): void } | undefined,
): Promise<StoreResult> {
  try {
    const rsp = (await request.response).command as CStoreRsp;
    return {
      ...base,
      sentTransferSyntaxUid,
      status: rsp.status,
      outcome: outcomeOf(rsp.status),
      errorComment: rsp.errorComment,
      response: rsp,
      error: undefined,
      bytes,
    };
  } catch (error) {
    source?.destroy();
    // No response and the association still open: the send itself failed (the source threw
    // mid-data-set), so the peer holds half a message. Nothing sane can follow it on this
    // association (PS3.8 Annex E): abort, and every later instance fails with that reason.
    // A message sent whole whose response was refused (it named another instance) leaves the
    // association usable (still Sta6): the later instances go on. An association already
    // aborting (a DIMSE timeout) is awaited here too, so the later ones are skipped.
    const usable = request.isSent && association.upperLayer.state === 'Sta6';
    if (!usable && !association.isClosed) await association.abort().catch(() => undefined);
    return {
      ...base,
      sentTransferSyntaxUid,
      status: undefined,
      outcome: 'Failure',
      errorComment: (error as Error).message,
      response: undefined,
      error: error as Error,
      bytes: 0,
    };
  }
}

/** The result of a file that could not be read (or is not a Part 10 file). */
function unreadable(r: Unreadable): StoreResult {
  return {
    path: r.path,
    sopClassUid: '',
    sopInstanceUid: '',
    transferSyntaxUid: '',
    sentTransferSyntaxUid: undefined,
    status: undefined,
    outcome: 'Failure',
    errorComment: r.error.message,
    response: undefined,
    error: r.error,
    bytes: 0,
  };
}

function safe(fn: (() => void) | undefined): void {
  try {
    fn?.();
  } catch {
    // A listener never breaks the send (architecture rule 8).
  }
}

/** Most C-STOREs kept outstanding when the peer allows more (or an unlimited number, 0). */
export const DEFAULT_STORE_WINDOW = 16;

/** How many C-STORE-RQs may be outstanding: the negotiated window (PS3.7 D.3.3.3), capped. */
function storeWindow(association: Association, options: StoreOptions): number {
  const cap = options.maxOutstanding ?? DEFAULT_STORE_WINDOW;
  if (!Number.isInteger(cap) || cap < 1) throw new InvalidOptionError('maxOutstanding', `must be an integer ≥ 1, got ${String(cap)}`);
  const invoked = association.info.asynchronousOperations.invoked;
  return invoked === 0 ? cap : Math.min(invoked, cap);
}

/**
 * Send every instance of `sources` (files, directories, streams) over `association` and resolve
 * with one result per instance in source order. With an Asynchronous Operations Window of 1 (the
 * default, PS3.7 D.3.3.3) each C-STORE-RSP is awaited before the next instance; with a larger
 * negotiated window the next instance is sent as soon as the previous one is written out, up to
 * that many (at most `maxOutstanding`) awaiting their answers. A failure of one instance (a
 * refused status, an unreadable file, no fitting context) is its result, not an exception; a
 * lost association fails the instances in flight and every later one.
 */
export async function storeInstances(association: Association, sources: readonly StoreSource[], options: StoreOptions = {}): Promise<StoreResult[]> {
  checkStoreCall(sources, options);
  const window = storeWindow(association, options);
  // Files are only listed here; each is opened when its turn comes (or one instance ahead), and
  // its header parsed from the bytes read then: a second pass over every file's head before the
  // first byte was sent cost an open, a read and a close per file.
  const listed = await listSources(sources);
  const total = listed.length;
  const results: StoreResult[] = [];
  const outstanding = new Set<Promise<void>>();
  const done = (index: number, sopInstanceUid: string, result: StoreResult): void => {
    results[index] = result;
    safe(() => options.onProgress?.({ index, total, sopInstanceUid, phase: 'done', result }));
  };
  const wholeFiles = new WholeFiles();
  const opened = (index: number): Resolved | Unreadable | undefined => {
    const item = listed[index];
    return typeof item === 'string' ? openForSend(wholeFiles, item, mayReuseBuffers(association)) : item;
  };
  let ahead: { index: number; r: Resolved | Unreadable | undefined } | undefined;
  /** Why the association ended under an instance in flight; later ones are skipped with it. */
  let ended: Error | undefined;
  try {
    for (let index = 0; index < total; index++) {
      // A free place in the window first (window 1: the previous instance's answer, as ever).
      while (outstanding.size >= window) await Promise.race(outstanding);
      if (options.signal?.aborted === true) break;
      const item = listed[index]!;
      if (association.isClosed) {
        // Never sent: only its header is read, to say which instance was skipped.
        const r = ahead?.index === index ? ahead.r! : typeof item === 'string' ? resolvePath(item) : item;
        ahead = undefined;
        closeUnsent(r);
        if (!('error' in r)) {
          const reason = ended ?? (await association.whenClosed()).error ?? new Error('the association had ended');
          done(index, r.sopInstanceUid, {
            path: r.path, sopClassUid: r.sopClassUid, sopInstanceUid: r.sopInstanceUid, transferSyntaxUid: r.transferSyntaxUid,
            sentTransferSyntaxUid: undefined, status: undefined, outcome: 'Failure', errorComment: reason.message,
            response: undefined, error: reason, bytes: 0, skipped: true,
          });
          continue;
        }
        done(index, '', unreadable(r));
        continue;
      }
      const r = ahead?.index === index ? ahead.r! : opened(index)!;
      ahead = undefined;
      if ('error' in r) {
        done(index, '', unreadable(r));
        continue;
      }
      safe(() => options.onProgress?.({ index, total, sopInstanceUid: r.sopInstanceUid, phase: 'sending' }));
      const started = await sendOne(association, r, options);
      if (!('sent' in started)) {
        done(index, r.sopInstanceUid, started);
        continue;
      }
      const settled: Promise<void> = started.result.then((result) => {
        outstanding.delete(settled);
        if (result.status === undefined && association.isClosed) ended ??= result.error;
        done(index, r.sopInstanceUid, result);
      });
      outstanding.add(settled);
      // The next instance follows once this one is on the wire (not queued behind it in memory).
      // A failed send is this instance's result and aborts the association: wait for that, so the
      // later instances fail with its reason instead of racing the abort.
      try {
        await started.sent;
      } catch {
        await settled;
        continue;
      }
      // This one is handed to the transport, which writes what a turn produced at the next tick
      // (the upper layer gathers PDUs and writes them on process.nextTick). Open and read the next file after that
      // write, while the peer works: read before it, the read delayed the instance's bytes on the
      // wire, and the transport still held them, so the read buffer could never be reused.
      await new Promise<void>((resolve) => process.nextTick(resolve));
      if (index + 1 < total && !association.isClosed) ahead = { index: index + 1, r: opened(index + 1) };
    }
  } finally {
    // Stopped (signal, a throwing source) with the next file already open.
    closeUnsent(ahead?.r);
  }
  await Promise.all(outstanding);
  return results;
}

/**
 * A Part 10 stream (a file as bytes from anywhere): its meta header is read from the first
 * chunks, the data set follows as a stream. Resolves once the header is in.
 */
export async function part10StreamSource(stream: AsyncIterable<Uint8Array>, options: { readonly maxMetaBytes?: number } = {}): Promise<DatasetStreamSource> {
  const it = stream[Symbol.asyncIterator]();
  const max = options.maxMetaBytes ?? 1 << 20;
  let head = Buffer.alloc(0);
  let header: Part10Header | undefined;
  let done = false;
  while (header === undefined) {
    const n = await it.next();
    done = n.done === true;
    if (!done) head = Buffer.concat([head, n.value as Uint8Array]);
    try {
      header = decodePart10Header(head, { final: done });
    } catch (error) {
      if (done || head.length > max || (error as { code?: string }).code !== 'DICOM_ERR_PART10_TRUNCATED') throw error;
    }
  }
  const rest = head.subarray(header.datasetOffset);
  const finished = done;
  async function* dataset(): AsyncGenerator<Uint8Array> {
    if (rest.length > 0) yield rest;
    if (finished) return;
    for (let n = await it.next(); n.done !== true; n = await it.next()) yield n.value as Uint8Array;
  }
  return {
    sopClassUid: header.meta.MediaStorageSOPClassUID,
    sopInstanceUid: header.meta.MediaStorageSOPInstanceUID,
    transferSyntaxUid: header.meta.TransferSyntaxUID,
    dataset: dataset(),
  };
}
