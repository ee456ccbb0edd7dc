import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeText, encodeText, isKnownCharacterSet } from '../../src/dataset/charset.js';

/** Bytes written as in PS3.5: printable ASCII as text, `\xNN` for the rest. */
const b = (s: string): Uint8Array => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));

/**
 * Patient's Name values of the standard's examples (PS3.5 Annexes H, I, J, K) and of the
 * character set test files that go with them (single-byte sets), raw bytes → the expected text.
 */
const golden: readonly (readonly [string, string | string[], string, string])[] = [
  ['Annex H.3.1 (ISO 2022 IR 87)', ['', 'ISO 2022 IR 87'],
    'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B',
    'Yamada^Tarou=山田^太郎=やまだ^たろう'],
  ['Annex H.3.2 (ISO 2022 IR 13 + 87)', ['ISO 2022 IR 13', 'ISO 2022 IR 87'],
    '\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J',
    'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'],
  ['Annex I.2 (ISO 2022 IR 149)', ['', 'ISO 2022 IR 149'],
    'Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf',
    'Hong^Gildong=洪^吉洞=홍^길동'],
  ['Annex J.1 (ISO_IR 192)', 'ISO_IR 192', 'Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=', 'Wang^XiaoDong=王^小東='],
  ['Annex J.3 (GB18030)', 'GB18030', 'Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=', 'Wang^XiaoDong=王^小东='],
  ['Annex K.2 (ISO 2022 IR 58)', ['', 'ISO 2022 IR 58'],
    'Zhang^XiaoDong=\x1b$)A\xd5\xc5^\x1b$)A\xd0\xa1\xb6\xab=', 'Zhang^XiaoDong=张^小东='],
  ['Cyrillic (ISO_IR 144)', 'ISO_IR 144', '\xbb\xee\xdace\xdc\xd1yp\xd3', 'Люкceмбypг'],
  ['Greek (ISO_IR 126)', 'ISO_IR 126', '\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2', 'Διονυσιος'],
  ['Arabic (ISO_IR 127)', 'ISO_IR 127', '\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1', 'قباني^لنزار'],
  ['Hebrew (ISO_IR 138)', 'ISO_IR 138', '\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4', 'שרון^דבורה'],
  ['Latin-1 (ISO_IR 100)', 'ISO_IR 100', '\xc4neas^R\xfcdiger', 'Äneas^Rüdiger'],
  ['Latin-2 (ISO_IR 101)', 'ISO_IR 101', 'Wa\xb3\xeasa^Lech', 'Wałęsa^Lech'],
  ['Thai (ISO_IR 166)', 'ISO_IR 166', '\xa1\xc3\xd8\xa7\xe0\xb7\xbe', 'กรุงเทพ'],
  ['Latin-5 (ISO_IR 148)', 'ISO_IR 148', '\xdd\xfe\xf0', 'İşğ'],
  ['Latin-9 (ISO_IR 203)', 'ISO_IR 203', '\xa4', '€'],
  ['JIS X 0201 (ISO_IR 13)', 'ISO_IR 13', '\xd4\xcf\xc0\xde^\xc0\xdb\xb3', 'ﾔﾏﾀﾞ^ﾀﾛｳ'],
  ['JIS X 0212 (ISO 2022 IR 159)', ['', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], 'x\x1b$(D0!\x1b(B', 'x丂'],
];

for (const [name, charset, raw, text] of golden) {
  test(`decodeText: ${name}`, () => {
    assert.equal(decodeText(b(raw), charset, { vr: 'PN' }), text);
  });
}

test('decodeText: every defined term is known (PS3.3 C.12.1.1.2)', () => {
  const defined = ['ISO_IR 100', 'ISO_IR 101', 'ISO_IR 109', 'ISO_IR 110', 'ISO_IR 144', 'ISO_IR 127', 'ISO_IR 126', 'ISO_IR 138',
    'ISO_IR 148', 'ISO_IR 203', 'ISO_IR 13', 'ISO_IR 166', 'ISO 2022 IR 6', 'ISO 2022 IR 100', 'ISO 2022 IR 101', 'ISO 2022 IR 109',
    'ISO 2022 IR 110', 'ISO 2022 IR 144', 'ISO 2022 IR 127', 'ISO 2022 IR 126', 'ISO 2022 IR 138', 'ISO 2022 IR 148',
    'ISO 2022 IR 203', 'ISO 2022 IR 13', 'ISO 2022 IR 166', 'ISO 2022 IR 87', 'ISO 2022 IR 159', 'ISO 2022 IR 149',
    'ISO 2022 IR 58', 'ISO_IR 192', 'GB18030', 'GBK'];
  for (const term of defined) assert.ok(isKnownCharacterSet(term), term);
  assert.equal(isKnownCharacterSet('ISO_IR 999'), false);
});

