/**
 * Specific Character Set (0008,0005): text bytes ⇄ Unicode for every defined term of PS3.3
 * C.12.1.1.2, with the code extension rules of PS3.5 6.1.2.5 (ISO/IEC 2022 escape sequences).
 *
 * Every character comes from a maintained decoder: the WHATWG `TextDecoder` of Node's ICU
 * (iso-8859-x, windows-874 for TIS 620, shift_jis for JIS X 0201 katakana, euc-jp for JIS X 0208
 * and JIS X 0212, euc-kr for KS X 1001, gbk/gb18030 for GB 2312, GBK and GB 18030). This module
 * only does the ISO 2022 structure: which set is in G0 and G1, and where the state resets.
 * Encoding tables are the decoders' inverses, built on first use from the decoders themselves.
 * Pure: no I/O.
 */

/** How the bytes of one coded character set reach a decoder. */
type SetKind =
  | { readonly kind: 'ascii' }
  /** 96-character set in G1 (ISO 8859-x upper half, TIS 620): decoder for the high byte. */
  | { readonly kind: 'sb'; readonly label: string }
  /** JIS X 0201: romaji in G0 (read as ASCII, see below), katakana in G1. */
  | { readonly kind: 'jisx0201' }
  /** 94×94 set: bytes as 7-bit pairs in G0 or 8-bit pairs in G1, read through an EUC decoder. */
  | { readonly kind: 'mb'; readonly label: string; readonly prefix?: number };

interface Term {
  /** Which graphic set the term designates, and into which of G0/G1. */
  readonly g0?: SetKind;
  readonly g1?: SetKind;
  /** ISO 2022 escape sequence designating it (PS3.3 Tables C.12-3, C.12-4); absent: no extensions. */
  readonly escape?: string;
  readonly extensions: boolean;
}

const ascii: SetKind = { kind: 'ascii' };
const sb = (label: string): SetKind => ({ kind: 'sb', label });
const jisx0201: SetKind = { kind: 'jisx0201' };

/** Single-byte sets: term suffix → decoder label and final byte of ESC 2/13 F (G1, 96-set). */
const singleByte: Readonly<Record<string, readonly [string, string]>> = {
  '100': ['iso-8859-1', 'A'],
  '101': ['iso-8859-2', 'B'],
  '109': ['iso-8859-3', 'C'],
  '110': ['iso-8859-4', 'D'],
  '144': ['iso-8859-5', 'L'],
  '127': ['iso-8859-6', 'G'],
  '126': ['iso-8859-7', 'F'],
  '138': ['iso-8859-8', 'H'],
  '148': ['iso-8859-9', 'M'],
  '203': ['iso-8859-15', 'b'],
  '166': ['windows-874', 'T'],
};

function buildTerms(): Map<string, Term> {
  const terms = new Map<string, Term>();
  terms.set('', { g0: ascii, extensions: false });
  terms.set('ISO_IR 6', { g0: ascii, extensions: false });
  terms.set('ISO 2022 IR 6', { g0: ascii, escape: '\x1b(B', extensions: true });
  for (const [ir, [label, final]] of Object.entries(singleByte)) {
    terms.set(`ISO_IR ${ir}`, { g0: ascii, g1: sb(label), extensions: false });
    terms.set(`ISO 2022 IR ${ir}`, { g0: ascii, g1: sb(label), escape: `\x1b-${final}`, extensions: true });
  }
  terms.set('ISO_IR 13', { g0: jisx0201, g1: jisx0201, extensions: false });
  // ISO 2022 IR 13 designates two sets: katakana into G1 (ESC ) I), romaji into G0 (ESC ( J).
  terms.set('ISO 2022 IR 13', { g0: jisx0201, g1: jisx0201, escape: '\x1b)I', extensions: true });
  terms.set('ISO 2022 IR 87', { g0: { kind: 'mb', label: 'euc-jp' }, escape: '\x1b$B', extensions: true });
  terms.set('ISO 2022 IR 159', { g0: { kind: 'mb', label: 'euc-jp', prefix: 0x8f }, escape: '\x1b$(D', extensions: true });
  terms.set('ISO 2022 IR 149', { g1: { kind: 'mb', label: 'euc-kr' }, escape: '\x1b$)C', extensions: true });
  terms.set('ISO 2022 IR 58', { g1: { kind: 'mb', label: 'gbk' }, escape: '\x1b$)A', extensions: true });
  return terms;
}
const terms = buildTerms();

