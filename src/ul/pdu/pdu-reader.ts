/**
 * Incremental PDU framing over a byte stream (PS3.8 9.3.1: 1-byte type, 1 reserved byte,
 * 4-byte big-endian PDU-length). Accepts any chunking. The PDU type is checked from the first
 * byte and the announced length against the limit as soon as the 6-byte header is in, so a
 * hostile or confused peer (a TLS ClientHello on a plain port reads as a 369 MB PDU) never makes
 * us buffer more than one header. Chunks are queued, not concatenated; a PDU inside one chunk
 * is decoded from a view of it.
 */
import { ChunkQueue } from '../../internal/chunk-queue.js';
import { pin, release, retain } from '../../internal/buffer-pool.js';
import { InvalidOptionError } from '../../errors.js';
import { PduDecodeError, PduTooLargeError } from '../errors.js';
import { decodePdu, isKnownPduType } from './decode.js';
import { bytesToSniff, sniffTransport } from './sniff.js';
import { AbortReason, PduTypeCode, type PDataTfPdu, type Pdu, type PresentationDataValue } from './types.js';

const HEADER = 6;
/** Default bound for association PDUs, whose size the max-length negotiation does not cover. */
const DEFAULT_MAX_ASSOCIATE = 1024 * 1024;

export interface PduReaderOptions {
  /**
   * Largest PDU-length (bytes after the 6-byte header) accepted for P-DATA-TF and the fixed-size
   * PDUs: our own Maximum-length-received plus the 6 bytes of PDV header slack is the caller's
   * choice. Must be a positive integer (0, "no limit" in negotiation, is not allowed here).
   */
  readonly maxPduLength: number;
  /**
   * Largest PDU-length accepted for A-ASSOCIATE-RQ/-AC, which may carry large user identity
   * assertions (SAML, JWT). Default max(maxPduLength, 1 MiB).
   */
  readonly maxAssociatePduLength?: number;
  /**
   * Decode a P-DATA-TF of one PDV item whose bytes arrived in separate chunks without copying it
   * together: its value becomes consecutive PDVs, one view per chunk, all but the last marked
   * `continued` (isLast only on the last). Pieces under SPLIT_MIN_PIECE bytes on average are copied
   * into one as before, and so are values under twice that. Default false: every PDV is one item
   * as on the wire.
   */
  readonly splitDataValues?: boolean;
}

/** Smallest average piece worth a PDV of its own; below it (a peer writing tiny segments or records) one copy is cheaper. */
const SPLIT_MIN_PIECE = 8 * 1024;
/** PDV item header: 4-byte Item-length, Presentation-context-ID, Message control header. */
const PDV_HEADER = 6;

function checkLimit(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 4 || v > 0xffffffff) {
    throw new InvalidOptionError(name, `must be an integer 4–4294967295, got ${String(v)}`);
  }
}

export class PduReader {
  readonly #queue = new ChunkQueue();
  readonly #maxPduLength: number;
  readonly #maxAssociatePduLength: number;
  readonly #split: boolean;
  /** Once a stream is malformed it stays malformed: every later push rethrows. */
  #failed: Error | undefined;
  /** No byte taken yet: the stream's first bytes may be sniffed for another protocol. */
  #atStart = true;

  constructor(opts: PduReaderOptions) {
    checkLimit('maxPduLength', opts?.maxPduLength);
    if (opts?.maxPduLength === undefined) throw new InvalidOptionError('maxPduLength', 'is required');
    checkLimit('maxAssociatePduLength', opts.maxAssociatePduLength);
    this.#maxPduLength = opts.maxPduLength;
    this.#maxAssociatePduLength = opts.maxAssociatePduLength ?? Math.max(opts.maxPduLength, DEFAULT_MAX_ASSOCIATE);
    this.#split = opts.splitDataValues === true;
  }

  /** Drop what is queued (the stream is over), giving back pooled buffers. */
  clear(): void {
    this.#queue.clear();
  }

  /** Bytes received and not yet returned as a PDU. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /**
   * Add received bytes; return the PDUs they complete, in order. Throws PduDecodeError or
   * PduTooLargeError when the stream is malformed; the PDUs completed earlier in the same chunk
   * are then lost, so callers that must see them use `feed`.
   */
  push(chunk: Uint8Array): Pdu[] {
    const out: Pdu[] = [];
    this.feed(chunk, (pdu) => out.push(pdu));
    return out;
  }

