/**
 * Reading a stored Part 10 instance back from a BlobStore in one request: the head is decoded
 * from the first chunks of the stream, the rest is handed on as the data set stream (what a
 * C-MOVE / C-GET sub-operation sends), never read whole.
 */
import { decodePart10Header, Part10Error, part10ErrorCodes, type Part10Header } from '../../dataset/part10.js';
import { StoreError, storeErrorCodes } from '../errors.js';
import type { BlobStore } from './blob-store.js';

export interface StoredDataset {
  readonly header: Part10Header;
  /** Data set bytes (after the meta group), streamed from the store. */
  readonly dataset: AsyncIterable<Uint8Array>;
  /** Stop reading early (the stream's connection or file is released). */
  close(): void;
}

/** Largest meta group looked for before giving up (as readPart10Header's default). */
const MAX_META = 1 << 20;

export async function openStoredDataset(blobs: BlobStore, key: string): Promise<StoredDataset> {
  const body = await blobs.get(key);
  const iterator = body[Symbol.asyncIterator]();
  const close = (): void => {
    void iterator.return?.().catch(() => undefined);
    (body as { destroy?: () => void }).destroy?.();
  };
  let head = Buffer.alloc(0);
  let header: Part10Header | undefined;
  try {
    for (let ended = false; header === undefined; ) {
      const next = await iterator.next();
      ended = next.done === true;
      if (!ended) head = head.length === 0 ? Buffer.from(next.value) : Buffer.concat([head, next.value]);
      try {
        header = decodePart10Header(head, { final: ended });
      } catch (error) {
        if (ended || !(error instanceof Part10Error) || error.code !== part10ErrorCodes.truncated) throw error;
        if (head.length > MAX_META) throw new Part10Error(part10ErrorCodes.metaTooLarge, 'meta group', `the meta group is larger than ${MAX_META} bytes`, { cause: error });
      }
    }
  } catch (error) {
    close();
    throw new StoreError(storeErrorCodes.cannotUnderstand, `the stored object ${key} is not a readable Part 10 file: ${String(error)}`, { cause: error });
  }
  const rest = head.subarray(header.datasetOffset);
  async function* dataset(): AsyncGenerator<Uint8Array> {
    try {
      if (rest.length > 0) yield rest;
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      close();
    }
  }
  return { header, dataset: dataset(), close };
}
