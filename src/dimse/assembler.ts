import type { Writable } from 'node:stream';
import type { PresentationDataValue } from '../ul/pdu/types.js';
import { pin, release } from '../internal/buffer-pool.js';
import { MAX_COMMAND_SET_LENGTH } from './command-set.js';
import { DimseProtocolError, DimseProtocolViolation } from './errors.js';
import { commandHasDataset, decodeCommand } from './messages.js';
import type { DimseCommand } from './messages.js';

/**
 * Reassembles DIMSE messages from the PDVs of one association (PS3.8 Annex E, PS3.7 6.3.1).
 * The command is small and buffered; the dataset is streamed fragment by fragment to a sink the
 * layer above supplies once it has seen the command, and each write is awaited, so a slow sink
 * (a disk) holds back the caller, which holds back the socket.
 *
 * Rules enforced (any breach is a {@link DimseProtocolError}; the caller aborts the association):
 * - a message is its command fragments then, if CommandDataSetType ≠ 0x0101, its dataset
 *   fragments, all on one presentation context; no other message's fragments in between;
 * - a dataset fragment never precedes or interrupts the command; a command that announces no
 *   dataset is not followed by one, and one that announces a dataset gets it before the next command;
 * - the command set stays below a size limit.
 */

/** Where the dataset bytes of one message go. `write` may return a promise: it is awaited. */
export interface DatasetSink {
  write(fragment: Uint8Array): void | Promise<void>;
  /**
   * How long the sink uses a fragment, which may be a view of a receive buffer that is reused
   * once nothing uses it any more: 'write' — only until `write` returns, or its promise settles
   * (anything kept longer is copied); 'release' — until the sink calls `releaseFragment(fragment)`
   * once for it (e.g. when the bytes are on disk). Unset, the sink may keep fragments for ever:
   * their buffers are then never reused (always safe, costs memory and collections).
   */
  readonly fragmentUse?: 'write' | 'release';
  /** The last fragment has been written. */
  end(): void | Promise<void>;
  /** The message will not complete (association aborted or protocol error). */
  abort?(error: Error): void;
}

export interface AssemblerHandlers {
  /**
   * The command is complete. When `hasDataset` is true return the sink for its dataset; returning
   * nothing discards the dataset bytes (e.g. a request about to be refused).
   */
  onCommand(
    command: DimseCommand,
    presentationContextId: number,
    hasDataset: boolean,
  ): DatasetSink | undefined | void | Promise<DatasetSink | undefined | void>;
  /** The whole message (command and its dataset, if any) has arrived and the sink has ended. */
  onMessage(command: DimseCommand, presentationContextId: number): void | Promise<void>;
  /** A peer's mistake that was tolerated (e.g. a wrong CommandGroupLength), with the command it was in. */
  onWarning?(message: string, command: DimseCommand, presentationContextId: number): void;
}

export interface AssemblerOptions {
  /** Largest command set accepted, bytes (default 64 KiB + 12). */
  readonly maxCommandLength?: number;
  /** Whether a presentation context id was accepted on this association; default: any. */
  readonly isAcceptedContext?: (presentationContextId: number) => boolean;
}

type State =
  | { readonly kind: 'idle' }
  /** `parts`: copies of the fragments of a command in several (made at the first of them). */
  | { readonly kind: 'command'; readonly pcId: number; parts: Uint8Array[] | undefined; length: number }
  | {
      readonly kind: 'dataset';
      readonly pcId: number;
      readonly command: DimseCommand;
      readonly sink: DatasetSink | undefined;
    }
  | { readonly kind: 'failed'; readonly error: Error };

/** Between messages (one object: the state changes twice per message). */
const IDLE: State = { kind: 'idle' };

export class DimseAssembler {
  readonly #handlers: AssemblerHandlers;
  readonly #maxCommandLength: number;
  readonly #isAccepted: (id: number) => boolean;
  #state: State = IDLE;
  /** Settles when the last feed that had to wait has taken everything; undefined when none waits. */
  #busy: Promise<void> | undefined;
  /** Context of the last message when it had no dataset, to name a stray dataset fragment precisely. */
  #lastNoDataset: number | undefined;
  /** What the decoder tolerated in the command being decoded (one options object, not one per command). */
  #warnings: string[] | undefined;
  readonly #decodeOptions = { onWarning: (message: string): void => void (this.#warnings ??= []).push(message) };

