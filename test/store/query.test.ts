import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { InstanceIndex } from '../../src/store/instance-index.js';
import { indexBackends } from '../helpers/index-backends.js';
import { findMatches, instancesFor, type InformationModel, type NaturalizedDataset, type FindOptions } from '../../src/store/query.js';
import { StoreError, storeErrorCodes } from '../../src/store/errors.js';
import { writeFile } from 'node:fs/promises';
import { dcmdump, dumpValue, encodeDataset, specElements, tempDir } from '../helpers/dicom-data.js';
import { storeKnownDataset, knownInstances, knownDataset } from '../helpers/query-dataset.js';
import { FileStore } from '../../src/store/file-store.js';

for (const backend of indexBackends()) {
describe(`C-FIND and retrieve matching on the ${backend.name} index`, { skip: backend.skip }, () => {
  let index: InstanceIndex;
  let store: FileStore;
  let cleanup: () => Promise<void>;

  before(async () => {
    await backend.start();
    const t = await tempDir('query');
    cleanup = t.remove;
    index = await backend.open(t.dir);
    store = await storeKnownDataset(join(t.dir, 'files'), index);
  });
  after(async () => {
    await index.close();
    await cleanup();
    await backend.stop();
  });

  async function find(model: InformationModel, identifier: NaturalizedDataset, options?: FindOptions) {
    const out: Record<string, unknown>[] = [];
    for await (const m of findMatches(index, model, identifier, options)) out.push(m as Record<string, unknown>);
    return out;
  }
  async function keys(model: InformationModel, identifier: NaturalizedDataset, key: string, options?: FindOptions) {
    return (await find(model, { ...identifier, [key]: identifier[key] ?? '' }, options)).map((m) => m[key]).sort();
  }

  test('PATIENT level: single value, wildcard, universal, PN case rules, GLOB escaping', async () => {
    const P = { QueryRetrieveLevel: 'PATIENT' };
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientID: '' }, 'PatientID'), ['PID001', 'PID002', 'PID[3]']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientName: 'DOE*', PatientID: '' }, 'PatientID'), ['PID001', 'PID002']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientName: [{ Alphabetic: 'DOE^JOHN' }], PatientID: '' }, 'PatientID'), ['PID001']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientName: 'doe*', PatientID: '' }, 'PatientID'), []);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientName: 'doe*', PatientID: '' }, 'PatientID', { caseInsensitivePersonName: true }), ['PID001', 'PID002']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientName: 'SMITH^BOB', PatientID: '' }, 'PatientID', { caseInsensitivePersonName: true }), ['PID[3]']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientID: '?ID00?' }, 'PatientID'), ['PID001', 'PID002']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientID: 'PID[*' }, 'PatientID'), ['PID[3]']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientID: 'PID[3]' }, 'PatientID'), ['PID[3]']);
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientID: 'PID00' }, 'PatientID'), []);
    const [john] = await find('PATIENT_ROOT', { ...P, PatientID: 'PID001', PatientName: '', PatientBirthDate: '', NumberOfPatientRelatedStudies: '', NumberOfPatientRelatedInstances: '', OtherPatientIDs: '' });
    // Exactly the requested keys plus QueryRetrieveLevel; an unsupported key comes back empty.
    assert.deepEqual(john, {
      QueryRetrieveLevel: 'PATIENT',
      PatientID: 'PID001',
      PatientName: [{ Alphabetic: 'DOE^JOHN' }],
      PatientBirthDate: '19700101',
      NumberOfPatientRelatedStudies: 2,
      NumberOfPatientRelatedInstances: 4,
      OtherPatientIDs: '',
    });
    assert.deepEqual(await keys('PATIENT_ROOT', { ...P, PatientBirthDate: '19800101-', PatientID: '' }, 'PatientID'), ['PID002']);
  });

  test('STUDY level (Study Root): date and time ranges, list of UIDs, ModalitiesInStudy, derived counts', async () => {
    const S = { QueryRetrieveLevel: 'STUDY' };
    const uids = (id: NaturalizedDataset) => keys('STUDY_ROOT', { ...S, ...id }, 'StudyInstanceUID');
    assert.deepEqual(await uids({ StudyDate: '20200101-20211231' }), ['1.2.826.0.2.1', '1.2.826.0.2.2']);
    assert.deepEqual(await uids({ StudyDate: '-20191231' }), ['1.2.826.0.2.3']);
    assert.deepEqual(await uids({ StudyDate: '20210101-' }), ['1.2.826.0.2.2']);
    assert.deepEqual(await uids({ StudyDate: '20190310' }), ['1.2.826.0.2.3']);
    assert.deepEqual(await uids({ StudyDate: '' }), ['1.2.826.0.2.1', '1.2.826.0.2.2', '1.2.826.0.2.3', '1.2.826.0.2.4']);
    assert.deepEqual(await uids({ StudyTime: '0800-1100' }), ['1.2.826.0.2.1', '1.2.826.0.2.2']);
    assert.deepEqual(await uids({ StudyTime: '2359-' }), ['1.2.826.0.2.3']);
    assert.deepEqual(await uids({ StudyTime: '-0830' }), ['1.2.826.0.2.2']);
    assert.deepEqual(await uids({ StudyTime: '1015' }), ['1.2.826.0.2.1']);
    assert.deepEqual(await uids({ StudyInstanceUID: '1.2.826.0.2.1\\1.2.826.0.2.3' }), ['1.2.826.0.2.1', '1.2.826.0.2.3']);
    assert.deepEqual(await uids({ StudyInstanceUID: ['1.2.826.0.2.4', '9.9'] }), ['1.2.826.0.2.4']);
    assert.deepEqual(await uids({ ModalitiesInStudy: 'MR' }), ['1.2.826.0.2.1', '1.2.826.0.2.3']);
    assert.deepEqual(await uids({ ModalitiesInStudy: ['OT', 'CT'] }), ['1.2.826.0.2.1', '1.2.826.0.2.2', '1.2.826.0.2.4']);
    assert.deepEqual(await uids({ AccessionNumber: 'ACC?' }), ['1.2.826.0.2.1', '1.2.826.0.2.2', '1.2.826.0.2.3']);
    assert.deepEqual(await uids({ ReferringPhysicianName: 'SMITH*' }), ['1.2.826.0.2.1']);
    assert.deepEqual(await uids({ PatientName: 'DOE^JANE' }), ['1.2.826.0.2.3']);
    assert.deepEqual(await uids({ StudyDescription: 'CT*', StudyDate: '-20201231' }), ['1.2.826.0.2.1']);
    const [st1] = await find('STUDY_ROOT', { ...S, StudyInstanceUID: '1.2.826.0.2.1', ModalitiesInStudy: '', NumberOfStudyRelatedSeries: '', NumberOfStudyRelatedInstances: '', StudyTime: '', SpecificCharacterSet: '' });
    assert.deepEqual(st1, {
      QueryRetrieveLevel: 'STUDY',
      SpecificCharacterSet: '',
      StudyInstanceUID: '1.2.826.0.2.1',
      ModalitiesInStudy: ['CT', 'MR'],
      NumberOfStudyRelatedSeries: 2,
      NumberOfStudyRelatedInstances: 3,
      StudyTime: '101500',
    });
  });

  test('STUDY level (Patient Root) needs the PatientID unique key', async () => {
    await assert.rejects(find('PATIENT_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' }), (e: unknown) => e instanceof StoreError && e.code === storeErrorCodes.invalidQuery && e.status === 0xa900);
    await assert.rejects(find('PATIENT_ROOT', { QueryRetrieveLevel: 'STUDY', PatientID: 'PID*', StudyInstanceUID: '' }), StoreError);
    assert.deepEqual(await keys('PATIENT_ROOT', { QueryRetrieveLevel: 'STUDY', PatientID: 'PID001' }, 'StudyInstanceUID'), ['1.2.826.0.2.1', '1.2.826.0.2.2']);
    await assert.rejects(find('STUDY_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientID: '' }), /Study Root has no PATIENT level/);
    await assert.rejects(find('STUDY_ROOT', { PatientID: '' }), /QueryRetrieveLevel/);
  });

  test('SERIES and IMAGE levels, with their unique keys above', async () => {
    await assert.rejects(find('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', Modality: 'CT' }), /StudyInstanceUID/);
    const se = await find('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1', SeriesInstanceUID: '', Modality: '', SeriesNumber: '', NumberOfSeriesRelatedInstances: '' });
    assert.deepEqual(se, [
      { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1', SeriesInstanceUID: '1.2.826.0.2.1.1', Modality: 'CT', SeriesNumber: 1, NumberOfSeriesRelatedInstances: 2 },
      { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1', SeriesInstanceUID: '1.2.826.0.2.1.2', Modality: 'MR', SeriesNumber: 2, NumberOfSeriesRelatedInstances: 1 },
    ]);
    assert.deepEqual(await keys('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1', Modality: 'MR' }, 'SeriesInstanceUID'), ['1.2.826.0.2.1.2']);
    assert.deepEqual(await keys('STUDY_ROOT', { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.1', SeriesNumber: 2 }, 'SeriesInstanceUID'), ['1.2.826.0.2.1.2']);
    assert.deepEqual(await keys('PATIENT_ROOT', { QueryRetrieveLevel: 'SERIES', PatientID: 'PID002', StudyInstanceUID: '1.2.826.0.2.3' }, 'SeriesInstanceUID'), ['1.2.826.0.2.3.1']);
    await assert.rejects(find('PATIENT_ROOT', { QueryRetrieveLevel: 'IMAGE', PatientID: 'PID002', StudyInstanceUID: '1.2.826.0.2.3' }), /SeriesInstanceUID/);
    const img = { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: '1.2.826.0.2.3', SeriesInstanceUID: '1.2.826.0.2.3.1' };
    assert.deepEqual(await keys('STUDY_ROOT', img, 'SOPInstanceUID'), ['1.2.826.0.2.3.1.1', '1.2.826.0.2.3.1.2']);
    assert.deepEqual(await keys('STUDY_ROOT', { ...img, InstanceNumber: '2' }, 'SOPInstanceUID'), ['1.2.826.0.2.3.1.2']);
    assert.deepEqual(await keys('STUDY_ROOT', { ...img, SOPInstanceUID: '1.2.826.0.2.3.1.1\\1.2.826.0.2.3.1.9' }, 'InstanceNumber'), [1]);
    // A key below the query level is not matched and comes back empty.
    assert.deepEqual(await find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.2.4', SOPInstanceUID: '9.9' }), [{ QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.2.4', SOPInstanceUID: '' }]);
    // An unsupported sequence key comes back as an empty sequence; dcmjs's _vrMap is not a key.
    const [withSeq] = await find('STUDY_ROOT', { _vrMap: {}, QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.2.4', ProcedureCodeSequence: [{ CodeValue: '' }] });
    assert.deepEqual(withSeq, { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '1.2.826.0.2.4', ProcedureCodeSequence: [] });
  });

  test('sequence matching on ProcedureCodeSequence and RequestAttributesSequence items', async () => {
    const S = { QueryRetrieveLevel: 'STUDY' };
    assert.deepEqual(await keys('STUDY_ROOT', { ...S, ProcedureCodeSequence: [{ CodeValue: 'CTHEAD' }] }, 'StudyInstanceUID'), ['1.2.826.0.2.1']);
    assert.deepEqual(await keys('STUDY_ROOT', { ...S, ProcedureCodeSequence: [{ CodeValue: 'CT*', CodingSchemeDesignator: 'OTHER' }] }, 'StudyInstanceUID'), []);
    // An item with only empty keys is universal: every study, each with its (maybe empty) items.
    const all = await find('STUDY_ROOT', { ...S, StudyInstanceUID: '', ProcedureCodeSequence: [{ CodeMeaning: '' }] });
    assert.equal(all.length, 4);
    assert.deepEqual(all.find((m) => m['StudyInstanceUID'] === '1.2.826.0.2.1')?.['ProcedureCodeSequence'], [{ CodeMeaning: 'CT Head' }]);
    assert.deepEqual(all.find((m) => m['StudyInstanceUID'] === '1.2.826.0.2.2')?.['ProcedureCodeSequence'], []);
    const SE = { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: '1.2.826.0.2.3' };
    const [series] = await find('STUDY_ROOT', { ...SE, SeriesInstanceUID: '', RequestAttributesSequence: [{ RequestedProcedureID: 'RP101' }] });
    assert.deepEqual(series, {
      QueryRetrieveLevel: 'SERIES',
      StudyInstanceUID: '1.2.826.0.2.3',
      SeriesInstanceUID: '1.2.826.0.2.3.1',
      RequestAttributesSequence: [{ RequestedProcedureID: 'RP100' }, { RequestedProcedureID: 'RP101' }],
    });
    // Both keys must match within the same item.
    assert.deepEqual(await find('STUDY_ROOT', { ...SE, RequestAttributesSequence: [{ RequestedProcedureID: 'RP100', ScheduledProcedureStepID: 'SPS8' }] }), []);
    assert.equal((await find('STUDY_ROOT', { ...SE, RequestAttributesSequence: [{ RequestedProcedureID: 'RP100', ScheduledProcedureStepID: 'SPS7' }] })).length, 1);
    await assert.rejects(find('STUDY_ROOT', { ...SE, RequestAttributesSequence: [{}, {}] }), /single item/);
  });

  test('paged results stay consistent while stores go on between pages', async () => {
    const seen: string[] = [];
    let stored = false;
    for await (const m of findMatches(index, 'STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' }, { pageSize: 1 })) {
      seen.push(String(m['StudyInstanceUID']));
      if (!stored) {
        stored = true;
        const spec = { ...knownInstances[0]!, SOPInstanceUID: '1.2.826.0.2.1.1.99', InstanceNumber: '99' };
        await store.store({ sopClassUid: spec.SOPClassUID!, sopInstanceUid: spec.SOPInstanceUID, transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
          yield knownDataset(spec);
        })());
      }
    }
    assert.deepEqual(seen, ['1.2.826.0.2.1', '1.2.826.0.2.2', '1.2.826.0.2.3', '1.2.826.0.2.4']);
    assert.equal(await index.removeInstance('1.2.826.0.2.1.1.99'), true);
  });

  test('instancesFor: files for C-MOVE / C-GET at each level, lists of UIDs allowed', async () => {
    const sops = async (level: Parameters<typeof instancesFor>[1], k: NaturalizedDataset) => (await instancesFor(index, level, k)).map((f) => f.SOPInstanceUID).sort();
    assert.deepEqual(await sops('PATIENT', { PatientID: 'PID002' }), ['1.2.826.0.2.3.1.1', '1.2.826.0.2.3.1.2']);
    assert.equal((await sops('STUDY', { StudyInstanceUID: '1.2.826.0.2.1\\1.2.826.0.2.4' })).length, 4);
    assert.deepEqual(await sops('SERIES', { StudyInstanceUID: '1.2.826.0.2.1', SeriesInstanceUID: ['1.2.826.0.2.1.2'] }), ['1.2.826.0.2.1.2.1']);
    assert.deepEqual(await sops('SERIES', { StudyInstanceUID: '1.2.826.0.2.2', SeriesInstanceUID: '1.2.826.0.2.1.2' }), []);
    const [file] = await instancesFor(index, 'IMAGE', { SOPInstanceUID: '1.2.826.0.2.4.1.1' });
    assert.equal(file?.key, '1.2.826.0.2.4/1.2.826.0.2.4.1/1.2.826.0.2.4.1.1.dcm');
    assert.equal(file?.transferSyntaxUid, '1.2.840.10008.1.2.1');
    await assert.rejects(instancesFor(index, 'SERIES', { StudyInstanceUID: '1.2.826.0.2.1' }), /SeriesInstanceUID/);
  });

  test('matches are dcmjs naturalized data sets: dcmjs encodes them and dcmdump reads the values', async () => {
    type DcmjsData = {
      DicomMetaDictionary: { denaturalizeDataset(d: unknown): Record<string, unknown> };
      DicomDict: new (meta: Record<string, unknown>) => { dict: Record<string, unknown>; write(): ArrayBuffer };
    };
    // dcmjs ships no types; the DIMSE layer owns its typing, this test only checks the shape.
    const dcmjs = ((await import('dcmjs' as string)) as { default: { data: DcmjsData } }).default.data;
    const [match] = await find('STUDY_ROOT', {
      QueryRetrieveLevel: 'STUDY',
      StudyInstanceUID: '1.2.826.0.2.1',
      PatientName: '',
      ReferringPhysicianName: '',
      ModalitiesInStudy: '',
      NumberOfStudyRelatedInstances: '',
      StudyTime: '',
      ProcedureCodeSequence: [{ CodeValue: '' }],
    });
    const dict = new dcmjs.DicomDict({
      '00020002': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.2.2.1'] },
      '00020003': { vr: 'UI', Value: ['1.2.3'] },
      '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] },
    });
    dict.dict = dcmjs.DicomMetaDictionary.denaturalizeDataset(match);
    const t = await tempDir('dcmjs');
    try {
      const path = join(t.dir, 'match.dcm');
      await writeFile(path, Buffer.from(dict.write()));
      const dump = await dcmdump(path);
      assert.equal(dumpValue(dump, '0010,0010'), 'DOE^JOHN');
      assert.equal(dumpValue(dump, '0008,0090'), 'SMITH^ANNA');
      assert.equal(dumpValue(dump, '0008,0061'), 'CT\\MR');
      assert.equal(dumpValue(dump, '0020,1208'), '3');
      assert.equal(dumpValue(dump, '0008,0030'), '101500');
      assert.equal(dumpValue(dump, '0008,0100'), 'CTHEAD');
      assert.equal(dumpValue(dump, '0008,0052'), 'STUDY');
    } finally {
      await t.remove();
    }
  });

  test('ISO_IR 192 and ISO_IR 100 names are decoded before they are indexed and matched', async () => {
    const t = await tempDir('charset');
    const local = await backend.open(t.dir, 'local.sqlite');
    try {
      const fs = await FileStore.open({ root: t.dir, index: local });
      const base = { StudyInstanceUID: '1.5.1', SeriesInstanceUID: '1.5.1.1', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7' };
      const utf8 = encodeDataset(specElements({ ...base, SOPInstanceUID: '1.5.1.1.1', PatientID: 'U', PatientName: 'MÜLLER^HANS', SpecificCharacterSet: 'ISO_IR 192' }));
      const latin1 = encodeDataset([...specElements({ ...base, StudyInstanceUID: '1.5.2', SeriesInstanceUID: '1.5.2.1', SOPInstanceUID: '1.5.2.1.1', PatientID: 'L', SpecificCharacterSet: 'ISO_IR 100' }), [0x00100010, 'PN', Buffer.from('MÜLLER^EVA', 'latin1')]]);
      for (const [ds, sop] of [[utf8, '1.5.1.1.1'], [latin1, '1.5.2.1.1']] as const) {
        await fs.store({ sopClassUid: base.SOPClassUID, sopInstanceUid: sop, transferSyntaxUid: '1.2.840.10008.1.2.1' }, (async function* () {
          yield ds;
        })());
      }
      const names: unknown[] = [];
      for await (const m of findMatches(local, 'PATIENT_ROOT', { QueryRetrieveLevel: 'PATIENT', PatientName: 'MÜ*', SpecificCharacterSet: '' })) names.push([m['PatientName'], m['SpecificCharacterSet']]);
      assert.deepEqual(names, [[[{ Alphabetic: 'MÜLLER^HANS' }], 'ISO_IR 192'], [[{ Alphabetic: 'MÜLLER^EVA' }], 'ISO_IR 100']]);
    } finally {
      await local.close();
      await t.remove();
    }
  });

  test('a large scan yields to the event loop between bounded chunks; a sparse match still finds every row', async () => {
    const { addStudies } = await import('../helpers/many-studies.js');
    const t = await tempDir('scan');
    const local = await backend.open(t.dir, 'local.sqlite');
    try {
      await addStudies(local, 3000);
      const S = { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' };
      // Consume as fast as possible (no waiting of our own): a timer queued before the query still
      // runs long before its end, because the scan gives the event loop a turn between chunks.
      let consumedWhenTimerRan = -1;
      let consumed = 0;
      setImmediate(() => (consumedWhenTimerRan = consumed));
      for await (const _ of findMatches(local, 'STUDY_ROOT', S, { scanChunk: 500, pageSize: 100 })) consumed++;
      assert.equal(consumed, 3000);
      assert.ok(consumedWhenTimerRan >= 0 && consumedWhenTimerRan <= 500, `the event loop first ran after ${consumedWhenTimerRan} of 3000 matches`);
      // Matches far apart (every 1000th study): each chunk of rows is examined once, none is missed.
      const sparse = await (async () => {
        const out: unknown[] = [];
        for await (const m of findMatches(local, 'STUDY_ROOT', { ...S, AccessionNumber: '*000' }, { scanChunk: 64, pageSize: 2 })) out.push(m['AccessionNumber']);
        return out;
      })();
      assert.deepEqual(sparse, ['A1000', 'A2000', 'A3000']);
      // Pages within a chunk: a chunk with more matches than a page is read page by page.
      let n = 0;
      for await (const _ of findMatches(local, 'STUDY_ROOT', S, { scanChunk: 1000, pageSize: 7 })) n++;
      assert.equal(n, 3000);
      // The database's own step (bounded on SQLite, unbounded on PostgreSQL): pages still cover every row once.
      const all: unknown[] = [];
      for await (const m of findMatches(local, 'STUDY_ROOT', { ...S, AccessionNumber: '' }, { pageSize: 7 })) all.push(m['AccessionNumber']);
      assert.equal(all.length, 3000);
      assert.equal(new Set(all).size, 3000);
      const sparseDefault: unknown[] = [];
      for await (const m of findMatches(local, 'STUDY_ROOT', { ...S, AccessionNumber: '*000' }, { pageSize: 2 })) sparseDefault.push(m['AccessionNumber']);
      assert.deepEqual(sparseDefault, ['A1000', 'A2000', 'A3000']);
    } finally {
      await local.close();
      await t.remove();
    }
  });
});
}
