import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WritableChannel } from '../internal/writable-channel.js';
import { ChunkChannel } from '../internal/chunk-channel.js';
import { release, releaseAll } from '../internal/buffer-pool.js';
import { crc32, createInflateRaw } from 'node:zlib';
import { InvalidOptionError } from '../errors.js';
import { publish, channelNames } from '../diagnostics.js';
import { deflatedExplicitVrLittleEndian, fileMetaEncoder, readPart10Header } from '../dataset/part10.js';
import { DatasetHeadScanner } from './dataset-head.js';
import { checkCommandUid, instanceAttributes, uidPattern } from './instance-attributes.js';
import { asyncOps, closeFd, copyFsync, createExclusive, syncOps, writeAll, writeAllSync } from './fs-ops.js';
import { StoreError, storeErrorCodes, storeErrorFromFs } from './errors.js';
import type { InstanceIndex } from './instance-index.js';
import { pathOfKey } from './storage-key.js';
import { filesUnder, placeIndexed, placeUnindexed, reconcile, type ReconciledFile, type StoredCopies } from './commit.js';
import type { BlobStore } from './blob/blob-store.js';
import { LocalBlobStore } from './blob/local.js';
import { openStoredDataset, type StoredDataset } from './blob/read.js';
import { objectsIn, placeInBlobStore, placeInBlobStoreUnindexed, type BlobBody } from './blob-commit.js';
import { duplicatePolicies, fsyncPolicies, sharedPartialsGraceMs, type DuplicatePolicy, type FileStoreOptions, type FsyncPolicy, type InstanceFiles, type StoredInstance, type StoreRequestMeta } from './file-store-types.js';

export type { ReconciledFile } from './commit.js';
export { duplicatePolicies, fsyncPolicies, sharedPartialsGraceMs } from './file-store-types.js';
export type { DuplicatePolicy, FileStoreOptions, FsyncPolicy, InstanceFiles, StoredInstance, StoreRequestMeta } from './file-store-types.js';

/**
 * The default C-STORE sink (PS3.4 B.2.2): the received data set is written bit-for-bit after a
 * File Meta Information header (PS3.10 7.1) to a temporary file, then renamed into
 * <root>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm only when complete. With a
 * BlobStore of its own (`blobs`, e.g. S3) the root keeps only the temporary files, and the
 * complete instance is put under that key in the BlobStore (blob-commit.ts).
 */

const partialMarker = '.partial-';
/**
 * Sinks made by createSink: the store gives back each chunk (a view of a pooled receive buffer,
 * internal/buffer-pool.ts) once done with it — written, or dropped — so the buffer can be reused.
 */
const releasingSources = new WeakSet<object>();
const keepChunks = (): void => undefined;
const implicitVrLittleEndian = '1.2.840.10008.1.2';
const explicitVrBigEndian = '1.2.840.10008.1.2.2';

function checkOption<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new InvalidOptionError(name, `must be one of ${allowed.join(', ')}; got ${String(value)}`);
  return value;
}


export class FileStore implements InstanceFiles {
  readonly root: string;
  readonly duplicates: DuplicatePolicy;
  readonly fsync: FsyncPolicy;
  readonly #index: InstanceIndex | undefined;
  /** Where complete instances are: a LocalBlobStore on `root`, or the one given (remote). */
  readonly blobs: BlobStore;
  readonly remote: boolean;
  readonly #copies: StoredCopies;
  /** Temporary names: `.<uid>.partial-<random per store><counter>`, no random bytes per instance. */
  readonly #run = randomBytes(4).toString('hex');
  #n = 0;
  /** The root and a separator: temporary paths made without path.join's normalising (the UIDs are checked). */
  readonly #rootSlash: string;

  private constructor(options: FileStoreOptions, blobs: BlobStore | undefined) {
    this.root = resolve(options.root);
    this.#rootSlash = this.root.endsWith(sep) ? this.root : this.root + sep;
    this.duplicates = checkOption('duplicates', options.duplicates, duplicatePolicies, 'keep-first');
    this.fsync = checkOption('fsync', options.fsync, fsyncPolicies, 'file');
    this.#index = options.index;
    this.remote = blobs !== undefined;
    this.blobs = blobs ?? LocalBlobStore.at({ root: this.root, fsync: this.fsync });
    this.#copies = this.remote ? objectsIn(this.blobs) : filesUnder(this.root);
  }

