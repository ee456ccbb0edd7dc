/**
 * Query/Retrieve SCP (PS3.4 C.4) over the index: C-FIND answered from an InstanceIndex with the
 * standard matching rules (store/query.ts), C-MOVE to destinations configured by AE title (a new
 * association as requestor, PS3.4 C.4.2.2), C-GET on the same association (PS3.4 C.4.3.2). Pending
 * responses carry the sub-operation counts; C-CANCEL-RQ stops before the next match or instance.
 * Modality Worklist FIND (PS3.4 K.4) is answered by an application source when one is given.
 */
import { DicomClient } from '../../ae/client.js';
import type { Association } from '../../ae/association.js';
import { decodeDataset, encodeDataset, specificCharacterSetOf, type NaturalDataset } from '../../dataset/codec.js';
import { QueryRetrieveStatus, Status } from '../../dictionary/status.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../dictionary/uids.js';
import type { CFindRq, CGetRq, CMoveRq } from '../../dimse/messages.js';
import { InvalidOptionError } from '../../errors.js';
import { Semaphore } from '../../internal/semaphore.js';
import type { SecureContext } from '../../transport/tls/context.js';
import type { InstanceIndex } from '../../store/instance-index.js';
import type { InstanceFiles } from '../../store/file-store.js';
import { channelNames, publish } from '../../diagnostics.js';
import { type RetrieveInstance, keyValues, unsupportedKeys, type FindOptions as IndexFindOptions, type InformationModel, type QueryLevel } from '../../store/query.js';
import { StoreError, storeErrorCodes } from '../../store/errors.js';
import { storeInstances, type StoreResult, type StoreSource } from '../scu/store.js';
import type { DimseHandler, HandleContext, ResponseFields } from './registry.js';
import type { DatasetLimit } from '../../ae/dataset-limit.js';

/** Where C-MOVE (and Storage Commitment reports on a new association) go for an AE title. */
export interface RemoteAe {
  readonly host: string;
  readonly port: number;
  /** A client-role SecureContext: reach this AE over TLS. */
  readonly tls?: SecureContext | undefined;
  /** Our calling AE title towards it; default: the called AE title of the association that asked. */
  readonly callingAeTitle?: string;
  /** Our Maximum Length towards it. */
  readonly maxPduLength?: number;
}

const modelOf: Readonly<Record<string, InformationModel>> = {
  [QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelFind]: 'PATIENT_ROOT',
  [QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelMove]: 'PATIENT_ROOT',
  [QueryRetrieveSopClass.PatientRootQueryRetrieveInformationModelGet]: 'PATIENT_ROOT',
  [QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind]: 'STUDY_ROOT',
  [QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove]: 'STUDY_ROOT',
  [QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelGet]: 'STUDY_ROOT',
};

function failure(error: unknown): ResponseFields {
  const comment = error instanceof Error ? error.message : String(error);
  return { status: error instanceof StoreError ? error.status : QueryRetrieveStatus.UnableToProcess, errorComment: comment };
}

function identifierOf(context: HandleContext): NaturalDataset {
  if (context.dataset === undefined) throw new StoreError('DICOM_ERR_STORE_INVALID_QUERY', 'the request has no identifier');
  return decodeDataset(context.dataset, context.presentationContext.transferSyntax);
}

/** A match says the query's character set (the index's per-instance one was decoded already). */
function responseCharset(match: NaturalDataset, characterSet: string): NaturalDataset {
  if (!('SpecificCharacterSet' in match)) return match;
  return { ...match, SpecificCharacterSet: characterSet.includes('\\') ? characterSet.split('\\') : characterSet };
}

export interface FindHandlerOptions {
  readonly index: InstanceIndex;
  /** Matches for a Modality Worklist query; absent: the worklist SOP class is answered "not supported". */
  readonly worklist?: (identifier: NaturalDataset, signal: AbortSignal) => AsyncIterable<NaturalDataset> | Iterable<NaturalDataset>;
  readonly match?: IndexFindOptions;
  /**
   * Most matches sent for one query, default 50 000; 0 = no limit. One more match ends the query
   * with A700 (Refused: Out of Resources) after the Pending responses sent, its Error Comment
   * saying to narrow the query: Success would claim a complete answer, Cancel (FE00) answers only
   * a C-CANCEL-RQ (PS3.4 C.4.1.1.4, C.4.1.2.3).
   */
  readonly maxMatches?: number;
  /**
   * Queries run at once by this handler (a server), default 4; more wait their turn in arrival
   * order (a C-CANCEL-RQ ends the wait with Cancel).
   */
  readonly maxConcurrent?: number;
  /** Most bytes of a query identifier, default `DEFAULT_MAX_IDENTIFIER_LENGTH`; 0 = no limit of its own (see `identifierLimit`). */
  readonly maxIdentifierLength?: number;
}

