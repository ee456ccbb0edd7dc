/**
 * Receive slabs that are reused once every view handed out of them is released.
 *
 * A TLS connection decrypts into 256 KiB slabs and hands views of them up the stack. A fresh slab
 * per 256 KiB received was dead as soon as the store had written its fragments, but V8 frees
 * external memory only at a full collection: a storing SCP piled up ~70 MB of dead slabs between
 * two collections (its peak RSS) and spent a fifth of its CPU collecting them.
 *
 * Reference counts, keyed by the slab's ArrayBuffer so any view of it finds its count:
 * - the transport holds one while it writes into the slab, and gives each chunk it pushes one;
 * - whoever keeps a view beyond the synchronous call that handed it over either `retain`s it
 *   (and `release`s it when done, e.g. once the bytes are on disk) or `pin`s it;
 * - a pinned slab is never reused (it is left to the garbage collector as before): the safe
 *   answer wherever a view may live on unseen (an application's stream, a diagnostics
 *   subscriber).
 * A plain TCP read (a fresh ArrayBuffer from Node for each socket read) can be `adopt`ed into the
 * same counting: when its last holder releases it, its memory is freed at once (the ArrayBuffer is
 * detached) instead of waiting for the collector, which frees external memory only at a full
 * collection (a plain storing SCP piled up ~60-100 MB of dead 64 KiB reads with 52 MB instances).
 * A view from any other buffer (copies, buffers never adopted) is not pooled: all three calls are
 * no-ops for it. A holder that never releases only costs reuse: the slab is collected, never
 * recycled (an adopted read, never freed early).
 */
const SLAB = 256 * 1024;
/** Free slabs kept for reuse (process-wide), 4 MiB: a storing SCP's working set of slabs (a write batch in flight, the next gathering) fits; more are left to the garbage collector. */
const MAX_FREE = 16;

interface Slab {
  refs: number;
  /** The slab to recycle; undefined for an adopted read, whose memory is freed instead. */
  readonly buffer: Buffer | undefined;
}

const slabs = new WeakMap<ArrayBufferLike, Slab>();
const free: Slab[] = [];
const counts = { created: 0, reused: 0, recycled: 0, pinned: 0, adopted: 0, freed: 0, adoptedPinned: 0 };
/** Smallest read adopted: Node's shared Buffer pool hands out only smaller pieces; small reads cost the collector little. */
const MIN_ADOPTED = 4096;
const transfer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer, length?: number) => ArrayBuffer }).transfer;

export const POOLED_SLAB_SIZE = SLAB;

/** A slab for the caller to fill; the caller holds its first reference. */
export function takeSlab(): Buffer {
  const s = free.pop();
  if (s?.buffer !== undefined) {
    s.refs = 1;
    slabs.set(s.buffer.buffer, s);
    counts.reused++;
    return s.buffer;
  }
  const buffer = Buffer.allocUnsafeSlow(SLAB);
  slabs.set(buffer.buffer, { refs: 1, buffer });
  counts.created++;
  return buffer;
}

/** One more holder of the slab behind `view` (no-op for a view of anything else). */
export function retain(view: Uint8Array): void {
  const s = slabs.get(view.buffer);
  if (s !== undefined) s.refs++;
}

/** A holder is done with `view`; the last one returns the slab for reuse. */
export function release(view: Uint8Array): void {
  const s = slabs.get(view.buffer);
  if (s === undefined) return;
  if (--s.refs > 0) return;
  // Out of the map while free: a stray release of an old view cannot touch it.
  slabs.delete(view.buffer);
  if (s.buffer === undefined) {
    freeRead(view.buffer as ArrayBuffer);
    return;
  }
  counts.recycled++;
  if (free.length < MAX_FREE) free.push(s);
}

/**
 * Give `chunk`, about to be handed to a receiver that releases one reference for it, that
 * reference. A socket read that owns its ArrayBuffer is taken into the counting (its memory is
 * then freed when the last holder releases it); a chunk of a buffer already counted (a slab, a
 * read adopted before) gets one more reference on it, so the receiver's release cannot free it
 * under an earlier holder. Returns false, doing nothing, for anything else: what may not be a read
 * of its own (a view into a larger buffer, Node's shared pool, a SharedArrayBuffer) or is small.
 */
export function adopt(chunk: Uint8Array): boolean {
  const ab = chunk.buffer;
  const counted = slabs.get(ab);
  if (counted !== undefined) {
    counted.refs++;
    return true;
  }
  if (transfer === undefined || chunk.byteOffset !== 0 || chunk.length < MIN_ADOPTED || !(ab instanceof ArrayBuffer)) return false;
  // Node trims a short read's buffer only when that saves much: the chunk is at least half of it.
  if (chunk.length * 2 < ab.byteLength) return false;
  slabs.set(ab, { refs: 1, buffer: undefined });
  counts.adopted++;
  return true;
}

/** Detaching the ArrayBuffer frees its memory now; one that cannot be detached is left to the collector. */
function freeRead(ab: ArrayBuffer): void {
  try {
    transfer!.call(ab, 0);
    counts.freed++;
  } catch {
    // not detachable
  }
}

/** Releases each view of `views`. */
export function releaseAll(views: readonly Uint8Array[]): void {
  for (const v of views) release(v);
}

/** The slab behind `view` may be held indefinitely: never reuse it. */
export function pin(view: Uint8Array): void {
  const s = slabs.get(view.buffer);
  if (s === undefined) return;
  slabs.delete(view.buffer);
  if (s.buffer === undefined) counts.adoptedPinned++;
  else counts.pinned++;
}

/** A pooled slab's view? (Whether `retain`/`release` do anything for it.) */
export function isPooled(view: Uint8Array): boolean {
  return slabs.has(view.buffer);
}

/** Counters for tests and benchmarks: slabs created, reused, recycled, pinned, free now; reads adopted, freed and pinned (left to the collector). */
export function poolStats(): { created: number; reused: number; recycled: number; pinned: number; adopted: number; freed: number; adoptedPinned: number; free: number; maxFree: number } {
  return { ...counts, free: free.length, maxFree: MAX_FREE };
}
