/**
 * A first-in first-out list: the upper layer's inbox and outbox, a chunk channel's queue.
 * Array.prototype.shift on a list that is pushed to again at once (one PDU or fragment in, one
 * out) made V8 trim and regrow the array's store each time: taken here by index, the store is
 * reused once empty.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, or undefined when empty. */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head === items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    }
    return item;
  }
}
