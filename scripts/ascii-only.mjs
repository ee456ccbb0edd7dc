/**
 * The CLI bundle's files made ASCII-only (scripts/bundle-cli.mjs). esbuild escapes every
 * non-ASCII character of the code (its default charset), but the comments it keeps ("…", "→")
 * stay as written, and one such character made Node decode a whole 0.6 MB file as UTF-8 into a
 * two-byte string for V8 to scan: ~1 ms of every command's start against ~0.3 ms for ASCII.
 */

/**
 * Every character outside ASCII as a `\uXXXX` escape (two for one beyond the BMP). In a comment
 * that is text; in a string, template or regular expression literal (esbuild leaves none there)
 * it means the same character. Lines keep their number, so the source maps hold.
 */
export function asciiOnly(code) {
  return code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