/** Escape sequence → the designation it makes (PS3.3 C.12.1.1.2, Tables C.12-3/C.12-4). */
const escapes = new Map<string, { readonly g: 0 | 1; readonly set: SetKind }>([
  ['\x1b(B', { g: 0, set: ascii }],
  ['\x1b(J', { g: 0, set: jisx0201 }],
  ['\x1b)I', { g: 1, set: jisx0201 }],
  ['\x1b$B', { g: 0, set: { kind: 'mb', label: 'euc-jp' } }],
  ['\x1b$@', { g: 0, set: { kind: 'mb', label: 'euc-jp' } }],
  ['\x1b$(D', { g: 0, set: { kind: 'mb', label: 'euc-jp', prefix: 0x8f } }],
  ['\x1b$)C', { g: 1, set: { kind: 'mb', label: 'euc-kr' } }],
  ['\x1b$)A', { g: 1, set: { kind: 'mb', label: 'gbk' } }],
  ...Object.values(singleByte).map(([label, final]) => [`\x1b-${final}`, { g: 1 as const, set: sb(label) }] as const),
]);

/** Sets with no code extensions that are whole encodings of their own (PS3.3 Table C.12-5). */
const wholeEncodings: Readonly<Record<string, string>> = { 'ISO_IR 192': 'utf-8', GB18030: 'gb18030', GBK: 'gbk' };

/** The defined terms this module knows (PS3.3 C.12.1.1.2). */
export function isKnownCharacterSet(term: string): boolean {
  const t = term.trim();
  return terms.has(t) || t in wholeEncodings;
}

/** The values of (0008,0005) as a list: `'ISO 2022 IR 6\\ISO 2022 IR 87'` or an array. */
export function characterSetTerms(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [''];
  const list = (typeof value === 'string' ? value.split('\\') : [...value]).map((s) => s.trim());
  return list.length === 0 ? [''] : list;
}

/**
 * Whether text in `charset` (a (0008,0005) value) starts with ASCII in G0: every term but the
 * 94×94 sets designated into G0 at the start (ISO 2022 IR 87 and IR 159). A value of 7-bit bytes
 * without ESC is then its bytes read as Latin-1, whatever the set (decodeText gives the same).
 */
export function startsAscii(charset: string): boolean {
  const cut = charset.indexOf('\\');
  const first = (cut === -1 ? charset : charset.slice(0, cut)).trim();
  return terms.get(first)?.g0?.kind !== 'mb';
}

type Decoder = { decode(bytes: Uint8Array): string };
const decoders = new Map<string, Decoder>();
function decoder(label: string): Decoder {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      // A Node built without full ICU (official builds have it) lacks the legacy decoders: the
      // characters become U+FFFD rather than the store or the query failing on a name.
      d = { decode: (bytes: Uint8Array): string => '\ufffd'.repeat(bytes.length) };
    }
    decoders.set(label, d);
  }
  return d;
}

/** The 128 characters of bytes 0x80-0xFF of a single-byte set, from its decoder. */
const upperHalves = new Map<string, string[]>();
function upperHalf(label: string): string[] {
  let half = upperHalves.get(label);
  if (half === undefined) {
    const d = decoder(label);
    half = [];
    for (let b = 0x80; b <= 0xff; b++) {
      // 0x80-0x9F are C1 controls in ISO 8859 and TIS 620; the WHATWG labels map some of them
      // to windows-125x characters, which no DICOM set has.
      half.push(b < 0xa0 ? String.fromCharCode(b) : d.decode(Uint8Array.of(b)));
    }
    upperHalves.set(label, half);
  }
  return half;
}

const LF = 0x0a, FF = 0x0c, CR = 0x0d, TAB = 0x09, ESC = 0x1b, BACKSLASH = 0x5c, CARET = 0x5e, EQUALS = 0x3d;

export interface DecodeOptions {
  /** The VR of the value: PN resets the code state at `^` and `=` too (PS3.5 6.1.2.5.3). */
  readonly vr?: string;
}

/**
 * Decode a text value (all its values, `\` included) given the (0008,0005) terms. Unknown terms
 * are read as the default repertoire with ISO 8859-1 for bytes above 0x7F, so nothing is lost;
 * invalid sequences become U+FFFD.
 */
