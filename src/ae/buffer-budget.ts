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

/** The bytes of one request data set held in memory, until its handler takes them. */
export interface HeldDataset {
  bytes: number;
}

/**
 * One association's request data sets held in memory, counted against its own budget and the
 * server's. The rules keep reading deadlock-free: a new data set waits while a budget is full;
 * a fragment of the one arriving waits only when earlier requests of this association hold bytes
 * (its handlers free them without reading more), so one data set alone always completes.
 */
export class HeldDatasets {
  readonly #own: BufferBudget;
  readonly #server: BufferBudget | undefined;
  readonly #held = new Set<HeldDataset>();
  /** The association's end, asked for only by a wait (most associations never wait). */
  readonly #whenClosed: () => Promise<unknown>;
  readonly #isClosed: () => boolean;
  readonly #onWait: ((which: 'association' | 'server', held: number, limit: number) => void) | undefined;
  /** Bytes of the data set now arriving (the rest of #own is queued for handlers). */
  #arriving = 0;

  /** `onWait`: reading pauses for a full budget (for the diagnostics channel). */
  constructor(
    limit: number,
    server: BufferBudget | undefined,
    closed: { readonly when: () => Promise<unknown>; readonly is: () => boolean },
    onWait?: (which: 'association' | 'server', held: number, limit: number) => void,
  ) {
    this.#own = new BufferBudget(limit);
    this.#server = server;
    this.#whenClosed = closed.when;
    this.#isClosed = closed.is;
    this.#onWait = onWait;
  }

  /** Whether `admit(start)` would wait now (a budget is full): without it, no promise is needed. */
  mustWait(start: boolean): boolean {
    if (this.#isClosed()) return false;
    if (this.#own.full !== true && this.#server?.full !== true) return false;
    return start || this.#own.held - this.#arriving > 0;
  }

  /** Wait while a budget is full. `start`: a new data set is about to be collected. */
  async admit(start: boolean): Promise<void> {
    for (;;) {
      if (this.#isClosed()) return;
      const full = [this.#own, this.#server].filter((b): b is BufferBudget => b?.full === true);
      if (full.length === 0) return;
      if (!start && this.#own.held - this.#arriving <= 0) return;
      const b = full[0]!;
      this.#onWait?.(b === this.#own ? 'association' : 'server', b.held, b.limit);
      await Promise.race([...full.map((b) => b.whenNotFull()), this.#whenClosed()]);
    }
  }

  /** A collecting sink that counts what it holds against the budgets and waits for room. */
  collect<S extends { write(fragment: Uint8Array): void | Promise<void> }>(inner: S): { sink: S; held: HeldDataset } {
    const held: HeldDataset = { bytes: 0 };
    this.#held.add(held);
    const sink = {
      ...inner,
      write: (fragment: Uint8Array): void | Promise<void> => {
        const counted = (): void | Promise<void> => {
          held.bytes += fragment.length;
          this.#arriving += fragment.length;
          this.#own.take(fragment.length);
          this.#server?.take(fragment.length);
          // No promise while there is room: a fragment of a small data set is taken at once.
          if (this.mustWait(false)) return this.admit(false);
        };
        const r = inner.write(fragment);
        return r instanceof Promise ? r.then(counted) : counted();
      },
    };
    return { sink, held };
  }

  /** The data set arriving is complete: it now waits for its handler. */
  arrived(): void {
    this.#arriving = 0;
  }

  /** The handler has taken the data set (or never will): its bytes count no more. */
  giveBack(held: HeldDataset): void {
    if (!this.#held.delete(held)) return;
    this.#own.give(held.bytes);
    this.#server?.give(held.bytes);
    held.bytes = 0;
  }

  /** The association is over: the server's budget gets back all it held. */
  giveBackAll(): void {
    for (const h of [...this.#held]) this.giveBack(h);
  }
}
