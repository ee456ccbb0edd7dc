/**
 * Fixture notation: hex digits, whitespace ignored, `#` starts a comment to the end of the line,
 * and "double-quoted text" stands for its ASCII bytes. Lets golden fixtures be written (and
 * read) field by field.
 */
export function hexBytes(src: string): Uint8Array {
  const out: number[] = [];
  for (const rawLine of src.split('\n')) {
    let line = rawLine;
    // Comments start at a '#' outside quotes.
    let inQuote = false;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') inQuote = !inQuote;
      else if (line[i] === '#' && !inQuote) {
        line = line.slice(0, i);
        break;
      }
    }
    const parts = line.split('"');
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        for (const ch of part) out.push(ch.charCodeAt(0));
        return;
      }
      const digits = part.replace(/\s+/g, '');
      if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`bad hex in fixture line: ${rawLine}`);
      for (let j = 0; j < digits.length; j += 2) out.push(parseInt(digits.slice(j, j + 2), 16));
    });
  }
  return Uint8Array.from(out);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Big-endian hex of `n` in `bytes` bytes, for test-side length computation. */
export function be(n: number, bytes: 2 | 4): string {
  return n.toString(16).padStart(bytes * 2, '0');
}