  constructor(handlers: AssemblerHandlers, options: AssemblerOptions = {}) {
    this.#handlers = handlers;
    this.#maxCommandLength = options.maxCommandLength ?? MAX_COMMAND_SET_LENGTH + 12;
    this.#isAccepted = options.isAcceptedContext ?? (() => true);
  }

  /** True between messages: no command or dataset is in progress. */
  get idle(): boolean {
    return this.#state.kind === 'idle';
  }

  /**
   * Feed the PDVs of one P-DATA-TF, in order. The promise settles when every fragment has been
   * handed on (sink writes awaited); the caller should not read more from the socket until then.
   * Calls made before the previous one settled are queued, never reordered.
   */
  push(pdvs: readonly PresentationDataValue[] | PresentationDataValue): Promise<void> {
    try {
      return this.feed(pdvs) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * As `push`, without a promise when none is needed: the PDVs are handed on at once, and
   * `undefined` comes back, unless a handler or a sink returns a promise (or an earlier feed is
   * still waiting on one): then the rest waits for it and the returned promise settles when all
   * is taken. A failure found at once is thrown; one found later rejects the promise. Small
   * messages into synchronous sinks thus cost no promise per PDU (issue 21: a promise chain per
   * PDU was a good part of a small instance's CPU on both sides).
   */
  feed(pdvs: readonly PresentationDataValue[] | PresentationDataValue): Promise<void> | undefined {
    const list = Array.isArray(pdvs) ? (pdvs as readonly PresentationDataValue[]) : [pdvs as PresentationDataValue];
    const busy = this.#busy;
    if (busy !== undefined) return this.#track(busy.then(() => this.#run(list, 0)));
    const r = this.#run(list, 0);
    return r === undefined ? undefined : this.#track(r);
  }

  /** Later feeds wait behind `p` (never rejected for them: they find the failed state instead). */
  #track(p: Promise<void>): Promise<void> {
    const settled = p.then(noop, noop);
    this.#busy = settled;
    void settled.then(() => {
      if (this.#busy === settled) this.#busy = undefined;
    });
    return p;
  }

  #run(list: readonly PresentationDataValue[], from: number): Promise<void> | undefined {
    for (let i = from; i < list.length; i++) {
      let r: Promise<void> | undefined;
      try {
        r = this.#one(list[i]!);
      } catch (error) {
        this.#failedBy(error);
        throw error;
      }
      if (r !== undefined) {
        const next = i + 1;
        return r.then(
          () => this.#run(list, next),
          (error: unknown) => {
            this.#failedBy(error);
            throw error;
          },
        );
      }
    }
    return undefined;
  }

  /** Whatever failed (the peer, a handler, a sink), the message stream is now unusable. */
  #failedBy(error: unknown): void {
    if (this.#state.kind === 'failed') return;
    if (this.#state.kind === 'dataset') this.#state.sink?.abort?.(error as Error);
    this.#state = { kind: 'failed', error: error as Error };
  }

  /** The association ended (released or aborted): abandon any message in progress. */
  close(reason: Error | (() => Error) = () => new DimseProtocolError(DimseProtocolViolation.Closed, 'association closed')): void {
    const s = this.#state;
    if (s.kind === 'failed') return;
    // A thunk is built only when needed (a message in progress, or a push after the close): an
    // Error's stack trace on every clean close cost ~20 us.
    let built: Error | undefined;
    const error = (): Error => (built ??= typeof reason === 'function' ? reason() : reason);
    if (s.kind === 'dataset') s.sink?.abort?.(error());
    const self = this;
    this.#state = {
      kind: 'failed',
      get error(): Error {
        const e = error();
        self.#state = { kind: 'failed', error: e };
        return e;
      },
    };
  }

  #fail(error: DimseProtocolError): never {
    const s = this.#state;
    if (s.kind === 'dataset') s.sink?.abort?.(error);
    this.#state = { kind: 'failed', error };
    throw error;
  }

  /** The presentation context ID last found accepted (0: none yet; IDs are odd). */
  #acceptedId = 0;

  #one(pdv: PresentationDataValue): Promise<void> | undefined {
    const s = this.#state;
    const id = pdv.presentationContextId;
    if (s.kind === 'failed') throw s.error;
    // Accepted contexts do not change during an association: the last one found is not asked again.
    if (id !== this.#acceptedId && !this.#isAccepted(id)) {
      this.#fail(new DimseProtocolError(DimseProtocolViolation.UnknownPresentationContext, `PDV on presentation context ${id}, which was not accepted`, id));
    }
    this.#acceptedId = id;
    switch (s.kind) {
      case 'idle':
        if (!pdv.isCommand) {
          if (this.#lastNoDataset === id) {
            this.#fail(new DimseProtocolError(DimseProtocolViolation.UnexpectedDataset, `dataset fragment on presentation context ${id} after a command with CommandDataSetType 0x0101`, id));
          }
          this.#fail(new DimseProtocolError(DimseProtocolViolation.DatasetBeforeCommand, `dataset fragment on presentation context ${id} before any command`, id));
        }
        this.#lastNoDataset = undefined;
        this.#state = { kind: 'command', pcId: id, parts: undefined, length: 0 };
        return this.#command(pdv);
      case 'command':
        if (id !== s.pcId) {
          this.#fail(new DimseProtocolError(DimseProtocolViolation.InterleavedMessage, `fragment on presentation context ${id} while the command on ${s.pcId} is incomplete`, id));
        }
        if (!pdv.isCommand) {
          this.#fail(new DimseProtocolError(DimseProtocolViolation.DatasetBeforeCommand, `dataset fragment before the last command fragment on presentation context ${id}`, id));
        }
        return this.#command(pdv);
      case 'dataset':
        if (id !== s.pcId) {
          this.#fail(new DimseProtocolError(DimseProtocolViolation.InterleavedMessage, `fragment on presentation context ${id} while the dataset on ${s.pcId} is incomplete`, id));
        }
        if (pdv.isCommand) {
          this.#fail(new DimseProtocolError(DimseProtocolViolation.MissingDataset, `${s.command.type} announced a dataset but a command fragment followed on presentation context ${id}`, id));
        }
        return this.#dataset(s, pdv);
    }
  }

