/**
 * A timeout that says a peer was silent, decided after the event loop has read its sockets.
 *
 * Node runs expired timers before it polls for I/O. After a stretch in which the loop was held
 * (a long synchronous step, a process that got no CPU on a loaded host) a plain timer fires
 * with the peer's bytes already waiting unread in the socket, and takes a peer that answered in
 * time for a silent one. This timer looks again in a setImmediate, which runs after the poll
 * phase: whatever restarted or stopped it there (the read of those bytes) wins.
 *
 * One Timeout is kept and re-armed with refresh(); stop() only unrefs it, so starting and
 * stopping cost no allocation. Each start() is a new wait: an expiry of an earlier wait still
 * waiting for its check is dropped.
 */
export class AfterPollTimer {
  readonly #ms: number;
  readonly #expired: () => void;
  #timer: NodeJS.Timeout | undefined;
  /** Counts starts and stops: a pending check acts only if no start or stop came after its expiry. */
  #wait = 0;
  #running = false;

  constructor(ms: number, expired: () => void) {
    this.#ms = ms;
    this.#expired = expired;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts the wait, or restarts it from now. */
  start(): void {
    this.#wait++;
    this.#running = true;
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#fire(), this.#ms);
    else this.#timer.refresh().ref();
  }

  stop(): void {
    if (!this.#running) return;
    this.#wait++;
    this.#running = false;
    this.#timer?.unref();
  }

  /** Stops for good (the owner is closed): no timer left behind. */
  dispose(): void {
    this.stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    if (!this.#running) return;
    const wait = this.#wait;
    setImmediate(() => {
      if (this.#wait !== wait) return;
      this.#running = false;
      this.#expired();
    });
  }
}

/**
 * A one-shot timeout decided after the loop's next poll for I/O (see AfterPollTimer), for owners
 * that re-arm with a different delay each time: `expired` gets the Timeout, so the owner acts
 * only if it is still its current one (one replaced or cleared meanwhile is stale).
 */
export function setAfterPollTimeout(ms: number, expired: (timer: NodeJS.Timeout) => void): NodeJS.Timeout {
  const timer: NodeJS.Timeout = setTimeout(() => setImmediate(() => expired(timer)), ms);
  return timer;
}