  /** As `push`, but hands each PDU to `onPdu` as soon as it is decoded, before any later error. */
  feed(chunk: Uint8Array, onPdu: (pdu: Pdu) => void): void {
    if (this.#failed !== undefined) throw this.#failed;
    this.#queue.push(chunk);
    for (;;) {
      const pdu = this.#next();
      if (pdu === undefined) return;
      onPdu(pdu);
    }
  }

  #next(): Pdu | undefined {
    const q = this.#queue;
    const queued = q.length;
    if (queued === 0) return undefined;
    try {
      const type = q.peekByte(0);
      if (!isKnownPduType(type)) {
        // At the start of a stream, a TLS record (0x14–0x17) or HTTP text waits for the bytes
        // that tell it apart, so the error can say "TLS on a plain DICOM port" or "HTTP".
        if (this.#atStart && queued < bytesToSniff(type)) return undefined;
        throw this.#unrecognized(type);
      }
      if (queued < HEADER) return undefined;
      const length = q.peekU32(2);
      const isAssociate = type === PduTypeCode['A-ASSOCIATE-RQ'] || type === PduTypeCode['A-ASSOCIATE-AC'];
      if (!isAssociate && type !== PduTypeCode['P-DATA-TF'] && length !== 4) {
        // A-ASSOCIATE-RJ, A-RELEASE-RQ/-RP and A-ABORT are always 4 long (Tables 9-21, 9-24 … 9-26).
        throw new PduDecodeError('PDU-length', `must be 4 for this PDU type, got ${length}`, AbortReason.InvalidPduParameterValue, { pduType: type });
      }
      const limit = isAssociate ? this.#maxAssociatePduLength : this.#maxPduLength;
      if (length > limit) throw new PduTooLargeError(type, length, limit);
      if (queued < HEADER + length) return undefined;
      this.#atStart = false;
      if (this.#split && type === PduTypeCode['P-DATA-TF']) {
        const pieces = this.#splitPData(length);
        if (pieces !== undefined) return pieces;
      }
      const frame = q.take(HEADER + length);
      // Received bytes may be in a pooled buffer (buffer-pool.ts): each PDV value handed on
      // carries its own reference (taken before the frame's is given back), which the receiver
      // of the PDU releases; an A-ASSOCIATE-RQ/-AC may keep views (user identity values), so its
      // buffer is never reused; the fixed-size PDUs keep nothing.
      let pdu: Pdu;
      try {
        pdu = decodePdu(frame);
      } catch (e) {
        release(frame);
        throw e;
      }
      if (pdu.type === 'P-DATA-TF') {
        // One PDV (nearly every P-DATA-TF): the frame's reference becomes its value's.
        const pdvs = pdu.pdvs;
        if (pdvs.length === 1 && pdvs[0]!.data.buffer === frame.buffer) return pdu;
        for (const pdv of pdvs) retain(pdv.data);
      }
      if (isAssociate) pin(frame);
      else release(frame);
      return pdu;
    } catch (e) {
      this.#failed = e as Error;
      throw e;
    }
  }

  /**
   * The whole P-DATA-TF (PDU-length `length`) is queued. When it is one PDV item spread over
   * chunks, take its value as views; anything else (several items, an item that does not fill the
   * PDU, an even context ID, tiny pieces) is left to decodePdu, which copies and checks it all.
   */
  #splitPData(length: number): PDataTfPdu | undefined {
    const q = this.#queue;
    if (length < PDV_HEADER + 2 * SPLIT_MIN_PIECE || q.peekU32(HEADER) !== length - 4) return undefined;
    const presentationContextId = q.peekByte(HEADER + 4);
    if (presentationContextId % 2 === 0) return undefined;
    const valueLength = length - PDV_HEADER;
    const maxPieces = Math.floor(valueLength / SPLIT_MIN_PIECE);
    // The value as it lies after the PDU and item headers: one view needs no split, too many small
    // pieces are better copied.
    const pieces = q.piecesOf(HEADER + length, maxPieces + 2);
    if (pieces === 1 || pieces > maxPieces + 1) return undefined;
    const mch = q.peekByte(HEADER + 5);
    q.skip(HEADER + PDV_HEADER);
    const views = q.takeViews(valueLength);
    const isCommand = (mch & 0x01) !== 0;
    const isLast = (mch & 0x02) !== 0;
    const last = views.length - 1;
    const pdvs = views.map((data, i): PresentationDataValue =>
      i < last ? { presentationContextId, isCommand, isLast: false, data, continued: true } : { presentationContextId, isCommand, isLast, data });
    return { type: 'P-DATA-TF', pdvs };
  }

  #unrecognized(type: number): PduDecodeError {
    const hex = `0x${type.toString(16).padStart(2, '0')}`;
    if (this.#atStart) {
      const first = Uint8Array.from({ length: Math.min(this.#queue.length, 16) }, (_, i) => this.#queue.peekByte(i));
      const sniffed = sniffTransport(first);
      if (sniffed === 'tls' || sniffed === 'http') {
        const what = sniffed === 'tls' ? 'a TLS handshake: the peer speaks TLS on a plain DICOM port' : 'HTTP: the peer speaks HTTP, not DICOM';
        return new PduDecodeError('PDU-type', `unrecognized PDU type ${hex}; the first bytes are ${what}`, AbortReason.UnrecognizedPdu, { pduType: type, sniffed });
      }
    }
    return new PduDecodeError('PDU-type', `unrecognized PDU type ${hex}`, AbortReason.UnrecognizedPdu, { pduType: type });
  }
}
