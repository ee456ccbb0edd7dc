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
 */
import type net from 'node:net';
import type { SecureSocket } from '../transport/tls/socket.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import { PendingConnectionLimitError } from './errors.js';

interface Pending {
  /** The A-ASSOCIATE-RQ is being negotiated: not shed. */
  negotiating: boolean;
  /** The TLS engine, once the first bytes were handed to it. */
  secure?: SecureSocket | undefined;
  /** The upper layer, once the transport is up. */
  ul?: UpperLayer | undefined;
}

export interface ShedConnection {
  readonly socket: net.Socket;
  /** Where it was: before its first bytes, in the TLS handshake, or after it (upper layer). */
  readonly stage: 'first-bytes' | 'handshake' | 'association-request';
  readonly error: PendingConnectionLimitError;
}

export class PendingConnections {
  readonly #limit: number;
  /** Insertion order is age: the first entry not negotiating is the one shed. */
  readonly #pending = new Map<net.Socket, Pending>();
  #negotiating = 0;
  readonly #onShed: (shed: ShedConnection) => void;

  constructor(limit: number, onShed: (shed: ShedConnection) => void) {
    this.#limit = limit;
    this.#onShed = onShed;
  }

  /** Connections holding no association now. */
  get size(): number { return this.#pending.size; }

  /** A connection was accepted: kept, and the oldest shed when that makes one too many. The owner calls `remove` at its 'close'. */
  add(socket: net.Socket): void {
    this.#pending.set(socket, { negotiating: false });
    while (this.#pending.size - this.#negotiating > this.#limit && this.#shedOldest());
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
  }

  /** Its association was accepted, or it closed. */
  remove(socket: net.Socket): void {
    const p = this.#pending.get(socket);
    if (p === undefined) return;
    if (p.negotiating) this.#negotiating--;
    this.#pending.delete(socket);
  }

  #shedOldest(): boolean {
    for (const [socket, p] of this.#pending) {
      if (p.negotiating) continue;
      this.remove(socket);
      const error = new PendingConnectionLimitError(this.#limit);
      if (p.secure !== undefined && !p.secure.handshakeComplete) {
        // Reported by the engine as a failed handshake (logged and audited as one).
        this.#onShed({ socket, stage: 'handshake', error });
        p.secure.abortHandshake(error);
      } else {
        this.#onShed({ socket, stage: p.ul !== undefined || p.secure !== undefined ? 'association-request' : 'first-bytes', error });
        if (p.ul !== undefined) p.ul.destroy();
        socket.destroy();
      }
      return true;
    }
    return false;
  }
}
