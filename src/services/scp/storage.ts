/**
 * Storage Service Class SCP (PS3.4 B.2.2): the C-STORE-RQ handler. The data set streams, fragment
 * by fragment, either into a FileStore (a Part 10 file written under a temporary name and renamed
 * only when complete and indexed) or into an application handler as a Readable. Each fragment
 * write is awaited, so a slow disk holds back the socket (architecture rule 9).
 *
 * The answer (PS3.4 Table B.2-1): 0000 when stored; a StoreError's own status otherwise (A700 out
 * of resources for a full disk, A900 data set does not match, 0111 duplicate, C000 cannot
 * understand); 0110 for anything else. An association that ends mid-instance aborts the sink:
 * the temporary file is removed and no response is sent.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { DatasetSink } from '../../dimse/assembler.js';
import type { ChunkChannel } from '../../internal/chunk-channel.js';
import type { CStoreRq } from '../../dimse/messages.js';
import { Status } from '../../dictionary/status.js';
import type { FileStore, StoredInstance } from '../../store/file-store.js';
import { StoreError } from '../../store/errors.js';
import type { DimseHandler, RequestContext, ResponseFields } from './registry.js';

/** An instance arriving for an application handler. */
export interface ReceivedInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  /** How the data set bytes are encoded (the presentation context's transfer syntax). */
  readonly transferSyntaxUid: string;
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  readonly moveOriginatorAeTitle: string | undefined;
  /** The data set bytes (no Part 10 header) as they arrive; consume it, with backpressure. */
  readonly dataset: Readable;
}

export type StorageHandlerOptions =
  | {
      readonly store: FileStore;
      /** Told about every stored instance (a throwing listener is ignored). */
      readonly onStored?: (instance: StoredInstance, context: RequestContext) => void;
      /** Told about every refused or failed instance. */
      readonly onFailed?: (error: Error, request: CStoreRq, context: RequestContext) => void;
    }
  | {
      /** Resolve once the instance is safely kept; a throw (or rejection) answers a failure. */
      readonly onInstance: (instance: ReceivedInstance) => Promise<unknown> | unknown;
    };

/** Error Comment (0000,0902) is LO: 64 characters; a StoreError carries one made to fit. */
function errorComment(error: unknown): string {
  if (error instanceof StoreError) return error.comment;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A DatasetSink writing into a stream with backpressure: a write that fills the stream waits for
 * 'drain' (or for the consumer to finish or the stream to close). Listeners are added once, not
 * per wait: a 60 MB instance waits thousands of times.
 */
function passThroughSink(done: Promise<unknown>, stream: Writable = new PassThrough({ highWaterMark: 256 * 1024 })): { sink: DatasetSink; stream: Writable } {
  stream.on('error', () => undefined);
  let settled = false;
  let wake: (() => void) | undefined;
  const wakeUp = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on('drain', wakeUp).on('close', wakeUp);
  const finish = (): void => {
    settled = true;
    wakeUp();
  };
  done.then(finish, finish);
  const sink: DatasetSink = {
    // An application's stream may keep the fragments: their receive buffers are never reused
    // (the FileStore's channelSink gives them back).
    // A promise only when the stream asks to wait: a fragment it takes at once costs none.
    write(fragment) {
      if (settled || stream.destroyed) return undefined; // the consumer is gone: drop the rest
      if (stream.write(fragment)) return undefined;
      return new Promise<void>((resolve) => (wake = resolve));
    },
    end() {
      if (!stream.destroyed) stream.end();
    },
    abort(error) {
      stream.destroy(error);
    },
  };
  return { sink, stream };
}

/**
 * A DatasetSink into a FileStore's channel: each fragment is given back by the store once
 * written (or by the channel, when dropped), so the receive buffers are reused; a full channel
 * holds the association back until the store has taken enough.
 */
function channelSink(channel: ChunkChannel): DatasetSink {
  return {
    fragmentUse: 'release',
    // A promise only when the channel is full: a fragment it takes at once costs none.
    write: (fragment) => (channel.write(fragment) ? undefined : channel.drained()),
    end: () => channel.end(),
    abort: (error) => channel.destroy(error),
  };
}

/** The C-STORE-RQ handler for a FileStore or an application callback. */
export function storageHandler(options: StorageHandlerOptions): DimseHandler<'C-STORE-RQ'> {
  const results = new WeakMap<CStoreRq, Promise<unknown>>();
  return {
    datasetSink(request, context) {
      const a = context.association;
      if ('store' in options) {
        const { channel, result } = options.store.createChannel({
          sopClassUid: request.affectedSopClassUid,
          sopInstanceUid: request.affectedSopInstanceUid,
          transferSyntaxUid: context.presentationContext.transferSyntax,
          callingAeTitle: a.callingAeTitle,
          calledAeTitle: a.calledAeTitle,
        });
        results.set(request, result);
        return channelSink(channel);
      }
      let resolveDone!: (v: unknown) => void;
      let rejectDone!: (e: unknown) => void;
      const done = new Promise((res, rej) => ((resolveDone = res), (rejectDone = rej)));
      done.catch(() => undefined);
      const { sink, stream } = passThroughSink(done);
      results.set(request, done);
      Promise.resolve()
        .then(() =>
          options.onInstance({
            sopClassUid: request.affectedSopClassUid,
            sopInstanceUid: request.affectedSopInstanceUid,
            transferSyntaxUid: context.presentationContext.transferSyntax,
            callingAeTitle: a.callingAeTitle,
            calledAeTitle: a.calledAeTitle,
            moveOriginatorAeTitle: request.moveOriginatorApplicationEntityTitle,
            dataset: stream as PassThrough,
          }),
        )
        .then(resolveDone, rejectDone);
      return sink;
    },
    async handle(request, context): Promise<ResponseFields> {
      const pending = results.get(request);
      if (pending === undefined) return { status: Status.ProcessingFailure, errorComment: 'no data set was received' };
      try {
        const stored = await pending;
        if ('store' in options && options.onStored !== undefined) {
          try {
            options.onStored(stored as StoredInstance, context);
          } catch {
            // A listener never breaks the answer.
          }
        }
        return { status: Status.Success };
      } catch (error) {
        if ('store' in options && options.onFailed !== undefined) {
          try {
            options.onFailed(error as Error, request, context);
          } catch {
            // ignored
          }
        }
        const offendingElement = error instanceof StoreError ? error.offendingElement : undefined;
        return {
          status: error instanceof StoreError ? error.status : Status.ProcessingFailure,
          errorComment: errorComment(error),
          ...(offendingElement === undefined ? {} : { offendingElement }),
        };
      }
    },
  };
}