export function decodeText(bytes: Uint8Array, charset: string | readonly string[] | undefined, options: DecodeOptions = {}): string {
  const list = characterSetTerms(charset);
  const first = list[0]!;
  const whole = wholeEncodings[first];
  if (whole !== undefined) return decoder(whole).decode(bytes);
  const initial = terms.get(first) ?? (first === '' ? terms.get('')! : { g0: ascii, g1: sb('iso-8859-1'), extensions: false });
  const extensions = list.length > 1 || initial.extensions;
  const pn = options.vr === 'PN';
  let g0: SetKind = initial.g0 ?? ascii;
  let g1: SetKind | undefined = initial.g1;
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === ESC && extensions) {
      const esc = matchEscape(bytes, i);
      // Any designation this module knows is honoured, listed in (0008,0005) or not: writers
      // that forget a term are common, and the escape itself says which set follows.
      if (esc !== undefined) {
        const d = escapes.get(esc)!;
        if (d.g === 0) g0 = d.set;
        else g1 = d.set;
        i += esc.length;
        continue;
      }
    }
    if (b < 0x80) {
      if (g0.kind === 'mb') {
        // A 94×94 set in G0: the bytes go in pairs, delimiters included (so none is seen here).
        const end = runEnd(bytes, i, (x) => x >= 0x21 && x < 0x7f);
        const run = bytes.subarray(i, end - ((end - i) % 2));
        if (run.length > 0) {
          out += decodeMultiByte(g0, run);
          i += run.length;
          continue;
        }
      }
      // A run of plain G0 bytes decoded whole: a byte at a time, the value was a rope of one
      // cons string per byte (~32 bytes of heap each, 500 MB for a 16 MB Patient Name).
      // (A 94×94 G0 takes its pairs above; what it leaves goes a byte at a time.)
      const end = g0.kind === 'mb' ? i : runEnd(bytes, i, (x) => x < 0x80 && !(x === ESC && extensions) && !isDelimiter(x, pn));
      if (end > i) {
        out += Buffer.from(bytes.buffer, bytes.byteOffset + i, end - i).toString('latin1');
        i = end;
        continue;
      }
      if (isDelimiter(b, pn)) {
        // Delimiters end the code state: back to the initial designations (PS3.5 6.1.2.5.3).
        g0 = initial.g0 ?? ascii;
        g1 = initial.g1;
      }
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    if (g1 === undefined) {
      const end = runEnd(bytes, i, (x) => x >= 0x80);
      out += '\ufffd'.repeat(end - i);
      i = end;
    } else if (g1.kind === 'mb') {
      const end = runEnd(bytes, i, (x) => x >= 0x80);
      const run = bytes.subarray(i, end);
      out += decodeMultiByte(g1, run);
      i = end;
    } else if (g1.kind === 'jisx0201') {
      out += b >= 0xa1 && b <= 0xdf ? decoder('shift_jis').decode(Uint8Array.of(b)) : '\ufffd';
      i++;
    } else if (g1.kind === 'sb') {
      const end = runEnd(bytes, i, (x) => x >= 0x80);
      out += mapRun(bytes, i, end, upperHalf(g1.label));
      i = end;
    } else {
      out += '\ufffd';
      i++;
    }
  }
  return out;
}

/** The bytes that end the code state (PS3.5 6.1.2.5.3): LF, CR, TAB, FF, backslash; in PN also ^ and =. */
function isDelimiter(b: number, pn: boolean): boolean {
  return b === LF || b === CR || b === TAB || b === FF || b === BACKSLASH || (pn && (b === CARET || b === EQUALS));
}

/** Upper-half bytes through `table`, as flat strings of up to 64 Ki characters each (not a rope). */
function mapRun(bytes: Uint8Array, start: number, end: number, table: readonly string[]): string {
  let out = '';
  const chars: string[] = [];
  for (let k = start; k < end; k += 0x10000) {
    const stop = Math.min(k + 0x10000, end);
    chars.length = 0;
    for (let j = k; j < stop; j++) chars.push(table[bytes[j]! - 0x80]!);
    out += chars.join('');
  }
  return out;
}

function runEnd(bytes: Uint8Array, start: number, ok: (b: number) => boolean): number {
  let end = start;
  while (end < bytes.length && ok(bytes[end]!)) end++;
  return end;
}

function matchEscape(bytes: Uint8Array, at: number): string | undefined {
  for (const length of [3, 4]) {
    if (at + length > bytes.length) break;
    const s = String.fromCharCode(...bytes.subarray(at, at + length));
    if (escapes.has(s)) return s;
  }
  return undefined;
}

