/**
 * The bounded queue of audit messages not yet delivered. With a directory, every message is a
 * file (`<sequence>.syslog`, written to a temporary name and renamed, so a crash leaves whole
 * messages only) and a new queue on the same directory starts with what an earlier process left:
 * restarting resends it, in order. Without one the queue lives in memory only.
 *
 * Bounded by message count and bytes: `push` refuses (returns false) when full; the caller counts
 * and reports the loss, it never waits.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AuditQueueOptions {
  readonly directory?: string | undefined;
  /** Default 10000 messages. */
  readonly maxMessages?: number;
  /** Default 64 MiB. */
  readonly maxBytes?: number;
}

interface Item { readonly seq: number; readonly data: Buffer }

const NAME = /^(\d{16})\.syslog$/;

export class AuditQueue {
  readonly directory: string | undefined;
  readonly maxMessages: number;
  readonly maxBytes: number;
  #items: Item[] = [];
  #head = 0;
  #bytes = 0;
  #next = 0;

  constructor(options: AuditQueueOptions = {}) {
    this.directory = options.directory;
    this.maxMessages = options.maxMessages ?? 10000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    if (this.directory === undefined) return;
    mkdirSync(this.directory, { recursive: true });
    const names = readdirSync(this.directory).filter((n) => NAME.test(n)).sort();
    for (const n of names) {
      const data = readFileSync(join(this.directory, n));
      this.#items.push({ seq: Number(NAME.exec(n)![1]), data });
      this.#bytes += data.length;
    }
    // Partial writes of a crashed process are never whole messages: drop them.
    for (const n of readdirSync(this.directory)) if (n.endsWith('.tmp')) rmSync(join(this.directory, n), { force: true });
    this.#next = this.#items.length > 0 ? this.#items[this.#items.length - 1]!.seq + 1 : 0;
  }

  get length(): number { return this.#items.length - this.#head; }
  get bytes(): number { return this.#bytes; }

  /** Append; false when the queue is full (nothing written). */
  push(data: Buffer): boolean {
    if (this.length >= this.maxMessages || this.#bytes + data.length > this.maxBytes) return false;
    const seq = this.#next++;
    if (this.directory !== undefined) {
      const name = join(this.directory, `${String(seq).padStart(16, '0')}.syslog`);
      writeFileSync(`${name}.tmp`, data);
      renameSync(`${name}.tmp`, name);
    }
    this.#items.push({ seq, data });
    this.#bytes += data.length;
    return true;
  }

  /** The i-th message from the head (0 = oldest). */
  at(i: number): Buffer | undefined { return this.#items[this.#head + i]?.data; }

  /** Remove the `n` oldest messages (delivered). */
  shift(n = 1): void {
    for (let k = 0; k < n && this.length > 0; k++) {
      const item = this.#items[this.#head++]!;
      this.#bytes -= item.data.length;
      if (this.directory !== undefined) rmSync(join(this.directory, `${String(item.seq).padStart(16, '0')}.syslog`), { force: true });
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
