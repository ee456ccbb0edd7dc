/**
 * Cutting a batch of writes into TLS records (RFC 8446 5.1: at most 16 KiB of plaintext each).
 * A record per chunk gave the receiver a 6-byte record before every DICOM fragment (the PDU and
 * PDV headers): one more record to read and decrypt, one more read call for a blocking peer such
 * as DCMTK. Here the batch is one byte stream: small chunks and the ends of large ones are
 * gathered in `staging` together with what follows them; whole records of a large chunk are
 * passed on as they are, without a copy. Pure: the caller encrypts each piece.
 */

/** Max plaintext of one TLS record. */
export const RECORD = 16384;

/**
 * Call `emit` with consecutive pieces of `list`'s bytes, in order: each piece is either a view of
 * a chunk holding whole records, or `staging` (reused, a whole number of records long) full, or
 * the final remainder. `emit` must be done with a staging piece when it returns (SSL_write is).
 * Stops and returns false as soon as `emit` does.
 */
export function emitRecords(list: readonly Uint8Array[], staging: Uint8Array, emit: (piece: Uint8Array) => boolean): boolean {
  const size = staging.length;
  if (size === 0 || size % RECORD !== 0) throw new RangeError(`staging must be a whole number of ${RECORD}-byte records`);
  let fill = 0;
  for (const chunk of list) {
    let off = 0;
    if (fill > 0) {
      const n = Math.min(size - fill, chunk.length);
      staging.set(chunk.subarray(0, n), fill);
      fill += n;
      off = n;
      if (fill === size) {
        if (!emit(staging)) return false;
        fill = 0;
      }
    }
    // Here staging is empty or the chunk is used up. Whole records of the rest go as a view,
    // the tail into staging (less than a record, so it fits).
    const whole = Math.floor((chunk.length - off) / RECORD) * RECORD;
    if (whole > 0) {
      if (!emit(chunk.subarray(off, off + whole))) return false;
      off += whole;
    }
    if (off < chunk.length) {
      staging.set(chunk.subarray(off), fill);
      fill += chunk.length - off;
    }
  }
  return fill === 0 || emit(staging.subarray(0, fill));
}
