/**
 * What a command may touch of the outside world, passed in (so commands are testable in-process
 * too), and the output conventions: human text by default, exactly one JSON document on stdout
 * with --json, and a progress bar that draws only when stderr is a terminal.
 */
import type { Readable, Writable } from 'node:stream';
import { escapeControls } from './escape-controls.js';

export interface Io {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // On first use only: setting up process.stdin costs ~10 ms, and few commands read it.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * Lines for people quote what peers sent (matches, error comments, UIDs, AE titles): a control
 * character is written as its escape (escape-controls.ts), so an ESC sequence cannot drive the
 * terminal and a CR cannot overwrite a line. Only our own line breaks stay.
 */
function visible(text: string): string {
  return text.includes('\n') ? text.split('\n').map(escapeControls).join('\n') : escapeControls(text);
}

/** Output mode of one run. */
export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly io: Io;
  constructor(io: Io, o: { json?: boolean | undefined; verbose?: boolean | undefined; debug?: boolean | undefined; quiet?: boolean | undefined }) {
    this.io = io;
    this.json = o.json === true;
    // DCMTK's -d implies -v.
    this.verbose = o.verbose === true || o.debug === true;
    this.quiet = o.quiet === true && !this.verbose;
  }
  /** A line for people (stdout in human mode; stderr with --json so stdout stays one document). */
  line(text = ''): void {
    (this.json ? this.io.stderr : this.io.stdout).write(`${visible(text)}\n`);
  }
  /** Progress/notes that are never data: always stderr. */
  note(text: string): void {
    if (this.quiet) return;
    this.io.stderr.write(`${visible(text)}\n`);
  }
  /** An `error: … [CODE]` line of a command that still prints its results: always stderr, --quiet or not. */
  error(text: string): void {
    this.io.stderr.write(`${visible(text)}\n`);
  }
  /** Only with --verbose. */
  debug(text: string): void {
    if (this.verbose) this.io.stderr.write(`${visible(text)}\n`);
  }
  /** The one JSON document of a --json run. */
  document(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
  progress(label: string, total: number): Progress {
    return new Progress(this.io.stderr, label, total, !this.json);
  }
}

/**
 * `label [#####-----] 12/40` redrawn in place on a terminal; on a pipe or file it draws nothing
 * (so logs and `| tee` stay clean). `done()` erases the bar.
 */
export class Progress {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  readonly #label: string;
  #total: number;
  readonly #enabled: boolean;
  #current = 0;
  #drawn = false;
  #lastDraw = 0;
  constructor(out: Writable & { isTTY?: boolean; columns?: number }, label: string, total: number, enabled: boolean) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#enabled = enabled && out.isTTY === true;
  }
  get enabled(): boolean { return this.#enabled; }
  /** The total once known (C-MOVE/C-GET learn it from the first Pending response). */
  set total(n: number) { this.#total = n; }
  tick(by = 1): void { this.update(this.#current + by); }
  update(current: number): void {
    this.#current = current;
    if (!this.#enabled) return;
    const now = Date.now();
    // Redraw at most ~20 times a second, and always for the last step.
    if (now - this.#lastDraw < 50 && current < this.#total) return;
    this.#lastDraw = now;
    if (this.#total <= 0) {
      this.#out.write(`\r${this.#label}: ${current}\x1b[K`);
      this.#drawn = true;
      return;
    }
    const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - this.#label.length - 20));
    const frac = this.#total > 0 ? Math.min(1, current / this.#total) : 0;
    const filled = Math.round(frac * width);
    this.#out.write(`\r${this.#label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${current}/${this.#total}\x1b[K`);
    this.#drawn = true;
  }
  done(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K');
    this.#drawn = false;
  }
}

/** A plain-text table: columns padded to the widest cell. */
export function table(headers: readonly string[], rowsAsSent: ReadonlyArray<readonly string[]>): string {
  // A cell is one line whatever a peer put in it (a line break in a Patient Name is not a row).
  const rows = rowsAsSent.map((r) => r.map(escapeControls));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(headers), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}
