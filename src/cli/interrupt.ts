/**
 * Ctrl-C (SIGINT) or SIGTERM while a C-FIND, C-MOVE or C-GET is outstanding, as DCMTK's findscu
 * --cancel and pynetdicom's send_c_cancel do it: the first signal aborts the operation's
 * AbortSignal, on which the library sends C-CANCEL-RQ (PS3.7 9.3.2.3, 9.3.3.3, 9.3.4.3: Message ID
 * Being Responded To = the request's, on its presentation context) and goes on reading until the
 * final response, due within the DIMSE timeout (else the library aborts the association). The
 * command then reports the counts, releases and exits 130. A second signal, or any signal once
 * the operation has ended (the release under way), aborts the association (A-ABORT).
 */
import { CliCode, CliError } from './errors.js';
import type { Output } from './io.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export class Interruption {
  readonly #controller = new AbortController();
  readonly #listener: (s: NodeJS.Signals) => void;
  #by: NodeJS.Signals | undefined;
  #cancelled: NodeJS.Signals | undefined;
  #aborted = false;
  /** The abort came once the operation had its final response (during the release). */
  #abortedAfterEnd = false;
  #operationEnded = false;

  /** Listens from now until `dispose()`; `abort` ends the association (A-ABORT). */
  constructor(out: Output, readonly verb: string, abort: () => void) {
    this.#listener = (s) => {
      if (this.#by === undefined && !this.#operationEnded) {
        this.#by = s;
        this.#cancelled = s;
        // The operation's listeners first: the library's sends the C-CANCEL-RQ, a progress bar is erased.
        this.#controller.abort();
        out.note(`${s}: cancelling the ${verb} (C-CANCEL-RQ sent); waiting for the peer's final response (Ctrl-C again aborts the association)`);
        return;
      }
      if (this.#aborted) return;
      this.#by ??= s;
      this.#aborted = true;
      this.#abortedAfterEnd = this.#operationEnded;
      out.note(`${s}${this.#operationEnded ? '' : ' again'}: aborting the association (A-ABORT)`);
      abort();
    };
    for (const s of SIGNALS) process.on(s, this.#listener);
  }

  /** Pass to the operation: aborted at the first signal (the library then sends C-CANCEL-RQ). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The signal that interrupted the command, if one did (the cancel's, or the abort's). */
  get by(): NodeJS.Signals | undefined {
    return this.#by;
  }

  /** The signal on which C-CANCEL-RQ was sent, if one was. */
  get cancelled(): NodeJS.Signals | undefined {
    return this.#cancelled;
  }

  /** The operation has its final response (or failed): a signal from now on aborts the association. */
  operationEnded(): void {
    this.#operationEnded = true;
  }

  /** Stop listening: a signal after this ends the process as Node's default does. */
  dispose(): void {
    for (const s of SIGNALS) process.off(s, this.#listener);
  }

  /**
   * The error to exit with when the operation or the release ended in `e` after a signal (exit
   * 130, DICOM_ERR_INTERRUPTED), the original error kept as the cause.
   */
  error(e: unknown): CliError {
    const by = this.#by ?? 'a signal';
    const why = this.#aborted
      ? this.#abortedAfterEnd
        ? `interrupted on ${by} while the association was being released: it was aborted (A-ABORT) instead`
        : `cancelled on ${by}, then the association was aborted (A-ABORT) before the peer's final response`
      : `cancelled on ${by}, then it ended with an error: ${(e instanceof Error ? e.message : String(e)).replace(/\.$/, '')}`;
    return new CliError(CliCode.interrupted, `${this.verb} ${why}`, { cause: e });
  }
}
