/**
 * At most `limit` holders at once; the others wait in arrival order. A waiter whose signal aborts
 * leaves the queue (a cancelled C-FIND does not wait for a slot it no longer needs).
 */
export class Semaphore {
  readonly limit: number;
  #active = 0;
  readonly #queue: { grant: () => void }[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves with a release function once a slot is free; false when `signal` aborted first. */
  acquire(signal?: AbortSignal): Promise<(() => void) | false> {
    if (signal?.aborted === true) return Promise.resolve(false);
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#active++;
          resolve(this.#releaser());
        },
      };
      const onAbort = (): void => {
        const i = this.#queue.indexOf(entry);
        if (i >= 0) this.#queue.splice(i, 1);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#queue.shift()?.grant();
    };
  }
}