/** Default of `maxMatches`. */
export const DEFAULT_MAX_QUERY_MATCHES = 50_000;
/** Default of `maxConcurrent`. */
export const DEFAULT_MAX_CONCURRENT_QUERIES = 4;
/**
 * Default of `maxIdentifierLength` (C-FIND, C-MOVE, C-GET): 64 KiB. A query's identifier is a few
 * hundred bytes; a retrieve by a list of UIDs (PS3.4 C.2.2.2.2) of 2 000 instances still fits.
 * Decoding one costs up to a hundred times its size (dcmjs makes objects of every item and value),
 * outside the buffer budgets: measured, a 1 MiB identifier of small sequence items took ~100 MiB.
 */
export const DEFAULT_MAX_IDENTIFIER_LENGTH = 64 * 1024;

/**
 * The handler's `datasetLimit`: an identifier beyond `maxLength` is dropped unread and the request
 * answered C000 (Failure: Unable to process, PS3.4 C.4.1.1.4, C.4.2.1.5, C.4.3.1.4) with the Error
 * Comment `identifier larger than N bytes`; the association goes on. 0: no limit here (the
 * association's `maxCollectedDataset` still bounds it, with an A-ABORT).
 */
function identifierLimit(maxLength: number | undefined): DatasetLimit | undefined {
  const n = checkCount('maxIdentifierLength', maxLength, DEFAULT_MAX_IDENTIFIER_LENGTH, true);
  return n === 0 ? undefined : { maxLength: n, status: QueryRetrieveStatus.UnableToProcess, name: 'identifier' };
}

/** Matches sent between turns of the event loop (a source that never waits would hold it). */
const MATCHES_PER_TURN = 64;

function checkCount(option: string, v: number | undefined, fallback: number, allowZero: boolean): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new InvalidOptionError(option, `must be an integer ≥ ${allowZero ? 0 : 1}, got ${String(v)}`);
  return v;
}

