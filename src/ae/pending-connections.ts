/**
 * The server's connections that hold no association yet: accepted, before their first bytes,
 * in the TLS handshake, waiting to send the A-ASSOCIATE-RQ, or rejected and waiting to close.
 * Each costs a file descriptor and, in the handshake, an SSL object and its buffers (~60 KB);
 * the handshake timeout and ARTIM end each one, but nothing bounded how many a peer could open
 * meanwhile: a few thousand stalled ClientHellos held hundreds of MB and, at the descriptor
 * limit, left the store unable to open files.
 *
 * At most `limit` of them are kept: one more sheds the one that has waited longest. Shedding the
 * oldest rather than refusing the newest keeps the server open to a peer that completes its
 * handshake and association at once while others stall. Connections whose A-ASSOCIATE-RQ is
 * being negotiated are not shed (the association limit bounds them); an accepted association
 * leaves this set.
 *
 * The bytes they send are bounded too (`maxBytes`): each may buffer an A-ASSOCIATE-RQ of up to
 * 1 MiB until ARTIM, so `limit` of them sending all but the last byte held 256 MiB. What each has
 * sent since it connected (or since its last RQ was answered) counts, until its RQ is complete;
 * past the budget the oldest connection is shed, as for one connection too many.
 */
import type net from 'node:net';
import type { SecureSocket } from '../transport/tls/socket.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import { PendingConnectionLimitError } from './errors.js';

interface Pending {
  /** The A-ASSOCIATE-RQ is being negotiated: not shed. */
  negotiating: boolean;
  /** Its association ended (aborted, released) and waits in Sta13 for the peer to close. */
  closing?: boolean;
  /** Bytes received that count against `maxBytes` (none while negotiating). */
  bytes: number;
  readonly onData: (chunk: Buffer) => void;
  /** The TLS engine, once the first bytes were handed to it. */
  secure?: SecureSocket | undefined;
  /** The upper layer, once the transport is up. */
  ul?: UpperLayer | undefined;
}

export interface ShedConnection {
  readonly socket: net.Socket;
  /** Where it was: before its first bytes, in the TLS handshake, or after it (upper layer). */
  readonly stage: 'first-bytes' | 'handshake' | 'association-request' | 'closing';
  readonly error: PendingConnectionLimitError;
}

/** Default of `maxPendingBytes`: 16 requests of the largest size taken (1 MiB), a few hundred of the usual few kilobytes. */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class PendingConnections {
  readonly #limit: number;
  readonly #maxBytes: number;
  #bytes = 0;
  /** Insertion order is age: the first entry not negotiating is the one shed. */
  readonly #pending = new Map<net.Socket, Pending>();
  #negotiating = 0;
  readonly #onShed: (shed: ShedConnection) => void;

  constructor(limit: number, onShed: (shed: ShedConnection) => void, maxBytes = DEFAULT_MAX_PENDING_BYTES) {
    this.#limit = limit;
    this.#onShed = onShed;
    this.#maxBytes = maxBytes;
  }

  /** Bytes counted against `maxBytes` now. */
  get bytes(): number { return this.#bytes; }

  /** Connections holding no association now. */
  get size(): number { return this.#pending.size; }

  /** A connection was accepted: kept, and the oldest shed when that makes one too many. The owner calls `remove` at its 'close'. */
  add(socket: net.Socket, ul?: UpperLayer, closing = false): void {
    const p: Pending = { negotiating: false, closing, ul, bytes: 0, onData: (chunk) => this.#received(p, chunk.length) };
    // A listener of its own, removed when the connection leaves this set: associations pay nothing.
    if (this.#maxBytes > 0) socket.on('data', p.onData);
    this.#pending.set(socket, p);
    while (this.#pending.size - this.#negotiating > this.#limit && this.#shedOldest(this.#limit, 'maxPendingConnections'));
  }

  #received(p: Pending, n: number): void {
    if (p.negotiating) return;
    p.bytes += n;
    this.#bytes += n;
    while (this.#bytes > this.#maxBytes && this.#shedOldest(this.#maxBytes, 'maxPendingBytes'));
  }

  /**
   * Its association ended and waits in Sta13 for the peer to close (PS3.8 AA-1, AA-8, AR-3),
   * at most ARTIM: it holds no association slot, but its socket is counted and shed as the others,
   * or peers that get aborted and keep their sockets open could hold descriptors without bound.
   */
  closing(socket: net.Socket, ul: UpperLayer): void {
    if (socket.destroyed) return;
    const p = this.#pending.get(socket);
    if (p !== undefined) {
      p.ul ??= ul;
      p.closing = true;
      return;
    }
    this.add(socket, ul, true);
  }

  secure(socket: net.Socket, secure: SecureSocket): void {
    const p = this.#pending.get(socket);
    if (p !== undefined) p.secure = secure;
  }

  upperLayer(socket: net.Socket, ul: UpperLayer): void {
    const p = this.#pending.get(socket);
    if (p !== undefined) p.ul = ul;
  }

  /** Its A-ASSOCIATE-RQ is being negotiated (true) or was answered with a rejection (false). */
  negotiating(socket: net.Socket, on: boolean): void {
    const p = this.#pending.get(socket);
    if (p === undefined || p.negotiating === on) return;
    p.negotiating = on;
    this.#negotiating += on ? 1 : -1;
    // Its RQ is complete and decoded: those bytes are no longer held.
    this.#bytes -= p.bytes;
    p.bytes = 0;
  }

  /** Its association was accepted, or it closed. */
  remove(socket: net.Socket): void {
    const p = this.#pending.get(socket);
    if (p === undefined) return;
    if (p.negotiating) this.#negotiating--;
    this.#bytes -= p.bytes;
    socket.off('data', p.onData);
    this.#pending.delete(socket);
  }

  #shedOldest(limit: number, option: PendingConnectionLimitError['option']): boolean {
    // One whose association is over has nothing left to lose: it goes before any still to come.
    let chosen: [net.Socket, Pending] | undefined;
    for (const entry of this.#pending) {
      if (entry[1].negotiating) continue;
      if (entry[1].closing === true) {
        chosen = entry;
        break;
      }
      chosen ??= entry;
    }
    if (chosen !== undefined) {
      const [socket, p] = chosen;
      this.remove(socket);
      const error = new PendingConnectionLimitError(limit, option, p.closing === true);
      if (p.secure !== undefined && !p.secure.handshakeComplete) {
        // Reported by the engine as a failed handshake (logged and audited as one).
        this.#onShed({ socket, stage: 'handshake', error });
        p.secure.abortHandshake(error);
      } else {
        this.#onShed({ socket, stage: p.closing === true ? 'closing' : p.ul !== undefined || p.secure !== undefined ? 'association-request' : 'first-bytes', error });
        if (p.ul !== undefined) p.ul.destroy();
        socket.destroy();
      }
      return true;
    }
    return false;
  }
}
