/**
 * Error Comment (0000,0902) values as they go on the wire. Every response an association sends
 * passes here, so no path of the server (an exception message naming a file, a store's root)
 * reaches a peer, and the value always fits its VR (LO: 64 characters of the default repertoire,
 * no backslash) instead of failing the response's encoding.
 */
import { cutAtWord } from '../internal/cut-at-word.js';

/**
 * Paths as they appear in Node's error messages: absolute (POSIX, Windows, file URLs) and
 * relative ones (a store root given as `./data`), i.e. any word with a slash or backslash and a
 * letter in it. A fraction such as 1/2 stays.
 */
const PATH = /[^\s'"`,;()]*[\\/][^\s'"`,;()]*/g;
const hidePath = (word: string): string => (/[A-Za-z_~]/.test(word) || word === '/' || word === '\\' ? '<path>' : word);

export function safeErrorComment(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const clean = cutAtWord(text
    .replace(PATH, hidePath)
    .replace(/[^\x20-\x5b\x5d-\x7e]/g, '?')
    .trim());
  return clean.length === 0 ? undefined : clean;
}