/** C-FIND-RQ: each match a Pending response (PS3.4 C.4.1.2), then Success, or Cancel when cancelled. */
export function findHandler(options: FindHandlerOptions): DimseHandler<'C-FIND-RQ'> {
  const maxMatches = checkCount('maxMatches', options.maxMatches, DEFAULT_MAX_QUERY_MATCHES, true);
  const slots = new Semaphore(checkCount('maxConcurrent', options.maxConcurrent, DEFAULT_MAX_CONCURRENT_QUERIES, false));
  const datasetLimit = identifierLimit(options.maxIdentifierLength);
  return {
    datasetLimit,
    async handle(request, context) {
      const release = await slots.acquire(context.signal);
      if (release === false) return { status: Status.Cancel };
      try {
        return await find(request, context);
      } finally {
        release();
      }
    },
  };

  async function find(request: CFindRq, context: HandleContext): Promise<ResponseFields> {
    const ts = context.presentationContext.transferSyntax;
    let identifier: NaturalDataset;
    let matches: AsyncIterable<NaturalDataset> | Iterable<NaturalDataset>;
    // FF00 for each match, FF01 when the identifier has keys the index cannot match or return
    // (PS3.4 C.4.1.1.4); a worklist source answers for its own keys.
    let pendingStatus: number = Status.Pending;
    try {
      identifier = identifierOf(context);
      if (request.affectedSopClassUid === QueryRetrieveSopClass.ModalityWorklistInformationModelFind) {
        if (options.worklist === undefined) return { status: Status.SopClassNotSupported, errorComment: 'no worklist source' };
        matches = options.worklist(identifier, context.signal);
      } else {
        const model = modelOf[request.affectedSopClassUid];
        if (model === undefined) return { status: Status.SopClassNotSupported };
        matches = options.index.find(model, identifier as never, options.match);
        if (unsupportedKeys(identifier as never).length > 0) pendingStatus = QueryRetrieveStatus.PendingWarningOptionalKeysNotSupported;
      }
      // Matches are written in the query's character set when it has no code extensions and
      // holds their text; otherwise in ISO_IR 192 (codec.ts encodeDataset), and say which.
      const characterSet = specificCharacterSetOf(context.dataset!, ts) ?? '';
      let sent = 0;
      for await (const match of matches) {
        if (context.signal.aborted) return { status: Status.Cancel };
        if (maxMatches > 0 && sent === maxMatches) {
          return { status: QueryRetrieveStatus.OutOfResources, errorComment: `more than ${maxMatches} matches: narrow the query` };
        }
        // Each match travels in the context's syntax; the Specific Character Set says how text is encoded.
        await context.respond({ status: pendingStatus, dataset: encodeDataset(responseCharset(match, characterSet), ts, { characterSet }) });
        if (++sent % MATCHES_PER_TURN === 0) await yieldToEventLoop();
      }
    } catch (error) {
      return failure(error);
    }
    return context.signal.aborted ? { status: Status.Cancel } : { status: Status.Success };
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Counts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
  readonly failedUids: string[];
}

function countsFields(c: Counts, final: boolean): ResponseFields {
  return {
    status: Status.Pending,
    numberOfRemainingSuboperations: final ? undefined : c.remaining,
    numberOfCompletedSuboperations: c.completed,
    numberOfFailedSuboperations: c.failed,
    numberOfWarningSuboperations: c.warning,
  } as ResponseFields;
}

function tally(c: Counts, r: StoreResult): void {
  c.remaining--;
  if (r.outcome === 'Success') c.completed++;
  else if (r.outcome === 'Warning') c.warning++;
  else {
    c.failed++;
    if (r.sopInstanceUid !== '') c.failedUids.push(r.sopInstanceUid);
  }
}

/**
 * The final response of a retrieve (PS3.4 C.4.2.1.5, C.4.3.1.4): counts, status, Failed SOP
 * Instance UID List. The SCU reads Warning (B000) as "some sub-operations did not succeed" and
 * Failure or Refused as "all were unsuccessful" (PS3.4 C.4.2.2.1, C.4.3.2.1), so a retrieve where
 * every sub-operation failed is A702 (Refused: unable to perform sub-operations), not B000.
 */
function finalFields(c: Counts, cancelled: boolean, ts: string): ResponseFields {
  const allFailed = c.failed > 0 && c.completed === 0 && c.warning === 0;
  const status = cancelled
    ? Status.Cancel
    : allFailed
      ? QueryRetrieveStatus.OutOfResourcesUnableToPerformSuboperations
      : c.failed > 0 || c.warning > 0
        ? QueryRetrieveStatus.SuboperationsCompleteWithFailures
        : Status.Success;
  const notDone = cancelled ? c.remaining : 0;
  const fields: Record<string, unknown> = { ...countsFields(c, !cancelled), status };
  if (cancelled) fields['numberOfRemainingSuboperations'] = notDone;
  if (c.failedUids.length > 0) fields['dataset'] = encodeDataset({ FailedSOPInstanceUIDList: c.failedUids }, ts);
  return fields as unknown as ResponseFields;
}

/** The instances a C-MOVE or C-GET asks for, or the failure response for a request the index cannot answer. */
async function filesFor(index: InstanceIndex, request: CMoveRq | CGetRq, context: HandleContext): Promise<RetrieveInstance[] | ResponseFields> {
  try {
    const identifier = identifierOf(context);
    const model = modelOf[request.affectedSopClassUid];
    if (model === undefined) throw new StoreError('DICOM_ERR_STORE_INVALID_QUERY', `unknown retrieve SOP class ${request.affectedSopClassUid}`);
    const level = keyValues(identifier['QueryRetrieveLevel'] as never)[0] as QueryLevel | undefined;
    if (model === 'STUDY_ROOT' && level === 'PATIENT') throw new StoreError('DICOM_ERR_STORE_INVALID_QUERY', 'Study Root has no PATIENT level');
    return await index.instancesFor(level as QueryLevel, identifier as never);
  } catch (error) {
    return failure(error);
  }
}

/**
 * A retrieve's sub-operations as published on `channelNames.server` ('retrieve-started', then
 * 'retrieve-done' with each instance's outcome): who asked, who receives, what was read and sent.
 */
export interface RetrieveEvent {
  readonly association: Association;
  readonly command: CMoveRq | CGetRq;
  /** Us, as the Storage SCU of the sub-operations. */
  readonly source: { readonly aeTitle: string };
  /** The Storage SCP of the sub-operations: the move destination, or the C-GET requestor. */
  readonly destination: { readonly aeTitle: string; readonly address?: string | undefined };
  readonly instances: readonly RetrieveInstance[];
}

async function sendAll(
  options: RetrieveHandlerOptions,
  association: Association,
  files: readonly RetrieveInstance[],
  context: HandleContext,
  originator: { aeTitle: string; messageId: number } | undefined,
  event: RetrieveEvent,
): Promise<ResponseFields> {
  const c: Counts = { remaining: files.length, completed: 0, failed: 0, warning: 0, failedUids: [] };
  const outcomes: ('Success' | 'Warning' | 'Failure')[] = [];
  let cancelled = false;
  const retrieve = 'moveDestination' in event.command ? 'C-MOVE' : 'C-GET';
  publish(channelNames.server, () => ({ kind: 'retrieve-started', ...event }));
  try {
    for (const file of files) {
      if (context.signal.aborted) {
        cancelled = true;
        break;
      }
      let source: { source: StoreSource; close(): void } | undefined;
      const unreadable = (error: unknown, path?: string): void => {
        // The stored copy is gone, damaged or unreadable (store check finds why): this
        // sub-operation fails (counted failed, in the Failed SOP Instance UID List) and the others go on.
        source = undefined;
        publish(channelNames.server, () => ({ kind: 'retrieve-source-failed', retrieve, sopInstanceUid: file.SOPInstanceUID, key: file.key, path, error }));
      };
      try {
        source = await sourceOf(options, file);
      } catch (error) {
        unreadable(error, options.store.remote ? undefined : options.store.pathOf(file.key));
      }
      let r: StoreResult | undefined;
      try {
        if (source !== undefined) [r] = await storeInstances(association, [source.source], { ...(originator === undefined ? {} : { moveOriginator: originator }) });
      } catch (error) {
        // A directory store's file is looked at by the send itself: gone, it throws there, before
        // anything is sent for it (the association is as it was). Anything else ends the retrieve.
        const path = typeof source?.source === 'string' ? source.source : undefined;
        if (path === undefined || (error as NodeJS.ErrnoException).path !== path) throw error;
        unreadable(error, path);
      } finally {
        source?.close();
      }
      // The C-CANCEL aborted a move's sub-association (moveHandler's stop) under this instance:
      // unanswered, it was not performed rather than failed (PS3.4 C.4.2.3.1), and is counted remaining.
      if (context.signal.aborted && r?.status === undefined && r?.outcome === 'Failure') {
        cancelled = true;
        break;
      }
      // Not a Part 10 file (cut short, overwritten): failed with no SOP Instance UID read from it.
      if (r !== undefined && r.status === undefined && r.sopInstanceUid === '' && r.error !== undefined) {
        const { error, path } = r;
        publish(channelNames.server, () => ({ kind: 'retrieve-source-failed', retrieve, sopInstanceUid: file.SOPInstanceUID, key: file.key, path, error }));
      }
      // Counted and listed once: tally lists a failure that names its instance.
      tally(c, r ?? ({ outcome: 'Failure', sopInstanceUid: file.SOPInstanceUID } as StoreResult));
      outcomes.push(r?.outcome ?? 'Failure');
      if (r !== undefined && r.outcome === 'Failure' && r.sopInstanceUid === '') c.failedUids.push(file.SOPInstanceUID);
      if (c.remaining > 0) await context.respond(countsFields(c, false));
    }
  } finally {
    // Instances never attempted (cancel, a lost association) carry no outcome.
    publish(channelNames.server, () => ({ kind: 'retrieve-done', ...event, outcomes, cancelled }));
  }
  return finalFields(c, cancelled, context.presentationContext.transferSyntax);
}

/**
 * What a sub-operation sends: the file of a directory store (read by the Storage SCU as any file),
 * or the object of a remote store streamed, its meta header decoded from the first bytes. The copy
 * is checked first (present, of the size its row records), so one that is gone or damaged fails
 * its own sub-operation before anything of it is sent. One that fails is looked up again: an
 * 'overwrite' since the index was read put the instance under a new key (and removed the old
 * copy), and that copy is sent.
 */
async function sourceOf(options: RetrieveHandlerOptions, file: RetrieveInstance): Promise<{ source: StoreSource; close(): void }> {
  try {
    return await openSource(options.store, file);
  } catch (error) {
    const row = await options.index.findInstance(file.SOPInstanceUID).catch(() => undefined);
    if (row === undefined || row.key === file.key) throw error;
    return openSource(options.store, { ...file, ...row });
  }
}

async function openSource(store: InstanceFiles, file: RetrieveInstance): Promise<{ source: StoreSource; close(): void }> {
  if (!store.remote) {
    const path = store.pathOf(file.key);
    const size = await store.sizeOf(file.key);
    if (size === undefined) throw new StoreError(storeErrorCodes.blobNotFound, `cannot read ${path}: ENOENT (no such file)`, { comment: 'the stored copy is missing' });
    if (size !== file.size) throw new StoreError(storeErrorCodes.blobDamaged, `${path} is ${size} bytes, its index row records ${file.size}`, { comment: 'the stored copy is damaged' });
    return { source: path, close: () => undefined };
  }
  const opened = await store.openDataset(file.key, file.size);
  return {
    source: {
      sopClassUid: file.SOPClassUID,
      sopInstanceUid: file.SOPInstanceUID,
      transferSyntaxUid: opened.header.meta.TransferSyntaxUID,
      dataset: opened.dataset,
      size: file.size - opened.header.datasetOffset,
    },
    close: opened.close,
  };
}

/** What a retrieve reads: the index, and where the indexed copies are. */
export interface RetrieveHandlerOptions {
  readonly index: InstanceIndex;
  readonly store: InstanceFiles;
  /** Most bytes of the identifier, default `DEFAULT_MAX_IDENTIFIER_LENGTH`; beyond: C000 (see findHandler). 0 = no limit of its own. */
  readonly maxIdentifierLength?: number;
}

export interface MoveHandlerOptions extends RetrieveHandlerOptions {
  /** Move destinations by AE title (PS3.4 C.4.2.2.1: an unknown one is refused with A801). */
  readonly destinations: Readonly<Record<string, RemoteAe>> | ((aeTitle: string) => RemoteAe | undefined);
  /**
   * Timeouts of the association to the destination (ms): connect, negotiate, each response, and
   * each wait for the destination to take what we send (one that stops reading fails the
   * instance and ends the move). Default 20 000: below a requestor's usual 30 s DIMSE timeout, so
   * the requestor hears the final status (A702 or B000 with the counts) rather than timing out.
   */
  readonly timeout?: number;
}

/** Default of `MoveHandlerOptions.timeout`. */
export const DEFAULT_MOVE_TIMEOUT = 20_000;

/** Find where an AE title lives. */
export function lookupAe(destinations: MoveHandlerOptions['destinations'], aeTitle: string): RemoteAe | undefined {
  const title = aeTitle.trim();
  return typeof destinations === 'function' ? destinations(title) : Object.prototype.hasOwnProperty.call(destinations, title) ? destinations[title] : undefined;
}

/** The contexts to propose for sending stored files: each SOP class with each file syntax, plus Implicit VR LE. */
function contextsForFiles(files: readonly RetrieveInstance[]) {
  const pairs = new Map<string, Set<string>>();
  for (const f of files) {
    const set = pairs.get(f.SOPClassUID) ?? new Set<string>();
    set.add(f.transferSyntaxUid);
    set.add(TransferSyntax.ExplicitVrLittleEndian);
    set.add(TransferSyntax.ImplicitVrLittleEndian);
    pairs.set(f.SOPClassUID, set);
  }
  return [...pairs].map(([abstractSyntax, ts]) => ({ abstractSyntax, transferSyntaxes: [...ts], separateContextPerTransferSyntax: true }));
}

/** C-MOVE-RQ: a new association to the destination, one C-STORE per matching instance. */
export function moveHandler(options: MoveHandlerOptions): DimseHandler<'C-MOVE-RQ'> {
  return {
    datasetLimit: identifierLimit(options.maxIdentifierLength),
    async handle(request, context) {
      const files = await filesFor(options.index, request, context);
      if (!Array.isArray(files)) return files;
      const destination = lookupAe(options.destinations, request.moveDestination);
      // A move that never reached its destination: 'retrieve-failed' says what was not sent and why (audit/).
      const failed = (reason: 'unknown-destination' | 'unreachable' | 'cancelled', error: unknown, address?: string): void =>
        publish(channelNames.server, () => ({
          kind: 'retrieve-failed', reason, error, association: context.association, command: request,
          source: { aeTitle: destination?.callingAeTitle ?? context.association.calledAeTitle },
          destination: { aeTitle: request.moveDestination.trim(), address }, instances: files,
        }));
      if (destination === undefined) {
        failed('unknown-destination', undefined);
        return { status: QueryRetrieveStatus.MoveDestinationUnknown, errorComment: `unknown destination ${request.moveDestination.trim()}` };
      }
      if (files.length === 0) return { status: Status.Success, numberOfCompletedSuboperations: 0, numberOfFailedSuboperations: 0, numberOfWarningSuboperations: 0 };
      const t = options.timeout ?? DEFAULT_MOVE_TIMEOUT;
      // A C-CANCEL (or the requestor's association ending) stops the move at once: the
      // sub-association is aborted, whatever it waits for (a destination that answers nothing
      // or reads nothing would otherwise hold the cancel for the move timeout, then the release's).
      const signal = context.signal;
      let client: DicomClient;
      try {
        const associating = DicomClient.associate({
          host: destination.host,
          port: destination.port,
          tls: destination.tls,
          callingAeTitle: destination.callingAeTitle ?? context.association.calledAeTitle,
          calledAeTitle: request.moveDestination.trim(),
          presentationContexts: contextsForFiles(files),
          ...(destination.maxPduLength === undefined ? {} : { maxPduLength: destination.maxPduLength }),
          timeouts: { connect: t, association: t, dimse: t },
        });
        const taken = await untilAborted(associating, signal);
        if (taken === undefined) {
          associating.then((c) => c.abort().catch(() => undefined), () => undefined);
          failed('cancelled', undefined, destination.host);
          return finalFields({ remaining: files.length, completed: 0, failed: 0, warning: 0, failedUids: [] }, true, context.presentationContext.transferSyntax);
        }
        client = taken;
      } catch (error) {
        failed('unreachable', error, destination.host);
        return { status: QueryRetrieveStatus.OutOfResourcesUnableToPerformSuboperations, errorComment: `cannot reach ${request.moveDestination.trim()}: ${String((error as Error).message)}` };
      }
      // The A-ABORT, then the transport at once: behind data a stalled destination does not take,
      // the A-ABORT would hold the association in Sta13 until ARTIM, and the sub-operation with it.
      const stop = (): void => {
        void client.abort().catch(() => undefined);
        client.association.upperLayer.destroy();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      try {
        const a = client.association;
        return await sendAll(options, a, files, context, { aeTitle: context.association.callingAeTitle, messageId: request.messageId },
          { association: context.association, command: request, source: { aeTitle: a.callingAeTitle }, destination: { aeTitle: a.calledAeTitle, address: a.remoteAddress }, instances: files });
      } finally {
        signal.removeEventListener('abort', stop);
        if (signal.aborted) stop();
        else await client.release().catch(() => client.abort().catch(() => undefined));
      }
    },
  };
}

/**
 * C-GET-RQ: C-STORE sub-operations on the same association (PS3.4 C.4.3.2), on contexts where
 * the requestor took the Storage SCP role by role selection; we act as the Storage SCU.
 */
export function getHandler(options: RetrieveHandlerOptions): DimseHandler<'C-GET-RQ'> {
  return {
    datasetLimit: identifierLimit(options.maxIdentifierLength),
    async handle(request, context) {
      const files = await filesFor(options.index, request, context);
      if (!Array.isArray(files)) return files;
      const a = context.association;
      return sendAll(options, a, files, context, undefined,
        { association: a, command: request, source: { aeTitle: a.calledAeTitle }, destination: { aeTitle: a.callingAeTitle, address: a.remoteAddress }, instances: files });
    },
  };
}

/** `p`'s value, or undefined once `signal` aborts first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}
