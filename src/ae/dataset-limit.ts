/**
 * A handler's limit on the request data set it takes in memory (`DimseHandler.datasetLimit`): a
 * query identifier has no business being megabytes long, and decoding one (dcmjs copies every
 * value) would cost several times its size outside the buffer budgets. Past the limit the bytes
 * collected so far are dropped (and given back to the budgets), the rest of the data set is read
 * and dropped as it arrives, and the request is answered with the limit's status, its handler
 * never run: the association goes on.
 */
import type { DatasetSink } from '../dimse/assembler.js';

export interface DatasetLimit {
  /** Most bytes of the request data set taken (0 = no limit besides `maxCollectedDataset`). */
  readonly maxLength: number;
  /** The final response's status when it is exceeded (e.g. C000 Unable to process for a query). */
  readonly status: number;
  /** What the data set is called in the Error Comment (`identifier larger than N bytes`). */
  readonly name?: string;
}

/** What the association keeps about a request whose data set went past its handler's limit. */
export interface DatasetOverLimit {
  readonly limit: DatasetLimit;
  /** Bytes of the data set read so far (all of it once it has arrived). */
  length: number;
}

/**
 * `inner` until the data set goes past `limit.maxLength`; then `overflow` is called once (to drop
 * what `inner` held) and every further fragment is only counted.
 */
export function limitedSink(inner: DatasetSink, limit: DatasetLimit, overflow: (over: DatasetOverLimit) => void): DatasetSink {
  let target: DatasetSink | undefined = inner;
  let over: DatasetOverLimit | undefined;
  let length = 0;
  return {
    // Only the inner sink keeps bytes, and it copies them during its write.
    fragmentUse: 'write',
    write(fragment) {
      length += fragment.length;
      if (over !== undefined) {
        over.length = length;
        return undefined;
      }
      if (length > limit.maxLength) {
        over = { limit, length };
        target = undefined;
        overflow(over);
        return undefined;
      }
      return target!.write(fragment);
    },
    end() {
      return target?.end();
    },
    abort(error) {
      target?.abort?.(error);
    },
  };
}

/** The Error Comment of a refusal (well within 64 characters). */
export function overLimitComment(limit: DatasetLimit): string {
  return `${limit.name ?? 'data set'} larger than ${limit.maxLength} bytes`;
}
