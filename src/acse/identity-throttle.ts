/**
 * A bound on the work user identity checks cost (PS3.7 D.3.3.7). A password check runs scrypt in
 * the libuv thread pool, which the store's file writes also use: a peer (or many) sending
 * A-ASSOCIATE-RQs with a username and passcode as fast as it can queued one scrypt per RQ, with
 * no bound, and starved storage. `throttleUserIdentity(handler)` lets at most `maxConcurrent`
 * checks run at once and `maxQueued` more wait, in order of arrival; one more is refused at once
 * with an IdentityChecksBusyError, which the acceptor answers A-ASSOCIATE-RJ 2/3/2
 * (rejected-transient, local-limit-exceeded: as for too many associations). Per calling address,
 * as sshd's MaxStartups and login delays do: at most `maxPerAddress` checks running or waiting,
 * and after a failed check the next one of that address waits `failureDelay` (doubled at each
 * further failure, at most `maxFailureDelay`) and is the only one of that address let in, so one
 * address guessing passwords holds one place in the queue, not all of them.
 */
import { InvalidOptionError } from '../errors.js';
import { IdentityChecksBusyError } from './errors.js';
import { isAccepted, type UserIdentityContext, type UserIdentityDecision, type UserIdentityHandler, type ReceivedUserIdentity } from './user-identity.js';

export interface IdentityThrottleOptions {
  /** Checks running at once. Default 2, fewer if UV_THREADPOOL_SIZE leaves the thread pool under 4 threads: at least 2 stay for the store (at least 1 check). */
  readonly maxConcurrent?: number;
  /** Checks waiting for their turn beyond those; one more is refused at once. Default 32. */
  readonly maxQueued?: number;
  /** Checks of one calling address running or waiting at once. Default 4 (1 after a failure). */
  readonly maxPerAddress?: number;
  /** Wait before the next check of an address after its first failure, ms; doubled at each further one. Default 250. */
  readonly failureDelay?: number;
  /** The longest such wait, ms. Default 8 000. */
  readonly maxFailureDelay?: number;
}

/** An address with no failure for this long is forgotten. */
const FORGET_MS = 15 * 60_000;
/** Addresses remembered at most (the oldest idle ones are forgotten first). */
const MAX_TRACKED = 10_000;

interface AddressState {
  /** Checks of this address running or waiting. */
  inFlight: number;
  /** Failures in a row (a success clears them). */
  failures: number;
  lastFailureAt: number;
}

interface Waiter {
  readonly address: AddressState;
  readonly start: () => void;
}

function count(option: string, v: number | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidOptionError(option, `must be a whole number ≥ ${min}, got ${String(v)}`);
  return v;
}

/** 2, or fewer so that 2 threads of the libuv pool (4 unless UV_THREADPOOL_SIZE says otherwise) stay for file operations; at least 1. */
function defaultConcurrency(): number {
  const pool = Number(process.env['UV_THREADPOOL_SIZE']);
  return Math.max(1, Math.min(2, (Number.isInteger(pool) && pool > 0 ? pool : 4) - 2));
}

export function throttleUserIdentity(handler: UserIdentityHandler, options: IdentityThrottleOptions = {}): (identity: ReceivedUserIdentity, context: UserIdentityContext) => Promise<UserIdentityDecision> {
  const maxConcurrent = count('maxConcurrent', options.maxConcurrent, defaultConcurrency(), 1);
  const maxQueued = count('maxQueued', options.maxQueued, 32, 0);
  const maxPerAddress = count('maxPerAddress', options.maxPerAddress, 4, 1);
  const baseDelay = count('failureDelay', options.failureDelay, 250, 0);
  const maxDelay = count('maxFailureDelay', options.maxFailureDelay, 8000, 0);
  const addresses = new Map<string, AddressState>();
  const queue: Waiter[] = [];
  let running = 0;
  let timer: NodeJS.Timeout | undefined;

  const notBefore = (a: AddressState): number =>
    a.failures === 0 ? 0 : a.lastFailureAt + Math.min(maxDelay, baseDelay * 2 ** Math.min(a.failures - 1, 30));

  const stateOf = (key: string, now: number): AddressState => {
    let a = addresses.get(key);
    if (a !== undefined && a.inFlight === 0 && a.failures > 0 && now - a.lastFailureAt > FORGET_MS) a.failures = 0;
    if (a === undefined) {
      if (addresses.size >= MAX_TRACKED) {
        for (const [k, old] of addresses) {
          if (old.inFlight === 0) addresses.delete(k);
          if (addresses.size < MAX_TRACKED / 2) break;
        }
      }
      a = { inFlight: 0, failures: 0, lastFailureAt: 0 };
      addresses.set(key, a);
    }
    return a;
  };

  /** Starts the waiters whose turn it is: the first ones of the queue not held back by a failure delay. */
  const pump = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (let i = 0; i < queue.length && running < maxConcurrent; ) {
      const due = notBefore(queue[i]!.address);
      if (due > now) {
        next = Math.min(next, due);
        i++;
        continue;
      }
      const [w] = queue.splice(i, 1);
      running++;
      w!.start();
    }
    if (next !== Infinity && running < maxConcurrent) {
      // Not unref'd: a check waiting for its turn is an answer owed, and nothing else need keep
      // the process alive meanwhile (a library caller awaiting the verifier alone).
      timer = setTimeout(pump, Math.max(1, next - now));
    }
  };

  return async (identity: ReceivedUserIdentity, context: UserIdentityContext): Promise<UserIdentityDecision> => {
    const key = context.remoteAddress ?? '';
    const now = Date.now();
    const a = stateOf(key, now);
    const perAddress = a.failures > 0 ? 1 : maxPerAddress;
    if (a.inFlight >= perAddress) throw new IdentityChecksBusyError('address', perAddress);
    const mustQueue = running >= maxConcurrent || notBefore(a) > now;
    if (mustQueue && queue.length >= maxQueued) throw new IdentityChecksBusyError('queue', maxQueued);
    a.inFlight++;
    if (mustQueue) {
      await new Promise<void>((start) => {
        queue.push({ address: a, start });
        pump();
      });
    } else {
      running++;
    }
    let ok = false;
    try {
      const decision = await handler(identity, context);
      ok = isAccepted(decision);
      return decision;
    } finally {
      a.inFlight--;
      if (ok) {
        a.failures = 0;
        if (a.inFlight === 0) addresses.delete(key);
      } else {
        a.failures++;
        a.lastFailureAt = Date.now();
        // Remembered as the newest: the oldest idle addresses are the first forgotten.
        addresses.delete(key);
        addresses.set(key, a);
      }
      running--;
      pump();
    }
  };
}
