import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { indexBackends } from '../helpers/index-backends.js';
import { FileStore } from '../../src/store/file-store.js';
import { findMatches, type NaturalizedDataset, type FindOptions } from '../../src/store/query.js';
import { encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';

/** Raw bytes as in PS3.5's examples: `\xNN` for bytes, text for ASCII. */
const raw = (s: string): Buffer => Buffer.from(s, 'latin1');

/** [PatientID, Specific Character Set, Patient's Name bytes] — the bytes as each character set writes them. */
const patients: readonly (readonly [string, string, Buffer])[] = [
  ['RU', 'ISO_IR 144', raw('\xb8\xd2\xd0\xdd\xde\xd2^\xb8\xd2\xd0\xdd')], // Иванов^Иван
  ['DE', 'ISO_IR 100', raw('M\xdcLLER^HANS')],
  ['DE2', 'ISO_IR 192', Buffer.from('Müller^Eva', 'utf8')],
  ['JP', '\\ISO 2022 IR 87', raw('Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B')],
  ['KR', '\\ISO 2022 IR 149', raw('Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf')],
  ['CN', 'GB18030', raw('Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=')],
  ['GR', 'ISO_IR 126', raw('\xcf\xc4\xd5\xd3\xd3\xc5\xd5\xd3^\xc1')], // ΟΔΥΣΣΕΥΣ^Α
];

for (const backend of indexBackends()) {
describe(`character sets and matching on the ${backend.name} index`, { skip: backend.skip }, () => {
  let index: InstanceIndex;
  let cleanup: () => Promise<void>;

  before(async () => {
    await backend.start();
    const t = await tempDir('charset-match');
    cleanup = t.remove;
    index = await backend.open(t.dir);
    const fs = await FileStore.open({ root: t.dir, index });
    let n = 0;
    for (const [id, charset, name] of patients) {
      n++;
      const sop = `1.9.${n}.1.1`;
      const spec = { StudyInstanceUID: `1.9.${n}`, SeriesInstanceUID: `1.9.${n}.1`, SOPInstanceUID: sop, PatientID: id, SpecificCharacterSet: charset };
      const ds = encodeDataset([...specElements(spec), [0x00100010, 'PN', name]]);
      await fs.store({ sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: sop, transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
        yield ds;
      })());
    }
  });
  after(async () => {
    await index.close();
    await cleanup();
    await backend.stop();
  });

  async function ids(name: string, options: FindOptions = { caseInsensitivePersonName: true }): Promise<string[]> {
    const out: string[] = [];
    const q: NaturalizedDataset = { QueryRetrieveLevel: 'PATIENT', PatientName: name, PatientID: '' };
    for await (const m of findMatches(index, 'PATIENT_ROOT', q, options)) out.push(String(m['PatientID']));
    return out.sort();
  }

  test('names are indexed as Unicode, decoded with each instance character set', async () => {
    const names: Record<string, unknown> = {};
    for await (const m of findMatches(index, 'PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientName: '', PatientID: '' })) {
      names[String(m['PatientID'])] = m['PatientName'];
    }
    assert.deepEqual(names['RU'], [{ Alphabetic: 'Иванов^Иван' }]);
    assert.deepEqual(names['DE'], [{ Alphabetic: 'MÜLLER^HANS' }]);
    assert.deepEqual(names['JP'], [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
    assert.deepEqual(names['KR'], [{ Alphabetic: 'Hong^Gildong', Ideographic: '洪^吉洞', Phonetic: '홍^길동' }]);
    assert.deepEqual(names['CN'], [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }]);
  });

  test('case-insensitive PN matching folds both sides the same way, beyond ASCII', async () => {
    assert.deepEqual(await ids('Иванов*'), ['RU']);
    assert.deepEqual(await ids('иванов*'), ['RU']);
    assert.deepEqual(await ids('MÜLL*'), ['DE', 'DE2']);
    assert.deepEqual(await ids('müller^*'), ['DE', 'DE2']);
    // Final sigma: lower-casing makes the last Σ of ΟΔΥΣ a ς; the stored name has σ there.
    assert.deepEqual(await ids('ΟΔΥΣ*'), ['GR']);
    assert.deepEqual(await ids('οδυσσευς^α'), ['GR']);
    // Case-sensitive when asked: only the stored case matches.
    assert.deepEqual(await ids('MÜLL*', { caseInsensitivePersonName: false }), ['DE']);
  });

  test('wildcards count characters, not bytes', async () => {
    // Ü is 1 character (2 bytes in UTF-8, 1 in Latin-1); И is 1 character.
    assert.deepEqual(await ids('M?LLER^*', { caseInsensitivePersonName: false }), ['DE']);
    assert.deepEqual(await ids('M?ller^*'), ['DE', 'DE2']);
    assert.deepEqual(await ids('?ванов^????'), ['RU']);
    assert.deepEqual(await ids('*=山?^*'), ['JP']);
  });

  test('PN component groups: a key without = matches any group, a key with = matches group by group', async () => {
    assert.deepEqual(await ids('山田*'), ['JP']);
    assert.deepEqual(await ids('やまだ^たろう'), ['JP']);
    assert.deepEqual(await ids('홍^길동'), ['KR']);
    assert.deepEqual(await ids('王^小东'), ['CN']);
    assert.deepEqual(await ids('Yamada*=山田*'), ['JP']);
    assert.deepEqual(await ids('=山田^太郎'), ['JP']);
    assert.deepEqual(await ids('==やまだ*'), ['JP']);
    // Each given group must match its own group.
    assert.deepEqual(await ids('=やまだ*'), []);
    assert.deepEqual(await ids('Hong*=山田*'), []);
  });
});
}
