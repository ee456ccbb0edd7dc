/**
 * A count of request data set bytes held in memory (identifiers, N-service data sets collected
 * for a handler) against a limit, with a way to wait until it is back under the limit. One
 * budget per association and one shared by every association of a server: the association stops
 * reading from its socket while a budget it answers to is over its limit (back-pressure to the
 * peer through TCP), and reads again as handlers finish and give their bytes back.
 */
export class BufferBudget {
  /** Bytes allowed; 0 = no limit. */
  readonly limit: number;
  #held = 0;
  #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get held(): number {
    return this.#held;
  }

  /** True while the bytes held reach the limit. */
  get full(): boolean {
    return this.limit > 0 && this.#held >= this.limit;
  }

  take(bytes: number): void {
    this.#held += bytes;
  }

  give(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
    if (this.full || this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once the budget is under its limit (at once if it is). */
  whenNotFull(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
