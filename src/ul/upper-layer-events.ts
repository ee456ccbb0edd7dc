/**
 * A minimal typed event emitter for notifications (style rule 8): many listeners, and a listener
 * that throws never breaks the emitter's owner; the error goes to `onListenerError` instead.
 */
type Listener = (...args: unknown[]) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();
  readonly #onListenerError: (event: keyof Events, error: unknown) => void;

  constructor(onListenerError: (event: keyof Events, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof Events>(event: K, listener: Events[K]): this {
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener as unknown as Listener);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): this {
    const set = this.#listeners.get(event);
    if (set === undefined) return this;
    set.delete(listener as unknown as Listener);
    for (const l of set) if ((l as { original?: unknown }).original === listener) set.delete(l);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Events[K]): this {
    const wrapper = Object.assign(
      (...args: unknown[]) => {
        this.#listeners.get(event)?.delete(wrapper);
        (listener as unknown as Listener)(...args);
      },
      { original: listener },
    );
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(wrapper);
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Call every listener; a throwing one is reported and the others still run. */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        l(...(args as unknown[]));
      } catch (error) {
        this.#onListenerError(event, error);
      }
    }
  }
}