/** A run of 94×94 characters (7- or 8-bit pairs) through the EUC decoder of its set. */
function decodeMultiByte(set: SetKind & { kind: 'mb' }, run: Uint8Array): string {
  const step = set.prefix === undefined ? 2 : 3;
  const pairs = Math.floor(run.length / 2);
  const euc = new Uint8Array(pairs * step);
  for (let p = 0, o = 0; p < pairs; p++) {
    if (set.prefix !== undefined) euc[o++] = set.prefix;
    euc[o++] = run[2 * p]! | 0x80;
    euc[o++] = run[2 * p + 1]! | 0x80;
  }
  const text = decoder(set.label).decode(euc);
  return run.length % 2 === 1 ? `${text}\ufffd` : text;
}

// ---------------------------------------------------------------------------------------------
// Encoding (responses: C-FIND matches are encoded in the query's character set when they can be)

/** Character → code tables built from the decoders on first use, one per set (see the inverse* functions). */
const inverses = new Map<string, Map<string, number>>();
function inverseTable(key: string, build: (inv: Map<string, number>) => void): Map<string, number> {
  let inv = inverses.get(key);
  if (inv === undefined) {
    inv = new Map();
    build(inv);
    inverses.set(key, inv);
  }
  return inv;
}

/** Inverse of a single-byte set's upper half: character → byte. */
function inverseUpperHalf(label: string): Map<string, number> {
  return inverseTable(`sb:${label}`, (inv) => {
    const half = upperHalf(label);
    for (let b = 0xa0; b <= 0xff; b++) if (half[b - 0x80] !== '\ufffd') inv.set(half[b - 0x80]!, b);
  });
}

/** Inverse of GBK's two-byte area (GB 2312 is inside it), from the gbk decoder. */
function inverseGbk(): Map<string, number> {
  return inverseTable('gbk', (inv) => {
    const d = decoder('gbk');
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        const c = d.decode(Uint8Array.of(lead, trail));
        if (c.length >= 1 && c !== '\ufffd' && !inv.has(c)) inv.set(c, (lead << 8) | trail);
      }
    }
  });
}

/** Terms `encodeText` can write: every known term, alone or as an ISO 2022 list of known terms. */
export function canEncodeWith(charset: string | readonly string[] | undefined): boolean {
  const list = characterSetTerms(charset);
  if (list.length === 1) return terms.has(list[0]!) || list[0]! in wholeEncodings;
  return list.every((t) => terms.get(t)?.extensions === true || t === '');
}

/**
 * Encode `text` in the given Specific Character Set: the default repertoire, a single-byte set,
 * ISO_IR 192, GBK, GB18030 (its GBK part), or a list of terms with ISO 2022 code extensions.
 * Undefined when a character has no code there (the caller answers in ISO_IR 192 instead).
 */
export function encodeText(text: string, charset: string | readonly string[] | undefined): Uint8Array | undefined {
  const list = characterSetTerms(charset);
  if (!canEncodeWith(list)) return undefined;
  // ASCII is written as itself in every set (in ISO 2022 lists too: G0 starts as ASCII or romaji).
  if (/^[\x00-\x7f]*$/.test(text)) return Uint8Array.from(text, (c) => c.charCodeAt(0));
  const term = list[0]!;
  if (list.length > 1 || terms.get(term)?.extensions === true) return encodeIso2022(text.normalize('NFC'), list);
  if (term === 'ISO_IR 192') return new TextEncoder().encode(text);
  if (term === 'ISO_IR 13') return encodeIso2022(text.normalize('NFC'), ['ISO_IR 13']);
  const mb = term === 'GBK' || term === 'GB18030';
  const g1 = terms.get(term)?.g1;
  const inv = mb ? inverseGbk() : g1?.kind === 'sb' ? inverseUpperHalf(g1.label) : undefined;
  const out: number[] = [];
  for (const c of text.normalize('NFC')) {
    const code = c.codePointAt(0)!;
    if (code < 0x80) {
      out.push(code);
      continue;
    }
    const b = inv?.get(c);
    if (b === undefined) return undefined;
    if (b > 0xff) out.push(b >> 8, b & 0xff);
    else out.push(b);
  }
  return Uint8Array.from(out);
}

