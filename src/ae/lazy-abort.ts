/**
 * The abort side of a request being handled. Most handlers never look at their `signal`, and an
 * AbortController (an EventTarget) cost ~11 µs per request on the small C-STORE path, so the
 * controller is made only when the signal is first asked for; an abort that came before then
 * gives an already aborted signal with the same reason.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