  #command(pdv: PresentationDataValue): Promise<void> | undefined {
    const s = this.#state as Extract<State, { kind: 'command' }>;
    s.length += pdv.data.length;
    if (s.length > this.#maxCommandLength) {
      this.#fail(new DimseProtocolError(DimseProtocolViolation.CommandTooLarge, `command set exceeds ${this.#maxCommandLength} bytes`, s.pcId));
    }
    // The PDV data is a view of a receive buffer that may be reused once released. A command in
    // one fragment (nearly all) is decoded from that view, which is then given back; the
    // fragments of a longer one are copied and their views given back at once.
    let bytes: Uint8Array;
    if (pdv.isLast && s.parts === undefined) {
      bytes = pdv.data;
    } else {
      (s.parts ??= []).push(Uint8Array.prototype.slice.call(pdv.data));
      release(pdv.data);
      if (!pdv.isLast) return undefined;
      bytes = s.parts.length === 1 ? s.parts[0]! : Buffer.concat(s.parts, s.length);
    }
    let command: DimseCommand;
    this.#warnings = undefined;
    try {
      command = decodeCommand(bytes, this.#decodeOptions);
      // The one field that may be a view of the bytes (a status detail after the command group).
      if (bytes === pdv.data && 'statusDetail' in command && command.statusDetail !== undefined) {
        command = { ...command, statusDetail: Uint8Array.prototype.slice.call(command.statusDetail) };
      }
    } catch (cause) {
      if (bytes === pdv.data) release(pdv.data);
      this.#fail(new DimseProtocolError(DimseProtocolViolation.InvalidCommand, `invalid command set: ${(cause as Error).message}`, s.pcId, { cause }));
    }
    if (bytes === pdv.data) release(pdv.data);
    const warnings = this.#warnings as string[] | undefined;
    this.#warnings = undefined;
    if (warnings !== undefined) for (const w of warnings) this.#handlers.onWarning?.(w, command, s.pcId);
    const hasDataset = commandHasDataset(command);
    const pcId = s.pcId;
    const sink = this.#handlers.onCommand(command, pcId, hasDataset);
    if (isPromise(sink)) return sink.then((taken) => this.#sinkTaken(command, pcId, hasDataset, taken ?? undefined));
    return this.#commanded(command, pcId, hasDataset, sink ?? undefined);
  }

  /**
   * A sink that came after the association ended (closed while its handler opened it): nothing
   * will be written to it or end it, so it is told at once, not left holding a file open.
   */
  #sinkTaken(command: DimseCommand, pcId: number, hasDataset: boolean, sink: DatasetSink | undefined): Promise<void> | undefined {
    const s = this.#state;
    if (s.kind === 'failed') {
      sink?.abort?.(s.error);
      throw s.error;
    }
    return this.#commanded(command, pcId, hasDataset, sink);
  }