  /** Create the root if needed; remove temporary files an interrupted run left and settle its pending entries (reconcile). */
  static async open(options: FileStoreOptions): Promise<FileStore> {
    if (typeof options.root !== 'string' || options.root === '') throw new InvalidOptionError('root', 'must be a directory path');
    if (options.blobs !== undefined && (typeof options.blobs !== 'object' || typeof options.blobs.put !== 'function')) throw new InvalidOptionError('blobs', 'must be a BlobStore');
    const store = new FileStore(options, options.blobs);
    await mkdir(store.root, { recursive: true });
    const grace = options.partialsGraceMs ?? (options.index !== undefined && options.index.kind !== 'sqlite' ? sharedPartialsGraceMs : 0);
    const removed = await store.removePartials(grace);
    if (removed.length > 0) publish(channelNames.server, () => ({ kind: 'store-partials-removed', files: removed }));
    await store.reconcile();
    return store;
  }

  /**
   * Settle what an interrupted run left between a file reaching its name and its index row (the
   * index's pending entries): a file present is indexed from its entry, or removed when another
   * copy of the instance is indexed; a row naming a file that never arrived is removed. One
   * 'store-reconciled' diagnostics event per instance. Runs in `open`, before any store.
   */
  async reconcile(): Promise<ReconciledFile[]> {
    return this.#index === undefined ? [] : reconcile(this.#copies, this.#index);
  }

  /** The file of a storage key (as the index records it) under this store's root (not for a remote store). */
  pathOf(key: string): string {
    if (this.remote) throw new InvalidOptionError('key', `${key} is an object of ${this.blobs.url}, not a file: read it with openDataset`);
    return pathOfKey(this.root, key);
  }

  /** Where a key is, for people: its file, or the object's URL (`s3://bucket/prefix/key`). */
  locationOf(key: string): string {
    return this.#copies.where(key);
  }

  async sizeOf(key: string): Promise<number | undefined> {
    return (await this.blobs.head(key))?.size;
  }

  openDataset(key: string, expectedSize?: number): Promise<StoredDataset> {
    return openStoredDataset(this.blobs, key, expectedSize);
  }

  /** Release the BlobStore (S3 connections); the store is not used afterwards. */
  async close(): Promise<void> {
    await this.blobs.close();
  }

  /**
   * Read a stored file's identifying attributes again (a re-index after an upgrade, reindex.ts):
   * its meta header for the transfer syntax, then its data set as at store time.
   */
  async readAttributes(path: string): Promise<StoredInstance['attributes'] & { readonly transferSyntaxUid: string }> {
    let header;
    try {
      header = await readPart10Header(path);
    } catch (error) {
      throw new StoreError(storeErrorCodes.cannotUnderstand, `cannot read ${path} back: ${String(error)}`, { cause: error });
    }
    const ts = header.meta.TransferSyntaxUID;
    const scanned = await this.#scanFile(path, header.datasetOffset, ts);
    const attributes = instanceAttributes(scanned, { sopClassUid: header.meta.MediaStorageSOPClassUID, sopInstanceUid: header.meta.MediaStorageSOPInstanceUID });
    return { ...attributes, transferSyntaxUid: ts };
  }

