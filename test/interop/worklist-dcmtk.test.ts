/**
 * Modality Worklist FIND (PS3.4 K) from our client against DCMTK's wlmscpfs, with worklist files
 * written by dump2dcm (-dfr: they hold only what the test needs): matching on a sequence key (Scheduled Procedure Step > Modality) and a
 * wildcard, the items come back with their sequence.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { hasDcmtk, startListening, type Daemon } from '../helpers/dcmtk.js';
import { dump2dcm, tempDir } from '../helpers/dicom-data.js';

const skip = hasDcmtk('wlmscpfs') && hasDcmtk('dump2dcm') ? false : 'wlmscpfs missing';
let dir: string;
let remove: () => Promise<void>;
let scp: Daemon | undefined;

function item(accession: string, name: string, id: string, modality: string, station: string): string {
  return [
    '(0008,0005) CS [ISO_IR 100]',
    `(0008,0050) SH [${accession}]`,
    `(0010,0010) PN [${name}]`,
    `(0010,0020) LO [${id}]`,
    '(0020,000d) UI [1.2.826.0.1.3680043.9.7777.80.1]',
    '(0040,0100) SQ (Sequence with undefined length)',
    '(fffe,e000) na (Item with undefined length)',
    `(0008,0060) CS [${modality}]`,
    `(0040,0001) AE [${station}]`,
    '(0040,0002) DA [20240101]',
    '(0040,0003) TM [0800]',
    '(0040,0009) SH [SPS1]',
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
    '(0040,1001) SH [RP1]',
  ].join('\n');
}

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('worklist'));
  const ae = join(dir, 'WLM');
  await mkdir(ae, { recursive: true });
  // wlmscpfs locks the AE's directory through this file; without it every query is refused (A700).
  await writeFile(join(ae, 'lockfile'), '');
  await dump2dcm(ae, 'a.wl', item('ACC1', 'DOE^JOHN', 'P1', 'CT', 'CT1'));
  await dump2dcm(ae, 'b.wl', item('ACC2', 'DOE^JANE', 'P2', 'MR', 'MR1'));
  await dump2dcm(ae, 'c.wl', item('ACC3', 'ROE^RICHARD', 'P3', 'CT', 'CT2'));
  scp = await startListening('wlmscpfs', ['-dfr', '-dfp', dir]);
});
after(async () => {
  await scp?.stop();
  await remove?.();
});

test('our client → wlmscpfs: Modality Worklist C-FIND with sequence matching and a wildcard', { skip }, async () => {
  const client = await DicomClient.associate({
    host: '127.0.0.1',
    port: scp!.port,
    callingAeTitle: 'CT-SCU',
    calledAeTitle: 'WLM',
    presentationContexts: [{ abstractSyntax: QueryRetrieveSopClass.ModalityWorklistInformationModelFind, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }],
    timeouts: { connect: 5000, association: 5000, dimse: 10000 },
  });
  const found: { accession: unknown; station: unknown }[] = [];
  for await (const m of client.find('MODALITY_WORKLIST', {
    PatientName: 'DOE*',
    PatientID: '',
    AccessionNumber: '',
    ScheduledProcedureStepSequence: [{ Modality: 'CT', ScheduledStationAETitle: '', ScheduledProcedureStepStartDate: '' }],
  })) {
    const sps = m['ScheduledProcedureStepSequence'] as Record<string, unknown>[];
    found.push({ accession: m['AccessionNumber'], station: sps[0]?.['ScheduledStationAETitle'] });
  }
  assert.deepEqual(found, [{ accession: 'ACC1', station: 'CT1' }], scp!.output());
  await client.release();
});
