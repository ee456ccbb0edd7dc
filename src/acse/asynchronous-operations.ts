/**
 * Asynchronous Operations Window negotiation (PS3.7 D.3.3.3, user information sub-item 0x53).
 *
 * Both fields are stated from the association-requestor's side, in the RQ and in the AC alike:
 * Maximum Number Operations Invoked is how many requests the requestor may have outstanding,
 * Maximum Number Operations Performed how many of the acceptor's requests the requestor may be
 * asked to perform at once. 0 means unlimited. The acceptor answers values no larger than the
 * proposed ones; without the sub-item (in the RQ or in the AC) operations are synchronous: the
 * default window of 1 for both, which every DICOM AE supports.
 */
import { InvalidOptionError } from '../errors.js';

/** The 0x53 sub-item's two fields (PS3.7 Table D.3-7 / D.3-8); 0 = unlimited. */
export interface AsynchronousOperationsWindow {
  readonly maxOperationsInvoked: number;
  readonly maxOperationsPerformed: number;
}

/**
 * The negotiated window from one side's own point of view. `invoked`: requests this side may have
 * outstanding on the association; `performed`: the peer's requests this side may be asked to
 * perform at once. 0 = unlimited; 1/1 = synchronous.
 */
export interface AsynchronousOperations {
  readonly invoked: number;
  readonly performed: number;
}

/** Synchronous operations: the default when the window was not negotiated (PS3.7 D.3.3.3). */
export const SYNCHRONOUS_OPERATIONS: AsynchronousOperations = Object.freeze({ invoked: 1, performed: 1 });

/** Validate a window option: both fields integers 0–65535 (the sub-item's 2-byte fields). */
export function checkAsynchronousOperationsWindow(option: string, v: AsynchronousOperationsWindow | undefined): AsynchronousOperationsWindow | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object') throw new InvalidOptionError(option, 'must be { maxOperationsInvoked, maxOperationsPerformed }');
  for (const k of ['maxOperationsInvoked', 'maxOperationsPerformed'] as const) {
    const n = v[k];
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new InvalidOptionError(`${option}.${k}`, `must be an integer 0–65535 (0 = unlimited), got ${String(n)}`);
  }
  return { maxOperationsInvoked: v.maxOperationsInvoked, maxOperationsPerformed: v.maxOperationsPerformed };
}

/** The smaller of two limits where 0 means unlimited: what both sides can live with. */
export function narrowLimit(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/**
 * Acceptor: the 0x53 answer to a proposal. No proposal: no answer (the sub-item is only returned
 * to a requestor that sent one). A proposal and no policy: 1/1, we perform operations one at a
 * time. Otherwise each field is the proposed value narrowed by the most we allow.
 */
export function answerAsynchronousOperations(
  proposed: AsynchronousOperationsWindow | undefined,
  allowed: AsynchronousOperationsWindow | undefined,
): AsynchronousOperationsWindow | undefined {
  if (proposed === undefined) return undefined;
  if (allowed === undefined) return { maxOperationsInvoked: 1, maxOperationsPerformed: 1 };
  return {
    maxOperationsInvoked: narrowLimit(proposed.maxOperationsInvoked, allowed.maxOperationsInvoked),
    maxOperationsPerformed: narrowLimit(proposed.maxOperationsPerformed, allowed.maxOperationsPerformed),
  };
}

/** Acceptor: the window in our own terms from the AC we sent (the requestor's invoked is what we perform). */
export function acceptorOperations(answer: AsynchronousOperationsWindow | undefined): AsynchronousOperations {
  if (answer === undefined) return SYNCHRONOUS_OPERATIONS;
  return { invoked: answer.maxOperationsPerformed, performed: answer.maxOperationsInvoked };
}

/**
 * Requestor: the window from the AC. No sub-item in the AC (or none proposed): synchronous. An
 * acceptor answering more than we proposed gets what we proposed: we never go beyond our offer.
 */
export function requestorOperations(
  proposed: AsynchronousOperationsWindow | undefined,
  answered: AsynchronousOperationsWindow | undefined,
): AsynchronousOperations {
  if (proposed === undefined || answered === undefined) return SYNCHRONOUS_OPERATIONS;
  return {
    invoked: narrowLimit(proposed.maxOperationsInvoked, answered.maxOperationsInvoked),
    performed: narrowLimit(proposed.maxOperationsPerformed, answered.maxOperationsPerformed),
  };
}