  #commanded(command: DimseCommand, pcId: number, hasDataset: boolean, sink: DatasetSink | undefined): Promise<void> | undefined {
    if (hasDataset) {
      this.#state = { kind: 'dataset', pcId, command, sink };
      return undefined;
    }
    // A dataset PDV right after a no-dataset command is reported as such, not as "before command".
    this.#state = IDLE;
    this.#lastNoDataset = pcId;
    return promiseOrNothing(this.#handlers.onMessage(command, pcId));
  }

  #dataset(s: Extract<State, { kind: 'dataset' }>, pdv: PresentationDataValue): Promise<void> | undefined {
    let r: void | Promise<void> = undefined;
    const sink = s.sink;
    // The fragment's reference on its receive buffer (buffer-pool.ts): passed to a sink that
    // releases, given back after the write to one that only uses it during the write, and
    // otherwise the buffer is pinned (the sink may keep the view).
    const use = sink === undefined || pdv.data.length === 0 ? 'none' : sink.fragmentUse;
    if (use === 'none') release(pdv.data);
    else if (use === undefined) pin(pdv.data);
    try {
      if (sink !== undefined && pdv.data.length > 0) r = sink.write(pdv.data);
    } catch (error) {
      if (use === 'write') release(pdv.data);
      this.#sinkFailed(error);
    }
    if (isPromise(r)) {
      return r.then(
        () => {
          if (use === 'write') release(pdv.data);
          return this.#written(s, pdv);
        },
        (error: unknown) => {
          if (use === 'write') release(pdv.data);
          return this.#sinkFailed(error);
        },
      );
    }
    if (use === 'write') release(pdv.data);
    return this.#written(s, pdv);
  }

  #written(s: Extract<State, { kind: 'dataset' }>, pdv: PresentationDataValue): Promise<void> | undefined {
    if (!pdv.isLast) return undefined;
    let r: void | Promise<void> = undefined;
    try {
      if (s.sink !== undefined) r = s.sink.end();
    } catch (error) {
      this.#sinkFailed(error);
    }
    if (isPromise(r)) return r.then(() => this.#ended(s), (error: unknown) => this.#sinkFailed(error));
    return this.#ended(s);
  }

  #ended(s: Extract<State, { kind: 'dataset' }>): Promise<void> | undefined {
    this.#state = IDLE;
    this.#lastNoDataset = undefined;
    return promiseOrNothing(this.#handlers.onMessage(s.command, s.pcId));
  }

  /** The sink failed (e.g. disk full): the message cannot complete; let the caller decide. */
  #sinkFailed(error: unknown): never {
    this.#state = { kind: 'failed', error: error as Error };
    throw error;
  }
}

const noop = (): void => undefined;

/** A sink with `fragmentUse: 'release'` gives each fragment back with this once done with it. */
export const releaseFragment: (fragment: Uint8Array) => void = release;

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined | null)?.then === 'function';
}

const promiseOrNothing = (v: void | Promise<void>): Promise<void> | undefined => (isPromise(v) ? v : undefined);