  /**
   * readAttributes of a stored copy by key: its file, or (a remote store) the object copied to a
   * temporary file in the root first, removed after.
   */
  async readAttributesOf(key: string): Promise<StoredInstance['attributes'] & { readonly transferSyntaxUid: string }> {
    if (!this.remote) return this.readAttributes(this.pathOf(key));
    const temp = join(this.root, `.${key.slice(key.lastIndexOf('/') + 1)}${partialMarker}${this.#run}${(this.#n++).toString(36)}`);
    try {
      await pipeline(Readable.from(await this.blobs.get(key)), createWriteStream(temp, { flags: 'wx' }));
      return await this.readAttributes(temp);
    } finally {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Delete `.<uid>.partial-<random>` files in the root, those last modified at least `olderThanMs`
   * ago (default: all); returns their names. A file another node is writing is never that old.
   */
  async removePartials(olderThanMs = 0): Promise<string[]> {
    const removed: string[] = [];
    const before = Date.now() - olderThanMs;
    for (const name of await readdir(this.root)) {
      if (name.startsWith('.') && name.includes(partialMarker)) {
        const path = join(this.root, name);
        if (olderThanMs > 0) {
          const info = await stat(path).catch(() => undefined);
          if (info === undefined || info.mtimeMs > before) continue;
        }
        await rm(path, { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  /**
   * A Writable sink for one data set (for the DIMSE assembler): write the data set bytes, end it,
   * and `result` settles once the file is complete and renamed (or failed and cleaned up).
   * Destroying the writable with an error aborts the store.
   */
  createSink(meta: StoreRequestMeta): { writable: Writable; result: Promise<StoredInstance>; releasesChunks: true } {
    const writable = new WritableChannel(256 * 1024);
    releasingSources.add(writable);
    // The error reaches the caller through `result` (the iterator sees it); the stream may be
    // destroyed before iteration starts, so keep it from becoming an uncaught 'error' event.
    writable.on('error', () => undefined);
    const result = this.store(meta, writable);
    // The caller awaits `result`; avoid an unhandled rejection if it only watches the writable.
    result.catch(() => undefined);
    return { writable, result, releasesChunks: true };
  }

  /**
   * createSink without a Node stream (the C-STORE SCP's path, services/scp/storage.ts): write the
   * data set's chunks into `channel` (each a view of a pooled receive buffer, given back once
   * written or dropped), end it, and `result` settles as createSink's does. `channel.destroy(error)`
   * aborts the store; once the store has settled, further chunks are dropped.
   */
  createChannel(meta: StoreRequestMeta): { channel: ChunkChannel; result: Promise<StoredInstance> } {
    const channel = new ChunkChannel(256 * 1024, release);
    releasingSources.add(channel);
    const result = this.store(meta, channel);
    // A store that failed before it read (an invalid UID) must not leave the writer waiting.
    const close = (): void => channel.close();
    result.then(close, close);
    return { channel, result };
  }

  /**
   * How long creating a temporary file has taken lately (µs, a moving average over about 8
   * creates, the thread pool's round trip included): whether a lone instance's file is created
   * late and synchronously (see #store). Starts at 0: a store starts by trying it.
   */
  #createMicros = 0;

  #noteCreate(started: number): void {
    this.#createMicros += ((performance.now() - started) * 1000 - this.#createMicros) / 8;
  }

  /** Stores under way (see settled). */
  readonly #storing = new Set<Promise<unknown>>();

  /** @internal Whether the store placing a copy now is the only one under way (commit.ts PlaceContext.storingAlone). */
  get storingAlone(): boolean {
    return this.#storing.size <= 1;
  }

  /**
   * Settles once every store under way has finished, stored or failed and cleaned up (its
   * temporary file removed): after the associations feeding them ended, nothing is left behind.
   */
  async settled(): Promise<void> {
    while (this.#storing.size > 0) await Promise.allSettled([...this.#storing]);
  }

  /** Store one instance whose data set arrives as chunks; resolves when the final file exists. */
  store(meta: StoreRequestMeta, dataset: AsyncIterable<Uint8Array>): Promise<StoredInstance> {
    const storing = this.#store(meta, dataset);
    this.#storing.add(storing);
    const done = (): void => void this.#storing.delete(storing);
    storing.then(done, done);
    return storing;
  }

  /**
   * Header encoders by transfer syntax, SOP class and AE titles (fileMetaEncoder): an
   * association's instances share one, so each header is a copy of a template with its UID in.
   * Emptied when full: a peer cycling through AE titles costs only the encoding it always did.
   */
  readonly #headers = new Map<string, (sopInstanceUid: string) => Uint8Array>();

  /** The instance's File Meta Information; the command's UIDs checked (a bad one refused as the peer's error). */
  #headerOf(meta: StoreRequestMeta): Uint8Array {
    const key = `${meta.transferSyntaxUid}\n${meta.sopClassUid}\n${meta.callingAeTitle}\n${meta.calledAeTitle}`;
    let encode = this.#headers.get(key);
    if (encode === undefined) {
      if (typeof meta.transferSyntaxUid !== 'string' || !uidPattern.test(meta.transferSyntaxUid)) {
        throw new InvalidOptionError('transferSyntaxUid', `is not a valid UID: ${JSON.stringify(meta.transferSyntaxUid)}`);
      }
      checkCommandUid('sopClassUid', meta.sopClassUid, 0x0000_0002, 'Affected SOP Class UID (0000,0002)');
    }
    // The command's UIDs come from the peer (a C-STORE-RQ): a bad one is the sender's error
    // (C000 naming the command element), and the data set is still drained by the caller.
    checkCommandUid('sopInstanceUid', meta.sopInstanceUid, 0x0000_1000, 'Affected SOP Instance UID (0000,1000)');
    if (encode === undefined) {
      const calling = meta.callingAeTitle?.trim() || undefined;
      encode = fileMetaEncoder({
        MediaStorageSOPClassUID: meta.sopClassUid,
        TransferSyntaxUID: meta.transferSyntaxUid,
        SourceApplicationEntityTitle: calling,
        SendingApplicationEntityTitle: calling,
        ReceivingApplicationEntityTitle: meta.calledAeTitle?.trim() || undefined,
      });
      if (this.#headers.size >= 64) this.#headers.clear();
      this.#headers.set(key, encode);
    }
    return encode(meta.sopInstanceUid);
  }

  async #store(meta: StoreRequestMeta, dataset: AsyncIterable<Uint8Array>): Promise<StoredInstance> {
    const header = this.#headerOf(meta);
    const tempPath = `${this.#rootSlash}.${meta.sopInstanceUid}${partialMarker}${this.#run}${(this.#n++).toString(36)}`;
    // The temporary file is created in the thread pool at once, while the data set arrives:
    // creating a file waits on the file system (0.1–1 ms of kernel time per file in a busy ext4
    // directory), and as a synchronous call at the end it held every association for it. A remote
    // store puts a small data set from memory: its file is created only if one is needed.
    // Unless this is the only instance being stored, nothing is flushed and creates are quick (a
    // synchronous peer into a store with fsync 'none' on tmpfs or a journaled file system): then
    // the loop has nothing else to do while the file is created, and a small data set's file is
    // created synchronously once it is complete, without the thread pool's hand-off (a worker
    // woken, which on a busy host preempts the loop, and its result queued back). A flushing
    // store keeps the early create (its creates wait on the journal behind the flushes, which
    // the data set's arrival then hides), and so does a file system whose creates are slow.
    const createLate = !this.remote && this.fsync === 'none' && this.#storing.size === 0 && this.#createMicros < QUICK_CREATE_MICROS;
    let opening: Promise<number> | undefined;
    if (!this.remote && !createLate) {
      const started = performance.now();
      opening = createExclusive(tempPath);
      opening.then(() => this.#noteCreate(started), () => undefined);
    }
    /** The temporary file's descriptor once created and in use (the large path), until closed. */
    let fd: number | undefined;
    // Closes the temporary file (at most once; it may still be being created) without removing it.
    const closeTemp = async (): Promise<void> => {
      const o = opening;
      opening = undefined;
      fd = undefined;
      const f = o === undefined ? undefined : await o.catch(() => undefined);
      if (f !== undefined) await closeFd(f);
    };
    let datasetSize = 0;
    const giveBack: (chunks: readonly Uint8Array[]) => void = releasingSources.has(dataset) ? releaseAll : keepChunks;
    let batch: Uint8Array[] = [];
    const deflated = meta.transferSyntaxUid === deflatedExplicitVrLittleEndian;
    const scanner = deflated ? undefined : this.#scanner(meta.transferSyntaxUid);
    try {
      // A refusal (disk full, unparseable data set) still consumes the rest of the data set, so
      // the peer gets its C-STORE-RSP after the last fragment and the association goes on.
      let refusal: StoreError | undefined;
      const refuse = async (error: StoreError): Promise<void> => {
        refusal = error;
        await closeTemp().catch(() => undefined);
        await rm(tempPath, { force: true }).catch(() => undefined);
      };
      // Writes are gathered and run behind the network: the header and the first fragment start
      // one writev; fragments arriving meanwhile are gathered for the next, and only a batch of
      // WRITE_BATCH bytes waits for the write in flight (that wait is the backpressure: at most
      // ~2 × WRITE_BATCH bytes held). One awaited thread-pool write per fragment (16–64 KiB) was
      // the old way: every one of them sat on the critical path of the C-STORE-RSP.
      batch = [header];
      let batched = header.length;
      let inFlight: Promise<void> | undefined;
      const kick = (): void => {
        const parts = batch;
        batch = [];
        batched = 0;
        if (refusal !== undefined || fd === undefined || parts.length === 0) return giveBack(parts);
        const write: Promise<void> = writeAll(fd, parts).then(
          () => {
            giveBack(parts);
            if (inFlight === write) inFlight = undefined;
          },
          async (error: unknown) => {
            giveBack(parts);
            if (inFlight === write) inFlight = undefined;
            if (refusal === undefined) await refuse(storeErrorFromFs(error, `cannot write ${tempPath}`));
          },
        );
        inFlight = write;
      };
      // Small data sets are gathered whole and written with synchronous calls at the end (see
      // SMALL_SYNC); the file is written behind the network only once more arrives.
      let opened = false;
      const openNow = async (): Promise<void> => {
        opened = true;
        try {
          fd = await (opening ??= createExclusive(tempPath));
        } catch (error) {
          await refuse(storeErrorFromFs(error, `cannot create ${tempPath}`));
        }
      };
      try {
        // From a ChunkChannel (the C-STORE SCP's path) the chunks are taken as they are written,
        // without a promise or generator step per fragment, while the data set is small enough
        // to be gathered whole (SMALL_SYNC); the loop below takes the rest of a larger one.
        let ended = false;
        if (dataset instanceof ChunkChannel) {
          let unscannable: unknown;
          ended = await dataset.takeEach((chunk) => {
            datasetSize += chunk.byteLength;
            if (unscannable !== undefined) {
              giveBack([chunk]);
              return true;
            }
            try {
              scanner?.push(chunk);
            } catch (error) {
              giveBack([chunk]);
              unscannable = error;
              return true;
            }
            batch.push(chunk);
            batched += chunk.byteLength;
            return batched < SMALL_SYNC;
          });
          if (unscannable !== undefined) {
            await refuse(unscannable instanceof StoreError ? unscannable : new StoreError(storeErrorCodes.cannotUnderstand, String(unscannable), { cause: unscannable }));
          } else if (!ended) {
            await openNow();
            kick();
          }
        }
        if (!ended) for await (const chunk of dataset) {
          datasetSize += chunk.byteLength;
          if (refusal !== undefined) {
            giveBack([chunk]);
            continue;
          }
          try {
            // Every byte goes by the scanner: the head's values, then the framing to the end.
            scanner?.push(chunk);
          } catch (error) {
            giveBack([chunk]);
            await inFlight;
            await refuse(error instanceof StoreError ? error : new StoreError(storeErrorCodes.cannotUnderstand, String(error), { cause: error }));
            continue;
          }
          batch.push(chunk);
          batched += chunk.byteLength;
          if (!opened) {
            if (batched < SMALL_SYNC) continue;
            await openNow();
            kick();
          } else if (inFlight === undefined) kick();
          else if (batched >= WRITE_BATCH) {
            await inFlight;
            kick();
          }
        }
      } catch (error) {
        await inFlight;
        throw new StoreError(storeErrorCodes.aborted, `the data set stream failed after ${datasetSize} bytes: ${String(error)}`, { cause: error });
      }
      // PS3.4 B.2.3: a data set that ends inside a value or an open sequence is not the instance;
      // answered C000 before anything reaches a final name.
      if (refusal === undefined && scanner !== undefined) {
        try {
          scanner.finish();
        } catch (error) {
          await inFlight;
          await refuse(error instanceof StoreError ? error : new StoreError(storeErrorCodes.cannotUnderstand, String(error), { cause: error }));
        }
      }
      const small = !opened && refusal === undefined;
      /** A small data set's file with its flush still under way (see #overlapsFlush). */
      let unflushed: { readonly flushed: Promise<void>; readonly crc32: number } | undefined;
      // A remote store puts a small data set from memory (a deflated one is scanned from its file).
      const inMemory = small && this.remote && !deflated ? batch : undefined;
      // An upload may still be reading its body after it failed (a timed-out request): chunks
      // uploaded from memory are never given back, their buffers never reused.
      if (inMemory !== undefined) batch = [];
      if (small && inMemory === undefined) {
        const parts = batch;
        batch = [];
        let created: number;
        try {
          if (opening !== undefined) created = await opening;
          else {
            const started = performance.now();
            created = openSync(tempPath, 'wx');
            this.#noteCreate(started);
          }
        } catch (error) {
          giveBack(parts);
          throw storeErrorFromFs(error, `cannot create ${tempPath}`);
        }
        // #writeSmall closes it, whatever happens.
        opening = undefined;
        if (this.#overlapsFlush) {
          // Checksummed before the buffers go back: the pending entry keeps it (commit.ts CopyTarget.unflushed).
          let sum = 0;
          for (const p of parts) sum = crc32(p, sum);
          unflushed = { flushed: this.#writeSmallUnflushed(created, tempPath, parts, () => giveBack(parts)), crc32: sum };
        } else {
          // The received buffers go back once written, before the flush.
          await this.#writeSmall(created, tempPath, parts, () => giveBack(parts));
        }
      } else if (!small) {
        await inFlight;
        kick();
        await inFlight;
        if (refusal !== undefined || fd === undefined) throw refusal ?? new StoreError(storeErrorCodes.io, 'the file was closed');
        try {
          // A remote store's temporary file is only the source of the upload: durability is the store's.
          if (this.fsync !== 'none' && !this.remote) await copyFsync.fsync(fd);
          await closeTemp();
        } catch (error) {
          throw storeErrorFromFs(error, `cannot flush ${tempPath}`);
        }
      }
      // Deflated data sets are inflated and scanned from the temp file, after the peer is done sending.
      const scanned = scanner ?? (await this.#scanFile(tempPath, header.length, meta.transferSyntaxUid));
      const attributes = instanceAttributes(scanned, meta);
      const size = header.length + datasetSize;
      const ops = small ? syncOps : asyncOps;
      let placed;
      if (this.remote) {
        const body: BlobBody = inMemory !== undefined ? () => inMemory : () => createReadStream(tempPath);
        try {
          placed =
            this.#index === undefined
              ? await placeInBlobStoreUnindexed(this, body, attributes, size)
              : await placeInBlobStore(this, this.#index, body, attributes, meta.transferSyntaxUid, size);
        } finally {
          if (inMemory === undefined) await rm(tempPath, { force: true }).catch(() => undefined);
        }
      } else {
        placed =
          this.#index === undefined
            ? await placeUnindexed(this, tempPath, attributes, ops)
            : await placeIndexed(this, this.#index, tempPath, attributes, meta.transferSyntaxUid, size, ops, unflushed);
      }
      // 'stored' carries what an audit trail records (audit/); a re-send kept as first stored
      // ('keep-first') is 'store-duplicate', with the same facts.
      publish(channelNames.server, () => ({
        kind: placed.duplicate ? 'store-duplicate' : 'stored', path: placed.path, sopInstanceUid: meta.sopInstanceUid, size,
        ...(placed.duplicate ? { policy: this.duplicates } : {}),
        // A held copy was replaced (duplicates 'overwrite'): the old copy is deleted (audit/).
        replaced: placed.replaced,
        sopClassUid: meta.sopClassUid, studyInstanceUid: attributes.StudyInstanceUID, patientId: attributes.PatientID,
        patientName: attributes.PatientName, accessionNumber: attributes.AccessionNumber,
        callingAeTitle: meta.callingAeTitle?.trim(), calledAeTitle: meta.calledAeTitle?.trim(),
      }));
      return {
        key: placed.key,
        path: placed.path,
        sopClassUid: meta.sopClassUid,
        sopInstanceUid: meta.sopInstanceUid,
        studyInstanceUid: attributes.StudyInstanceUID,
        seriesInstanceUid: attributes.SeriesInstanceUID,
        transferSyntaxUid: meta.transferSyntaxUid,
        size,
        datasetSize,
        replaced: placed.replaced,
        duplicate: placed.duplicate,
        attributes,
      };
    } catch (error) {
      giveBack(batch);
      batch = [];
      await closeTemp().catch(() => undefined);
      await rm(tempPath, { force: true }).catch(() => undefined);
      publish(channelNames.server, () => ({ kind: 'store-failed', sopInstanceUid: meta.sopInstanceUid, error }));
      throw error instanceof StoreError ? error : storeErrorFromFs(error, 'store failed');
    }
  }

  /**
   * A small data set, complete in memory, into its created temporary file `fd`: write and close
   * with synchronous calls, fsync in the thread pool. Thread-pool round trips (writev, close)
   * were the critical path of a small C-STORE-RSP on a busy 2-core host, each waiting for the
   * event loop to be scheduled again; the calls themselves take tens of microseconds on a
   * page-cache write (storescp makes the same calls, synchronously). Closes `fd` whatever
   * happens; throws the StoreError after removing the temp file.
   */
  async #writeSmall(fd: number, tempPath: string, parts: Uint8Array[], written: () => void): Promise<void> {
    try {
      await this.#writeSmallUnflushed(fd, tempPath, parts, written, this.fsync !== 'none');
    } catch (error) {
      rmSync(tempPath, { force: true });
      throw error;
    }
  }

  /**
   * Whether a small data set's file is placed and indexed while it is flushed (commit.ts
   * CopyTarget.unflushed): a flushing store under the embedded index, whose entry can be ended
   * without a flush of its own (PostgreSQL would pay a second durable commit per instance), when
   * this is the only instance being stored. That is a peer sending one instance at a time, which
   * otherwise waits for two flushes in a row per instance; with several instances in flight
   * their flushes already overlap one another (group commit), and the checksum and the entry's
   * own commit would be CPU spent for no shorter wait.
   */
  get #overlapsFlush(): boolean {
    return this.fsync !== 'none' && !this.remote && this.#index?.kind === 'sqlite' && this.#storing.size <= 1;
  }

  /**
   * #writeSmall with the flush (when `flush`) left running: writes `parts` synchronously and
   * returns the flush under way, which closes `fd` when done and rejects with a StoreError. A
   * failed write is thrown here (the temp file removed, `fd` closed). The flush alone goes to the
   * thread pool: it waits for the disk (a few ms under load), and several associations' files are
   * then flushed at once while the event loop goes on (the group commit of docs/conformance.md
   * "Durability"); fsyncSync held every other association for each file.
   */
  #writeSmallUnflushed(fd: number, tempPath: string, parts: Uint8Array[], written: () => void, flush = true): Promise<void> {
    try {
      try {
        writeAllSync(fd, parts);
      } finally {
        written();
      }
    } catch (error) {
      try {
        closeSync(fd);
      } catch {
        // the write's error is the one to report
      }
      rmSync(tempPath, { force: true });
      throw storeErrorFromFs(error, `cannot write ${tempPath}`);
    }
    // Closed synchronously (tens of microseconds): one thread-pool round trip less before the answer.
    const close = (): void => {
      try {
        closeSync(fd);
      } catch (error) {
        throw storeErrorFromFs(error, `cannot flush ${tempPath}`);
      }
    };
    if (!flush) {
      close();
      return Promise.resolve();
    }
    const flushed = copyFsync.fsync(fd).then(close, (error: unknown) => {
      try {
        closeSync(fd);
      } catch {
        // the flush's error is the one to report
      }
      throw storeErrorFromFs(error, `cannot flush ${tempPath}`);
    });
    // Awaited by the commit, or left when the store fails or keeps an earlier copy.
    flushed.catch(() => undefined);
    return flushed;
  }

  #scanner(transferSyntaxUid: string): DatasetHeadScanner {
    return new DatasetHeadScanner({
      explicitVr: transferSyntaxUid !== implicitVrLittleEndian,
      bigEndian: transferSyntaxUid === explicitVrBigEndian,
    });
  }

  /** Scan the data set in the temp file to its end, inflating a deflated one (PS3.5 A.5). */
  async #scanFile(path: string, offset: number, transferSyntaxUid: string): Promise<DatasetHeadScanner> {
    const deflated = transferSyntaxUid === deflatedExplicitVrLittleEndian;
    const scanner = this.#scanner(deflated ? '1.2.840.10008.1.2.1' : transferSyntaxUid);
    const file = createReadStream(path, { start: offset });
    const inflater = deflated ? createInflateRaw() : undefined;
    if (inflater !== undefined) file.on('error', (error) => inflater.destroy(error));
    try {
      for await (const chunk of inflater === undefined ? file : file.pipe(inflater)) scanner.push(chunk as Buffer);
      scanner.finish();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      // A deflate stream cut short ends in zlib's "unexpected end of file".
      throw new StoreError(storeErrorCodes.cannotUnderstand, `cannot read the data set back: ${String(error)}`, { cause: error, comment: `the deflated data set does not inflate: ${(error as { code?: string }).code ?? 'error'}` });
    } finally {
      file.destroy();
      inflater?.destroy();
    }
    return scanner;
  }
}

/**
 * A create quicker than this (µs) is made synchronously for a lone instance (see #store): tmpfs
 * takes ~5 µs and the thread pool's round trip ~17; this VM's journal-less ext4 0.5–6 ms, which
 * would hold the loop.
 */
const QUICK_CREATE_MICROS = 100;

/** Data sets up to this size are written at the end with synchronous calls (see #writeSmall). */
const SMALL_SYNC = 1 << 20;

/** Bytes gathered while a write is in flight before the next fragment waits for it (see store()). */
const WRITE_BATCH = 1 << 20;
