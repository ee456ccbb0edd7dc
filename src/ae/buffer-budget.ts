import { monotonicMs } from '../internal/clock.js';
import { setAfterPollTimeout } from '../internal/after-poll-timer.js';
import { DatasetStalledError } from './errors.js';

/**
 * A count of request data set bytes held in memory (identifiers, N-service data sets collected
 * for a handler), from the first fragment that arrives until the handler takes the data set (an
 * association's budget) or is done with it (the server's), against a limit, with a way to wait
 * until it is back under the limit. One budget per association and one shared by every
 * association of a server: the association stops reading from its socket while a budget it
 * answers to is over its limit (back-pressure to the peer through TCP), and reads again as
 * handlers finish and give their bytes back.
 *
 * The server's budget also keeps the data sets being collected in the order they started: the
 * first (the oldest, or the oldest whose association owes us a response) may go beyond the
 * limit (see HeldDatasets), so the most held is the limit plus one data set, whatever the
 * number of associations. While others wait for room, the first must make progress: one that
 * gets no fragment for `stallMs` is abandoned (its association aborted) so the next goes on.
 */
export class BufferBudget {
  /** Bytes allowed; 0 = no limit. */
  readonly limit: number;
  /** How long the first collection may go without a fragment while others wait (ms; 0 = for ever). */
  readonly stallMs: number;
  #held = 0;
  #waiters: (() => void)[] = [];
  /** Woken by every give and every collection that ends (the oldest may change). */
  #changeWaiters: (() => void)[] = [];
  /** Data sets being collected, in the order they started (a Map keeps insertion order). */
  readonly #collecting = new Map<object, Collection>();
  /** The first collection when last asked (see #first). */
  #current: Collection | undefined;
  /** Waits for room in this budget now (fragments that do not fit, new data sets while full). */
  #waits = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  /** The first collection as the stall check last saw it, and since when it counts as stalled. */
  #watched: Collection | undefined;
  #since = 0;