test('decodeText: the state resets at PN delimiters and at value and line delimiters (PS3.5 6.1.2.5.3)', () => {
  // G1 switched to Cyrillic inside the first component; after `^` the initial Latin-1 is back.
  const cs = ['ISO 2022 IR 100', 'ISO 2022 IR 144'];
  assert.equal(decodeText(b('\x1b-L\xbb^\xe9'), cs, { vr: 'PN' }), 'Л^é');
  assert.equal(decodeText(b('\x1b-L\xbb\\\xe9'), cs, { vr: 'LO' }), 'Л\\é');
  assert.equal(decodeText(b('\x1b-L\xbb\r\n\xe9'), cs, { vr: 'LT' }), 'Л\r\né');
  // Outside PN, `^` is a character: no reset.
  assert.equal(decodeText(b('\x1b-L\xbb^\xbb'), cs, { vr: 'LO' }), 'Л^Л');
});

test('decodeText: in a 94×94 G0 set, delimiter bytes are halves of characters', () => {
  // 0x5E (`^`) and 0x3D (`=`) inside ESC $ B … ESC ( B are not delimiters.
  const raw = decodeText(b('\x1b$B$^$=\x1b(B^x'), ['', 'ISO 2022 IR 87'], { vr: 'PN' });
  assert.equal(raw, 'まそ^x');
});

test('decodeText: GBK trail bytes 0x5C are not value delimiters', () => {
  // 0x95 0x5C is one GBK character.
  const text = decodeText(b('\x95\\\\A'), 'GBK');
  assert.equal(text.split('\\').length, 2);
  assert.equal(text.endsWith('\\A'), true);
});

test('decodeText: no character set and unknown terms keep every byte', () => {
  assert.equal(decodeText(b('Doe^John'), undefined), 'Doe^John');
  assert.equal(decodeText(b('M\xfcller'), 'ISO_IR 999'), 'Müller');
  assert.equal(decodeText(b('\x80'), 'ISO_IR 100'), '\u0080');
});

test('encodeText: single-byte sets, UTF-8 and GB18030 round-trip the golden values', () => {
  for (const [, charset, raw, text] of golden) {
    if (Array.isArray(charset) || charset === 'ISO_IR 13') continue;
    assert.deepEqual(encodeText(text, charset), b(raw), `${charset}`);
  }
});

test('encodeText: ISO 2022 values come out as the standard writes them (Annexes H, I, K)', () => {
  for (const [name, charset, raw, text] of golden) {
    if (!Array.isArray(charset) || name.includes('0212')) continue;
    assert.deepEqual(encodeText(text, charset), b(raw), name);
  }
  // JIS X 0212 after JIS X 0208 in the list: 丂 is only in 0212.
  assert.deepEqual(encodeText('x丂', ['', 'ISO 2022 IR 87', 'ISO 2022 IR 159']), b('x\x1b$(D0!\x1b(B'));
  assert.deepEqual(encodeText('ﾔﾏﾀﾞ', 'ISO_IR 13'), b('\xd4\xcf\xc0\xde'));
  // A single-byte set switched in G1 and back at a delimiter; decoding gives the text back.
  const cs = ['ISO 2022 IR 100', 'ISO 2022 IR 144'];
  const bytes = encodeText('Jérôme^Иван=é', cs)!;
  assert.equal(decodeText(bytes, cs, { vr: 'PN' }), 'Jérôme^Иван=é');
  assert.equal(decodeText(bytes, cs, { vr: 'LO' }), 'Jérôme^Иван=é');
});

test('encodeText: undefined when a character has no code in the set', () => {
  assert.equal(encodeText('Иванов', 'ISO_IR 100'), undefined);
  assert.equal(encodeText('قباني', ['', 'ISO 2022 IR 149']), undefined);
  assert.equal(encodeText('山田', 'ISO_IR 13'), undefined);
  assert.deepEqual(encodeText('Doe', ['', 'ISO 2022 IR 87']), b('Doe'));
  assert.deepEqual(encodeText('Doe', ''), b('Doe'));
  assert.equal(encodeText('é', ''), undefined);
});

// A text value built a byte at a time was a rope of one V8 cons string per byte (~32 bytes of
// heap each): a hostile peer's 16 MB Patient Name took 500 MB, a 64 MiB identifier more than
// the CLI's heap. Runs are decoded whole.
test('a long text value costs about its own size in heap, in every kind of run', async () => {
  const { decodeText: decode } = await import('../../src/dataset/charset.js');
  const n = 8 << 20;
  for (const [label, byte, charset] of [['ASCII', 0x41, undefined], ['ISO 8859-1 upper half', 0xe9, 'ISO_IR 100'], ['no G1 (U+FFFD)', 0xe9, '']] as const) {
    const bytes = new Uint8Array(n).fill(byte);
    const before = process.memoryUsage().heapUsed;
    const text = decode(bytes, charset, { vr: 'PN' });
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(text.length, n, label);
    assert.equal(text.charCodeAt(n - 1), byte === 0x41 ? 0x41 : byte === 0xe9 && charset === 'ISO_IR 100' ? 0xe9 : 0xfffd, label);
    assert.ok(grown < 96 * 1024 * 1024, `${label}: ${(grown / 1048576).toFixed(0)} MiB of heap for an 8 MiB value`);
  }
});
