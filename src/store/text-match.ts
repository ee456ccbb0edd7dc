/**
 * Text matching for C-FIND on Unicode values (the index holds text decoded from each instance's
 * Specific Character Set, the identifier is decoded from the query's): wildcard matching per
 * character (PS3.4 C.2.2.2.4), case folding applied the same way to both sides, and Person Name
 * component groups (PS3.4 C.2.2.2.1, PS3.5 6.2.1.1). Pure; registered as SQLite functions by query.ts.
 */

/**
 * Case folding for case-insensitive matching: NFC, then Unicode's locale-independent lower case;
 * final sigma is folded to σ, because lower-casing chooses ς or σ by position and a wildcard
 * key (`ΟΔΥΣ*`) puts the letter in another position than the stored name.
 */
export function foldCase(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/ς/g, 'σ');
}

/**
 * `*` any run of characters, `?` exactly one character (a code point, not a byte or UTF-16 unit).
 * Not a regular expression: a backtracking engine takes time exponential in the number of `*`
 * (`**…*a` against a name ran for minutes, and the index runs in the server's one thread), so
 * one pass with a single resume point, as glob matchers do: after a mismatch only the last `*`
 * is widened, each widening moving on by one character, at most value × pattern steps; none when
 * the pattern needs more characters than the value has.
 */
function wildcardMatches(value: string, key: string): boolean {
  const { p, needed, prefix } = patternOf(key);
  // The usual key, `DOE*`: no code point to count.
  if (prefix !== undefined) return value.startsWith(prefix);
  const v = codePoints(value);
  if (needed > v.length) return false;
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (i < v.length) {
    const c = j < p.length ? p[j]! : -1;
    if (c === STAR) {
      star = j++;
      resume = i;
    } else if (c !== -1 && (c === ANY || c === v[i])) {
      i++;
      j++;
    } else if (star >= 0) {
      j = star + 1;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (j < p.length && p[j] === STAR) j++;
  return j === p.length;
}

const STAR = 0x2a;
const ANY = 0x3f;

/** A key's code points and how many characters a value needs to match it (one key is matched against every row). */
interface Pattern {
  readonly p: readonly number[];
  readonly needed: number;
  /** The text before the one `*` that ends the key, when that is its only wildcard. */
  readonly prefix: string | undefined;
}
const patterns = new Map<string, Pattern>();
let patternsLength = 0;
function patternOf(key: string): Pattern {
  let pattern = patterns.get(key);
  if (pattern === undefined) {
    const p = codePoints(key);
    let needed = 0;
    for (const c of p) if (c !== STAR) needed++;
    const wildcards = p.filter((c) => c === STAR || c === ANY).length;
    pattern = { p, needed, prefix: wildcards === 1 && key.endsWith('*') ? key.slice(0, -1) : undefined };
    // At most 256 keys and 64 Ki code points in all (256 of an identifier's 64 KiB would hold
    // 130 MB); a longer key is kept alone, as it is matched against every row of its query.
    if (patterns.size >= 256 || patternsLength + p.length > 65_536) {
      patterns.clear();
      patternsLength = 0;
    }
    patterns.set(key, pattern);
    patternsLength += p.length;
  }
  return pattern;
}

/** The code points of `text` (a `?` matches one, whatever its length in UTF-16 units). */
function codePoints(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i)!;
    out.push(c);
    if (c > 0xffff) i++;
  }
  return out;
}

/** Single value or wildcard matching of one value (no `\`) against one key value. */
export function textMatches(value: string, key: string, caseInsensitive: boolean): boolean {
  const v = caseInsensitive ? foldCase(value) : value.normalize('NFC');
  const k = caseInsensitive ? foldCase(key) : key.normalize('NFC');
  return /[*?]/.test(k) ? wildcardMatches(v, k) : v === k;
}

/**
 * Person Name matching. A key without `=` is matched against each component group of the stored
 * name (alphabetic, ideographic, phonetic) and matches when one does: a key typed in kanji or
 * hangul finds the name by its ideographic or phonetic group. A key with `=` matches group by
 * group; a group the key leaves empty matches anything. A stored value with several names (`\`)
 * matches when one of them does.
 */
export function personNameMatches(stored: string, key: string, caseInsensitive: boolean): boolean {
  const keyGroups = key.split('=');
  for (const name of stored.split('\\')) {
    const groups = name.split('=');
    if (keyGroups.length === 1) {
      if (groups.some((g, i) => (i === 0 || g !== '') && textMatches(g, key, caseInsensitive))) return true;
    } else if (keyGroups.every((k, i) => k === '' || textMatches(groups[i] ?? '', k, caseInsensitive))) {
      return true;
    }
  }
  return false;
}

/**
 * TM normalized for comparison (PS3.5 6.2 TM: HHMMSS.FFFFFF, components may be omitted from
 * the right): missing digits filled with `fill` ('0' for a lower bound, '9' for an upper).
 * PostgreSQL's `dicom_tm` (postgres-schema.ts) computes the same with '0'.
 */
export function normalizeTime(value: string, fill: '0' | '9'): string {
  const v = value.trim().replace(/:/g, '');
  if (v === '') return '';
  const [whole = '', fraction = ''] = v.split('.');
  return `${whole.padEnd(6, fill).slice(0, 6)}.${fraction.padEnd(6, fill).slice(0, 6)}`;
}
