/**
 * Control characters in text a peer may have written, as visible escapes: the one form for the
 * one-line error (errors.ts) and `serve`'s text log (serve-log.ts). Messages quote what peers
 * sent (AE titles, user names, error comments): an ESC sequence must not drive the terminal that
 * shows them, and a line break or U+2028/U+2029 must not start a line a reader would take for
 * another event. The form is JavaScript's and JSON's own: `\n`, `\r`, `\t`, else `\u` and four
 * hex digits, which spells every character escaped here (`\x` and two digits cannot spell
 * U+2028). Imports nothing, so the error path loads no logger.
 */

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** C0, DEL, C1, and the Unicode line and paragraph separators. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