  constructor(limit: number, stallMs = 0) {
    this.limit = limit;
    this.stallMs = stallMs;
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

  /**
   * A data set starts being collected: it is the first once those before it have ended, unless
   * an urgent one is collecting (see #first). `hooks.stalled` ends its association when it stalls
   * as the first while others wait.
   */
  startCollecting(token: object, hooks: CollectionHooks = {}): void {
    this.#collecting.set(token, { token, urgent: hooks.urgent, stalled: hooks.stalled, waiting: false, progressAt: 0 });
  }

  /** The collection is over (complete, failed, association gone); again is a no-op. */
  stopCollecting(token: object): void {
    if (this.#collecting.delete(token)) this.#changed();
  }

  /** Whether `token` is the collection that goes on beyond the limit (see #first). */
  isOldest(token: object): boolean {
    return this.#first()?.token === token;
  }

  /**
   * The collection allowed beyond the limit: the oldest of those whose association has a
   * handler waiting for the peer (a C-GET for its C-STORE-RSP, which is behind this data set on
   * the wire: holding it back would hold the handler until its DIMSE timeout), else the oldest.
   */
  #first(): Collection | undefined {
    // Over the limit, only the first can have taken it there: it stays first until it ends, or
    // an urgent one put first now would wait for it to give back bytes it can only give back
    // by going on (a deadlock).
    const current = this.#current;
    if (current !== undefined && this.#held > this.limit && this.#collecting.get(current.token) === current) return current;
    let first: Collection | undefined;
    for (const c of this.#collecting.values()) {
      if (c.urgent?.() === true) {
        first = c;
        break;
      }
      first ??= c;
    }
    this.#current = first;
    return first;
  }

  /** A fragment of `token` was counted (for the stall check: it makes progress). */
  progressed(token: object): void {
    if (this.#waits === 0) return;
    const c = this.#collecting.get(token);
    if (c !== undefined) c.progressAt = monotonicMs();
  }

  /**
   * `token` (or a new data set, undefined) starts or stops waiting for room in this budget; a
   * collection's own association budget marks it waiting too (`counts` false: no one waits for
   * it in this budget, and it is not stalled by its peer while it waits).
   */
  waiting(token: object | undefined, on: boolean, counts = true): void {
    const c = token === undefined ? undefined : this.#collecting.get(token);
    if (c !== undefined) {
      c.waiting = on;
      if (!on) c.progressAt = monotonicMs();
    }
    if (!counts) return;
    this.#waits += on ? 1 : -1;
    if (this.stallMs <= 0 || this.limit <= 0) return;
    if (this.#waits === 0) {
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
    } else if (on && this.#stallTimer === undefined) {
      // The first collection's clock starts now: before, no one waited for it.
      this.#watched = this.#first();
      this.#since = monotonicMs();
      this.#armStall(this.stallMs);
    }
  }

  #armStall(ms: number): void {
    // Checked after the event loop's next poll for I/O: a loop held up past the deadline
    // (a collection elsewhere, a busy machine) first reads what the peer sent meanwhile.
    const timer = setAfterPollTimeout(ms, (t) => {
      if (this.#stallTimer === t) this.#checkStall();
    });
    timer.unref();
    this.#stallTimer = timer;
  }

  /**
   * Others wait: the first collection has had `stallMs` since it became the first, last counted
   * a fragment or last stopped waiting itself. If nothing came meanwhile, it is abandoned (its
   * association aborted, its bytes and its turn given back) so the next one goes on.
   */
  #checkStall(): void {
    this.#stallTimer = undefined;
    if (this.#waits === 0) return;
    const now = monotonicMs();
    const first = this.#first();
    if (first !== this.#watched || first === undefined || first.waiting) {
      this.#watched = first;
      this.#since = now;
      this.#armStall(this.stallMs);
      return;
    }
    this.#since = Math.max(this.#since, first.progressAt);
    const left = this.#since + this.stallMs - now;
    if (left > 0) {
      this.#armStall(Math.max(1, Math.ceil(left)));
      return;
    }
    this.#watched = undefined;
    const held = (first.token as Partial<HeldDataset>).bytes ?? 0;
    const waiting = this.#waits;
    this.stopCollecting(first.token);
    first.stalled?.(new DatasetStalledError(this.stallMs, held, waiting));
    if (this.#waits > 0 && this.#stallTimer === undefined) this.#armStall(this.stallMs);
  }

  /** Resolves at the next give or end of a collection. */
  whenChanged(): Promise<void> {
    return new Promise((resolve) => this.#changeWaiters.push(resolve));
  }

  /** Something the order depends on changed (a handler now waits for its peer): waiters look again. */
  changed(): void {
    this.#changed();
  }

  #changed(): void {
    if (this.#changeWaiters.length === 0) return;
    const waiters = this.#changeWaiters;
    this.#changeWaiters = [];
    for (const w of waiters) w();
  }
}

/** What a collection tells the server's budget about its association. */
export interface CollectionHooks {
  /** A handler of the association waits for the peer: this data set is in the way (see #first). */
  readonly urgent?: (() => boolean) | undefined;
  /** Abandoned for stalling while others waited: end the association. */
  readonly stalled?: ((error: DatasetStalledError) => void) | undefined;
}

interface Collection {
  readonly token: object;
  readonly urgent: (() => boolean) | undefined;
  readonly stalled: ((error: DatasetStalledError) => void) | undefined;
  /** Waiting for room itself (not stalled by its peer meanwhile). */
  waiting: boolean;
  /** When a fragment was last counted or a wait of its own ended, while others waited (monotonicMs). */
  progressAt: number;
}

/** The bytes of one request data set held in memory, until its handler is done with them. */
export interface HeldDataset {
  bytes: number;
  /** Its handler has it: the association's budget no longer counts it (the server's still does). */
  handled?: boolean;
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
  readonly #hooks: CollectionHooks;
  /** Waits for room going on now: reading is paused by us, not by an idle peer. */
  #waits = 0;
  /** Those of them for room in the association's own budget, which only its handlers give back. */
  #ownWaits = 0;
  /** The data set now arriving (its bytes are also in #held until its handler is done with it). */
  #arriving: HeldDataset | undefined;

  /** `onWait`: reading pauses for a full budget (for the diagnostics channel). */
  constructor(
    limit: number,
    server: BufferBudget | undefined,
    closed: { readonly when: () => Promise<unknown>; readonly is: () => boolean },
    onWait?: (which: 'association' | 'server', held: number, limit: number) => void,
    hooks: CollectionHooks = {},
  ) {
    this.#own = new BufferBudget(limit);
    this.#server = server;
    this.#whenClosed = closed.when;
    this.#isClosed = closed.is;
    this.#onWait = onWait;
    this.#hooks = hooks;
  }

  /** Whether reading is paused now for room in a budget (the association is not idle: we are). */
  get waiting(): boolean {
    return this.#waits > 0;
  }

  /**
   * Whether reading is paused for room in the association's own budget: held by data sets that
   * wait for this association's handlers, so only a handler that finishes gives it back (no
   * other association, no stall limit). The wait is the application's, as for a sink.
   */
  get waitingForHandlers(): boolean {
    return this.#ownWaits > 0;
  }

  /** Bytes the association's own budget counts now, and its limit. */
  get own(): { readonly held: number; readonly limit: number } {
    return { held: this.#own.held, limit: this.#own.limit };
  }

  /** A handler of this association now waits for its peer: a collection waiting here may go first. */
  urgencyChanged(): void {
    if (this.#arriving !== undefined) this.#server?.changed();
  }

  /** Whether `admit(true)` would wait now (a budget is full): without it, no promise is needed. */
  mustWait(start: boolean): boolean {
    if (this.#isClosed()) return false;
    if (start) return this.#own.full || this.#serverFullForStart();
    return this.#ownMustWait();
  }

  /** A new data set waits while the server's budget is full, unless a handler waits for the peer (see BufferBudget#first). */
  #serverFullForStart(): boolean {
    return this.#server?.full === true && this.#hooks.urgent?.() !== true;
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
        // Its own handlers hold the room: not stalled by its peer meanwhile.
        this.#server?.waiting(this.#arriving, true, false);
        this.#waits++;
        this.#ownWaits++;
        try {
          await Promise.race([this.#own.whenNotFull(), (closed ??= this.#whenClosed())]);
        } finally {
          this.#waits--;
          this.#ownWaits--;
          this.#server?.waiting(this.#arriving, false, false);
        }
        continue;
      }
      const onServer = this.#serverFullForStart();
      if (!this.#own.full && !onServer) return;
      const b = this.#own.full ? this.#own : this.#server!;
      this.#onWait?.(b === this.#own ? 'association' : 'server', b.held, b.limit);
      const wakes = [(closed ??= this.#whenClosed())];
      if (this.#own.full) wakes.push(this.#own.whenNotFull());
      // The server's wakes at every change too: this handler may come to wait for its peer.
      if (onServer) wakes.push(this.#server!.whenNotFull(), this.#server!.whenChanged());
      if (onServer) this.#server!.waiting(undefined, true);
      // The association's own budget full: its handlers must give room back first, whatever the server's.
      const own = b === this.#own;
      this.#waits++;
      if (own) this.#ownWaits++;
      try {
        await Promise.race(wakes);
      } finally {
        this.#waits--;
        if (own) this.#ownWaits--;
        if (onServer) this.#server!.waiting(undefined, false);
      }
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
    server.waiting(held, true);
    this.#waits++;
    try {
      while (this.#serverMustWait(held, bytes)) await Promise.race([server.whenChanged(), closed]);
    } finally {
      this.#waits--;
      server.waiting(held, false);
    }
    this.#count(held, bytes);
  }

  #count(held: HeldDataset, bytes: number): void {
    // Already given back (the association ended while the fragment waited): nothing to count.
    if (!this.#held.has(held)) return;
    held.bytes += bytes;
    this.#own.take(bytes);
    this.#server?.take(bytes);
    this.#server?.progressed(held);
  }

  /** A collecting sink that counts what it holds against the budgets and waits for room. */
  collect<S extends { write(fragment: Uint8Array): void | Promise<void> }>(inner: S): { sink: S; held: HeldDataset } {
    const held: HeldDataset = { bytes: 0 };
    this.#held.add(held);
    this.#arriving = held;
    this.#server?.startCollecting(held, this.#hooks);
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

  /** The handler is done with the data set (or it will never get one): its bytes count no more. */
  giveBack(held: HeldDataset): void {
    if (!this.#held.delete(held)) return;
    if (this.#arriving === held) this.#arriving = undefined;
    this.#server?.stopCollecting(held);
    if (held.handled !== true) this.#own.give(held.bytes);
    this.#server?.give(held.bytes);
    held.bytes = 0;
  }

  /**
   * Its handler has the data set: the association's budget no longer counts it, the server's
   * does until `giveBack` (the memory is held until the handler is done). The association's
   * budget bounds what its peer has queued; counting the one being handled there would make
   * the next data set wait for a handler that may need that very peer (a C-GET waiting for its
   * C-STORE-RSP) to finish.
   */
  handling(held: HeldDataset): void {
    if (!this.#held.has(held) || held.handled === true) return;
    held.handled = true;
    this.#own.give(held.bytes);
  }

  /** The association is over: the server's budget gets back all it held. */
  giveBackAll(): void {
    for (const h of [...this.#held]) this.giveBack(h);
  }
}