/**
 * Wait for `event` on a Writable, or fail when it closes first. `events.once` alone only rejects
 * on 'error': a Writable destroyed without an error never emits 'drain' or 'finish', and the
 * assembler (and with it the socket) would wait forever.
 */
function eventOrClose(writable: Writable, event: 'drain' | 'finish'): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      writable.off(event, onEvent).off('close', onClose).off('error', onError);
    };
    const onEvent = (): void => (cleanup(), resolve());
    const onError = (error: Error): void => (cleanup(), reject(error));
    const onClose = (): void => {
      cleanup();
      reject(writable.errored ?? new DimseProtocolError(DimseProtocolViolation.SinkClosed, `dataset sink closed before '${event}'`));
    };
    if (writable.destroyed) return onClose();
    writable.on(event, onEvent).on('close', onClose).on('error', onError);
  });
}

/** A sink over a Node Writable that honours its backpressure (waits for 'drain'). */
export function writableSink(writable: Writable): DatasetSink {
  return {
    // A promise only when the Writable asks to wait for 'drain'.
    write(fragment) {
      return writable.write(fragment) ? undefined : eventOrClose(writable, 'drain');
    },
    end() {
      writable.end();
      return writable.writableFinished ? undefined : eventOrClose(writable, 'finish');
    },
    abort(error) {
      writable.destroy(error);
    },
  };
}

/** A sink that keeps the fragments in memory (for small datasets: identifiers, N- service data). */
export function collectSink(maxLength = 16 * 1024 * 1024): DatasetSink & { readonly bytes: () => Uint8Array } {
  // The fragments are copied (each is a view of a receive buffer the reader reuses) into chunks
  // that grow with the data set (64 KiB doubling up to 8 MiB), not one small copy per fragment:
  // thousands of PDU-sized allocations per large data set stayed in the allocator's arenas as
  // resident memory long after they were freed. When the last fragment is in (the length known)
  // the chunks are joined into one buffer of that length and dropped, so a data set waiting for
  // its handler, and the one the handler works on, is held once, not twice (the copies and their
  // join were both alive until the request was done with). The join is synchronous: two copies
  // of one data set exist for that moment only.
  let chunks: Uint8Array[] = [];
  let chunk: Uint8Array | undefined;
  let used = 0;
  let length = 0;
  let whole: Uint8Array | undefined;
  const join = (): Uint8Array => {
    if (whole !== undefined) return whole;
    if (chunks.length === 0) whole = new Uint8Array(0);
    // One chunk filled to at least half: handed on as it is (no second copy).
    else if (chunks.length === 1 && used * 2 >= chunk!.length) whole = chunk!.subarray(0, used);
    else {
      const b = Buffer.allocUnsafeSlow(length);
      let at = 0;
      for (let i = 0; i < chunks.length; i++) {
        const c = i === chunks.length - 1 ? chunks[i]!.subarray(0, used) : chunks[i]!;
        b.set(c, at);
        at += c.length;
      }
      whole = new Uint8Array(b.buffer, b.byteOffset, length);
      // The chunks are this sink's own: their memory is given back now, not at some later
      // collection (external memory does not hurry V8's; 60 MiB chunks waited for it).
      for (const c of chunks) (c.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
    }
    chunks = [];
    chunk = undefined;
    return whole;
  };
  return {
    fragmentUse: 'write',
    write(fragment) {
      const n = fragment.length;
      length += n;
      // A peer-controlled size against a local bound: a typed error, so the association aborts cleanly.
      if (length > maxLength) throw new DimseProtocolError(DimseProtocolViolation.DatasetTooLarge, `dataset larger than ${maxLength} bytes`);
      if (chunk === undefined || used + n > chunk.length) {
        if (chunk !== undefined) chunks[chunks.length - 1] = chunk.subarray(0, used);
        // The first chunk fits a one-fragment data set exactly (most identifiers).
        const size = chunk === undefined ? n : Math.max(n, Math.min(Math.max(length - n, 64 * 1024), 8 * 1024 * 1024));
        chunk = new Uint8Array(size);
        chunks.push(chunk);
        used = 0;
      }
      chunk.set(fragment, used);
      used += n;
    },
    end() {
      join();
    },
    bytes: join,
  };
}