/** Inverse of a 94×94 set (JIS X 0208/0212, KS X 1001, GB 2312), from its EUC decoder: character → row/cell bytes | 0x8080. */
function inverseMultiByte(set: SetKind & { kind: 'mb' }): Map<string, number> {
  return inverseTable(`mb:${set.label}/${set.prefix ?? ''}`, (inv) => {
    const d = decoder(set.label);
    for (let row = 0xa1; row <= 0xfe; row++) {
      for (let cell = 0xa1; cell <= 0xfe; cell++) {
        const c = d.decode(set.prefix === undefined ? Uint8Array.of(row, cell) : Uint8Array.of(set.prefix, row, cell));
        if (c.length >= 1 && !c.includes('\ufffd') && [...c].length === 1 && !inv.has(c)) inv.set(c, (row << 8) | cell);
      }
    }
  });
}

/** JIS X 0201 katakana (G1): character → byte, from the shift_jis decoder. */
function inverseKatakana(): Map<string, number> {
  return inverseTable('katakana', (inv) => {
    const d = decoder('shift_jis');
    for (let b = 0xa1; b <= 0xdf; b++) inv.set(d.decode(Uint8Array.of(b)), b);
  });
}

const escapeOf = (set: SetKind, g: 0 | 1): string => {
  for (const [esc, d] of escapes) if (d.g === g && sameSet(d.set, set)) return esc;
  throw new Error('no escape sequence for a set');
};
function sameSet(a: SetKind | undefined, b: SetKind | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.kind === b.kind && (a as { label?: string }).label === (b as { label?: string }).label && (a as { prefix?: number }).prefix === (b as { prefix?: number }).prefix;
}

/**
 * ISO 2022 encoding (PS3.5 6.1.2.5): each character from the first listed set that has it, a
 * designation written when G0 or G1 must change. Before every delimiter (`\`, `^`, `=`, CR, LF,
 * TAB, FF) and at the end, G0 goes back to the initial set (PS3.5 6.1.2.5.3); G1 is designated
 * again after a delimiter unless it already holds the initial set (the decoders of PN reset it),
 * which gives the standard's own examples byte for byte (Annexes H, I, K).
 */
function encodeIso2022(text: string, list: readonly string[]): Uint8Array | undefined {
  const initial = terms.get(list[0]!) ?? terms.get('')!;
  const initialG0 = initial.g0 ?? ascii;
  const extensions = list.length > 1 || initial.extensions;
  const candidates = list.map((t) => terms.get(t)).filter((t): t is Term => t !== undefined);
  let g0: SetKind = initialG0;
  let g1: SetKind | undefined = initial.g1;
  const out: number[] = [];
  const designate = (set: SetKind, g: 0 | 1): boolean => {
    if (sameSet(g === 0 ? g0 : g1, set)) return true;
    if (!extensions) return false;
    for (const ch of escapeOf(set, g)) out.push(ch.charCodeAt(0));
    if (g === 0) g0 = set;
    else g1 = set;
    return true;
  };
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (code < 0x80) {
      const delimiter = c === '\\' || c === '^' || c === '=' || c === '\r' || c === '\n' || c === '\t' || c === '\f';
      if (g0.kind === 'mb' || (delimiter && !sameSet(g0, initialG0))) designate(initialG0, 0);
      out.push(code);
      if (delimiter && !sameSet(g1, initial.g1)) g1 = initial.g1 === undefined ? undefined : { kind: 'ascii' }; // unknown: designate again
      continue;
    }
    let done = false;
    for (const t of candidates) {
      for (const [set, g] of [[t.g1, 1], [t.g0, 0]] as const) {
        if (set === undefined || set.kind === 'ascii') continue;
        if (set.kind === 'sb') {
          const b = inverseUpperHalf(set.label).get(c);
          if (b !== undefined && designate(set, 1)) {
            out.push(b);
            done = true;
          }
        } else if (set.kind === 'jisx0201') {
          const b = g === 1 ? inverseKatakana().get(c) : undefined;
          if (b !== undefined && designate(set, 1)) {
            out.push(b);
            done = true;
          }
        } else {
          const rc = inverseMultiByte(set).get(c);
          if (rc !== undefined && designate(set, g)) {
            out.push(g === 0 ? (rc >> 8) & 0x7f : rc >> 8, g === 0 ? rc & 0x7f : rc & 0xff);
            done = true;
          }
        }
        if (done) break;
      }
      if (done) break;
    }
    if (!done) return undefined;
  }
  if (!sameSet(g0, initialG0)) designate(initialG0, 0);
  return Uint8Array.from(out);
}
