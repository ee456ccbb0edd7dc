/**
 * Reading a stored Part 10 instance back from a BlobStore: the head is decoded from the first
 * chunks of the stream, the rest is handed on as the data set stream (what a C-MOVE / C-GET
 * sub-operation sends), never read whole. The object is checked whole before anything is handed
 * on (its size against the one its row records), and a read the service breaks off is resumed
 * where it stopped (a ranged read): once a sub-operation has sent part of a data set, a failure
 * can only end the association.
 */
import { decodePart10Header, Part10Error, part10ErrorCodes, type Part10Header } from '../../dataset/part10.js';
import { StoreError, storeErrorCodes } from '../errors.js';
import type { BlobStore, BlobStream } from './blob-store.js';

export interface StoredDataset {
  readonly header: Part10Header;
  /** Data set bytes (after the meta group), streamed from the store. */
  readonly dataset: AsyncIterable<Uint8Array>;
  /** Stop reading early (the stream's connection or file is released). */
  close(): void;
}

/** Largest meta group looked for before giving up (as readPart10Header's default). */
const MAX_META = 1 << 20;
/** Reads broken off in a row (no byte between them) before the read fails. */
const MAX_RESUMES = 3;

/**
 * Open `key` for sending. `expectedSize`: the size its index row records; an object of another
 * size (cut short where the store writes in place, changed by hand) is refused before a byte is
 * handed on, with DICOM_ERR_STORE_BLOB_DAMAGED.
 */
export async function openStoredDataset(blobs: BlobStore, key: string, expectedSize?: number): Promise<StoredDataset> {
  let body = await blobs.get(key);
  let iterator = body[Symbol.asyncIterator]();
  let closed = false;
  const release = (): void => {
    void iterator.return?.().catch(() => undefined);
    (body as { destroy?: () => void }).destroy?.();
  };
  const close = (): void => {
    closed = true;
    release();
  };
  let size: number | undefined;
  try {
    size = body.objectSize ?? (await blobs.head(key))?.size;
  } catch (error) {
    close();
    throw error;
  }
  if (size === undefined || (expectedSize !== undefined && size !== expectedSize)) {
    close();
    throw damaged(key, `is ${size === undefined ? 'gone' : `${size} bytes`}, its index row records ${String(expectedSize)}`);
  }
  const total = size;
  // Bytes of the object taken from the stream so far: where a resumed read starts.
  let offset = 0;
  let resumes = 0;
  const next = async (): Promise<IteratorResult<Uint8Array>> => {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (error) {
        if (closed || offset >= total || ++resumes > MAX_RESUMES) throw broken(key, offset, total, error);
        release();
        body = await reopen(blobs, key, offset, total, error);
        iterator = body[Symbol.asyncIterator]();
        continue;
      }
      if (step.done === true) {
        if (offset !== total) throw damaged(key, `ended after ${offset} of its ${total} bytes`);
        return step;
      }
      offset += step.value.byteLength;
      resumes = 0;
      if (offset > total) throw damaged(key, `has more than its ${total} bytes`);
      return step;
    }
  };
  let head = Buffer.alloc(0);
  let header: Part10Header | undefined;
  try {
    for (let ended = false; header === undefined; ) {
      const step = await next();
      ended = step.done === true;
      if (!ended) head = head.length === 0 ? Buffer.from(step.value) : Buffer.concat([head, step.value]);
      try {
        header = decodePart10Header(head, { final: ended });
      } catch (error) {
        if (ended || !(error instanceof Part10Error) || error.code !== part10ErrorCodes.truncated) throw error;
        if (head.length > MAX_META) throw new Part10Error(part10ErrorCodes.metaTooLarge, 'meta group', `the meta group is larger than ${MAX_META} bytes`, { cause: error });
      }
    }
  } catch (error) {
    close();
    if (error instanceof StoreError) throw error;
    throw new StoreError(storeErrorCodes.cannotUnderstand, `the stored object ${key} is not a readable Part 10 file: ${String(error)}`, { cause: error });
  }
  const rest = head.subarray(header.datasetOffset);
  async function* dataset(): AsyncGenerator<Uint8Array> {
    try {
      if (rest.length > 0) yield rest;
      for (;;) {
        const step = await next();
        if (step.done === true) return;
        yield step.value;
      }
    } finally {
      close();
    }
  }
  return { header, dataset: dataset(), close };
}

/** The rest of the object from `offset`, refused if the object is no longer the one being read. */
async function reopen(blobs: BlobStore, key: string, offset: number, total: number, why: unknown): Promise<BlobStream> {
  let body: BlobStream;
  try {
    body = await blobs.get(key, { start: offset });
  } catch (error) {
    throw broken(key, offset, total, error, why);
  }
  const size = body.objectSize ?? (await blobs.head(key).catch(() => undefined))?.size;
  if (size !== total) {
    (body as { destroy?: () => void }).destroy?.();
    throw damaged(key, `changed while read (${String(size)} bytes, was ${total})`);
  }
  return body;
}

function damaged(key: string, what: string): StoreError {
  return new StoreError(storeErrorCodes.blobDamaged, `the stored object ${key} ${what}`, { comment: 'the stored copy is damaged' });
}

function broken(key: string, offset: number, total: number, error: unknown, first?: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(storeErrorCodes.blobUnavailable, `the read of ${key} broke off after ${offset} of ${total} bytes: ${String(error)}`, {
    cause: first ?? error,
    comment: 'the storage service is unavailable',
  });
}
