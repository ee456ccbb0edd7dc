/**
 * The data set of a file being sent, read in chunks into two buffers used in turn. A fresh
 * buffer per chunk (what a file ReadStream does) is memory the kernel must map and clear before
 * it copies the file in: reading 52 MB that way took twice the CPU of reading it into a buffer
 * used before, and the sending process is the bottleneck of a large transfer.
 *
 * A buffer is reused only when nothing can still refer to it, as `mayReuse` tells at the moment
 * of the read: its chunk was handed on two chunks ago (the fragmenter holds back the last piece
 * of a chunk until it sees the next one) and the transport has nothing queued, so every byte
 * handed to it has been copied out. Otherwise a fresh buffer is taken, as before.
 */
import { close as closeFd, closeSync, fstatSync, openSync, read as readFd, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export interface FileChunks extends AsyncIterable<Uint8Array> {
  /** Stop reading and close the file (a send that failed, or never started). */
  destroy(): void;
}

/**
 * Bytes `start`… of the open `file` (a FileHandle, or a descriptor whose head was read with
 * synchronous calls), in chunks of `chunkSize` (the last one shorter). The file is closed at the
 * end, when iteration stops, or on `destroy`, whichever comes first.
 */
export function fileChunks(file: FileHandle | number, start: number, chunkSize: number, mayReuse: () => boolean): FileChunks {
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= typeof file === 'number' ? new Promise<void>((resolve) => closeFd(file, () => resolve())) : file.close().catch(() => undefined));
  const read = (buffer: Buffer, length: number, position: number): Promise<number> =>
    typeof file === 'number'
      ? new Promise((resolve, reject) => readFd(file, buffer, 0, length, position, (error, n) => (error === null ? resolve(n) : reject(error))))
      : file.read(buffer, 0, length, position).then((r) => r.bytesRead);
  let started = false;
  let destroyed = false;
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    started = true;
    try {
      const buffers = new TwoBuffers();
      let position = start;
      while (!destroyed) {
        const buffer = buffers.next(chunkSize, mayReuse);
        const bytesRead = await read(buffer, chunkSize, position);
        if (bytesRead === 0 || destroyed) return;
        position += bytesRead;
        yield bytesRead === chunkSize ? buffer : buffer.subarray(0, bytesRead);
      }
    } finally {
      await close();
    }
  }
  const iterator = chunks();
  return {
    [Symbol.asyncIterator]: () => iterator,
    destroy(): void {
      destroyed = true;
      // A generator never started does not run its finally on return(): close here.
      if (!started) void close();
      iterator.return(undefined).catch(() => undefined);
    },
  };
}

/**
 * Small files read whole, into two buffers used in turn (grown to the largest file seen) instead
 * of a fresh buffer per file: 100 KB of new external memory per instance made V8 mark the old
 * generation every few hundred instances. The same rule as above decides when a buffer may be
 * filled again: `mayReuse` at the moment of the read (its instance went out two reads ago).
 */
export class WholeFiles {
  readonly #buffers = new TwoBuffers();

  /** The bytes of the file at `path`. Throws what the file system throws. */
  read(path: string, mayReuse: boolean): Buffer {
    const fd = openSync(path, 'r');
    try {
      return this.readFd(fd, fstatSync(fd).size, mayReuse);
    } finally {
      closeSync(fd);
    }
  }

  /** The first `size` bytes of the open file `fd` (fewer if it is shorter now). */
  readFd(fd: number, size: number, mayReuse: boolean): Buffer {
    const buffer = this.#buffers.next(Math.max(size, 128 * 1024), () => mayReuse);
    let n = 0;
    while (n < size) {
      const got = readSync(fd, buffer, n, size - n, n);
      if (got === 0) break; // shrank since fstat: what is there
      n += got;
    }
    return buffer.subarray(0, n);
  }
}

/**
 * Two buffers used in turn: `next` gives back the one it gave two calls ago when that one is
 * large enough and `mayReuse()` says nothing refers to it any more (asked only then), else a
 * fresh one of `size` bytes.
 */
class TwoBuffers {
  readonly #used: (Buffer | undefined)[] = [undefined, undefined];
  #turn = 0;

  next(size: number, mayReuse: () => boolean): Buffer {
    const earlier = this.#used[this.#turn];
    const buffer = earlier !== undefined && earlier.length >= size && mayReuse() ? earlier : Buffer.allocUnsafeSlow(size);
    this.#used[this.#turn] = buffer;
    this.#turn ^= 1;
    return buffer;
  }
}
