/**
 * A count of request data set bytes held in memory (identifiers, N-service data sets collected
 * for a handler), from the first fragment that arrives until the handler takes the data set,
 * against a limit, with a way to wait until it is back under the limit. One budget per
 * association and one shared by every association of a server: the association stops reading
 * from its socket while a budget it answers to is over its limit (back-pressure to the peer
 * through TCP), and reads again as handlers finish and give their bytes back.
 *
 * The server's budget also keeps the data sets being collected in the order they started: the
 * oldest may go beyond the limit (see HeldDatasets), so the most held is the limit plus one data
 * set, whatever the number of associations.
 */
export class BufferBudget {
  /** Bytes allowed; 0 = no limit. */
  readonly limit: number;
  #held = 0;
  #waiters: (() => void)[] = [];
  /** Woken by every give and every collection that ends (the oldest may change). */
  #changeWaiters: (() => void)[] = [];
  /** Data sets being collected, in the order they started (a Set keeps insertion order). */
  readonly #collecting = new Set<object>();

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
    this.#changed();
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

  /** A data set starts being collected: it is the oldest once those before it have ended. */
  startCollecting(token: object): void {
    this.#collecting.add(token);
  }

  /** The collection is over (complete, failed, association gone); again is a no-op. */
  stopCollecting(token: object): void {
    if (this.#collecting.delete(token)) this.#changed();
  }

  /** Whether `token` is the data set that started collecting first among those still collecting. */
  isOldest(token: object): boolean {
    for (const first of this.#collecting) return first === token;
    return false;
  }

  /** Resolves at the next give or end of a collection. */
  whenChanged(): Promise<void> {
    return new Promise((resolve) => this.#changeWaiters.push(resolve));
  }

  #changed(): void {
    if (this.#changeWaiters.length === 0) return;
    const waiters = this.#changeWaiters;
    this.#changeWaiters = [];
    for (const w of waiters) w();
  }
}

/** The bytes of one request data set held in memory, until its handler takes them. */
export interface HeldDataset {
  bytes: number;
}

/**
 * One association's request data sets held in memory, counted against its own budget and the
 * server's from their first fragment. The rules keep reading deadlock-free:
 * - a new data set waits while a budget is full;
 * - against the association's budget, a fragment of the one arriving waits only when earlier
 *   requests of this association hold bytes (their handlers free them without reading more), so
 *   one data set alone always completes;
 * - against the server's budget, a fragment is taken only if it fits under the limit, except for
 *   the data set that started collecting first among those still arriving on the server: it
 *   goes on as long as what the others hold is within the limit (so only complete data sets
 *   waiting for their handlers, which free them without reading, can stop it). Every other
 *   collection waits for it; when it completes (or fails, or its association ends) the next
 *   oldest takes its place. Without that rule each association could hold one arriving data set
 *   beyond the limit (maxAssociations of them); with it the most held is the limit plus one.
 */
export class HeldDatasets {
  readonly #own: BufferBudget;
  readonly #server: BufferBudget | undefined;
  readonly #held = new Set<HeldDataset>();
  /** The association's end, asked for only by a wait (most associations never wait). */
  readonly #whenClosed: () => Promise<unknown>;
  readonly #isClosed: () => boolean;
  readonly #onWait: ((which: 'association' | 'server', held: number, limit: number) => void) | undefined;
  /** The data set now arriving (its bytes are also in #held until its handler takes it). */
  #arriving: HeldDataset | undefined;

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

  /** Whether `admit(true)` would wait now (a budget is full): without it, no promise is needed. */
  mustWait(start: boolean): boolean {
    if (this.#isClosed()) return false;
    if (start) return this.#own.full || this.#server?.full === true;
    return this.#ownMustWait();
  }

  /** Wait while a budget is full. `start`: a new data set is about to be collected. */
  async admit(start: boolean): Promise<void> {
    // One listener on the association's end per wait, however often it wakes.
    let closed: Promise<unknown> | undefined;
    for (;;) {
      if (this.#isClosed()) return;
      if (!start) {
        if (!this.#ownMustWait()) return;
        this.#onWait?.('association', this.#own.held, this.#own.limit);
        await Promise.race([this.#own.whenNotFull(), (closed ??= this.#whenClosed())]);
        continue;
      }
      const full = [this.#own, this.#server].filter((b): b is BufferBudget => b?.full === true);
      if (full.length === 0) return;
      const b = full[0]!;
      this.#onWait?.(b === this.#own ? 'association' : 'server', b.held, b.limit);
      await Promise.race([...full.map((b) => b.whenNotFull()), (closed ??= this.#whenClosed())]);
    }
  }

  /** The association's budget is full and earlier requests hold some of it. */
  #ownMustWait(): boolean {
    return !this.#isClosed() && this.#own.full && this.#own.held - (this.#arriving?.bytes ?? 0) > 0;
  }

  /** Whether `bytes` more of `held` (arriving) must wait for the server's budget. */
  #serverMustWait(held: HeldDataset, bytes: number): boolean {
    const server = this.#server;
    if (server === undefined || server.limit === 0 || this.#isClosed()) return false;
    if (server.isOldest(held)) return server.held - held.bytes > server.limit;
    return server.held + bytes > server.limit;
  }

  /** Waits until `bytes` more of `held` fit the server's rule, and counts them in the same turn. */
  async #roomOnServer(held: HeldDataset, bytes: number): Promise<void> {
    const server = this.#server!;
    this.#onWait?.('server', server.held, server.limit);
    const closed = this.#whenClosed();
    // Re-checked at every change: a give may make room, an ended collection may make this the
    // oldest. Counted at once when it fits: another collection woken by the same change must
    // see these bytes, or both could take the same room.
    while (this.#serverMustWait(held, bytes)) await Promise.race([server.whenChanged(), closed]);
    this.#count(held, bytes);
  }

  #count(held: HeldDataset, bytes: number): void {
    // Already given back (the association ended while the fragment waited): nothing to count.
    if (!this.#held.has(held)) return;
    held.bytes += bytes;
    this.#own.take(bytes);
    this.#server?.take(bytes);
  }

  /** A collecting sink that counts what it holds against the budgets and waits for room. */
  collect<S extends { write(fragment: Uint8Array): void | Promise<void> }>(inner: S): { sink: S; held: HeldDataset } {
    const held: HeldDataset = { bytes: 0 };
    this.#held.add(held);
    this.#arriving = held;
    this.#server?.startCollecting(held);
    // No promise while there is room: a fragment of a small data set is taken at once.
    const ownRoom = (): void | Promise<void> => (this.#ownMustWait() ? this.admit(false) : undefined);
    const sink = {
      ...inner,
      write: (fragment: Uint8Array): void | Promise<void> => {
        const n = fragment.length;
        const write = (): void | Promise<void> => {
          const r = inner.write(fragment);
          return r instanceof Promise ? r.then(ownRoom) : ownRoom();
        };
        // The server's rule is checked before the fragment is counted and kept: the fragment
        // in hand is the one PDU this association has read; nothing more is read until it fits.
        if (this.#serverMustWait(held, n)) return this.#roomOnServer(held, n).then(write);
        this.#count(held, n);
        return write();
      },
    };
    return { sink, held };
  }

  /** The data set arriving is complete: it now waits for its handler. */
  arrived(): void {
    if (this.#arriving === undefined) return;
    this.#server?.stopCollecting(this.#arriving);
    this.#arriving = undefined;
  }

  /** The handler has taken the data set (or never will): its bytes count no more. */
  giveBack(held: HeldDataset): void {
    if (!this.#held.delete(held)) return;
    if (this.#arriving === held) this.#arriving = undefined;
    this.#server?.stopCollecting(held);
    this.#own.give(held.bytes);
    this.#server?.give(held.bytes);
    held.bytes = 0;
  }

  /** The association is over: the server's budget gets back all it held. */
  giveBackAll(): void {
    for (const h of [...this.#held]) this.giveBack(h);
  }
}
